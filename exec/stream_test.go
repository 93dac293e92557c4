package exec

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// chunkRecorder records each Write as it comes, optionally slowly.
type chunkRecorder struct {
	mu     sync.Mutex
	chunks [][]byte
	at     []time.Time
	delay  time.Duration
	fail   bool
}

func (c *chunkRecorder) Write(p []byte) (int, error) {
	if c.delay > 0 {
		time.Sleep(c.delay)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail {
		return 0, errors.New("reader gone")
	}
	c.chunks = append(c.chunks, append([]byte(nil), p...))
	c.at = append(c.at, time.Now())
	return len(p), nil
}

func (c *chunkRecorder) all() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Join(c.chunks, nil)
}

// Output reaches Stream while the process is still running, not at exit.
func TestStreamDeliversWhileRunning(t *testing.T) {
	rec := &chunkRecorder{}
	start := time.Now()
	r := Run(context.Background(), Spec{Args: Shell("echo first; sleep 1; echo second"), Stream: rec, Timeout: 10 * time.Second})
	if r.ExitCode != 0 || r.Err != nil {
		t.Fatalf("result %+v", r)
	}
	if got := string(rec.all()); got != "first\nsecond\n" {
		t.Fatalf("streamed %q", got)
	}
	if r.Output != nil {
		t.Fatalf("Output kept %q while streaming", r.Output)
	}
	if first := rec.at[0].Sub(start); first > 800*time.Millisecond {
		t.Fatalf("first chunk arrived %s after start, not before the sleep ended", first)
	}
}

// The cap stops what Stream gets and Truncated says so.
func TestStreamCapped(t *testing.T) {
	rec := &chunkRecorder{}
	r := Run(context.Background(), Spec{Args: Shell("head -c 300000 /dev/zero"), Stream: rec, OutputCap: 1000, Timeout: 10 * time.Second})
	if r.ExitCode != 0 || !r.Truncated {
		t.Fatalf("result %+v", r)
	}
	if n := len(rec.all()); n != 1000 {
		t.Fatalf("streamed %d bytes, want the cap 1000", n)
	}
}

// A Stream slower than WaitDelay loses nothing: the time spent writing to
// it does not count as a pipe held open.
func TestSlowStreamLosesNothing(t *testing.T) {
	rec := &chunkRecorder{delay: 150 * time.Millisecond}
	r := Run(context.Background(), Spec{Args: Shell("head -c 400000 /dev/zero"), Stream: rec, WaitDelay: 100 * time.Millisecond, Timeout: 30 * time.Second})
	if r.ExitCode != 0 || r.HeldOpen || r.Truncated {
		t.Fatalf("result %+v", r)
	}
	if n := len(rec.all()); n != 400000 {
		t.Fatalf("streamed %d bytes, want 400000", n)
	}
}

// A failed Stream gets nothing more, and the child is not blocked by it.
func TestFailedStreamDrains(t *testing.T) {
	rec := &chunkRecorder{fail: true}
	r := Run(context.Background(), Spec{Args: Shell("head -c 2000000 /dev/zero; exit 3"), Stream: rec, Timeout: 10 * time.Second})
	if r.ExitCode != 3 || r.TimedOut {
		t.Fatalf("result %+v", r)
	}
}
