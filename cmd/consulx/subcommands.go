package main

import (
	"fmt"
	"strings"
)

// subcommand is one verb of a command group (kv get, acl token create).
type subcommand struct {
	name string
	run  func(args []string, env *cliEnv) int
}

// dispatch runs the verb args[0] of group ("kv", "acl token"), or prints
// the group's usage (no verb) or the verbs it knows (an unknown one),
// exit 1 either way.
func dispatch(group string, subs []subcommand, args []string, env *cliEnv) int {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.name
	}
	if len(args) == 0 {
		fmt.Fprintf(env.stderr, "Usage: consulx %s <%s> [options] [args]\n", group, strings.Join(names, "|"))
		return 1
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(args[1:], env)
		}
	}
	fmt.Fprintf(env.stderr, "%s: unknown subcommand %q (%s)\n", group, args[0], strings.Join(names, ", "))
	return 1
}
