package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// alive reports whether pid exists (a zombie counts as gone: it is dead,
// just not reaped by its new parent yet).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Field 3, after the parenthesised command name, is the state.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// gone waits (bounded) for pid to disappear.
func gone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Fatalf("process %d still running after %s", pid, within)
}

// readPid waits (bounded) for a pid written to path.
func readPid(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(path)
		if s := strings.TrimSpace(string(b)); err == nil && strings.HasSuffix(string(b), "\n") && s != "" {
			pid, err := strconv.Atoi(s)
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", path)
	return 0
}

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

func TestExitCodeAndOutput(t *testing.T) {
	for _, tc := range []struct {
		script string
		code   int
		out    string
	}{
		{"echo out; echo err >&2; exit 0", 0, "out\nerr\n"},
		{"echo warn; exit 1", 1, "warn\n"},
		{"exit 42", 42, ""},
	} {
		r := Run(context.Background(), Spec{Args: sh(tc.script), OutputCap: 4096, Timeout: 20 * time.Second})
		if r.Err != nil || r.ExitCode != tc.code || r.Signal != 0 || r.Code() != tc.code || string(r.Output) != tc.out || r.Truncated || r.TimedOut || r.HeldOpen {
			t.Errorf("%q: %+v (output %q)", tc.script, r, r.Output)
		}
	}
}

func TestSignalReported(t *testing.T) {
	r := Run(context.Background(), Spec{Args: sh("echo before; kill -TERM $$; sleep 5"), OutputCap: 100, Timeout: 20 * time.Second})
	if r.Signal != syscall.SIGTERM || r.ExitCode != -1 || r.Code() != 128+15 || r.Err != nil || string(r.Output) != "before\n" {
		t.Fatalf("%+v (output %q)", r, r.Output)
	}
}

func TestStartFailure(t *testing.T) {
	r := Run(context.Background(), Spec{Args: []string{"/nonexistent/program"}})
	if r.Err == nil || r.ExitCode != -1 {
		t.Fatalf("%+v", r)
	}
	if r := Run(context.Background(), Spec{}); r.Err == nil {
		t.Fatalf("no args: %+v", r)
	}
	if _, err := Start(Spec{Args: []string{"/nonexistent/program"}}); err == nil {
		t.Fatal("Start of a missing program succeeded")
	}
}

func TestEnvDirStdin(t *testing.T) {
	dir := t.TempDir()
	r := Run(context.Background(), Spec{Args: sh(`echo "$FOO $(pwd)"; cat`), Dir: dir, Env: []string{"FOO=bar"},
		Stdin: strings.NewReader("in"), OutputCap: 4096, Timeout: 20 * time.Second})
	want := "bar " + dir + "\nin"
	if r.Err != nil || r.ExitCode != 0 || string(r.Output) != want {
		t.Fatalf("%+v output %q, want %q", r, r.Output, want)
	}
}

// TestGrandchildHoldsPipe: the process exits but a background grandchild
// keeps the output pipe open. Run returns after WaitDelay, not after the
// grandchild's 30 s, with the output and exit code, and the grandchild is
// killed. (Plain os/exec CombinedOutput blocks for the full 30 s.)
func TestGrandchildHoldsPipe(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	r := Run(context.Background(), Spec{Args: sh("sleep 30 & echo $! > " + pidFile + "; echo hi"),
		OutputCap: 4096, Timeout: 20 * time.Second, WaitDelay: 200 * time.Millisecond})
	took := time.Since(start)
	if took > 10*time.Second {
		t.Fatalf("Run took %s with a grandchild holding the pipe", took)
	}
	if r.Err != nil || r.ExitCode != 0 || string(r.Output) != "hi\n" || !r.HeldOpen || r.TimedOut {
		t.Fatalf("%+v output %q", r, r.Output)
	}
	gone(t, readPid(t, pidFile), 10*time.Second)
	t.Logf("returned after %s", took.Round(time.Millisecond))
}

// TestTimeoutKillsGroup: on timeout the whole group dies, the shell and
// its grandchild, and Run returns promptly.
func TestTimeoutKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	r := Run(context.Background(), Spec{Args: sh("sleep 30 & echo $! > " + pidFile + "; echo started; wait"),
		OutputCap: 4096, Timeout: 500 * time.Millisecond, WaitDelay: 500 * time.Millisecond})
	took := time.Since(start)
	if !r.TimedOut || r.Signal != syscall.SIGKILL || r.ExitCode != -1 || r.Err != nil || string(r.Output) != "started\n" {
		t.Fatalf("%+v output %q", r, r.Output)
	}
	if took > 10*time.Second {
		t.Fatalf("Run took %s with a 500ms timeout", took)
	}
	// Killed with the group, not left holding the pipe until WaitDelay.
	if r.HeldOpen {
		t.Errorf("grandchild outlived the group kill: %+v", r)
	}
	gone(t, readPid(t, pidFile), 10*time.Second)
}

