package main

import (
	"context"
	"fmt"
	"time"

	"consulx/tui"
)

// runTUI opens the terminal console against a running agent's HTTP API.
// The console uses the command helper for its flags and client only: it
// runs until quit, and its own check that the agent answers gets 5 s.
func runTUI(args []string, env *cliEnv) int {
	cmd := newAPICmd("tui", env)
	readOnly := cmd.fs.Bool("readonly", false, "Disable every key that changes data (new, edit, delete)")
	cmd.fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: consulx tui [options]\n\n  Opens the terminal ops console against a running agent.\n  Keys: see docs/keys.md, or press ? in the console.\n\n")
		cmd.fs.PrintDefaults()
	}
	return cmd.run(args, func(x *cmdRun) int {
		if !wantConsole(false, env) {
			// Started with `&`, the console would be stopped by SIGTTOU the
			// moment it takes the terminal; say so instead.
			return x.errorf("consulx tui needs a terminal in the foreground (it was started in the background or with its output redirected)")
		}
		c := x.client
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.Self(ctx)
		cancel()
		if err != nil {
			return x.errorf("Error connecting to Consul agent at %s: %v (start one with 'consulx agent -dev' or 'consulx demo')", c.Addr(), err)
		}
		if err := tui.Run(c, tui.Options{ReadOnly: *readOnly, Addr: c.Addr()}); err != nil {
			return x.errorf("Error running the console: %v", err)
		}
		return 0
	})
}
