package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"consulx/internal/testcluster"
)

// flagValue returns the value following name in args.
func flagValue(t *testing.T, args []string, name string) string {
	t.Helper()
	for i := 0; i+1 < len(args); i++ {
		if args[i] == name {
			return args[i+1]
		}
	}
	t.Fatalf("%s not in %v", name, args)
	return ""
}

// TestSecondAgentOnBusyDataDir: a second agent started on a data_dir that a
// running agent holds exits with code 1 and one line naming the dir and the
// holder's PID, instead of blocking forever on raft-wal's bolt lock; the
// running agent keeps serving.
func TestSecondAgentOnBusyDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	first := newProc(t, "busy-1", true, 1, "")
	startProc(t, first)
	testcluster.Eventually(t, 20*time.Second, func() error {
		if out, code := cli(t, first.http, "kv", "put", "app/k", "v1"); code != 0 {
			return fmt.Errorf("kv put (exit %d): %s", code, out)
		}
		return nil
	})
	dataDir := flagValue(t, first.args, "-data-dir")

	// Same data_dir, its own ports: only the directory is contended.
	second := newProc(t, "busy-2", true, 1, "")
	for i := range second.args {
		if second.args[i] == "-data-dir" {
			second.args[i+1] = dataDir
		}
	}
	cmd := exec.Command(consulxBinary(t), second.args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(testcluster.Scaled(2 * time.Second)):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("second agent on the busy data_dir still running after %s; output: %q", testcluster.Scaled(2*time.Second), stderr.String())
	}
	t.Logf("second agent refused in %s", time.Since(start).Round(time.Millisecond))
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("second agent: %v, want exit code 1; stderr: %q", err, stderr.String())
	}
	msg := strings.TrimSpace(stderr.String())
	if strings.Contains(msg, "\n") || !strings.Contains(msg, dataDir) ||
		!strings.Contains(msg, fmt.Sprintf("pid %d", first.cmd.Process.Pid)) || stdout.Len() != 0 {
		t.Fatalf("second agent printed stdout %q, stderr %q; want one stderr line naming %s and pid %d",
			stdout.String(), msg, dataDir, first.cmd.Process.Pid)
	}

	// The first agent is untouched: alive, still the lock holder, serving KV.
	if err := first.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("first agent gone: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dataDir, "consulx.lock")); err != nil || strings.TrimSpace(string(b)) != fmt.Sprint(first.cmd.Process.Pid) {
		t.Fatalf("lock file holds %q (%v), want the first agent's pid %d", b, err, first.cmd.Process.Pid)
	}
	if out, code := cli(t, first.http, "kv", "put", "app/k", "v2"); code != 0 {
		t.Fatalf("kv put on the first agent after the refusal (exit %d): %s", code, out)
	}
	if out, code := cli(t, first.http, "kv", "get", "app/k"); code != 0 || out != "v2\n" {
		t.Fatalf("kv get on the first agent after the refusal (exit %d): %q", code, out)
	}
}
