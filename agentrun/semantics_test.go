package agentrun_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"consulx/internal/testcluster"
)

// singleServer starts one server with a 1 s session_ttl_min so TTL tests
// stay short.
func singleServer(t *testing.T) *testcluster.Agent {
	cfg := testcluster.Config(t, "solo", true, 1)
	cfg.SessionTTLMin = time.Second
	a := testcluster.Start(t, cfg)
	testcluster.Of(t, []*testcluster.Agent{a}, nil).WaitLeader(10 * time.Second)
	return a
}

func TestBlockingQueryWakesOnCreateAndTimesOut(t *testing.T) {
	a := singleServer(t)
	kv := official(t, a).KV()
	_, meta, err := kv.Get("watched/key", nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	type result struct {
		p    *consul.KVPair
		meta *consul.QueryMeta
		err  error
	}
	done := make(chan result, 1)
	go func() {
		p, m, err := kv.Get("watched/key", &consul.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 30 * time.Second})
		done <- result{p, m, err}
	}()
	// A write to another key must not wake it.
	time.Sleep(200 * time.Millisecond)
	if _, err := kv.Put(&consul.KVPair{Key: "other/key", Value: []byte("x")}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		t.Fatalf("watcher woke on an unrelated write: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := kv.Put(&consul.KVPair{Key: "watched/key", Value: []byte("hello")}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.p == nil || string(r.p.Value) != "hello" || r.meta.LastIndex <= meta.LastIndex {
			t.Fatalf("woke with %+v", r)
		}
	case <-time.After(testcluster.Scaled(10 * time.Second)):
		t.Fatal("watcher on a missing key did not wake when it was created")
	}
	if time.Since(start) > testcluster.Scaled(10*time.Second) {
		t.Fatal("took too long")
	}
	// wait expiry returns the same index with 200.
	p, m1, _ := kv.Get("watched/key", nil)
	t0 := time.Now()
	p2, m2, err := kv.Get("watched/key", &consul.QueryOptions{WaitIndex: m1.LastIndex, WaitTime: 500 * time.Millisecond})
	if err != nil || m2.LastIndex != m1.LastIndex || string(p2.Value) != string(p.Value) {
		t.Fatalf("timed-out blocking read: %v %v %v", p2, m2, err)
	}
	if el := time.Since(t0); el < 450*time.Millisecond {
		t.Fatalf("blocking read returned after %s, before its wait", el)
	}
	// A recurse watch wakes on a write under its prefix.
	_, lm, _ := kv.List("watched/", nil)
	go func() {
		time.Sleep(100 * time.Millisecond)
		_, _ = kv.Put(&consul.KVPair{Key: "watched/second", Value: []byte("2")}, nil)
	}()
	ps, lm2, err := kv.List("watched/", &consul.QueryOptions{WaitIndex: lm.LastIndex, WaitTime: 10 * time.Second})
	if err != nil || len(ps) != 2 || lm2.LastIndex <= lm.LastIndex {
		t.Fatalf("prefix watch: %d entries, index %d->%d, %v", len(ps), lm.LastIndex, lm2.LastIndex, err)
	}
}

func TestLocksWithOfficialClient(t *testing.T) {
	a := singleServer(t)
	c1, c2 := official(t, a), official(t, a)
	l1, err := c1.LockKey("service/leader")
	if err != nil {
		t.Fatal(err)
	}
	lost1, err := l1.Lock(stopAfter(t, 10*time.Second))
	if err != nil || lost1 == nil {
		t.Fatalf("first lock (free key) not acquired within %s: %v", testcluster.Scaled(10*time.Second), err)
	}
	p, _, _ := c1.KV().Get("service/leader", nil)
	if p == nil || p.Session == "" || p.LockIndex != 1 {
		t.Fatalf("held lock entry = %+v", p)
	}
	// A second contender cannot take it while it is held.
	l2, _ := c2.LockOpts(&consul.LockOptions{Key: "service/leader", LockTryOnce: true, LockWaitTime: 300 * time.Millisecond})
	stop2 := stopAfter(t, 10*time.Second)
	if ch, err := l2.Lock(stop2); ch != nil || err != nil {
		t.Fatalf("second lock while held: ch=%v err=%v", ch, err)
	}
	select {
	case <-stop2:
		t.Fatalf("second lock (LockTryOnce, LockWaitTime 300ms) did not give up within %s", testcluster.Scaled(10*time.Second))
	default:
	}
	// After an explicit unlock (a release, so no lock-delay) it can.
	if err := l1.Unlock(); err != nil {
		t.Fatal(err)
	}
	l3, _ := c2.LockKey("service/leader")
	if ch, err := l3.Lock(stopAfter(t, 10*time.Second)); ch == nil || err != nil {
		t.Fatalf("lock after release not acquired within %s: %v", testcluster.Scaled(10*time.Second), err)
	}
	p, _, _ = c1.KV().Get("service/leader", nil)
	if p.LockIndex != 2 {
		t.Fatalf("LockIndex after second acquisition = %d, want 2", p.LockIndex)
	}
	_ = l3.Unlock()
	_ = l3.Destroy()
}

