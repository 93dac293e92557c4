package logstream

import (
	"fmt"
	"testing"
	"time"
)

func TestHistoryAndLiveLines(t *testing.T) {
	b := New(3)
	for i := 0; i < 5; i++ {
		fmt.Fprintf(b, "line %d\n", i)
	}
	fmt.Fprint(b, "partial")
	hist, ch, cancel := b.Subscribe(4)
	defer cancel()
	if fmt.Sprint(hist) != "[line 2 line 3 line 4]" {
		t.Fatalf("history = %v", hist)
	}
	fmt.Fprint(b, " done\n")
	select {
	case l := <-ch:
		if l != "partial done" {
			t.Fatalf("live line = %q", l)
		}
	case <-time.After(30 * time.Second): // a bound for a loaded machine, not a latency target
		t.Fatal("no live line")
	}
}

func TestLevels(t *testing.T) {
	cases := []struct {
		line, min string
		want      bool
	}{
		{"2026-01-01T00:00:00Z [INFO]  agent: x", "info", true},
		{"2026-01-01T00:00:00Z [DEBUG] agent: x", "info", false},
		{"2026-01-01T00:00:00Z [ERROR] agent: x", "warn", true},
		{"2026-01-01T00:00:00Z [WARN]  agent: x", "err", false},
		{"no level here", "warn", true},
	}
	for _, c := range cases {
		if got := AtLeast(c.line, c.min); got != c.want {
			t.Errorf("AtLeast(%q, %q) = %v", c.line, c.min, got)
		}
	}
}
