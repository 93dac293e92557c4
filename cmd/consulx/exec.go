package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unicode"

	"consulx/api"
)

// runExec runs a command on the datacenter's nodes, as `consul exec`
// does, with output streamed back through a server's relay instead of
// KV (see exec/remote).
func runExec(args []string, env *cliEnv) int {
	cmd := newAPICmd("exec", env).withFormat()
	node := cmd.fs.String("node", "", "Regular expression to filter on node names")
	service := cmd.fs.String("service", "", "Regular expression to filter on service names")
	tag := cmd.fs.String("tag", "", "Regular expression to filter on service tags (needs -service)")
	wait := cmd.fs.Duration("wait", 2*time.Second, "How long nodes have to acknowledge, and a running node to send a heartbeat")
	timeout := cmd.fs.Duration("timeout", 0, "Kill the command on each node after this long (0: no limit)")
	shell := cmd.fs.Bool("shell", true, "Run the command with the node's shell (sh -c); false runs the arguments directly")
	maxOutput := cmd.fs.Int("max-output", 1<<20, "Bytes of output kept per node; the rest is dropped with a marker")
	verbose := cmd.fs.Bool("verbose", false, "Show acknowledgements, heartbeats and timings")
	// Accepted for scripts written for consul exec; consulx uses neither.
	cmd.fs.String("prefix", "_rexec", "Ignored: consulx keeps remote exec out of KV")
	cmd.fs.Duration("wait-repl", 200*time.Millisecond, "Ignored: consulx keeps remote exec out of KV")
	return cmd.run(args, func(x *cmdRun) int {
		req := &api.ExecRequest{NodeFilter: *node, ServiceFilter: *service, TagFilter: *tag, Wait: *wait, Timeout: *timeout, MaxOutput: *maxOutput}
		rest := x.args()
		switch {
		case *tag != "" && *service == "":
			return x.errorf("Cannot provide tag filter without service filter.")
		case *wait <= 0 || *timeout < 0 || *maxOutput <= 0:
			return x.errorf("-wait and -max-output must be positive and -timeout not negative")
		case len(rest) == 1 && rest[0] == "-":
			if !*shell {
				return x.errorf("Cannot use -shell=false when reading from stdin")
			}
			script, err := io.ReadAll(io.LimitReader(env.stdin, 40<<10+1))
			if err != nil {
				return x.errorf("Failed to read stdin: %v", err)
			}
			if len(script) > 40<<10 {
				return x.errorf("Script from stdin is larger than 40 KiB")
			}
			req.Command = string(script)
		case !*shell:
			req.Args = rest
		default:
			req.Command = strings.Join(rest, " ")
		}
		if req.Command == "" && len(req.Args) == 0 {
			return x.errorf("Must specify a command to execute")
		}
		// The job runs until it is over, however long; an interrupt
		// cancels it on every node.
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		// Lines go out a chunk at a time, not a write per line.
		w := bufio.NewWriterSize(x.stdout, 64<<10)
		out := &execOutput{w: w, verbose: *verbose, wait: *wait, partial: map[string]*strings.Builder{}, started: time.Now()}
		show := func(ev api.ExecEvent) {
			out.event(ev)
			_ = w.Flush()
		}
		if x.json() {
			enc := json.NewEncoder(w)
			show = func(ev api.ExecEvent) {
				out.count(ev)
				_ = enc.Encode(ev)
				_ = w.Flush()
			}
		}
		err := x.client.Exec(ctx, req, x.datacenter(), show)
		if ctx.Err() != nil {
			fmt.Fprintln(x.stderr, "==> Interrupted: the job was cancelled on every node")
			return 1
		}
		if err != nil {
			var se *api.StatusError
			if errors.As(err, &se) {
				return x.errorf("Error starting remote execution: %s", strings.TrimSpace(se.Body))
			}
			return x.fail("during remote execution", err)
		}
		if out.failed {
			return 2
		}
		return 0
	})
}

// execOutput prints a job's events as consul exec does: each output line
// prefixed with four spaces and the node, status lines with ==>, and the
// summary. Output is printed by whole lines, so a line split across two
// chunks still prints as one.
type execOutput struct {
	w       io.Writer
	verbose bool
	wait    time.Duration
	partial map[string]*strings.Builder // per node: output after its last newline
	started time.Time
	failed  bool
}

// maxPartial is how much of a line without a newline is held before it is
// printed anyway.
const maxPartial = 64 << 10

// count notes whether an event makes the job a failure.
func (o *execOutput) count(ev api.ExecEvent) {
	switch ev.Type {
	case api.ExecExit:
		o.failed = o.failed || ev.Code != 0 || ev.TimedOut
	case api.ExecRefused, api.ExecLost, api.ExecNoAck:
		o.failed = true
	}
}

// line prints one line of a node's output as it came, every byte of it.
func (o *execOutput) line(node, text string) {
	fmt.Fprintln(o.w, "    "+node+": "+text)
}

func (o *execOutput) status(node, format string, a ...any) {
	fmt.Fprintf(o.w, "==> %s: %s\n", node, fmt.Sprintf(format, a...))
}

// flush prints what is left of a node's output. As consul exec trims the
// end of what it prints, output ending in a newline leaves one empty line
// ("    node:", no trailing space).
func (o *execOutput) flush(node string) {
	if b, ok := o.partial[node]; ok {
		fmt.Fprintln(o.w, strings.TrimRightFunc("    "+node+": "+b.String(), unicode.IsSpace))
		delete(o.partial, node)
	}
}

// event prints one event (count it first).
func (o *execOutput) event(ev api.ExecEvent) {
	o.count(ev)
	switch ev.Type {
	case api.ExecStart:
		if o.verbose {
			fmt.Fprintf(o.w, "Started remote execution job: %s (%d node(s) expected)\n", ev.Job, len(ev.Expected))
		}
	case api.ExecAck:
		if o.verbose {
			o.status(ev.Node, "acknowledged")
		}
	case api.ExecHeartbeat:
		if o.verbose {
			o.status(ev.Node, "heartbeat received")
		}
	case api.ExecOutput:
		b := o.partial[ev.Node]
		if b == nil {
			b = &strings.Builder{}
			o.partial[ev.Node] = b
		}
		b.Write(ev.Data)
		s := b.String()
		if i := strings.LastIndexByte(s, '\n'); i >= 0 {
			for _, l := range strings.Split(s[:i], "\n") {
				o.line(ev.Node, l)
			}
			b.Reset()
			b.WriteString(s[i+1:])
		}
		if b.Len() > maxPartial {
			o.line(ev.Node, b.String())
			b.Reset()
		}
	case api.ExecExit:
		o.flush(ev.Node)
		switch {
		case ev.TimedOut:
			o.status(ev.Node, "timed out, killed (exit code %d)", ev.Code)
		default:
			o.status(ev.Node, "finished with exit code %d", ev.Code)
		}
	case api.ExecRefused:
		o.status(ev.Node, "refused: %s", ev.Reason)
	case api.ExecLost:
		o.flush(ev.Node)
		o.status(ev.Node, "lost: %s", ev.Reason)
	case api.ExecNoAck:
		o.status(ev.Node, "did not acknowledge within %s", o.wait)
	case api.ExecDone:
		fmt.Fprintf(o.w, "%d / %d node(s) completed / acknowledged\n", ev.Exits, ev.Acks)
		if o.verbose {
			fmt.Fprintf(o.w, "Completed in %0.2f seconds\n", time.Since(o.started).Seconds())
		}
	}
}
