package remote

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type testLogger struct{ t *testing.T }

func (l testLogger) Info(msg string, args ...any) { l.t.Log(append([]any{msg}, args...)...) }
func (l testLogger) Warn(msg string, args ...any) { l.t.Log(append([]any{"WARN", msg}, args...)...) }

// startRelay serves a relay on 127.0.0.1 and returns its address.
func startRelay(t *testing.T) (*Relay, string) {
	t.Helper()
	return startRelayWith(t, func(*Relay) {})
}

// startRelayWith is startRelay with the relay set up by setup first.
func startRelayWith(t *testing.T, setup func(*Relay)) (*Relay, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := NewRelay()
	setup(r)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.ServeConn(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); r.Close() })
	return r, ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// recorder collects a job's events.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) add(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorder) byNode(typ string) map[string]Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]Event{}
	for _, ev := range r.events {
		if ev.Type == typ {
			out[ev.Node] = ev
		}
	}
	return out
}

func (r *recorder) output(node string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, ev := range r.events {
		if ev.Type == EventOutput && ev.Node == node {
			b.Write(ev.Data)
		}
	}
	return b.String()
}

// serveTargets runs a target per node against the relay for job id.
func serveTargets(t *testing.T, addr, id string, targets ...*Target) *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, tg := range targets {
		tg.Logger = testLogger{t}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = tg.Serve(context.Background(), dial(t, addr), id)
		}()
	}
	return &wg
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, within time.Duration) {
	t.Helper()
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(within):
		t.Fatalf("targets still running after %s", within)
	}
}

func TestJobOutputExitRefusalAndNoAck(t *testing.T) {
	relay, addr := startRelay(t)
	job, err := Open(dial(t, addr), "job-1", Spec{Command: "echo hello from $0; echo second line; exit 3", Wait: 2 * time.Second, Origin: "init@dc1"})
	if err != nil {
		t.Fatal(err)
	}
	wg := serveTargets(t, addr, "job-1",
		&Target{Node: "web-1", Enabled: true},
		&Target{Node: "web-2", Enabled: false})
	rec := &recorder{}
	done := job.Collect(context.Background(), []string{"web-1", "web-2", "web-3"}, rec.add)
	waitGroup(t, wg, 5*time.Second)

	if done.Type != EventDone || done.Acks != 1 || done.Exits != 1 {
		t.Fatalf("done %+v, want 1 ack and 1 exit", done)
	}
	if ex := rec.byNode(EventExit)["web-1"]; ex.Code != 3 {
		t.Fatalf("web-1 exit %+v, want code 3", ex)
	}
	if got := rec.output("web-1"); !strings.Contains(got, "hello from") || !strings.HasSuffix(got, "second line\n") {
		t.Fatalf("web-1 output %q", got)
	}
	if rf := rec.byNode(EventRefused)["web-2"]; rf.Reason != ReasonDisabled {
		t.Fatalf("web-2 refusal %+v", rf)
	}
	if _, ok := rec.byNode(EventNoAck)["web-3"]; !ok {
		t.Fatalf("web-3 not reported noack: %+v", rec.events)
	}
	if n := relay.Jobs(); n != 0 {
		// The relay drops the job once the initiator hangs up.
		deadline := time.Now().Add(2 * time.Second)
		for relay.Jobs() != 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if relay.Jobs() != 0 {
			t.Fatalf("relay still holds %d jobs after the job ended", n)
		}
	}
}