// TestContextCancel: cancelling the context kills the group and reports
// ctx.Err(); a context done before Run starts nothing.
func TestContextCancel(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		readPid(t, pidFile)
		cancel()
	}()
	start := time.Now()
	r := Run(ctx, Spec{Args: sh("sleep 30 & echo $! > " + pidFile + "; wait"), Timeout: 20 * time.Second})
	if !errors.Is(r.Err, context.Canceled) || r.TimedOut || r.Signal != syscall.SIGKILL {
		t.Fatalf("%+v", r)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("cancel took %s", took)
	}
	gone(t, readPid(t, pidFile), 10*time.Second)

	marker := filepath.Join(t.TempDir(), "ran")
	r = Run(ctx, Spec{Args: sh("touch " + marker)})
	if !errors.Is(r.Err, context.Canceled) || r.ExitCode != -1 {
		t.Fatalf("done context: %+v", r)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("ran with a done context")
	}
}

// TestOutputFloodCapped: a process that writes far more than the cap is
// drained (it is not blocked on a full pipe) and only the cap is kept,
// without memory growing with the flood.
func TestOutputFloodCapped(t *testing.T) {
	const flood = 64 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := Run(context.Background(), Spec{Args: sh(fmt.Sprintf("head -c %d /dev/zero; echo done >&2; exit 3", flood)),
		OutputCap: 4096, Timeout: 60 * time.Second})
	runtime.ReadMemStats(&after)
	if r.Err != nil || r.TimedOut || r.ExitCode != 3 || !r.Truncated || len(r.Output) != 4096 || !bytes.Equal(r.Output, make([]byte, 4096)) {
		t.Fatalf("%+v (output %d bytes)", r, len(r.Output))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Fatalf("allocated %d bytes for a %d-byte flood capped at 4096", alloc, flood)
	}
}

// TestEndlessFloodTimesOut: `yes` never stops; the timeout kills it and
// the capture stays at the cap.
func TestEndlessFloodTimesOut(t *testing.T) {
	r := Run(context.Background(), Spec{Args: []string{"yes"}, OutputCap: 1000, Timeout: 500 * time.Millisecond})
	if !r.TimedOut || !r.Truncated || len(r.Output) != 1000 || !strings.HasPrefix(string(r.Output), "y\ny\n") || r.Signal != syscall.SIGKILL {
		t.Fatalf("%+v (output %d bytes)", r, len(r.Output))
	}
}

func TestZeroCapKeepsNothing(t *testing.T) {
	r := Run(context.Background(), Spec{Args: sh("echo hi"), Timeout: 20 * time.Second})
	if r.ExitCode != 0 || len(r.Output) != 0 || !r.Truncated {
		t.Fatalf("%+v", r)
	}
}

