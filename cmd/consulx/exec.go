package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"sort"
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
		out := newExecOutput(w, *verbose, *wait)
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
// chunks still prints as one. A node's first lines are held for a moment
// (holdFor), so a short command's output prints as one block with its
// exit line, as in Consul's output, instead of interleaved with the other
// nodes'; a longer one streams live after that.
type execOutput struct {
	w       io.Writer
	verbose bool
	wait    time.Duration
	nodes   map[string]*nodeOutput
	started time.Time
	failed  bool
}

// nodeOutput is one node's output not printed yet.
type nodeOutput struct {
	partial strings.Builder // after the last newline
	held    strings.Builder // whole lines, formatted, not yet printed
	since   time.Time       // when the first held line came
	live    bool            // printing as it comes
}

const (
	// maxPartial is how much of a line without a newline is held before
	// it is printed anyway.
	maxPartial = 64 << 10
	// holdFor and maxHeld bound how long and how much of a node's output
	// is held before it streams live.
	holdFor = 250 * time.Millisecond
	maxHeld = 64 << 10
)

func newExecOutput(w io.Writer, verbose bool, wait time.Duration) *execOutput {
	return &execOutput{w: w, verbose: verbose, wait: wait, nodes: map[string]*nodeOutput{}, started: time.Now()}
}

// count notes whether an event makes the job a failure.
func (o *execOutput) count(ev api.ExecEvent) {
	switch ev.Type {
	case api.ExecExit:
		o.failed = o.failed || ev.Code != 0 || ev.TimedOut
	case api.ExecRefused, api.ExecLost, api.ExecNoAck:
		o.failed = true
	}
}

func (o *execOutput) node(name string) *nodeOutput {
	n := o.nodes[name]
	if n == nil {
		n = &nodeOutput{}
		o.nodes[name] = n
	}
	return n
}

// line prints (or holds) one line of a node's output as it came, every
// byte of it.
func (o *execOutput) line(node, text string) {
	n := o.node(node)
	if n.live {
		fmt.Fprintln(o.w, "    "+node+": "+text)
		return
	}
	if n.held.Len() == 0 {
		n.since = time.Now()
	}
	n.held.WriteString("    " + node + ": " + text + "\n")
}

// release prints the output held for every node that has held it long
// enough (or all of it), and lets those nodes stream live.
func (o *execOutput) release(all bool) {
	names := make([]string, 0, len(o.nodes))
	for name := range o.nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		n := o.nodes[name]
		if n.live || n.held.Len() == 0 || !all && time.Since(n.since) < holdFor && n.held.Len() < maxHeld {
			continue
		}
		_, _ = io.WriteString(o.w, n.held.String())
		n.held.Reset()
		n.live = true
	}
}

func (o *execOutput) status(node, format string, a ...any) {
	fmt.Fprintf(o.w, "==> %s: %s\n", node, fmt.Sprintf(format, a...))
}

// finish prints what is left of a node's output before its status line.
// As consul exec trims the end of what it prints, output ending in a
// newline leaves one empty line ("    node:", no trailing space).
func (o *execOutput) finish(node string) {
	n, ok := o.nodes[node]
	if !ok {
		return
	}
	_, _ = io.WriteString(o.w, n.held.String())
	fmt.Fprintln(o.w, strings.TrimRightFunc("    "+node+": "+n.partial.String(), unicode.IsSpace))
	delete(o.nodes, node)
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
		n := o.node(ev.Node)
		n.partial.Write(ev.Data)
		s := n.partial.String()
		if i := strings.LastIndexByte(s, '\n'); i >= 0 {
			n.partial.Reset()
			n.partial.WriteString(s[i+1:])
			for _, l := range strings.Split(s[:i], "\n") {
				o.line(ev.Node, l)
			}
		}
		if n.partial.Len() > maxPartial {
			l := n.partial.String()
			n.partial.Reset()
			o.line(ev.Node, l)
		}
	case api.ExecExit:
		o.finish(ev.Node)
		switch {
		case ev.TimedOut:
			o.status(ev.Node, "timed out, killed (exit code %d)", ev.Code)
		default:
			o.status(ev.Node, "finished with exit code %d", ev.Code)
		}
	case api.ExecRefused:
		o.status(ev.Node, "refused: %s", ev.Reason)
	case api.ExecLost:
		o.finish(ev.Node)
		o.status(ev.Node, "lost: %s", ev.Reason)
	case api.ExecNoAck:
		o.status(ev.Node, "did not acknowledge within %s", o.wait)
	case api.ExecDone:
		o.release(true)
		fmt.Fprintf(o.w, "%d / %d node(s) completed / acknowledged\n", ev.Exits, ev.Acks)
		if o.verbose {
			fmt.Fprintf(o.w, "Completed in %0.2f seconds\n", time.Since(o.started).Seconds())
		}
		return
	}
	o.release(false)
}
