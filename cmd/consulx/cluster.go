package main

import (
	"fmt"
	"sort"
	"strings"
)

func runJoin(args []string, env *cliEnv) int {
	fs := newFlagSet("join", env)
	var hf httpFlags
	hf.register(fs)
	wan := fs.Bool("wan", false, "Join the WAN pool (servers only)")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(env.stderr, "At least one address to join must be specified.")
		return 1
	}
	c := hf.client()
	joined := 0
	for _, addr := range fs.Args() {
		ctx, cancel := ctxTimeout()
		err := c.Join(ctx, addr, *wan)
		cancel()
		if err != nil {
			fmt.Fprintf(env.stderr, "Error joining address '%s': %v\n", addr, err)
			continue
		}
		joined++
	}
	if joined == 0 {
		fmt.Fprintln(env.stderr, "Failed to join any nodes.")
		return 1
	}
	fmt.Fprintf(env.stdout, "Successfully joined cluster by contacting %d nodes.\n", joined)
	return 0
}

func runLeave(args []string, env *cliEnv) int {
	fs := newFlagSet("leave", env)
	var hf httpFlags
	hf.register(fs)
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(env.stderr, "Too many command line arguments.")
		return 1
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	if err := hf.client().Leave(ctx); err != nil {
		return apiError(env.stderr, "leaving", err)
	}
	fmt.Fprintln(env.stdout, "Graceful leave complete")
	return 0
}

func runForceLeave(args []string, env *cliEnv) int {
	fs := newFlagSet("force-leave", env)
	var hf httpFlags
	hf.register(fs)
	prune := fs.Bool("prune", false, "Remove the node from the member list entirely")
	wan := fs.Bool("wan", false, "Act on the WAN pool")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.stderr, "A single node name must be specified to force leave.")
		return 1
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	if err := hf.client().ForceLeave(ctx, fs.Arg(0), *prune, *wan); err != nil {
		fmt.Fprintf(env.stderr, "Error force leaving: %v\n", err)
		return 1
	}
	return 0
}

func runInfo(args []string, env *cliEnv) int {
	fs := newFlagSet("info", env)
	var hf httpFlags
	hf.register(fs)
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	self, err := hf.client().Self(ctx)
	if err != nil {
		return apiError(env.stderr, "querying agent", err)
	}
	fmt.Fprint(env.stdout, formatStats(self.Stats))
	return 0
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

func runOperator(args []string, env *cliEnv) int {
	if len(args) < 2 || args[0] != "raft" || args[1] != "list-peers" {
		fmt.Fprintln(env.stderr, "Usage: consulx operator raft list-peers [-stale]")
		return 1
	}
	fs := newFlagSet("operator raft list-peers", env)
	var hf httpFlags
	hf.register(fs)
	stale := fs.Bool("stale", false, "Read from any server, even without a leader")
	if ok, code := parseFlags(fs, args[2:]); !ok {
		return code
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	rc, err := hf.client().RaftConfiguration(ctx, *stale)
	if err != nil {
		return apiError(env.stderr, "getting peers", err)
	}
	rows := [][]string{{"Node", "ID", "Address", "State", "Voter", "RaftProtocol"}}
	for _, s := range rc.Servers {
		state := "follower"
		if s.Leader {
			state = "leader"
		}
		rows = append(rows, []string{s.Node, s.ID, s.Address, state, fmt.Sprint(s.Voter), s.ProtocolVersion})
	}
	fmt.Fprint(env.stdout, columnize(rows))
	return 0
}

func runReload(args []string, env *cliEnv) int {
	fs := newFlagSet("reload", env)
	var hf httpFlags
	hf.register(fs)
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	if err := hf.client().Reload(ctx); err != nil {
		return apiError(env.stderr, "reloading", err)
	}
	fmt.Fprintln(env.stdout, "Configuration reload triggered")
	return 0
}