// TestStartStop: a started child gets signals as a group; Stop escalates
// to SIGKILL after the grace period when the child ignores the signal.
func TestStartStop(t *testing.T) {
	dir := t.TempDir()
	t.Run("forwarded signal and exit code", func(t *testing.T) {
		ready := filepath.Join(dir, "ready")
		var out bytes.Buffer
		p, err := Start(Spec{Args: sh("trap 'echo got; exit 7' TERM; echo $$ > " + ready + "; while true; do sleep 0.1; done"), Stdout: &out})
		if err != nil {
			t.Fatal(err)
		}
		if pid := readPid(t, ready); pid != p.Pid() {
			t.Fatalf("pid %d, want %d", pid, p.Pid())
		}
		r := p.Stop(syscall.SIGTERM, 20*time.Second)
		if r.ExitCode != 7 || r.Code() != 7 || r.Signal != 0 || out.String() != "got\n" {
			t.Fatalf("%+v output %q", r, out.String())
		}
		if err := p.Signal(syscall.SIGTERM); err == nil {
			t.Fatal("signalled an exited process")
		}
	})
	t.Run("stubborn child and grandchild killed", func(t *testing.T) {
		pidFile := filepath.Join(dir, "gc")
		p, err := Start(Spec{Args: sh("trap '' TERM; sh -c 'trap \"\" TERM; sleep 300' & echo $! > " + pidFile + "; wait")})
		if err != nil {
			t.Fatal(err)
		}
		gc := readPid(t, pidFile)
		start := time.Now()
		r := p.Stop(syscall.SIGTERM, 300*time.Millisecond)
		if r.Signal != syscall.SIGKILL || r.Code() != 137 {
			t.Fatalf("%+v", r)
		}
		if took := time.Since(start); took > 15*time.Second {
			t.Fatalf("Stop took %s", took)
		}
		gone(t, gc, 10*time.Second)
	})
	t.Run("wait", func(t *testing.T) {
		p, err := Start(Spec{Args: sh("exit 5")})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-p.Done():
		case <-time.After(20 * time.Second):
			t.Fatal("never exited")
		}
		if r := p.Wait(); r.ExitCode != 5 || r.Err != nil {
			t.Fatalf("%+v", r)
		}
	})
}

func TestShell(t *testing.T) {
	t.Setenv("SHELL", "/bin/bash")
	if got := Shell("echo hi"); strings.Join(got, "|") != "/bin/bash|-c|echo hi" {
		t.Fatal(got)
	}
	t.Setenv("SHELL", "")
	if got := Shell("x"); got[0] != "/bin/sh" {
		t.Fatal(got)
	}
}

// TestParentDeathSignal: a child started with ParentDeathSignal dies when
// the process that started it is killed outright. The parent is this test
// binary re-run as a helper.
func TestParentDeathSignal(t *testing.T) {
	if os.Getenv("EXEC_TEST_PARENT") != "" {
		t.Skip("running as the helper")
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	helper, err := Start(Spec{Args: []string{os.Args[0], "-test.run=^TestParentDeathHelper$"},
		Env: append(os.Environ(), "EXEC_TEST_PARENT="+pidFile)})
	if err != nil {
		t.Fatal(err)
	}
	child := readPid(t, pidFile)
	if !alive(child) {
		t.Fatal("child not running")
	}
	// SIGKILL to the helper alone, not its group: only Pdeathsig can tell
	// the child.
	if err := syscall.Kill(helper.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	helper.Wait()
	gone(t, child, 10*time.Second)
}

// TestParentDeathHelper is the helper half of TestParentDeathSignal: it
// starts a child that would sleep for five minutes, reports its pid, and
// waits to be killed.
func TestParentDeathHelper(t *testing.T) {
	pidFile := os.Getenv("EXEC_TEST_PARENT")
	if pidFile == "" {
		t.Skip("helper for TestParentDeathSignal")
	}
	p, err := Start(Spec{Args: []string{"sleep", "300"}, ParentDeathSignal: syscall.SIGTERM})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(p.Pid())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(60 * time.Second):
		_ = p.Signal(syscall.SIGKILL)
	}
}
