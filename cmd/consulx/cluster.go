package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"consulx/api"
)

func runJoin(args []string, env *cliEnv) int {
	cmd := newAPICmd("join", env)
	wan := cmd.fs.Bool("wan", false, "Join the WAN pool (servers only)")
	return cmd.run(args, func(x *cmdRun) int {
		if len(x.args()) == 0 {
			return x.errorf("At least one address to join must be specified.")
		}
		joined := 0
		for _, addr := range x.args() {
			// Each address gets its own 30 s.
			ctx, cancel := ctxTimeout()
			err := x.client.Join(ctx, addr, *wan)
			cancel()
			if err != nil {
				fmt.Fprintf(x.stderr, "Error joining address '%s': %v\n", addr, err)
				continue
			}
			joined++
		}
		if joined == 0 {
			return x.errorf("Failed to join any nodes.")
		}
		fmt.Fprintf(x.stdout, "Successfully joined cluster by contacting %d nodes.\n", joined)
		return 0
	})
}

func runLeave(args []string, env *cliEnv) int {
	return newAPICmd("leave", env).run(args, func(x *cmdRun) int {
		if len(x.args()) > 0 {
			return x.errorf("Too many command line arguments.")
		}
		if err := x.client.Leave(x.ctx); err != nil {
			return x.fail("leaving", err)
		}
		fmt.Fprintln(x.stdout, "Graceful leave complete")
		return 0
	})
}

func runForceLeave(args []string, env *cliEnv) int {
	cmd := newAPICmd("force-leave", env)
	prune := cmd.fs.Bool("prune", false, "Remove the node from the member list entirely")
	wan := cmd.fs.Bool("wan", false, "Act on the WAN pool")
	return cmd.run(args, func(x *cmdRun) int {
		if len(x.args()) != 1 {
			return x.errorf("A single node name must be specified to force leave.")
		}
		if err := x.client.ForceLeave(x.ctx, x.args()[0], *prune, *wan); err != nil {
			return x.errorf("Error force leaving: %v", err)
		}
		return 0
	})
}

// runInfo prints the agent's stats; -format=json prints them as the Stats
// object of /v1/agent/self (section → key → value).
func runInfo(args []string, env *cliEnv) int {
	return newAPICmd("info", env).withFormat().run(args, func(x *cmdRun) int {
		self, err := x.client.Self(x.ctx)
		if err != nil {
			return x.fail("querying agent", err)
		}
		return x.output(self.Stats, func(w io.Writer) { fmt.Fprint(w, formatStats(self.Stats)) })
	})
}

// formatStats prints sections sorted by name, keys sorted within each.
func formatStats(stats map[string]map[string]string) string {
	var b strings.Builder
	for _, sec := range sortedKeys(stats) {
		fmt.Fprintf(&b, "%s:\n", sec)
		for _, k := range sortedKeys(stats[sec]) {
			fmt.Fprintf(&b, "\t%s = %s\n", k, stats[sec][k])
		}
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// runOperator is `operator raft list-peers`; -format=json prints the
// Servers of /v1/operator/raft/configuration.
func runOperator(args []string, env *cliEnv) int {
	if len(args) < 2 || args[0] != "raft" || args[1] != "list-peers" {
		fmt.Fprintln(env.stderr, "Usage: consulx operator raft list-peers [-stale] [-format=json]")
		return 1
	}
	cmd := newAPICmd("operator raft list-peers", env).withFormat().withStale("Read from any server, even without a leader")
	return cmd.run(args[2:], func(x *cmdRun) int {
		rc, err := x.client.RaftConfiguration(x.ctx, x.stale())
		if err != nil {
			return x.fail("getting peers", err)
		}
		servers := rc.Servers
		if servers == nil {
			servers = []api.RaftServer{}
		}
		return x.output(servers, func(w io.Writer) {
			rows := [][]string{{"Node", "ID", "Address", "State", "Voter", "RaftProtocol"}}
			for _, s := range servers {
				state := "follower"
				if s.Leader {
					state = "leader"
				}
				rows = append(rows, []string{s.Node, s.ID, s.Address, state, fmt.Sprint(s.Voter), s.ProtocolVersion})
			}
			fmt.Fprint(w, columnize(rows))
		})
	})
}

func runReload(args []string, env *cliEnv) int {
	return newAPICmd("reload", env).run(args, func(x *cmdRun) int {
		if err := x.client.Reload(x.ctx); err != nil {
			return x.fail("reloading", err)
		}
		fmt.Fprintln(x.stdout, "Configuration reload triggered")
		return 0
	})
}
