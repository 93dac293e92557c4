package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"consulx/api"
	"consulx/internal/testcluster"
)

func lockAgent(t *testing.T) *testcluster.Agent {
	cfg := testcluster.Config(t, "locks", true, 1)
	cfg.SessionTTLMin = time.Second
	a := testcluster.Start(t, cfg)
	testcluster.Of(t, []*testcluster.Agent{a}, nil).WaitLeader(10 * time.Second)
	return a
}

// syncBuffer is a bytes.Buffer safe to read while a process writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lockProc starts `consulx lock` as a process against addr.
func lockProc(t *testing.T, addr string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(consulxBinary(t), append([]string{"lock"}, args...)...)
	cmd.Env = append(os.Environ(), "CONSUL_HTTP_ADDR="+addr, "SHELL=/bin/sh")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, out
}

// TestLockMutualExclusion: contenders on one prefix never overlap, and a
// semaphore of 2 never admits a third.
func TestLockMutualExclusion(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	a := lockAgent(t)
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "runs.log")
			script := fmt.Sprintf("echo start >> %s; sleep 0.3; echo end >> %s", log, log)
			var wg sync.WaitGroup
			for i := 0; i < 4; i++ {
				cmd, out := lockProc(t, a.HTTPAddr(), "-n", strconv.Itoa(n), "-lock-delay", "0s", fmt.Sprintf("excl/n%d", n), script)
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := cmd.Wait(); err != nil {
						t.Errorf("lock exited with %v: %s", err, out)
					}
				}()
			}
			wg.Wait()
			b, _ := os.ReadFile(log)
			lines := strings.Fields(string(b))
			if len(lines) != 8 {
				t.Fatalf("want 4 runs, log:\n%s", b)
			}
			running, peak := 0, 0
			for _, l := range lines {
				if l == "start" {
					running++
				} else {
					running--
				}
				peak = max(peak, running)
			}
			if peak != n {
				t.Fatalf("peak concurrency %d, want exactly %d; log:\n%s", peak, n, b)
			}
		})
	}
}

// TestLockHolderKilledHandsOver: a holder killed with SIGKILL loses the
// lock when its session's TTL lapses, and a waiting contender takes over.
func TestLockHolderKilledHandsOver(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	a := lockAgent(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "second-ran")
	first, out1 := lockProc(t, a.HTTPAddr(), "-session-ttl", "1s", "-lock-delay", "0s", "svc/singleton", "sleep 60")
	c := api.NewClient(a.HTTPAddr())
	testcluster.Eventually(t, 10*time.Second, func() error {
		p, _, err := c.KVGet(context.Background(), "svc/singleton/.lock", nil)
		if err != nil || p == nil || p.Session == "" {
			return fmt.Errorf("first lock not held yet (%v): %s", err, out1)
		}
		return nil
	})
	second, out2 := lockProc(t, a.HTTPAddr(), "-session-ttl", "1s", "svc/singleton", "touch "+marker)
	time.Sleep(300 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("second contender ran while the first held the lock")
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	done := make(chan error, 1)
	go func() { done <- second.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("second lock: %v\n%s", err, out2)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("second contender never took over after kill -9 of the holder:\n%s", out2)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("second contender exited without running its child")
	}
	t.Logf("took over %s after kill -9 (session TTL 1s, expires at 2×TTL)", time.Since(killed).Round(10*time.Millisecond))
}

// TestLockSignalsAndLostLock: SIGTERM is forwarded to the child and its
// exit code comes back; a lost lock kills the whole child process group.
func TestLockSignalsAndLostLock(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	a := lockAgent(t)
	dir := t.TempDir()
	t.Run("SIGTERM forwarded, exit code returned", func(t *testing.T) {
		got := filepath.Join(dir, "got-term")
		ready := filepath.Join(dir, "ready")
		script := fmt.Sprintf("trap 'touch %s; exit 7' TERM; touch %s; while true; do sleep 0.1; done", got, ready)
		cmd, out := lockProc(t, a.HTTPAddr(), "-child-exit-code", "sig/lock", script)
		testcluster.Eventually(t, 10*time.Second, func() error {
			if _, err := os.Stat(ready); err != nil {
				return fmt.Errorf("child not started: %s", out)
			}
			return nil
		})
		_ = cmd.Process.Signal(syscall.SIGTERM)
		err := cmd.Wait()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 7 {
			t.Fatalf("exit = %v, want the child's 7\n%s", err, out)
		}
		if _, err := os.Stat(got); err != nil {
			t.Fatal("child never received SIGTERM")
		}
	})
	t.Run("lost lock kills grandchildren", func(t *testing.T) {
		pidFile := filepath.Join(dir, "grandchild.pid")
		// A grandchild that `sh -c` would leave behind.
		script := fmt.Sprintf("sleep 300 & echo $! > %s; wait", pidFile)
		cmd, out := lockProc(t, a.HTTPAddr(), "lost/lock", script)
		var pid int
		testcluster.Eventually(t, 10*time.Second, func() error {
			b, err := os.ReadFile(pidFile)
			if err != nil || len(strings.TrimSpace(string(b))) == 0 {
				return fmt.Errorf("no grandchild yet: %s", out)
			}
			pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
			return err
		})
		c := api.NewClient(a.HTTPAddr())
		p, _, err := c.KVGet(context.Background(), "lost/lock/.lock", nil)
		if err != nil || p == nil || p.Session == "" {
			t.Fatalf("lock not held: %v %v", p, err)
		}
		// An operator destroys the session: the lock is lost.
		if err := c.SessionDestroy(context.Background(), p.Session); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatalf("lock command did not end after losing the lock:\n%s", out)
		}
		if !strings.Contains(out.String(), "Lock lost") {
			t.Errorf("output does not report the lost lock:\n%s", out)
		}
		testcluster.Eventually(t, 5*time.Second, func() error {
			if err := syscall.Kill(pid, 0); err == nil {
				return fmt.Errorf("grandchild %d still running after the lock was lost", pid)
			}
			return nil
		})
	})
	t.Run("usage errors", func(t *testing.T) {
		out, code := cli(t, a.HTTPAddr(), "lock", "only-prefix")
		if code != 1 || !strings.Contains(out, "Key prefix and child command must be specified") {
			t.Fatalf("%d %q", code, out)
		}
		out, code = cli(t, a.HTTPAddr(), "lock", "-n", "0", "p", "true")
		if code != 1 || !strings.Contains(out, "Lock holder limit must be positive") {
			t.Fatalf("%d %q", code, out)
		}
	})
}
