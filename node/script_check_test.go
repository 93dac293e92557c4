package node

import (
	"strings"
	"testing"
	"time"

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
		status, out := probe(script(tc.script), 20*time.Second)
		if status != tc.status || out != tc.output {
			t.Errorf("%q: %s %q, want %s %q", tc.script, status, out, tc.status, tc.output)
		}
	}

	status, out := probe(&CheckDefinition{Args: []string{"/nonexistent/check"}}, 20*time.Second)
	if status != store.HealthCritical || out == "" {
		t.Errorf("missing program: %s %q", status, out)
	}

	status, out = probe(script("head -c 1000000 /dev/zero | tr '\\0' x"), 20*time.Second)
	if status != store.HealthPassing || len(out) != checkOutputMax || strings.Trim(out, "x") != "" {
		t.Errorf("flood: %s, %d bytes", status, len(out))
	}

	start := time.Now()
	status, out = probe(script("echo started; sleep 30"), 300*time.Millisecond)
	if status != store.HealthCritical || out != "Timed out (300ms) running check\n\nstarted\n" {
		t.Errorf("timeout: %s %q", status, out)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("timed-out check took %s", took)
	}

	start = time.Now()
	status, out = probe(script("sleep 30 & echo hi"), 2*time.Second)
	if status != store.HealthPassing || out != "hi\n" {
		t.Errorf("grandchild: %s %q", status, out)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("check with a grandchild holding its pipe took %s", took)
	}
}
