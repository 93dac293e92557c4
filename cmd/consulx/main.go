// Command consulx is the consulx agent, its CLI and its console.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	// For its init, which runs before Bubble Tea's: no command queries
	// the terminal's background colour (and eats typed-ahead input).
	_ "consulx/internal/termbg"
)

// command is one subcommand: it gets its arguments and the process's
// streams and returns the exit code.
type command struct {
	synopsis string
	run      func(args []string, env *cliEnv) int
}

// cliEnv carries the standard streams so tests can run commands in-process.
type cliEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

func commands() map[string]command {
	return map[string]command{
		"agent":       {"Runs a consulx agent", runAgent},
		"acl":         {"Manages ACL policies and tokens, bootstraps ACLs, sets the agent's tokens", runACL},
		"members":     {"Lists the members of a consulx cluster", runMembers},
		"join":        {"Tell the agent to join a cluster", runJoin},
		"leave":       {"Gracefully leaves the cluster and shuts down", runLeave},
		"force-leave": {"Forces a member of the cluster to enter the \"left\" state", runForceLeave},
		"info":        {"Provides debugging information for operators", runInfo},
		"operator":    {"Provides cluster-level tools (operator raft list-peers)", runOperator},
		"kv":          {"Interact with the key-value store", runKV},
		"keygen":      {"Generates a new gossip encryption key", runKeygen},
		"keyring":     {"Manages gossip layer encryption keys", runKeyring},
		"version":     {"Prints the consulx version", runVersion},
		"snapshot":    {"Saves, restores and inspects snapshots of the cluster state", runSnapshot},
		"lock":        {"Runs a command while holding a lock (or a semaphore slot)", runLock},
		"hosts":       {"Prints member names, one per line (for ssh completion)", runHosts},
		"maint":       {"Controls node or service maintenance mode", runMaint},
		"reload":      {"Re-reads the agent's configuration files (services and checks)", runReload},
		"catalog":     {"Lists services, nodes and datacenters from the catalog", runCatalog},
		"event":       {"Fires a user event to the datacenter's agents", runEvent},
		"exec":        {"Executes a command on the datacenter's nodes", runExec},
		"replicate":   {"Copies KV prefixes from another datacenter, as consul-replicate", runReplicate},
		"watch":       {"Runs a handler when KV, the catalog, health or events change", runWatch},
		"tls":         {"Creates a CA and agent certificates for TLS", runTLS},
		"tui":         {"Opens the ops console against a running agent", runTUI},
		"demo":        {"Starts a small local cluster in this process and opens the console on it", runDemo},
		"completion":  {"Prints shell completion for consulx and ssh/scp hosts", runCompletion},
		"bench":       {"Benchmarks a running cluster (" + strings.Join(benchModeNames(), ", ") + ")", runBench},
	}
}

func main() {
	env := &cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(run(os.Args[1:], env))
}

func run(args []string, env *cliEnv) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.stderr, cmds)
		if len(args) == 0 {
			return 1
		}
		return 0
	}
	if args[0] == "-v" || args[0] == "--version" || args[0] == "-version" {
		return runVersion(nil, env)
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "consulx: unknown command %q (run 'consulx -h' for the list)\n", args[0])
		return 1
	}
	return c.run(args[1:], env)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "Usage: consulx [--version] [--help] <command> [<args>]")
	fmt.Fprintln(w, "\nAvailable commands are:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "    %-12s %s\n", n, cmds[n].synopsis)
	}
}