// With every expected node done the job ends at once, not after Wait.
func TestJobEndsWhenExpectedNodesFinish(t *testing.T) {
	_, addr := startRelay(t)
	job, err := Open(dial(t, addr), "job-fast", Spec{Command: "true", Wait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	serveTargets(t, addr, "job-fast", &Target{Node: "a", Enabled: true}, &Target{Node: "b", Enabled: true})
	start := time.Now()
	done := job.Collect(context.Background(), []string{"a", "b"}, func(Event) {})
	if done.Exits != 2 {
		t.Fatalf("done %+v", done)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("job took %s: it waited for Wait instead of ending when both nodes finished", took)
	}
}

// Cancelling the initiator kills the command's whole process group on the
// target: a grandchild's pid file proves it is gone.
func TestCancelKillsProcessGroup(t *testing.T) {
	_, addr := startRelay(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	job, err := Open(dial(t, addr), "job-cancel", Spec{Command: fmt.Sprintf("sh -c 'echo $$ > %s; sleep 60' & wait", pidFile), Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	wg := serveTargets(t, addr, "job-cancel", &Target{Node: "a", Enabled: true})
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{}
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
	}()
	job.Collect(ctx, []string{"a"}, rec.add)
	waitGroup(t, wg, 10*time.Second)
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if syscall.Kill(pid, 0) == nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("grandchild %d still alive after the job was cancelled", pid)
	}
}

// A target whose stream breaks mid-job is reported lost at once.
func TestTargetStreamBreakReportedLost(t *testing.T) {
	_, addr := startRelay(t)
	job, err := Open(dial(t, addr), "job-lost", Spec{Command: "sleep 30", Wait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, addr)
	tg := &Target{Node: "a", Enabled: true, Logger: testLogger{t}}
	go func() { _ = tg.Serve(context.Background(), c, "job-lost") }()
	rec := &recorder{}
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for len(rec.byNode(EventAck)) == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		c.Close() // the node dies: its connection goes
	}()
	start := time.Now()
	job.Collect(context.Background(), []string{"a"}, rec.add)
	if _, ok := rec.byNode(EventLost)["a"]; !ok {
		t.Fatalf("no lost event: %+v", rec.events)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("lost reported after %s, not when the stream broke", took)
	}
}

// Output beyond MaxOutput is dropped on the target, with a marker.
func TestOutputCap(t *testing.T) {
	_, addr := startRelay(t)
	job, err := Open(dial(t, addr), "job-cap", Spec{Command: "head -c 100000 /dev/zero | tr '\\0' x", MaxOutput: 1000, Wait: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	serveTargets(t, addr, "job-cap", &Target{Node: "a", Enabled: true})
	rec := &recorder{}
	job.Collect(context.Background(), []string{"a"}, rec.add)
	out := rec.output("a")
	if n := strings.Count(out, "x"); n != 1000 {
		t.Fatalf("got %d bytes of output, want the cap 1000", n)
	}
	if !strings.Contains(out, "[output truncated at 1000 bytes]") || !rec.byNode(EventExit)["a"].Truncated {
		t.Fatalf("no truncation marker: %q", out[len(out)-60:])
	}
}

// A node that answers for a job the relay no longer has runs nothing.
func TestUnknownJobRunsNothing(t *testing.T) {
	_, addr := startRelay(t)
	dir := t.TempDir()
	tg := &Target{Node: "a", Enabled: true, Logger: testLogger{t}}
	err := tg.Serve(context.Background(), dial(t, addr), "no-such-job")
	if err == nil || !strings.Contains(err.Error(), "no such job") {
		t.Fatalf("err %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatal("something ran")
	}
}

// Half-way through Wait, a job with a silent expected node is announced
// again; a node that answers twice (a second delivery) runs it once.
func TestReannounceAndRunOnce(t *testing.T) {
	_, addr := startRelay(t)
	count := filepath.Join(t.TempDir(), "runs")
	job, err := Open(dial(t, addr), "job-again", Spec{Command: "echo run >> " + count, Wait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var reannounced int
	var wg *sync.WaitGroup
	job.Reannounce = func() {
		reannounced++
		// The second announcement reaches a, which answered already.
		wg = serveTargets(t, addr, "job-again", &Target{Node: "a", Enabled: true})
	}
	first := serveTargets(t, addr, "job-again", &Target{Node: "a", Enabled: true})
	rec := &recorder{}
	start := time.Now()
	done := job.Collect(context.Background(), []string{"a", "silent"}, rec.add)
	waitGroup(t, first, 5*time.Second)
	if wg != nil {
		waitGroup(t, wg, 5*time.Second)
	}
	if reannounced != 1 {
		t.Fatalf("announced again %d times, want once", reannounced)
	}
	b, _ := os.ReadFile(count)
	if n := strings.Count(string(b), "run"); n != 1 || done.Exits != 1 {
		t.Fatalf("the command ran %d times (done %+v), want once", n, done)
	}
	if _, ok := rec.byNode(EventNoAck)["silent"]; !ok || time.Since(start) > 5*time.Second {
		t.Fatalf("silent node not reported noack in time: %+v", rec.events)
	}
}

// No second announcement when every expected node answered.
func TestNoReannounceWhenAllAnswered(t *testing.T) {
	_, addr := startRelay(t)
	job, err := Open(dial(t, addr), "job-once", Spec{Command: "sleep 0.5", Wait: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	job.Reannounce = func() { t.Error("announced again though every node answered") }
	serveTargets(t, addr, "job-once", &Target{Node: "a", Enabled: true})
	job.Collect(context.Background(), []string{"a"}, func(Event) {})
}
