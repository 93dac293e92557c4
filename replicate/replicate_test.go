package replicate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"

	"consulx/agentrun"
	"consulx/api"
	"consulx/internal/testcluster"
	"consulx/replicate"
)

// twoDCs starts dc1 (a server) and dc2 (a server and a client), joined
// over the WAN.
func twoDCs(t *testing.T) (dc1, dc2 *testcluster.Cluster) {
	dc1 = testcluster.StartCluster(t, 1, 0)
	dc2 = testcluster.StartClusterIn(t, "dc2", 1, 1)
	if _, err := dc2.Servers[0].Running.Agent.Join([]string{dc1.Servers[0].WANAddr()}, true); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		if _, _, err := dc2.Clients[0].Client().KVList(context.Background(), "x", &api.QueryOptions{Datacenter: "dc1"}); err != nil {
			return err
		}
		return nil
	})
	return dc1, dc2
}

func officialKV(t *testing.T, a *testcluster.Agent) *consul.KV {
	cfg := consul.DefaultConfig()
	cfg.Address = a.HTTPAddr()
	c, err := consul.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c.KV()
}

// logLines collects a replicator's log.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logLines) matching(s string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

// start runs a replicator of prefix against the dc2 client until the test
// ends or stop is called.
func start(t *testing.T, dest *testcluster.Agent, prefix replicate.Prefix) (*logLines, func()) {
	logs := &logLines{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = replicate.New(dest.Client(), replicate.Config{Prefixes: []replicate.Prefix{prefix}, Retry: 200 * time.Millisecond, Logf: logs.logf}).Run(ctx)
	}()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("replicator did not stop")
		}
	}
	t.Cleanup(stop)
	return logs, stop
}

// converged checks that dest holds exactly the source's keys and values.
func converged(src, dest *consul.KV, from, to string) error {
	s, _, err := src.List(from, nil)
	if err != nil {
		return err
	}
	d, _, err := dest.List(to, nil)
	if err != nil {
		return err
	}
	if len(s) != len(d) {
		return fmt.Errorf("%d keys in the source, %d in the destination", len(s), len(d))
	}
	for i := range s {
		if to+strings.TrimPrefix(s[i].Key, from) != d[i].Key || string(s[i].Value) != string(d[i].Value) || s[i].Flags != d[i].Flags {
			return fmt.Errorf("%s=%q (flags %d) vs %s=%q (flags %d)", s[i].Key, s[i].Value, s[i].Flags, d[i].Key, d[i].Value, d[i].Flags)
		}
	}
	return nil
}

