package main

import (
	"fmt"
	"io"
	"strings"

	"consulx/api"
	"consulx/node"
)

// maintList is `maint -format=json`: what is in maintenance (Node absent
// when the node is not).
type maintList struct {
	Node     *maintNode `json:",omitempty"`
	Services []maintService
}

type maintNode struct{ Name, Reason string }

type maintService struct{ ID, Reason string }

// runMaint is `consul maint`: toggle node or service maintenance, or with
// no flags list what is in maintenance (and print nothing when nothing is:
// run scripts depend on that; -format=json prints a maintList).
func runMaint(args []string, env *cliEnv) int {
	cmd := newAPICmd("maint", env).withFormat()
	enable := cmd.fs.Bool("enable", false, "Enable maintenance mode")
	disable := cmd.fs.Bool("disable", false, "Disable maintenance mode")
	reason := cmd.fs.String("reason", "", "Why (with -enable)")
	service := cmd.fs.String("service", "", "Act on this service ID instead of the node")
	nodeName := cmd.fs.String("node", "", "Act on another node's agent, reached through the cluster (consulx extension)")
	return cmd.run(args, func(x *cmdRun) int {
		if len(x.args()) > 0 {
			return x.errorf("Too many command line arguments.")
		}
		switch {
		case *enable && *disable:
			return x.errorf("Only one of -enable or -disable may be provided")
		case !*enable && *reason != "":
			return x.errorf("Reason may only be provided with -enable")
		case !*enable && !*disable && *service != "":
			return x.errorf("Service requires either -enable or -disable")
		case !*enable && !*disable && *nodeName != "":
			return x.errorf("Node requires either -enable or -disable")
		}
		if !*enable && !*disable {
			return maintShow(x)
		}
		state := map[bool]string{true: "enabled", false: "disabled"}[*enable]
		if *service != "" {
			if err := x.client.ServiceMaintenanceOn(x.ctx, *nodeName, *service, *enable, *reason); err != nil {
				return x.fail("toggling service maintenance", err)
			}
			fmt.Fprintf(x.stdout, "Service maintenance is now %s for %q\n", state, *service)
			return 0
		}
		if err := x.client.NodeMaintenanceOn(x.ctx, *nodeName, *enable, *reason); err != nil {
			return x.fail("toggling node maintenance", err)
		}
		if *nodeName != "" {
			fmt.Fprintf(x.stdout, "Node maintenance is now %s on %s\n", state, *nodeName)
			return 0
		}
		fmt.Fprintf(x.stdout, "Node maintenance is now %s\n", state)
		return 0
	})
}

// maintShow lists the node and the services in maintenance.
func maintShow(x *cmdRun) int {
	checks, err := x.client.AgentChecks(x.ctx)
	if err != nil {
		return x.fail("querying agent", err)
	}
	self, err := x.client.Self(x.ctx)
	if err != nil {
		return x.fail("querying agent", err)
	}
	list := maintList{Services: []maintService{}}
	for _, id := range sortedKeys(checks) {
		ch := checks[id]
		switch {
		case id == node.NodeMaintCheckID:
			list.Node = &maintNode{Name: self.Member.Name, Reason: ch.Notes}
		case strings.HasPrefix(id, node.ServiceMaintPrefix):
			list.Services = append(list.Services, maintService{ID: ch.ServiceID, Reason: ch.Notes})
		}
	}
	return x.output(list, func(w io.Writer) {
		if list.Node != nil {
			fmt.Fprintf(w, "Node:\n  Name:   %s\n  Reason: %s\n\n", list.Node.Name, list.Node.Reason)
		}
		for _, s := range list.Services {
			fmt.Fprintf(w, "Service:\n  ID:     %s\n  Reason: %s\n\n", s.ID, s.Reason)
		}
	})
}

// runCatalog is `consul catalog services|nodes|datacenters`. With
// -format=json: services is the name → tags map of /v1/catalog/services,
// nodes the entries of /v1/catalog/nodes (ID, Node, Address, Datacenter,
// TaggedAddresses, Meta; [] when none match), datacenters an array of
// names as /v1/catalog/datacenters.
func runCatalog(args []string, env *cliEnv) int {
	if len(args) == 0 {
		fmt.Fprintln(env.stderr, "Usage: consulx catalog <services|nodes|datacenters> [options]")
		return 1
	}
	sub := args[0]
	cmd := newAPICmd("catalog "+sub, env).withFormat().withStale("Allow any server to answer")
	tags := cmd.fs.Bool("tags", false, "services: show each service's tags")
	svc := cmd.fs.String("service", "", "nodes: only nodes providing this service")
	return cmd.run(args[1:], func(x *cmdRun) int {
		switch sub {
		case "services":
			services, _, err := x.client.CatalogServices(x.ctx, x.query())
			if err != nil {
				return x.fail("listing services", err)
			}
			if services == nil {
				services = map[string][]string{}
			}
			return x.output(services, func(w io.Writer) {
				names := sortedKeys(services)
				if !*tags {
					for _, n := range names {
						fmt.Fprintln(w, n)
					}
					return
				}
				var rows [][]string
				for _, n := range names {
					rows = append(rows, []string{n, strings.Join(services[n], ",")})
				}
				fmt.Fprint(w, columnize(rows))
			})
		case "nodes":
			return catalogNodes(x, *svc)
		case "datacenters":
			self, err := x.client.Self(x.ctx)
			if err != nil {
				return x.fail("querying agent", err)
			}
			dc := fmt.Sprint(self.Config["Datacenter"])
			return x.output([]string{dc}, func(w io.Writer) { fmt.Fprintln(w, dc) })
		}
		return x.errorf("catalog: unknown subcommand %q (services, nodes, datacenters)", sub)
	})
}

// catalogNodes is `catalog nodes [-service S]`.
func catalogNodes(x *cmdRun, svc string) int {
	nodes, _, err := x.client.CatalogNodes(x.ctx, x.query())
	if err != nil {
		return x.fail("listing nodes", err)
	}
	keep := map[string]bool{}
	if svc != "" {
		inst, _, err := x.client.CatalogService(x.ctx, svc, "", x.query())
		if err != nil {
			return x.fail("listing service", err)
		}
		for _, i := range inst {
			keep[i.Node] = true
		}
	}
	shown := []api.CatalogNode{}
	for _, n := range nodes {
		if svc == "" || keep[n.Node] {
			shown = append(shown, n)
		}
	}
	if len(shown) == 0 && !x.json() {
		fmt.Fprintln(x.stderr, "No nodes match the given query - try expanding your search.")
		return 0
	}
	return x.output(shown, func(w io.Writer) {
		rows := [][]string{{"Node", "ID", "Address", "DC"}}
		for _, n := range shown {
			id := n.ID
			if len(id) > 8 {
				id = id[:8]
			}
			rows = append(rows, []string{n.Node, id, n.Address, n.Datacenter})
		}
		fmt.Fprint(w, columnize(rows))
	})
}
