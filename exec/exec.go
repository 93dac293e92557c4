package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultWaitDelay is how long Run waits, after the process exits or is
// killed, for whatever else holds its output pipe to let go.
const DefaultWaitDelay = time.Second

// Spec says what to run and how.
type Spec struct {
	// Args is the program and its arguments; Args[0] is looked up in PATH.
	// Use Shell to run a command line.
	Args []string
	// Dir is the working directory; empty means ours.
	Dir string
	// Env is the environment; nil means ours.
	Env []string
	// Stdin is the standard input; nil means /dev/null.
	Stdin io.Reader

	// Timeout (Run only) kills the whole process group after this long; 0
	// means no timeout (the context still applies).
	Timeout time.Duration
	// OutputCap (Run only) is how many bytes of combined stdout and stderr
	// Result.Output keeps, or Stream receives; the rest is read and
	// dropped. 0 keeps nothing (with Stream: passes everything on).
	OutputCap int
	// Stream (Run only), if set, receives the combined output as it is
	// read instead of Result.Output keeping it. A slow Stream slows the
	// child (its pipe fills), never drops output; a Stream that fails is
	// given nothing more and the rest is read and dropped.
	Stream io.Writer

	// Stdout and Stderr (Start only) receive the child's output; an
	// *os.File is handed to the child as is. nil means /dev/null.
	Stdout, Stderr io.Writer

	// WaitDelay bounds the wait for the output pipe (Run) or for copying
	// to non-file Stdin/Stdout/Stderr (Start) once the process has exited;
	// 0 means DefaultWaitDelay.
	WaitDelay time.Duration
	// ParentDeathSignal, if not 0, is sent to the child by the kernel when
	// the thread that started it dies (Linux Pdeathsig), so a child of a
	// process killed outright does not run on unsupervised.
	ParentDeathSignal syscall.Signal
}

// Result is how a process ended.
type Result struct {
	// ExitCode is the exit status, or -1 if the process was killed by a
	// signal or never ran.
	ExitCode int
	// Signal is the signal that ended the process, 0 if it exited.
	Signal syscall.Signal
	// Output is the captured combined output (Run), at most OutputCap bytes.
	Output []byte
	// Truncated says output beyond OutputCap was dropped.
	Truncated bool
	// TimedOut says Spec.Timeout elapsed and the group was killed.
	TimedOut bool
	// HeldOpen says the process exited but something it started kept the
	// output pipe open past WaitDelay; that group was killed.
	HeldOpen bool
	// Err is set when the process could not be started (ExitCode -1), or
	// when the context was done before it ended (ctx.Err()).
	Err error
}

// Code is the exit code as a shell reports it: the exit status, or 128 plus
// the signal number for a process killed by a signal.
func (r Result) Code() int {
	if r.Signal != 0 {
		return 128 + int(r.Signal)
	}
	return r.ExitCode
}

// Shell is the argv that runs command with $SHELL -c, or /bin/sh -c when
// SHELL is not set.
func Shell(command string) []string {
	sh := os.Getenv("SHELL")
	if sh == "" {
		sh = "/bin/sh"
	}
	return []string{sh, "-c", command}
}

func (s *Spec) waitDelay() time.Duration {
	if s.WaitDelay > 0 {
		return s.WaitDelay
	}
	return DefaultWaitDelay
}

// command builds the os/exec command: its own process group, and the
// parent-death signal if asked for.
func (s *Spec) command() (*osexec.Cmd, error) {
	if len(s.Args) == 0 || s.Args[0] == "" {
		return nil, errors.New("exec: no program given")
	}
	cmd := osexec.Command(s.Args[0], s.Args[1:]...)
	if cmd.Err != nil {
		return nil, cmd.Err
	}
	cmd.Dir, cmd.Env, cmd.Stdin = s.Dir, s.Env, s.Stdin
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: s.ParentDeathSignal}
	cmd.WaitDelay = s.waitDelay()
	return cmd, nil
}

// killGroup sends sig to the process group led by pid. Only called while
// the group is known to have a member (the leader not yet reaped, or a
// member holding the pipe), so the group id cannot have been reused.
func killGroup(pid int, sig syscall.Signal) error {
	return syscall.Kill(-pid, sig)
}

// status fills ExitCode and Signal from a finished command.
func status(r *Result, ps *os.ProcessState) {
	r.ExitCode = -1
	if ps == nil {
		return
	}
	r.ExitCode = ps.ExitCode()
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		r.Signal = ws.Signal()
	}
}