// TestReplicateConvergesAndResumes: 1,000 keys of dc1 are copied into dc2
// under another prefix, updates, binary values with flags and deletes
// follow; a restarted replicator resumes from its status index and
// rewrites only what changed meanwhile; of two replicators for one prefix
// only one is ever active.
func TestReplicateConvergesAndResumes(t *testing.T) {
	dc1, dc2 := twoDCs(t)
	src, dest := officialKV(t, dc1.Servers[0]), officialKV(t, dc2.Clients[0])
	for b := 0; b < 1000; b += 50 {
		var ops consul.KVTxnOps
		for i := b; i < b+50; i++ {
			ops = append(ops, &consul.KVTxnOp{Verb: consul.KVSet, Key: fmt.Sprintf("app/k%04d", i), Value: []byte(fmt.Sprint("v", i))})
		}
		if ok, resp, _, err := src.Txn(ops, nil); err != nil || !ok {
			t.Fatalf("txn: %v %+v", err, resp)
		}
	}
	prefix := replicate.Prefix{Source: "app/", Datacenter: "dc1", Destination: "copy/"}
	logs, stop := start(t, dc2.Clients[0], prefix)
	testcluster.Eventually(t, 30*time.Second, func() error { return converged(src, dest, "app/", "copy/") })
	if len(logs.matching("replicated 1000 updates, 0 deletes")) != 1 {
		t.Fatalf("log: %v", logs.matching("replicated"))
	}

	// Updates, a binary value with flags, deletes.
	for i := 0; i < 10; i++ {
		if _, err := src.Put(&consul.KVPair{Key: fmt.Sprintf("app/k%04d", i), Value: []byte("new")}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := src.Delete(fmt.Sprintf("app/k%04d", 990+i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := src.Put(&consul.KVPair{Key: "app/bin", Value: []byte{0, 0xff, 7}, Flags: 42}, nil); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 20*time.Second, func() error { return converged(src, dest, "app/", "copy/") })

	// Stop, change five keys, restart: only those five are written.
	stop()
	st, err := replicate.StatusOf(context.Background(), dc2.Clients[0].Client(), prefix)
	if err != nil || st.LastReplicated == 0 {
		t.Fatalf("status after the first run: %+v %v", st, err)
	}
	for i := 100; i < 105; i++ {
		if _, err := src.Put(&consul.KVPair{Key: fmt.Sprintf("app/k%04d", i), Value: []byte("while down")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	logs2, stop2 := start(t, dc2.Clients[0], prefix)
	testcluster.Eventually(t, 20*time.Second, func() error { return converged(src, dest, "app/", "copy/") })
	testcluster.Eventually(t, 5*time.Second, func() error {
		if got := logs2.matching("replicated"); len(got) == 0 || !strings.HasSuffix(got[0], "replicated 5 updates, 0 deletes") {
			return fmt.Errorf("the restarted replicator logged %v, want its first copy to be the 5 changed keys", got)
		}
		return nil
	})

	// A second replicator for the same prefix (through another agent of
	// dc2) waits: it never replicates while the first holds the lock, and
	// takes over when the first stops.
	logs4, _ := start(t, dc2.Servers[0], prefix)
	if _, err := src.Put(&consul.KVPair{Key: "app/k0500", Value: []byte("both see it")}, nil); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 20*time.Second, func() error { return converged(src, dest, "app/", "copy/") })
	time.Sleep(500 * time.Millisecond)
	if got := logs4.matching("holding the replication lock"); len(got) != 0 {
		t.Fatalf("the second replicator of one prefix took the lock while the first held it: %v", got)
	}
	stop2()
	testcluster.Eventually(t, 30*time.Second, func() error {
		if len(logs4.matching("holding the replication lock")) != 1 {
			return fmt.Errorf("the standby never took over")
		}
		return nil
	})
	if _, err := src.Put(&consul.KVPair{Key: "app/k0501", Value: []byte("after failover")}, nil); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 20*time.Second, func() error { return converged(src, dest, "app/", "copy/") })
}

// TestReplicateFromAgentConfig: a `replicate` block in a server's config
// runs in the agent, retrying until the source datacenter is reachable;
// a bad block stops the agent at start with one line.
func TestReplicateFromAgentConfig(t *testing.T) {
	dc1 := testcluster.StartCluster(t, 1, 0)
	cfg := testcluster.Config(t, "dc2-replicator", true, 1)
	cfg.Datacenter = "dc2"
	cfg.Extra = map[string][]json.RawMessage{"replicate": {json.RawMessage(`{"prefixes": ["cfg/@dc1"], "retry": "200ms"}`)}}
	s2 := testcluster.Start(t, cfg)
	if _, err := s2.Running.Agent.Join([]string{dc1.Servers[0].WANAddr()}, true); err != nil {
		t.Fatal(err)
	}
	src, dest := officialKV(t, dc1.Servers[0]), officialKV(t, s2)
	if _, err := src.Put(&consul.KVPair{Key: "cfg/feature", Value: []byte("on")}, nil); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 30*time.Second, func() error { return converged(src, dest, "cfg/", "cfg/") })

	bad := testcluster.Config(t, "bad-replicate", true, 1)
	bad.Extra = map[string][]json.RawMessage{"replicate": {json.RawMessage(`{"prefixes": ["nodc"]}`)}}
	_, err := agentrun.Start(bad, hclog.NewNullLogger(), nil)
	if err == nil || err.Error() != `config: replicate[0]: invalid prefix "nodc": want SRC@DC[:DEST]` {
		t.Fatalf("a bad replicate block: %v", err)
	}
}

// TestReplicateRidesOutSourceOutage: with the source datacenter's only
// server down the replicator retries with backoff, and once the server is
// back it picks up the writes made since, without recopying the rest.
func TestReplicateRidesOutSourceOutage(t *testing.T) {
	dc1, dc2 := twoDCs(t)
	src, dest := officialKV(t, dc1.Servers[0]), officialKV(t, dc2.Clients[0])
	for i := 0; i < 20; i++ {
		if _, err := src.Put(&consul.KVPair{Key: fmt.Sprintf("svc/k%02d", i), Value: []byte("v")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	prefix := replicate.Prefix{Source: "svc/", Datacenter: "dc1", Destination: "svc/"}
	logs, _ := start(t, dc2.Clients[0], prefix)
	testcluster.Eventually(t, 20*time.Second, func() error { return converged(src, dest, "svc/", "svc/") })

	dc1.Servers[0].Running.Shutdown()
	testcluster.Eventually(t, 30*time.Second, func() error {
		if len(logs.matching("[WARN] (runner)")) == 0 {
			return fmt.Errorf("no retry logged while dc1 is down: %v", logs.matching(""))
		}
		return nil
	})
	dc1.Servers[0].Restart()
	dc1.WaitLeader(20 * time.Second)
	testcluster.Eventually(t, 30*time.Second, func() error {
		_, err := src.Put(&consul.KVPair{Key: "svc/after", Value: []byte("back")}, nil)
		return err
	})
	testcluster.Eventually(t, 60*time.Second, func() error { return converged(src, dest, "svc/", "svc/") })
	for _, l := range logs.matching("replicated ") {
		if strings.HasSuffix(l, "replicated 21 updates, 0 deletes") {
			t.Fatalf("the replicator recopied everything after the outage: %v", logs.matching("replicated "))
		}
	}
}

// TestReplicateWaitsForQuiet: with -wait MIN:MAX a burst of writes in the
// source is copied in one pass once the source has been quiet for MIN.
func TestReplicateWaitsForQuiet(t *testing.T) {
	dc1, dc2 := twoDCs(t)
	src, dest := officialKV(t, dc1.Servers[0]), officialKV(t, dc2.Clients[0])
	if _, err := src.Put(&consul.KVPair{Key: "q/seed", Value: []byte("0")}, nil); err != nil {
		t.Fatal(err)
	}
	logs := &logLines{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = replicate.New(dc2.Clients[0].Client(), replicate.Config{
			Prefixes: []replicate.Prefix{{Source: "q/", Datacenter: "dc1", Destination: "q/"}},
			WaitMin:  700 * time.Millisecond, WaitMax: 5 * time.Second, Logf: logs.logf,
		}).Run(ctx)
	}()
	testcluster.Eventually(t, 20*time.Second, func() error { return converged(src, dest, "q/", "q/") })
	for i := 0; i < 5; i++ { // a burst: 100 ms apart, each well within MIN
		if _, err := src.Put(&consul.KVPair{Key: fmt.Sprintf("q/k%d", i), Value: []byte("v")}, nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	testcluster.Eventually(t, 20*time.Second, func() error { return converged(src, dest, "q/", "q/") })
	// The pass logs after its writes land: wait for its line.
	var got []string
	testcluster.Eventually(t, 5*time.Second, func() error {
		if got = logs.matching("replicated "); len(got) < 2 {
			return fmt.Errorf("log so far: %v", got)
		}
		return nil
	})
	if len(got) != 2 || !strings.HasSuffix(got[1], "replicated 5 updates, 0 deletes") {
		t.Fatalf("want the seed copied, then the burst in one pass; log: %v", got)
	}
}

// TestReplicateRefusesOwnDatacenter: a source in the agent's own
// datacenter is refused (its writes would feed its reads).
func TestReplicateRefusesOwnDatacenter(t *testing.T) {
	dc1 := testcluster.StartCluster(t, 1, 0)
	err := replicate.New(dc1.Servers[0].Client(), replicate.Config{Prefixes: []replicate.Prefix{{Source: "app", Datacenter: "dc1", Destination: "app-backup"}}, Once: true}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "the source datacenter is the agent's own") {
		t.Fatalf("replicating within dc1: %v", err)
	}
}

// TestReplicatorStopsWritingWhenItsLockGoes: deleting the lock key (or
// any loss of the lock) stops the replicator from writing at once; it
// then takes the lock again.
func TestReplicatorStopsWritingWhenItsLockGoes(t *testing.T) {
	dc1, dc2 := twoDCs(t)
	src, dest := officialKV(t, dc1.Servers[0]), officialKV(t, dc2.Clients[0])
	if _, err := src.Put(&consul.KVPair{Key: "l/a", Value: []byte("1")}, nil); err != nil {
		t.Fatal(err)
	}
	logs, _ := start(t, dc2.Clients[0], replicate.Prefix{Source: "l/", Datacenter: "dc1", Destination: "l/"})
	testcluster.Eventually(t, 20*time.Second, func() error { return converged(src, dest, "l/", "l/") })
	locks, _, err := dest.List("service/consulx-replicate/leader/", nil)
	if err != nil || len(locks) != 1 {
		t.Fatalf("lock keys: %v %v", locks, err)
	}
	if _, err := dest.Delete(locks[0].Key, nil); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 20*time.Second, func() error {
		if len(logs.matching("lost the replication lock")) == 0 {
			return fmt.Errorf("the replicator did not notice its lock was deleted: %v", logs.matching(""))
		}
		return nil
	})
	testcluster.Eventually(t, 30*time.Second, func() error {
		if len(logs.matching("holding the replication lock")) < 2 {
			return fmt.Errorf("the replicator did not take the lock again")
		}
		return nil
	})
}
