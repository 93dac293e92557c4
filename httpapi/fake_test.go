package httpapi_test

// Handler tests against a fake agent: no cluster, no ports beyond the
// test server's. They check the HTTP framing only — query parsing into
// typed requests, headers, status codes, parking — while kv_test.go and
// package agentrun check the contract against real agents.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"consulx/httpapi"
	"consulx/node"
	"consulx/store"
)

// fakeAgent implements what the KV handlers use; any other method of
// httpapi.Agent panics (the nil embedded interface), which fails the test
// loudly if a handler reaches for more than it should.
type fakeAgent struct {
	httpapi.Agent
	cfg *node.Config

	mu      sync.Mutex
	reads   []node.KVReadRequest
	writes  []node.KVWriteRequest
	readErr error
	// watchRounds answers successive KVReadWatch calls.
	watchRounds []func() (*node.KVReadResponse, *node.Watch, error)
	// keyringReqs records KeyringOperation calls, answered with
	// keyringResp and keyringErr.
	keyringReqs []node.KeyringRequest
	keyringResp []node.KeyringResponse
	keyringErr  error
}

func newFake() *fakeAgent {
	cfg := node.DefaultConfig()
	cfg.KVMaxValueSize = 16
	return &fakeAgent{cfg: cfg}
}

func (f *fakeAgent) Config() *node.Config                     { return f.cfg }
func (f *fakeAgent) ACLEnabled() bool                         { return false }
func (f *fakeAgent) BlockingWait(time.Duration) time.Duration { return 2 * time.Second }

func (f *fakeAgent) Reads() *node.Reads { return &node.Reads{KV: fakeKV{f}} }

// fakeKV is the fake's KV read endpoint.
type fakeKV struct{ f *fakeAgent }

func (k fakeKV) Read(_ context.Context, req *node.KVReadRequest) (*node.KVReadResponse, error) {
	f := k.f
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, *req)
	if f.readErr != nil {
		return nil, f.readErr
	}
	if req.Key == "k" {
		return &node.KVReadResponse{Entries: []store.KVEntry{{Key: "k", Value: []byte("hello"), ModifyIndex: 7}},
			QueryMeta: node.QueryMeta{Index: 7, KnownLeader: true}}, nil
	}
	return &node.KVReadResponse{QueryMeta: node.QueryMeta{Index: 0, KnownLeader: true, LastContact: 3 * time.Millisecond}}, nil
}

func (k fakeKV) Watch(req *node.KVReadRequest, prev *node.Watch) (*node.KVReadResponse, *node.Watch, error) {
	f := k.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.watchRounds) == 0 {
		return nil, nil, node.ErrNotLocal
	}
	next := f.watchRounds[0]
	f.watchRounds = f.watchRounds[1:]
	return next()
}

func (f *fakeAgent) KVApply(_ context.Context, req *node.KVWriteRequest) (*node.KVWriteResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes = append(f.writes, *req)
	return &node.KVWriteResponse{Ok: true, Index: 9}, nil
}

func (f *fakeAgent) KeyringOperation(_ context.Context, req *node.KeyringRequest) ([]node.KeyringResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keyringReqs = append(f.keyringReqs, *req)
	return f.keyringResp, f.keyringErr
}

