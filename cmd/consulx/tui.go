package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"consulx/api"
	"consulx/tui"
)

// runTUI opens the terminal console against a running agent's HTTP API.
// The console uses the command helper for its flags and client only (so
// -token, -token-file, CONSUL_HTTP_TOKEN and CONSUL_HTTP_TOKEN_FILE pick
// its token as for every command): it runs until quit, and its own check
// that the agent answers gets 5 s.
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
		if err != nil && !refused(err) {
			return x.errorf("Error connecting to Consul agent at %s: %v (start one with 'consulx agent -dev' or 'consulx demo')", c.Addr(), err)
		}
		if err := tui.Run(c, tui.Options{ReadOnly: *readOnly, Addr: c.Addr()}); err != nil {
			return x.errorf("Error running the console: %v", err)
		}
		return 0
	})
}

// refused reports the agent's 403: it answered, but the token may not
// read the agent itself (agent:read) or is unknown to it. The console
// still opens: it says so, and shows what the token may see.
func refused(err error) bool {
	var se *api.StatusError
	return errors.As(err, &se) && se.Code == http.StatusForbidden
}

// consoleClient is the client of the console `consulx agent` opens on its
// own HTTP API. It sends the token the environment gives
// (CONSUL_HTTP_TOKEN_FILE, CONSUL_HTTP_TOKEN and their CONSULX_ twins), as
// `consulx tui` does without flags; the agent takes no -token (Consul's
// has none). Never the agent's own acl.tokens: the operator at the
// terminal is not the agent, and sees what the operator's token may. No
// token is the anonymous token (or the agent's default). A token file that
// cannot be read is an error, never a silent anonymous console.
func consoleClient(addr string) (*api.Client, error) {
	tok, err := api.EnvToken()
	if err != nil {
		return nil, err
	}
	c := api.NewClient(addr)
	c.Token = tok
	return c, nil
}
