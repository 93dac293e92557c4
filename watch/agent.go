package watch

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"consulx/api"
	"consulx/exec"
)

// Bounds of an agent's watch handlers. Consul sets none on scripts; one
// stuck handler would hold its watch forever, since runs of one watch
// never overlap.
const (
	// ScriptTimeout kills a handler script (its whole process group) that
	// runs longer.
	ScriptTimeout = 5 * time.Minute
	// ScriptOutputCap is how much of a script's combined output goes to
	// the log (Consul keeps 4 KiB too).
	ScriptOutputCap = 4 << 10
	// stopWait bounds how long Stop waits for the watches to end (a
	// handler killed by the cancel, a call in flight).
	stopWait = 5 * time.Second
)

// Group is the watches an agent runs from its configuration.
type Group struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	logger hclog.Logger
}

// Start runs each definition in its own goroutine against the HTTP API at
// addr (the agent's own, as Consul does) until Stop. A handler's failure is
// logged and the watch goes on; a script's output goes to logger, never to
// our stdout.
func Start(defs []Definition, addr string, logger hclog.Logger) *Group {
	ctx, cancel := context.WithCancel(context.Background())
	g := &Group{cancel: cancel, logger: logger}
	for i := range defs {
		d := defs[i]
		log := logger.With("watch", i, "type", d.Type)
		if d.Handler != "" {
			log.Warn("the 'handler' field of watches is deprecated; use 'args' (run without a shell)")
		}
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			runDefinition(ctx, &d, addr, log)
		}()
	}
	if len(defs) > 0 {
		logger.Info("watches started", "count", len(defs), "address", addr)
	}
	return g
}

// Stop ends every watch: reads in flight are abandoned, running scripts
// killed (their whole process group), HTTP calls cancelled. It waits for
// them, within a few seconds.
func (g *Group) Stop() {
	if g == nil {
		return
	}
	g.cancel()
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(stopWait):
		g.logger.Warn("watches still running after stop", "waited", stopWait)
	}
}

func runDefinition(ctx context.Context, d *Definition, addr string, log hclog.Logger) {
	client := api.NewClient(addr)
	client.Token = d.Token
	read := d.plan.Reader(client, api.QueryOptions{Datacenter: d.Datacenter, Stale: d.Stale})
	handler := d.Describe()
	var handle HandlerFunc
	if d.HTTP != nil {
		caller := NewHTTPCaller(*d.HTTP)
		defer caller.CloseIdle()
		handle = func(ctx context.Context, index uint64, data []byte) error {
			res, err := caller.Call(ctx, index, data)
			switch {
			case ctx.Err() != nil:
			case err != nil:
				log.Error("http watch handler failed", "handler", handler, "index", index, "error", err, "response", string(res.Body))
			default:
				log.Debug("http watch handler called", "handler", handler, "index", index, "status", res.Status)
			}
			return nil
		}
	} else {
		args := d.Args
		if d.Handler != "" {
			args = exec.Shell(d.Handler)
		}
		handle = func(ctx context.Context, index uint64, data []byte) error {
			r := RunScript(ctx, args, index, data, ScriptTimeout, ScriptOutputCap)
			if ctx.Err() != nil {
				return nil
			}
			out := strings.TrimRight(string(r.Output), "\n")
			if r.Truncated {
				out += "\n(output truncated)"
			}
			if err := ScriptError(r); err != nil {
				log.Error("watch handler failed", "handler", handler, "index", index, "error", err, "output", out)
				return nil
			}
			log.Debug("watch handler output", "handler", handler, "index", index, "output", out)
			return nil
		}
	}
	_ = Loop(ctx, read, handle, func(err error, retryIn time.Duration) {
		log.Warn("watch query failed; retrying", "error", err, "retry_in", retryIn)
	})
}
