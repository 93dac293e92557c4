package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"consulx/exec"
	"consulx/watch"
)

// runWatch watches one kind of data and runs a handler when it changes,
// as `consul watch` does, except that it fires only when the data really
// changed: a new index with the same content fires nothing. The plan, the
// loop and the handler run are package watch's, shared with the agent's
// configured watches.
func runWatch(args []string, env *cliEnv) int {
	cmd := newAPICmd("watch", env).withStale("Read from any server (stale data allowed)")
	typ := cmd.fs.String("type", "", "Watch type: key, keyprefix, services, nodes, service, checks, event")
	key := cmd.fs.String("key", "", "Key to watch (type key)")
	prefix := cmd.fs.String("prefix", "", "Key prefix to watch (type keyprefix)")
	service := cmd.fs.String("service", "", "Service to watch (types service, checks)")
	var tags stringList
	cmd.fs.Var(&tags, "tag", "Service tag to filter on (type service; repeatable)")
	passingOnly := cmd.fs.Bool("passingonly", false, "Only passing instances (type service)")
	state := cmd.fs.String("state", "", "Check state to watch (type checks)")
	name := cmd.fs.String("name", "", "Event name to watch (type event)")
	shell := cmd.fs.Bool("shell", true, "Run the handler through a shell")
	return cmd.run(args, func(x *cmdRun) int {
		if *typ == "" {
			return x.errorf("Watch type must be specified")
		}
		plan, err := watch.NewPlan(watch.Params{Type: *typ, Key: *key, Prefix: *prefix, Service: *service,
			Tags: tags, PassingOnly: *passingOnly, State: *state, Name: *name})
		if err != nil {
			return x.errorf("%v", err)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		read := plan.Reader(x.client, *x.query())
		if len(x.args()) == 0 {
			// No handler: the current data, once.
			body, _, err := read(ctx, 0)
			if err != nil {
				return x.fail("querying the watch", err)
			}
			var out bytes.Buffer
			if json.Indent(&out, body, "", "    ") != nil {
				out.Write(body)
			}
			fmt.Fprintln(x.stdout, out.String())
			return 0
		}
		handler := x.args()
		if *shell {
			handler = exec.Shell(strings.Join(x.args(), " "))
		}
		// A handler's output passes through; a failing handler ends the
		// watch (exit 1), as Consul's does.
		err = watch.Loop(ctx, read, func(ctx context.Context, index uint64, data []byte) error {
			r := watch.RunScript(ctx, handler, index, data, 0, 1<<20)
			_, _ = x.stdout.Write(r.Output)
			return watch.ScriptError(r)
		}, func(err error, _ time.Duration) {
			fmt.Fprintf(x.stderr, "Error querying the watch: %v (retrying)\n", err)
		})
		if err != nil {
			return x.errorf("Error executing handler: %v", err)
		}
		return 0
	})
}