// Run runs spec to completion and returns how it ended with its combined
// output. It returns once the process has exited and its output pipe is
// closed, or at most WaitDelay after the process exited or was killed.
// Timeout and ctx both kill the whole process group with SIGKILL.
func Run(ctx context.Context, spec Spec) Result {
	if err := ctx.Err(); err != nil {
		return Result{ExitCode: -1, Err: err}
	}
	cmd, err := spec.command()
	if err != nil {
		return Result{ExitCode: -1, Err: err}
	}
	// One pipe for stdout and stderr, handed to the child as a file, so
	// os/exec starts no copying goroutine that Wait would block on; we read
	// it ourselves and decide how long to wait for it.
	pr, pw, err := os.Pipe()
	if err != nil {
		return Result{ExitCode: -1, Err: err}
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return Result{ExitCode: -1, Err: err}
	}
	pw.Close()
	pid := cmd.Process.Pid

	var out outputSink = &capped{max: spec.OutputCap}
	if spec.Stream != nil {
		out = &streamed{w: spec.Stream, max: int64(spec.OutputCap)}
	}
	reading := &progressReader{r: pr}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 32*1024)
		_, _ = io.CopyBuffer(out, reading, buf)
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	var res Result
	var timeout <-chan time.Time
	if spec.Timeout > 0 {
		t := time.NewTimer(spec.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	var waitErr error
	select {
	case waitErr = <-waited:
	case <-timeout:
		res.TimedOut = true
		_ = killGroup(pid, syscall.SIGKILL)
		waitErr = <-waited
	case <-ctx.Done():
		res.Err = ctx.Err()
		_ = killGroup(pid, syscall.SIGKILL)
		waitErr = <-waited
	}
	// The leader is reaped. Give the rest of its group WaitDelay to close
	// the pipe, then kill it and close our end. Time spent handing output
	// to a slow Stream, or reading what is still in the pipe, does not
	// count: only a pipe that stays open and silent does.
	t := time.NewTicker(spec.waitDelay())
	seen := reading.progress()
wait:
	for {
		select {
		case <-readDone:
			break wait
		case <-t.C:
			if now := reading.progress(); now != seen || out.busy() {
				seen = now
				continue
			}
			res.HeldOpen = true
			_ = killGroup(pid, syscall.SIGKILL)
			pr.Close()
			<-readDone
			break wait
		}
	}
	t.Stop()
	pr.Close()

	status(&res, cmd.ProcessState)
	var ee *osexec.ExitError
	if res.Err == nil && waitErr != nil && !errors.As(waitErr, &ee) && !errors.Is(waitErr, osexec.ErrWaitDelay) {
		res.Err = waitErr
	}
	res.Output, res.Truncated = out.result()
	return res
}

// outputSink is where Run's reader puts the child's output.
type outputSink interface {
	io.Writer
	result() ([]byte, bool)
	// busy says a Write is in progress (a slow Stream).
	busy() bool
}

// progressReader counts the reads that returned, so Run can tell a pipe
// still delivering output from one held open and silent.
type progressReader struct {
	r     io.Reader
	reads atomic.Int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.reads.Add(1)
	return n, err
}

func (p *progressReader) progress() int64 { return p.reads.Load() }

// streamed passes output on to w, up to max bytes when max > 0, and
// drops what is beyond max or after w fails.
type streamed struct {
	w       io.Writer
	max     int64
	sent    int64
	dropped atomic.Int64
	failed  bool
	writing atomic.Bool
}

func (s *streamed) Write(p []byte) (int, error) {
	n := int64(len(p))
	if s.max > 0 {
		n = min(n, max(s.max-s.sent, 0))
	}
	if n > 0 && !s.failed {
		s.writing.Store(true)
		_, err := s.w.Write(p[:n])
		s.writing.Store(false)
		s.sent += n
		s.failed = err != nil
	}
	if dropped := int64(len(p)) - n; dropped > 0 {
		s.dropped.Add(dropped)
	}
	return len(p), nil
}

func (s *streamed) result() ([]byte, bool) { return nil, s.dropped.Load() > 0 }
func (s *streamed) busy() bool             { return s.writing.Load() }

// capped keeps the first max bytes written and counts the rest.
type capped struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	dropped int64
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.max - len(c.buf)
	if room > 0 {
		n := min(room, len(p))
		c.buf = append(c.buf, p[:n]...)
		c.dropped += int64(len(p) - n)
	} else {
		c.dropped += int64(len(p))
	}
	return len(p), nil
}

func (c *capped) busy() bool { return false }

func (c *capped) result() ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf, c.dropped > 0
}

// Process is a child started with Start.
type Process struct {
	cmd  *osexec.Cmd
	done chan struct{}
	res  Result
}

// Start starts spec as a long-running child in its own process group, with
// the stdio it names. The caller ends it with Wait, Signal or Stop; nothing
// kills it on its own (Timeout and OutputCap do not apply).
func Start(spec Spec) (*Process, error) {
	cmd, err := spec.command()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = spec.Stdout, spec.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		status(&p.res, cmd.ProcessState)
		var ee *osexec.ExitError
		if err != nil && !errors.As(err, &ee) && !errors.Is(err, osexec.ErrWaitDelay) {
			p.res.Err = err
		}
		close(p.done)
	}()
	return p, nil
}

// Pid is the child's process id, which is also its process group id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the child has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the child to exit and returns how it ended.
func (p *Process) Wait() Result {
	<-p.done
	return p.res
}

// Signal sends sig to the child's whole process group.
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return fmt.Errorf("exec: process %d already exited", p.Pid())
	default:
	}
	return killGroup(p.Pid(), sig)
}

// Stop sends sig to the child's process group, waits up to grace for the
// child to exit, then kills the group with SIGKILL, and returns how the
// child ended.
func (p *Process) Stop(sig syscall.Signal, grace time.Duration) Result {
	_ = p.Signal(sig)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = p.Signal(syscall.SIGKILL)
	}
	return p.Wait()
}
