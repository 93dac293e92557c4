package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"time"

	"consulx/exec"
)

// Logger is what a target logs through (hclog.Logger satisfies it).
type Logger interface {
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
}

// Target runs jobs on this node.
type Target struct {
	// Node is this node's name.
	Node string
	// Enabled says remote exec is on here; when off the node answers
	// ReasonDisabled instead of staying silent.
	Enabled bool
	Logger  Logger
}

// Serve runs one job over c, a stream already dialled to the job's relay.
// It returns when the command has ended and been reported, or the stream
// has ended; either way the command's process group is gone.
func (t *Target) Serve(ctx context.Context, c net.Conn, job string) error {
	defer c.Close()
	// Cancelling (the agent shutting down) closes the stream, which also
	// unblocks a write stuck behind a relay that does not read.
	stopClosing := context.AfterFunc(ctx, func() { c.Close() })
	defer stopClosing()
	fw := &lockedWriter{fw: frameWriter{c}}
	if err := fw.json(frameHello, hello{Role: "target", Job: job, Node: t.Node}); err != nil {
		return err
	}
	fr := newFrameReader(c)
	_ = c.SetReadDeadline(time.Now().Add(helloTimeout))
	typ, p, err := fr.read()
	if err != nil {
		return fmt.Errorf("remote exec job %s: no spec from the relay: %w", job, err)
	}
	if typ == frameError {
		return fmt.Errorf("remote exec job %s: relay refused: %s", job, p)
	}
	_ = c.SetReadDeadline(time.Time{})
	var spec Spec
	if typ != frameSpec || json.Unmarshal(p, &spec) != nil {
		return fmt.Errorf("remote exec job %s: bad spec from the relay", job)
	}
	spec = spec.withDefaults()
	if !t.Enabled {
		t.Logger.Warn("remote exec refused: disabled on this agent (disable_remote_exec)", "job", job, "origin", spec.Origin)
		return fw.write(frameRefused, []byte(ReasonDisabled))
	}
	if err := fw.write(frameAck); err != nil {
		return err
	}

	// Anything from the relay now, or the stream ending, cancels the job.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, _, _ = fr.read()
		cancel()
	}()
	stopBeats := fw.heartbeats(spec.heartbeatEvery())
	defer stopBeats()

	args := spec.Args
	command := spec.Command
	if len(args) == 0 {
		args = exec.Shell(spec.Command)
	} else {
		command = fmt.Sprint(args)
	}
	t.Logger.Info("remote exec: running", "job", job, "origin", spec.Origin, "command", command)
	out := &outputWriter{l: fw}
	res := exec.Run(ctx, exec.Spec{
		Args:      args,
		Timeout:   spec.Timeout,
		OutputCap: spec.MaxOutput,
		Stream:    out,
	})
	stopBeats()
	if ctx.Err() != nil {
		t.Logger.Warn("remote exec: cancelled, process group killed", "job", job, "origin", spec.Origin, "command", command)
		return ctx.Err()
	}
	st := exitStatus{Code: res.Code(), TimedOut: res.TimedOut, Truncated: res.Truncated}
	switch {
	case res.Err != nil:
		// Could not start: Consul reports 255.
		st.Code = 255
		_ = fw.write(frameOutput, []byte(fmt.Sprintf("consulx: %v\n", res.Err)))
	case res.Truncated:
		marker := fmt.Sprintf("[output truncated at %d bytes]\n", spec.MaxOutput)
		if !out.atLineStart() {
			marker = "\n" + marker
		}
		_ = fw.write(frameOutput, []byte(marker))
	}
	t.Logger.Info("remote exec: finished", "job", job, "origin", spec.Origin, "command", command, "exit_code", st.Code, "timed_out", st.TimedOut)
	if err := fw.json(frameExit, st); err != nil {
		return err
	}
	return nil
}

// lockedWriter serialises a target's frames (output and heartbeats come
// from two goroutines) and notes when the last one went out.
type lockedWriter struct {
	mu   sync.Mutex
	fw   frameWriter
	sent time.Time
}

func (l *lockedWriter) write(typ byte, payload ...[]byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent = time.Now()
	return l.fw.write(typ, payload...)
}

func (l *lockedWriter) json(typ byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return l.write(typ, b)
}

// heartbeats sends a heartbeat whenever nothing went out for every; the
// returned func stops it (and may be called twice).
func (l *lockedWriter) heartbeats(every time.Duration) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every / 2)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				l.mu.Lock()
				quiet := time.Since(l.sent) >= every
				l.mu.Unlock()
				if quiet && l.write(frameHeartbeat) != nil {
					return
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(stop) })
		<-done
	}
}

// outputWriter turns the command's output into output frames.
type outputWriter struct {
	l    *lockedWriter
	last byte // the last byte sent (0: none yet)
}

// atLineStart says the output sent so far ends a line (or is empty).
func (o *outputWriter) atLineStart() bool { return o.last == 0 || o.last == '\n' }

func (o *outputWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		o.last = p[len(p)-1]
	}
	for rest := p; len(rest) > 0; {
		n := min(len(rest), MaxChunk)
		if err := o.l.write(frameOutput, rest[:n]); err != nil {
			return 0, err
		}
		rest = rest[n:]
	}
	return len(p), nil
}