func TestSemaphoreWithOfficialClient(t *testing.T) {
	a := singleServer(t)
	var holding, maxHolding atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := official(t, a).SemaphorePrefix("sem/jobs", 2)
			if err != nil {
				t.Error(err)
				return
			}
			ch, err := s.Acquire(stopAfter(t, 20*time.Second))
			if err != nil || ch == nil {
				t.Errorf("acquire (not acquired within %s?): %v", testcluster.Scaled(20*time.Second), err)
				return
			}
			n := holding.Add(1)
			for {
				m := maxHolding.Load()
				if n <= m || maxHolding.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(300 * time.Millisecond)
			holding.Add(-1)
			if err := s.Release(); err != nil {
				t.Errorf("release: %v", err)
			}
		}()
	}
	waitGroup(t, &wg, 60*time.Second, "the semaphore holders (Acquire or Release hung)")
	if m := maxHolding.Load(); m != 2 {
		t.Fatalf("at most %d holders at once, want exactly 2 (limit)", m)
	}
}

func TestSessionTTLExpiresAtTwiceTTLAndLockDelayApplies(t *testing.T) {
	a := singleServer(t)
	c := official(t, a)
	id, _, err := c.Session().Create(&consul.SessionEntry{TTL: "1s", LockDelay: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ok, _, err := c.KV().Acquire(&consul.KVPair{Key: "ttl/lock", Value: []byte("mine"), Session: id}, nil)
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	created := time.Now()
	testcluster.Eventually(t, 10*time.Second, func() error {
		p, _, err := c.KV().Get("ttl/lock", nil)
		if err != nil {
			return err
		}
		if p.Session != "" {
			return fmt.Errorf("still held")
		}
		return nil
	})
	if el := time.Since(created); el < time.Second {
		t.Fatalf("session expired after %s, before its TTL", el)
	}
	info, _, _ := c.Session().Info(id, nil)
	if info != nil {
		t.Fatalf("expired session still listed: %+v", info)
	}
	// Lock-delay: a new session cannot take the key for LockDelay.
	id2, _, err := c.Session().Create(&consul.SessionEntry{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ok, _, err = c.KV().Acquire(&consul.KVPair{Key: "ttl/lock", Session: id2}, nil)
	if err != nil || ok {
		t.Fatalf("acquire during lock-delay = %v, %v; want false", ok, err)
	}
	// A lock inside a transaction is held back by lock-delay as well.
	tok, tresp, _, err := c.Txn().Txn(consul.TxnOps{{KV: &consul.KVTxnOp{Verb: consul.KVLock, Key: "ttl/lock", Session: id2}}}, nil)
	if err != nil || tok || len(tresp.Errors) != 1 || !strings.Contains(tresp.Errors[0].What, "lock delay") {
		t.Fatalf("txn lock during lock-delay: ok=%v resp=%+v err=%v", tok, tresp, err)
	}
	testcluster.Eventually(t, 5*time.Second, func() error {
		ok, _, err := c.KV().Acquire(&consul.KVPair{Key: "ttl/lock", Session: id2}, nil)
		if err != nil || !ok {
			return fmt.Errorf("acquire after lock-delay: %v %v", ok, err)
		}
		return nil
	})
	// Renew of an unknown session is a 404 with Consul's text.
	req, _ := http.NewRequest(http.MethodPut, "http://"+a.HTTPAddr()+"/v1/session/renew/00000000-0000-0000-0000-000000000000", nil)
	resp, err := rawHTTP().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("renew unknown: %d", resp.StatusCode)
	}
}

func TestSessionDiesWithItsNode(t *testing.T) {
	c := testcluster.StartCluster(t, 1, 1)
	cl := official(t, c.Clients[0])
	id, _, err := cl.Session().Create(&consul.SessionEntry{Behavior: consul.SessionBehaviorDelete}, nil)
	if err != nil {
		t.Fatal(err)
	}
	se, _, _ := cl.Session().Info(id, nil)
	if se == nil || se.Node != "client-1" {
		t.Fatalf("session = %+v, want node client-1", se)
	}
	if ok, _, err := cl.KV().Acquire(&consul.KVPair{Key: "ephemeral", Session: id}, nil); !ok || err != nil {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	c.Clients[0].Running.Shutdown()
	srv := official(t, c.Servers[0])
	testcluster.Eventually(t, 10*time.Second, func() error {
		p, _, err := srv.KV().Get("ephemeral", nil)
		if err != nil || p != nil {
			return fmt.Errorf("key of a dead node's delete-session still there: %v %v", p, err)
		}
		return nil
	})
}

func TestTxnIsAtomic(t *testing.T) {
	a := singleServer(t)
	c := official(t, a)
	if _, err := c.KV().Put(&consul.KVPair{Key: "txn/existing", Value: []byte("old")}, nil); err != nil {
		t.Fatal(err)
	}
	// The third op fails (key exists), so nothing of the first two stays.
	ok, resp, _, err := c.Txn().Txn(consul.TxnOps{
		{KV: &consul.KVTxnOp{Verb: consul.KVSet, Key: "txn/a", Value: []byte("1")}},
		{KV: &consul.KVTxnOp{Verb: consul.KVDelete, Key: "txn/existing"}},
		{KV: &consul.KVTxnOp{Verb: consul.KVCheckNotExists, Key: "txn/existing"}},
		{KV: &consul.KVTxnOp{Verb: consul.KVCAS, Key: "txn/existing", Index: 1}},
	}, nil)
	if err != nil || ok || len(resp.Errors) != 1 || resp.Errors[0].OpIndex != 3 {
		t.Fatalf("txn with a stale cas: ok=%v resp=%+v err=%v", ok, resp, err)
	}
	if p, _, _ := c.KV().Get("txn/a", nil); p != nil {
		t.Fatal("rolled-back txn left txn/a behind")
	}
	if p, _, _ := c.KV().Get("txn/existing", nil); p == nil || string(p.Value) != "old" {
		t.Fatalf("rolled-back txn changed txn/existing: %+v", p)
	}
	ok, resp, _, err = c.Txn().Txn(consul.TxnOps{
		{KV: &consul.KVTxnOp{Verb: consul.KVSet, Key: "txn/a", Value: []byte("1")}},
		{KV: &consul.KVTxnOp{Verb: consul.KVSet, Key: "txn/b", Value: []byte("2")}},
		{KV: &consul.KVTxnOp{Verb: consul.KVGet, Key: "txn/existing"}},
	}, nil)
	if err != nil || !ok || len(resp.Results) != 3 {
		t.Fatalf("txn: ok=%v resp=%+v err=%v", ok, resp, err)
	}
	if resp.Results[0].KV.Value != nil || string(resp.Results[2].KV.Value) != "old" {
		t.Fatalf("txn results: writes must hide values, gets show them: %+v %+v", resp.Results[0].KV, resp.Results[2].KV)
	}
	if resp.Results[0].KV.ModifyIndex != resp.Results[1].KV.ModifyIndex {
		t.Fatal("both writes of one txn must share one index")
	}
	// Check verbs answer with the entry (value hidden), as Consul does.
	p, _, _ := c.KV().Get("txn/existing", nil)
	ok, resp, _, err = c.Txn().Txn(consul.TxnOps{{KV: &consul.KVTxnOp{Verb: consul.KVCheckIndex, Key: "txn/existing", Index: p.ModifyIndex}}}, nil)
	if err != nil || !ok || len(resp.Results) != 1 || resp.Results[0].KV.Key != "txn/existing" || resp.Results[0].KV.Value != nil {
		t.Fatalf("check-index result: ok=%v %+v %v", ok, resp, err)
	}
	// Read-only txn, malformed body.
	ok, resp, _, err = c.Txn().Txn(consul.TxnOps{{KV: &consul.KVTxnOp{Verb: consul.KVGetTree, Key: "txn/"}}}, nil)
	if err != nil || !ok || len(resp.Results) != 3 {
		t.Fatalf("read-only txn: %v %+v %v", ok, resp, err)
	}
	for _, body := range []string{`{`, `[{"KV":{"Verb":"explode","Key":"k"}}]`, `[{"KV":{"Verb":"set"}}]`} {
		req, _ := http.NewRequest(http.MethodPut, "http://"+a.HTTPAddr()+"/v1/txn", bytes.NewBufferString(body))
		r, err := rawHTTP().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 400 {
			t.Errorf("txn body %s: status %d, want 400", body, r.StatusCode)
		}
	}
	var raw []json.RawMessage
	_ = raw
}

// TestParkedBlockingQueryKeepsConnectionAlive speaks raw HTTP/1.1: a
// blocking GET that times out (parked, then answered on the hijacked
// connection) is followed on the same connection by a pipelined request,
// which must be answered too.
func TestParkedBlockingQueryKeepsConnectionAlive(t *testing.T) {
	a := singleServer(t)
	if _, err := official(t, a).KV().Put(&consul.KVPair{Key: "park/k", Value: []byte("v")}, nil); err != nil {
		t.Fatal(err)
	}
	_, meta, _ := official(t, a).KV().Get("park/k", nil)
	conn, err := net.DialTimeout("tcp", a.HTTPAddr(), testcluster.Scaled(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(testcluster.Scaled(10 * time.Second)))
	req := fmt.Sprintf("GET /v1/kv/park/k?index=%d&wait=300ms HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/status/leader HTTP/1.1\r\nHost: x\r\n\r\n", meta.LastIndex)
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	start := time.Now()
	for i, want := range []string{"park/k", "127.0.0.1"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("response %d: %d %s", i, resp.StatusCode, body)
		}
		if i == 0 {
			if el := time.Since(start); el < 250*time.Millisecond {
				t.Fatalf("blocking query returned after %s, before its wait", el)
			}
			if resp.Header.Get("X-Consul-Index") != fmt.Sprint(meta.LastIndex) {
				t.Fatalf("index header %q", resp.Header.Get("X-Consul-Index"))
			}
		}
	}
}

func TestAgentMonitorStreamsLogs(t *testing.T) {
	a := singleServer(t)
	collect := func(level string) []string {
		ctx, cancel := context.WithTimeout(context.Background(), testcluster.Scaled(700*time.Millisecond))
		defer cancel()
		var lines []string
		_ = a.Client().Monitor(ctx, level, func(l string) { lines = append(lines, l) })
		return lines
	}
	info := collect("info")
	found := false
	for _, l := range info {
		if strings.Contains(l, "consulx agent running") {
			found = true
		}
		if strings.Contains(l, "[DEBUG]") {
			t.Errorf("loglevel=info streamed a debug line: %s", l)
		}
	}
	if !found {
		t.Fatalf("monitor did not stream the start-up line; got %d lines", len(info))
	}
	for _, l := range collect("warn") {
		if strings.Contains(l, "[INFO]") {
			t.Fatalf("loglevel=warn streamed an info line: %s", l)
		}
	}
}

// TestSessionTiedToAHealthCheck: a session listing a node check dies when
// that check goes critical, releasing its lock.
func TestSessionTiedToAHealthCheck(t *testing.T) {
	a := singleServer(t)
	c := official(t, a)
	if err := c.Agent().CheckRegister(&consul.AgentCheckRegistration{ID: "db-ok", Name: "db ok", AgentServiceCheck: consul.AgentServiceCheck{TTL: "30s", Status: "passing"}}); err != nil {
		t.Fatal(err)
	}
	var id string
	testcluster.Eventually(t, 10*time.Second, func() error {
		var err error
		id, _, err = c.Session().Create(&consul.SessionEntry{Checks: []string{"serfHealth", "db-ok"}}, nil)
		return err
	})
	if _, _, err := c.Session().Create(&consul.SessionEntry{Checks: []string{"nope"}}, nil); err == nil || !strings.Contains(err.Error(), "Missing check 'nope' registration") {
		t.Fatalf("session with an unknown check: %v", err)
	}
	if ok, _, err := c.KV().Acquire(&consul.KVPair{Key: "tied/lock", Session: id}, nil); !ok || err != nil {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	if err := c.Agent().FailTTL("db-ok", "db down"); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		p, _, err := c.KV().Get("tied/lock", nil)
		if err != nil || p == nil || p.Session != "" {
			return fmt.Errorf("lock still held after its session's check went critical: %+v %v", p, err)
		}
		return nil
	})
}

func TestLeaderReapsTombstones(t *testing.T) {
	cfg := testcluster.Config(t, "reaper", true, 1)
	cfg.Timing.TombstoneTTL = time.Second
	a := testcluster.Start(t, cfg)
	testcluster.Of(t, []*testcluster.Agent{a}, nil).WaitLeader(10 * time.Second)
	kv := official(t, a).KV()
	for i := 0; i < 5; i++ {
		key := fmt.Sprintf("churn/%d", i)
		_, _ = kv.Put(&consul.KVPair{Key: key, Value: []byte("x")}, nil)
		_, _ = kv.Delete(key, nil)
	}
	tombstones := func() string {
		self, err := official(t, a).Agent().Self()
		if err != nil {
			return "?"
		}
		return fmt.Sprint(self["Stats"]["consul"].(map[string]any)["kv_tombstones"])
	}
	if got := tombstones(); got != "5" {
		t.Fatalf("kv_tombstones = %s, want 5", got)
	}
	testcluster.Eventually(t, 15*time.Second, func() error {
		if got := tombstones(); got != "0" {
			return fmt.Errorf("kv_tombstones = %s, want 0 after the TTL", got)
		}
		return nil
	})
}
