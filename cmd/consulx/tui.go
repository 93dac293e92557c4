package main

import (
	"context"
	"fmt"
	"time"

	"consulx/tui"
)

// runTUI opens the terminal console against a running agent's HTTP API.
func runTUI(args []string, env *cliEnv) int {
	fs := newFlagSet("tui", env)
	var hf httpFlags
	hf.register(fs)
	readOnly := fs.Bool("readonly", false, "Disable every key that changes data (new, edit, delete)")
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: consulx tui [options]\n\n  Opens the terminal ops console against a running agent.\n  Keys: see docs/keys.md, or press ? in the console.\n\n")
		fs.PrintDefaults()
	}
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if !wantConsole(false, env) {
		// Started with `&`, the console would be stopped by SIGTTOU the
		// moment it takes the terminal; say so instead.
		fmt.Fprintln(env.stderr, "consulx tui needs a terminal in the foreground (it was started in the background or with its output redirected)")
		return 1
	}
	c := hf.client()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err := c.Self(ctx)
	cancel()
	if err != nil {
		fmt.Fprintf(env.stderr, "Error connecting to Consul agent at %s: %v (start one with 'consulx agent -dev' or 'consulx demo')\n", c.Addr(), err)
		return 1
	}
	if err := tui.Run(c, tui.Options{ReadOnly: *readOnly, Addr: c.Addr()}); err != nil {
		fmt.Fprintf(env.stderr, "Error running the console: %v\n", err)
		return 1
	}
	return 0
}
