package main

import (
	"fmt"
	"sort"
	"strings"

	"consulx/node"
)

// runMaint is `consul maint`: toggle node or service maintenance, or with
// no flags list what is in maintenance (and print nothing when nothing is:
// run scripts depend on that).
func runMaint(args []string, env *cliEnv) int {
	fs := newFlagSet("maint", env)
	var hf httpFlags
	hf.register(fs)
	enable := fs.Bool("enable", false, "Enable maintenance mode")
	disable := fs.Bool("disable", false, "Disable maintenance mode")
	reason := fs.String("reason", "", "Why (with -enable)")
	service := fs.String("service", "", "Act on this service ID instead of the node")
	nodeName := fs.String("node", "", "Act on another node's agent, reached through the cluster (consulx extension)")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(env.stderr, "Too many command line arguments.")
		return 1
	}
	switch {
	case *enable && *disable:
		fmt.Fprintln(env.stderr, "Only one of -enable or -disable may be provided")
		return 1
	case !*enable && *reason != "":
		fmt.Fprintln(env.stderr, "Reason may only be provided with -enable")
		return 1
	case !*enable && !*disable && *service != "":
		fmt.Fprintln(env.stderr, "Service requires either -enable or -disable")
		return 1
	case !*enable && !*disable && *nodeName != "":
		fmt.Fprintln(env.stderr, "Node requires either -enable or -disable")
		return 1
	}
	c := hf.client()
	ctx, cancel := ctxTimeout()
	defer cancel()
	if !*enable && !*disable {
		checks, err := c.AgentChecks(ctx)
		if err != nil {
			return apiError(env.stderr, "querying agent", err)
		}
		self, err := c.Self(ctx)
		if err != nil {
			return apiError(env.stderr, "querying agent", err)
		}
		ids := make([]string, 0, len(checks))
		for id := range checks {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			ch := checks[id]
			switch {
			case id == node.NodeMaintCheckID:
				fmt.Fprintf(env.stdout, "Node:\n  Name:   %s\n  Reason: %s\n\n", self.Member.Name, ch.Notes)
			case strings.HasPrefix(id, node.ServiceMaintPrefix):
				fmt.Fprintf(env.stdout, "Service:\n  ID:     %s\n  Reason: %s\n\n", ch.ServiceID, ch.Notes)
			}
		}
		return 0
	}
	if *service != "" {
		if err := c.ServiceMaintenanceOn(ctx, *nodeName, *service, *enable, *reason); err != nil {
			return apiError(env.stderr, "toggling service maintenance", err)
		}
		state := map[bool]string{true: "enabled", false: "disabled"}[*enable]
		fmt.Fprintf(env.stdout, "Service maintenance is now %s for %q\n", state, *service)
		return 0
	}
	if err := c.NodeMaintenanceOn(ctx, *nodeName, *enable, *reason); err != nil {
		return apiError(env.stderr, "toggling node maintenance", err)
	}
	state := map[bool]string{true: "enabled", false: "disabled"}[*enable]
	if *nodeName != "" {
		fmt.Fprintf(env.stdout, "Node maintenance is now %s on %s\n", state, *nodeName)
		return 0
	}
	fmt.Fprintf(env.stdout, "Node maintenance is now %s\n", state)
	return 0
}

// runCatalog is `consul catalog services|nodes|datacenters`.
func runCatalog(args []string, env *cliEnv) int {
	if len(args) == 0 {
		fmt.Fprintln(env.stderr, "Usage: consulx catalog <services|nodes|datacenters> [options]")
		return 1
	}
	sub := args[0]
	fs := newFlagSet("catalog "+sub, env)
	var hf httpFlags
	hf.register(fs)
	tags := fs.Bool("tags", false, "services: show each service's tags")
	svc := fs.String("service", "", "nodes: only nodes providing this service")
	if ok, code := parseFlags(fs, args[1:]); !ok {
		return code
	}
	c := hf.client()
	ctx, cancel := ctxTimeout()
	defer cancel()
	switch sub {
	case "services":
		services, _, err := c.CatalogServices(ctx, nil)
		if err != nil {
			return apiError(env.stderr, "listing services", err)
		}
		names := sortedKeys(services)
		if !*tags {
			for _, n := range names {
				fmt.Fprintln(env.stdout, n)
			}
			return 0
		}
		var rows [][]string
		for _, n := range names {
			rows = append(rows, []string{n, strings.Join(services[n], ",")})
		}
		fmt.Fprint(env.stdout, columnize(rows))
	case "nodes":
		nodes, _, err := c.CatalogNodes(ctx, nil)
		if err != nil {
			return apiError(env.stderr, "listing nodes", err)
		}
		keep := map[string]bool{}
		if *svc != "" {
			inst, _, err := c.CatalogService(ctx, *svc, "", nil)
			if err != nil {
				return apiError(env.stderr, "listing service", err)
			}
			for _, i := range inst {
				keep[i.Node] = true
			}
		}
		rows := [][]string{{"Node", "ID", "Address", "DC"}}
		for _, n := range nodes {
			if *svc != "" && !keep[n.Node] {
				continue
			}
			id := n.ID
			if len(id) > 8 {
				id = id[:8]
			}
			rows = append(rows, []string{n.Node, id, n.Address, n.Datacenter})
		}
		if len(rows) == 1 {
			fmt.Fprintln(env.stderr, "No nodes match the given query - try expanding your search.")
			return 0
		}
		fmt.Fprint(env.stdout, columnize(rows))
	case "datacenters":
		self, err := c.Self(ctx)
		if err != nil {
			return apiError(env.stderr, "querying agent", err)
		}
		fmt.Fprintln(env.stdout, self.Config["Datacenter"])
	default:
		fmt.Fprintf(env.stderr, "catalog: unknown subcommand %q (services, nodes, datacenters)\n", sub)
		return 1
	}
	return 0
}
