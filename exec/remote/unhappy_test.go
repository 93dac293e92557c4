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
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Cancelling while output streams ends Collect at once, every time (the
// reader once closed its channel without saying why, and Collect waited
// for the reason forever).
func TestCancelWhileStreaming(t *testing.T) {
	_, addr := startRelay(t)
	for i := 0; i < 15; i++ {
		id := fmt.Sprintf("job-c%d", i)
		job, err := Open(dial(t, addr), id, Spec{Command: "yes", Wait: time.Second, MaxOutput: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		wg := serveTargets(t, addr, id, &Target{Node: "a", Enabled: true})
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		ch := make(chan struct{})
		go func() {
			job.Collect(ctx, []string{"a"}, func(ev Event) {
				if ev.Type == EventOutput {
					if n++; n == 20 {
						cancel()
					}
				}
			})
			close(ch)
		}()
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: Collect still running 5s after cancel", i)
		}
		waitGroup(t, wg, 5*time.Second)
		cancel()
	}
}

// A reader that stalls longer than Wait plus a heartbeat slows the nodes
// down; it does not make them lost.
func TestSlowReaderMakesNoNodeLost(t *testing.T) {
	_, addr := startRelay(t)
	job, err := Open(dial(t, addr), "job-slow", Spec{Command: "for i in $(seq 1 30); do echo line $i; sleep 0.02; done", Wait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	wg := serveTargets(t, addr, "job-slow", &Target{Node: "a", Enabled: true}, &Target{Node: "b", Enabled: true})
	rec := &recorder{}
	slept := false
	done := job.Collect(context.Background(), []string{"a", "b"}, func(ev Event) {
		rec.add(ev)
		if ev.Type == EventOutput && !slept {
			slept = true
			time.Sleep(3500 * time.Millisecond) // longer than Wait plus a heartbeat
		}
	})
	waitGroup(t, wg, 10*time.Second)
	if lost := rec.byNode(EventLost); len(lost) > 0 || done.Exits != 2 {
		t.Fatalf("a stalled reader made nodes lost: %v (done %+v)", lost, done)
	}
	for _, n := range []string{"a", "b"} {
		if out := rec.output(n); !strings.HasSuffix(out, "line 30\n") {
			t.Fatalf("%s output ends %q", n, out[max(0, len(out)-20):])
		}
	}
}

// Many nodes behind a steadily slow reader: each node's turn comes less
// often than Wait plus a heartbeat (30 nodes × 60 ms > 1.5 s), and none
// is reported lost.
func TestSlowReaderManyNodes(t *testing.T) {
	_, addr := startRelay(t)
	job, err := Open(dial(t, addr), "job-many", Spec{Command: "head -c 20000 /dev/zero", Wait: time.Second, MaxOutput: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	var targets []*Target
	var names []string
	for i := 0; i < 30; i++ {
		names = append(names, fmt.Sprintf("n%02d", i))
		targets = append(targets, &Target{Node: names[i], Enabled: true})
	}
	wg := serveTargets(t, addr, "job-many", targets...)
	rec := &recorder{}
	done := job.Collect(context.Background(), names, func(ev Event) {
		rec.add(ev)
		if ev.Type == EventOutput {
			time.Sleep(60 * time.Millisecond)
		}
	})
	waitGroup(t, wg, 30*time.Second)
	if lost := rec.byNode(EventLost); len(lost) > 0 || done.Exits != 30 {
		t.Fatalf("%d of 30 nodes lost behind a slow reader (done %+v)", len(lost), done)
	}
}

// A target whose relay stops reading still ends when its agent shuts
// down, and its command is gone.
func TestTargetEndsOnShutdownWhileBlocked(t *testing.T) {
	_, addr := startRelay(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	job, err := Open(dial(t, addr), "job-stall", Spec{Command: "echo $$ > " + pidFile + "; exec yes", Wait: time.Second, MaxOutput: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close() // the initiator never reads
	ctx, cancel := context.WithCancel(context.Background())
	tg := &Target{Node: "a", Enabled: true, Logger: testLogger{t}}
	done := make(chan error, 1)
	go func() { done <- tg.Serve(ctx, dial(t, addr), "job-stall") }()
	time.Sleep(time.Second) // output backs up: the target's writes block
	cancel()                // the agent shuts down
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Target.Serve still blocked 5s after its agent shut down")
	}
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(5 * time.Second)
	for pid > 0 && syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if pid <= 0 || syscall.Kill(pid, 0) == nil {
		t.Fatalf("the command (pid %d) outlived the shutdown", pid)
	}
}

// An initiator that stops reading ends its job after the relay's write
// timeout: the relay frees it and the targets' commands are killed.
func TestStalledInitiatorEndsTheJob(t *testing.T) {
	old := initiatorWriteTimeout
	initiatorWriteTimeout = 500 * time.Millisecond
	defer func() { initiatorWriteTimeout = old }()
	relay, addr := startRelay(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	job, err := Open(dial(t, addr), "job-frozen", Spec{Command: "echo $$ > " + pidFile + "; exec yes", Wait: time.Second, MaxOutput: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close() // never read: the initiating agent is frozen
	wg := serveTargets(t, addr, "job-frozen", &Target{Node: "a", Enabled: true})
	waitGroup(t, wg, 10*time.Second)
	if n := relay.Jobs(); n != 0 {
		t.Fatalf("relay still holds %d jobs", n)
	}
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 || syscall.Kill(pid, 0) == nil {
		t.Fatalf("the command (pid %d) still runs", pid)
	}
}

// The token stays on the relay; a node the relay authorizes runs, one it
// refuses is reported refused with the reason, and an impostor (a stream
// naming another node) gets nothing.
func TestRelayAuthorizesAndVerifies(t *testing.T) {
	var mu sync.Mutex
	var tokens []string
	_, addr := startRelayWith(t, func(relay *Relay) {
		relay.Authorize = func(token, node string) error {
			mu.Lock()
			tokens = append(tokens, token)
			mu.Unlock()
			if node == "denied" {
				return fmt.Errorf("Permission denied")
			}
			return nil
		}
		relay.VerifyNode = func(node string, _ net.Addr) error {
			if node == "impostor" {
				return fmt.Errorf("node %q is not at this address", node)
			}
			return nil
		}
	})
	job, err := Open(dial(t, addr), "job-acl", Spec{Command: "echo token=$CONSULX_TOKEN", Wait: 3 * time.Second, Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	serveTargets(t, addr, "job-acl", &Target{Node: "ok", Enabled: true}, &Target{Node: "denied", Enabled: true}, &Target{Node: "impostor", Enabled: true})
	rec := &recorder{}
	job.Collect(context.Background(), []string{"ok", "denied"}, rec.add)
	if rf := rec.byNode(EventRefused)["denied"]; rf.Reason != "Permission denied" {
		t.Fatalf("denied node: %+v", rec.events)
	}
	if rec.byNode(EventExit)["ok"].Code != 0 || rec.output("impostor") != "" || len(rec.byNode(EventAck)) != 1 {
		t.Fatalf("events %+v", rec.events)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(tokens) != 2 {
		t.Fatalf("the authorizer was asked %d times, want 2 (not for the impostor)", len(tokens))
	}
	for _, tk := range tokens {
		if tk != "s3cret" {
			t.Fatalf("the authorizer saw token %q", tk)
		}
	}
}

// A job for another datacenter is passed on by our relay to a relay
// there, which announces it in its own datacenter; the targets' answers,
// however quick, arrive after the relay's ready.
func TestJobPassedOnToAnotherDatacenter(t *testing.T) {
	// The relay's own address, for the announcement to hand to the target
	// (set once the relay listens; read by its goroutines).
	var remote atomic.Value
	_, remoteAddr := startRelayWith(t, func(r *Relay) {
		r.Datacenter = "dc2"
		r.Announce = func(job string, f Filters) ([]string, error) {
			if f.Node != "^far$" {
				return nil, fmt.Errorf("filters %+v", f)
			}
			// The node answers before the announcement returns.
			serveTargets(t, remote.Load().(string), job, &Target{Node: "far", Enabled: true})
			time.Sleep(300 * time.Millisecond)
			return []string{"far"}, nil
		}
	})
	remote.Store(remoteAddr)
	_, localAddr := startRelayWith(t, func(r *Relay) {
		r.Datacenter = "dc1"
		r.Route = func(dc string) ([]string, error) {
			if dc != "dc2" {
				return nil, fmt.Errorf("No path to datacenter")
			}
			return []string{"127.0.0.1:1", remoteAddr}, nil // the first is down
		}
		r.DialServer = func(_, addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, time.Second) }
	})
	job, err := OpenIn(dial(t, localAddr), "job-far", Spec{Command: "echo far away", Wait: 3 * time.Second}, "dc2", Filters{Node: "^far$"})
	if err != nil {
		t.Fatal(err)
	}
	if !job.Announced || strings.Join(job.Expected, ",") != "far" {
		t.Fatalf("job %+v", job)
	}
	rec := &recorder{}
	done := job.Collect(context.Background(), job.Expected, rec.add)
	if done.Exits != 1 || rec.output("far") != "far away\n" {
		t.Fatalf("done %+v, output %q", done, rec.output("far"))
	}
	if _, err := OpenIn(dial(t, localAddr), "job-nowhere", Spec{Command: "true"}, "dc9", Filters{}); err == nil || err.Error() != "No path to datacenter" {
		t.Fatalf("a job for an unknown datacenter: %v", err)
	}
}
