package node

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"consulx/store"
)

// TestScriptCheckProbe: exit 0 passing, 1 warning, other critical; a
// timeout is critical with Consul's message; output is capped at 4 KiB; a
// background grandchild holding the output pipe does not keep the check
// running past its timeout.
func TestScriptCheckProbe(t *testing.T) {
	script := func(s string) *CheckDefinition { return &CheckDefinition{Args: []string{"/bin/sh", "-c", s}} }
	for _, tc := range []struct {
		script, status, output string
	}{
		{"echo ok", store.HealthPassing, "ok\n"},
		{"echo meh; exit 1", store.HealthWarning, "meh\n"},
		{"echo bad >&2; exit 2", store.HealthCritical, "bad\n"},
	} {
		status, out := probe(context.Background(), script(tc.script), 20*time.Second)
		if status != tc.status || out != tc.output {
			t.Errorf("%q: %s %q, want %s %q", tc.script, status, out, tc.status, tc.output)
		}
	}

	status, out := probe(context.Background(), &CheckDefinition{Args: []string{"/nonexistent/check"}}, 20*time.Second)
	if status != store.HealthCritical || out == "" {
		t.Errorf("missing program: %s %q", status, out)
	}

	status, out = probe(context.Background(), script("head -c 1000000 /dev/zero | tr '\\0' x"), 20*time.Second)
	if status != store.HealthPassing || len(out) != checkOutputMax || strings.Trim(out, "x") != "" {
		t.Errorf("flood: %s, %d bytes", status, len(out))
	}

	start := time.Now()
	status, out = probe(context.Background(), script("echo started; sleep 30"), 300*time.Millisecond)
	if status != store.HealthCritical || out != "Timed out (300ms) running check\n\nstarted\n" {
		t.Errorf("timeout: %s %q", status, out)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("timed-out check took %s", took)
	}

	start = time.Now()
	status, out = probe(context.Background(), script("sleep 30 & echo hi"), 2*time.Second)
	if status != store.HealthPassing || out != "hi\n" {
		t.Errorf("grandchild: %s %q", status, out)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("check with a grandchild holding its pipe took %s", took)
	}
}

// TestRemovedCheckKillsItsRunningScript: deregistering a script check (or
// its service) kills a probe in flight, instead of letting it run to its
// timeout.
func TestRemovedCheckKillsItsRunningScript(t *testing.T) {
	dir := t.TempDir()
	stop := make(chan struct{})
	defer close(stop)
	l := newLocalState(localDeps{nodeName: "n", enableScriptChecks: true, logger: hclog.NewNullLogger(), stop: stop})
	pidFile := filepath.Join(dir, "pid")
	err := l.AddCheck(CheckDefinition{ID: "slow", Args: []string{"/bin/sh", "-c", "echo $$ > " + pidFile + "; exec sleep 60"},
		Interval: Duration(time.Hour), Timeout: Duration(time.Minute)}, false)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	deadline := time.Now().Add(10 * time.Second)
	for pid == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the script check did not start")
		}
		if b, err := os.ReadFile(pidFile); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := l.RemoveCheck("slow"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the script (pid %d) still runs 5 s after its check was removed", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