// serve runs the handler on a test server; parked connections are closed
// after their answer (keep-alive is tested against real agents).
func serve(t *testing.T, f *fakeAgent) (*httpapi.Handler, string) {
	t.Helper()
	return serveAgent(t, f)
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestKVHandlersOnAFakeAgent(t *testing.T) {
	f := newFake()
	_, base := serve(t, f)

	resp, body := get(t, base+"/v1/kv/k?raw&stale")
	if resp.StatusCode != 200 || body != "hello" || resp.Header.Get("X-Consul-Index") != "7" {
		t.Fatalf("raw get: %d %q index %q", resp.StatusCode, body, resp.Header.Get("X-Consul-Index"))
	}
	resp, body = get(t, base+"/v1/kv/missing")
	if resp.StatusCode != 404 || body != "" || resp.Header.Get("X-Consul-Index") != "1" || resp.Header.Get("X-Consul-LastContact") != "3" {
		t.Fatalf("missing key: %d %q headers %v", resp.StatusCode, body, resp.Header)
	}
	get(t, base+"/v1/kv/dir/?keys&separator=/&dc=east")
	get(t, base+"/v1/kv/dir/?recurse&consistent")
	f.mu.Lock()
	reads := append([]node.KVReadRequest(nil), f.reads...)
	f.mu.Unlock()
	want := []node.KVReadRequest{
		{Key: "k", Mode: node.KVReadKey, QueryOptions: node.QueryOptions{Consistency: node.ModeStale}},
		{Key: "missing", Mode: node.KVReadKey},
		{Key: "dir/", Mode: node.KVReadKeys, Separator: "/", QueryOptions: node.QueryOptions{Datacenter: "east"}},
		{Key: "dir/", Mode: node.KVReadPrefix, QueryOptions: node.QueryOptions{Consistency: node.ModeConsistent}},
	}
	if len(reads) != len(want) {
		t.Fatalf("reads = %+v", reads)
	}
	for i := range want {
		if reads[i] != want[i] {
			t.Errorf("read %d = %+v, want %+v", i, reads[i], want[i])
		}
	}

	req, _ := http.NewRequest(http.MethodPut, base+"/v1/kv/a?flags=42&dc=east", strings.NewReader("v"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != "true" {
		t.Fatalf("put: %d %q", resp.StatusCode, b)
	}
	req, _ = http.NewRequest(http.MethodPut, base+"/v1/kv/a", strings.NewReader(strings.Repeat("x", 17)))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized put: %d", resp.StatusCode)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.writes) != 1 {
		t.Fatalf("writes = %+v, want only the valid one", f.writes)
	}
	w := f.writes[0]
	if w.Request.Op != store.KVSet || w.Request.Entry.Key != "a" || w.Request.Entry.Flags != 42 || string(w.Request.Entry.Value) != "v" || w.Datacenter != "east" {
		t.Fatalf("write = %+v", w)
	}
}

// TestTypedErrorsBecomeStatusCodes: the one mapping from the agent's
// typed errors to HTTP statuses.
func TestTypedErrorsBecomeStatusCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
	}{
		{&node.BadRequestError{Msg: "bad"}, 400},
		{&node.NotFoundError{Msg: "gone"}, 404},
		{&node.PermissionDeniedError{}, 403},
		{node.ErrNoLeader, 500},
		{node.ErrNoPathToDatacenter, 500},
		{errors.New("boom"), 500},
	} {
		f := newFake()
		f.readErr = c.err
		_, base := serve(t, f)
		resp, body := get(t, base+"/v1/kv/k")
		if resp.StatusCode != c.code || body != c.err.Error() {
			t.Errorf("%T: %d %q, want %d %q", c.err, resp.StatusCode, body, c.code, c.err.Error())
		}
	}
}

// TestBlockingReadIsParkedUntilItsWatchFires: a blocking read the agent
// answers locally holds no handler goroutine while it waits; the watch
// firing makes the handler read again and answer.
func TestBlockingReadIsParkedUntilItsWatchFires(t *testing.T) {
	f := newFake()
	fire := make(chan struct{})
	f.watchRounds = []func() (*node.KVReadResponse, *node.Watch, error){
		func() (*node.KVReadResponse, *node.Watch, error) {
			return &node.KVReadResponse{Entries: []store.KVEntry{{Key: "k", Value: []byte("old")}}, QueryMeta: node.QueryMeta{Index: 7}}, node.WatchOn(fire), nil
		},
		func() (*node.KVReadResponse, *node.Watch, error) {
			return &node.KVReadResponse{Entries: []store.KVEntry{{Key: "k", Value: []byte("new")}}, QueryMeta: node.QueryMeta{Index: 8}}, nil, nil
		},
	}
	h, base := serve(t, f)
	type answer struct {
		resp *http.Response
		body string
	}
	done := make(chan answer, 1)
	go func() {
		resp, body := get(t, base+"/v1/kv/k?raw&index=7")
		done <- answer{resp, body}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for h.Parked() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the blocking read was not parked")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case a := <-done:
		t.Fatalf("answered before its watch fired: %q", a.body)
	case <-time.After(100 * time.Millisecond):
	}
	close(fire)
	select {
	case a := <-done:
		if a.resp.StatusCode != 200 || a.body != "new" || a.resp.Header.Get("X-Consul-Index") != "8" {
			t.Fatalf("parked answer: %d %q index %q", a.resp.StatusCode, a.body, a.resp.Header.Get("X-Consul-Index"))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the parked read did not answer after its watch fired")
	}
	// The parked goroutine lets go of the connection just after writing
	// the answer the client already has.
	deadline = time.Now().Add(5 * time.Second)
	for h.Parked() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d still parked after the answer", h.Parked())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
