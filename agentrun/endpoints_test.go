package agentrun_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"consulx/internal/testcluster"
	"consulx/node"
	"consulx/store"
)

// denySecrets is a fake authorizer: writes under secret/ are refused, and
// reads never show entries under secret/. It records what it was asked.
type denySecrets struct {
	mu     sync.Mutex
	writes []string
}

func (d *denySecrets) AuthorizeWrite(_ context.Context, endpoint string, req any) error {
	d.mu.Lock()
	d.writes = append(d.writes, endpoint)
	d.mu.Unlock()
	if endpoint == "Snapshot.Restore" {
		return &node.PermissionDeniedError{Msg: "snapshot restore"}
	}
	if w, ok := req.(*node.KVWriteRequest); ok && strings.HasPrefix(w.Request.Entry.Key, "secret/") {
		return &node.PermissionDeniedError{Msg: "key " + w.Request.Entry.Key}
	}
	if t, ok := req.(*node.TxnRequest); ok {
		for _, op := range t.Ops {
			if strings.HasPrefix(op.Entry.Key, "secret/") {
				return &node.PermissionDeniedError{}
			}
		}
	}
	return nil
}

func (d *denySecrets) FilterRead(_ context.Context, _ string, _, resp any) error {
	// New slices, never in place: a response may share the store's
	// memoised results.
	switch r := resp.(type) {
	case *node.KVReadResponse:
		var kept []store.KVEntry
		for _, e := range r.Entries {
			if !strings.HasPrefix(e.Key, "secret/") {
				kept = append(kept, e)
			}
		}
		r.Entries = kept
	case *node.ServiceNodesResponse:
		var kept []store.ServiceInstance
		for _, in := range r.Instances {
			if !strings.HasPrefix(in.Node.Node, "secret") {
				kept = append(kept, in)
			}
		}
		r.Instances = kept
	}
	return nil
}

func (d *denySecrets) asked(endpoint string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.writes {
		if w == endpoint {
			return true
		}
	}
	return false
}

// TestAuthorizerRefusesWritesAndFiltersReads: the endpoint table consults
// the server's authorizer before a write reaches Raft (a request through a
// client agent included) and filters what reads return.
func TestAuthorizerRefusesWritesAndFiltersReads(t *testing.T) {
	srv := singleServer(t)
	cli := testcluster.Start(t, testcluster.Config(t, "client", false, 0))
	if _, err := cli.Running.Agent.Join([]string{srv.SerfAddr()}, false); err != nil {
		t.Fatal(err)
	}
	kv := official(t, cli).KV()
	for _, k := range []string{"secret/pw", "public/a"} {
		if _, err := official(t, srv).KV().Put(&consul.KVPair{Key: k, Value: []byte("v")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"secret-node", "open-node"} {
		if _, err := official(t, srv).Catalog().Register(&consul.CatalogRegistration{Node: n, Address: "10.0.0.9",
			Service: &consul.AgentService{ID: "web", Service: "web", Port: 80}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	healthNodes := func() []string {
		t.Helper()
		entries, _, err := official(t, cli).Health().Service("web", "", false, nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Node.Node)
		}
		return names
	}
	if got := healthNodes(); len(got) != 2 { // also fills the encoded-answer cache
		t.Fatalf("web before the authorizer: %v", got)
	}
	var archive bytes.Buffer
	if _, err := srv.Client().SnapshotSave(context.Background(), false, &archive); err != nil {
		t.Fatal(err)
	}
	fake := &denySecrets{}
	srv.Running.Agent.SetAuthorizer(fake)
	if got := healthNodes(); len(got) != 1 || got[0] != "open-node" {
		t.Fatalf("web with the authorizer (a cached answer must not bypass it): %v", got)
	}
	err := srv.Client().SnapshotRestore(context.Background(), bytes.NewReader(archive.Bytes()))
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("snapshot restore refused by the authorizer: err = %v, want a 403", err)
	}

	_, err = kv.Put(&consul.KVPair{Key: "secret/new", Value: []byte("x")}, nil)
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "Permission denied") {
		t.Fatalf("write under secret/ through the client: err = %v, want a 403 Permission denied", err)
	}
	if p, _, _ := official(t, srv).KV().Get("secret/new", nil); p != nil {
		t.Fatalf("a refused write was stored: %+v", p)
	}
	ok, _, _, err := official(t, cli).Txn().Txn(consul.TxnOps{{KV: &consul.KVTxnOp{Verb: consul.KVSet, Key: "secret/t", Value: []byte("x")}}}, nil)
	if err == nil || ok {
		t.Fatalf("txn under secret/: ok=%v err=%v, want refused", ok, err)
	}
	if _, err := kv.Put(&consul.KVPair{Key: "public/b", Value: []byte("y")}, nil); err != nil {
		t.Fatalf("allowed write: %v", err)
	}
	if !fake.asked("KV.Apply") || !fake.asked("Txn.Apply") {
		t.Fatalf("authorizer was not consulted for KV.Apply and Txn.Apply: %v", fake.writes)
	}
	pairs, _, err := kv.List("", nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, p := range pairs {
		keys = append(keys, p.Key)
	}
	if got := strings.Join(keys, ","); got != "public/a,public/b" {
		t.Fatalf("filtered recurse read = %s, want public/a,public/b", got)
	}
	// Without the authorizer everything is visible again.
	srv.Running.Agent.SetAuthorizer(nil)
	if p, _, _ := kv.Get("secret/pw", nil); p == nil {
		t.Fatal("secret/pw missing once the authorizer is removed")
	}
}

// routeTo is a fake datacenter router: one datacenter, one server address.
type routeTo struct{ dc, addr string }

func (r routeTo) ServersIn(dc string) ([]string, error) {
	if dc != r.dc {
		return nil, node.ErrNoPathToDatacenter
	}
	return []string{r.addr}, nil
}

// TestDatacenterHopReachesAnotherDatacenter: a request for another
// datacenter is forwarded once, to a server the router names, and runs
// there; without a route it fails with Consul's "No path to datacenter".
func TestDatacenterHopReachesAnotherDatacenter(t *testing.T) {
	dc1 := singleServer(t)
	cfg2 := testcluster.Config(t, "east", true, 1)
	cfg2.Datacenter = "dc2"
	dc2 := testcluster.Start(t, cfg2)
	testcluster.Of(t, []*testcluster.Agent{dc2}, nil).WaitLeader(10 * time.Second)
	cli := testcluster.Start(t, testcluster.Config(t, "client", false, 0))
	if _, err := cli.Running.Agent.Join([]string{dc1.SerfAddr()}, false); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		_, err := official(t, cli).Status().Leader()
		return err
	})
	if _, err := official(t, dc2).KV().Put(&consul.KVPair{Key: "where", Value: []byte("east")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := official(t, dc1).KV().Put(&consul.KVPair{Key: "where", Value: []byte("west")}, nil); err != nil {
		t.Fatal(err)
	}
	get := func(a *testcluster.Agent, query string) (int, string) {
		resp, err := rawHTTP().Get("http://" + a.HTTPAddr() + "/v1/kv/where?raw&" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(dc1, "dc=dc2"); code != 500 || body != "No path to datacenter" {
		t.Fatalf("no route: %d %q, want 500 No path to datacenter", code, body)
	}
	dc1.Running.Agent.SetDatacenterRouter(routeTo{dc: "dc2", addr: fmt.Sprintf("127.0.0.1:%d", dc2.Config.Ports.Server)})
	for _, via := range []*testcluster.Agent{dc1, cli} {
		if code, body := get(via, "dc=dc2"); code != 200 || body != "east" {
			t.Fatalf("read for dc2 through %s: %d %q, want east", via.Name, code, body)
		}
		if code, body := get(via, ""); code != 200 || body != "west" {
			t.Fatalf("read for our own datacenter through %s: %d %q, want west", via.Name, code, body)
		}
	}
	wo := &consul.WriteOptions{Datacenter: "dc2"}
	if _, err := official(t, cli).KV().Put(&consul.KVPair{Key: "written", Value: []byte("from dc1")}, wo); err != nil {
		t.Fatalf("write for dc2 through a dc1 client: %v", err)
	}
	if p, _, _ := official(t, dc2).KV().Get("written", nil); p == nil || string(p.Value) != "from dc1" {
		t.Fatalf("dc2 does not have the forwarded write: %+v", p)
	}
	if p, _, _ := official(t, dc1).KV().Get("written", nil); p != nil {
		t.Fatalf("the write for dc2 landed in dc1 too: %+v", p)
	}
	if code, body := get(dc1, "dc=dc3"); code != 500 || body != "No path to datacenter" {
		t.Fatalf("unknown datacenter: %d %q", code, body)
	}
}

// TestHealthWatchIsParkedAndWakesOnlyForItsService: a blocking
// /v1/health/service query the server answers itself is parked (no
// goroutine held); a write to another service leaves it asleep, a change
// to its own service answers it with the new index.
func TestHealthWatchIsParkedAndWakesOnlyForItsService(t *testing.T) {
	a := singleServer(t)
	c := official(t, a)
	reg := func(node, svc, status string) {
		t.Helper()
		_, err := c.Catalog().Register(&consul.CatalogRegistration{Node: node, Address: "10.0.0.1",
			Service: &consul.AgentService{ID: svc, Service: svc, Port: 80},
			Check:   &consul.AgentCheck{CheckID: "chk-" + svc, Name: "c", Status: status, ServiceID: svc}}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	reg("web-node", "web", store.HealthPassing)
	reg("db-node", "db", store.HealthPassing)
	_, meta, err := c.Health().Service("web", "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		index uint64
		n     int
		err   error
	}
	done := make(chan result, 1)
	go func() {
		entries, m, err := c.Health().Service("web", "", false, &consul.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: time.Minute})
		if err != nil {
			done <- result{err: err}
			return
		}
		done <- result{index: m.LastIndex, n: len(entries)}
	}()
	testcluster.Eventually(t, 5*time.Second, func() error {
		if n := a.Running.ParkedQueries(); n != 1 {
			return fmt.Errorf("%d parked queries, want 1", n)
		}
		return nil
	})
	reg("db-node", "db", store.HealthCritical) // another service on another node
	select {
	case r := <-done:
		t.Fatalf("a write to another service answered the web watch: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	reg("web-node", "web", store.HealthWarning)
	select {
	case r := <-done:
		if r.err != nil || r.index <= meta.LastIndex || r.n != 1 {
			t.Fatalf("web watch after its check changed: %+v (index before %d)", r, meta.LastIndex)
		}
	case <-time.After(testcluster.Scaled(5 * time.Second)):
		t.Fatal("the web watch did not wake when its own check changed")
	}
	// The parked goroutine lets go of the connection just after writing
	// the answer the client already has.
	testcluster.Eventually(t, 5*time.Second, func() error {
		if n := a.Running.ParkedQueries(); n != 0 {
			return fmt.Errorf("%d queries still parked after the answer", n)
		}
		return nil
	})
}

// TestEveryBlockingReadIsParked: catalog, health and session blocking
// reads answered by the server itself are parked like KV reads.
func TestEveryBlockingReadIsParked(t *testing.T) {
	a := singleServer(t)
	paths := []string{"/v1/catalog/nodes", "/v1/catalog/services", "/v1/catalog/service/consul", "/v1/catalog/node/solo",
		"/v1/health/node/solo", "/v1/health/checks/consul", "/v1/health/state/any", "/v1/health/service/consul",
		"/v1/session/list", "/v1/session/node/solo", "/v1/kv/parked?recurse"}
	// Each path is watched as a client would: a blocking read with the
	// last index, again whenever it returns (the catalog may still be
	// settling, which wakes them), until the test is done.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, p := range paths {
		sep := "?"
		if strings.Contains(p, "?") {
			sep = "&"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			index := "0"
			for ctx.Err() == nil {
				url := fmt.Sprintf("http://%s%s%sindex=%s&wait=30s", a.HTTPAddr(), p, sep, index)
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				resp, err := rawHTTP().Do(req)
				if err != nil {
					return
				}
				resp.Body.Close()
				if i := resp.Header.Get("X-Consul-Index"); i != "" {
					index = i
				}
			}
		}()
	}
	testcluster.Eventually(t, 5*time.Second, func() error {
		if n := a.Running.ParkedQueries(); n != len(paths) {
			return fmt.Errorf("%d of %d blocking reads parked", n, len(paths))
		}
		return nil
	})
	cancel()
	wg.Wait()
}

// TestSnapshotSaveThroughAClientAgent: a save asked of a client agent is
// forwarded to the leader, spooled once, and arrives whole with the
// leader's index.
func TestSnapshotSaveThroughAClientAgent(t *testing.T) {
	c := testcluster.StartCluster(t, 1, 1)
	if _, err := official(t, c.Servers[0]).KV().Put(&consul.KVPair{Key: "snap/k", Value: []byte("v")}, nil); err != nil {
		t.Fatal(err)
	}
	var direct, forwarded bytes.Buffer
	idx1, err := c.Servers[0].Client().SnapshotSave(context.Background(), false, &direct)
	if err != nil {
		t.Fatal(err)
	}
	idx2, err := c.Clients[0].Client().SnapshotSave(context.Background(), false, &forwarded)
	if err != nil || idx2 == 0 || idx2 < idx1 {
		t.Fatalf("save through the client: index %d (direct %d), err %v", idx2, idx1, err)
	}
	meta, err := node.InspectArchive(&forwarded)
	if err != nil || meta.Index != idx2 {
		t.Fatalf("forwarded archive: %+v, %v (header index %d)", meta, err, idx2)
	}
}

// TestDatacenterHopDoesNotLoop: a router that sends dc2's requests back to
// a dc1 server gets one forward, then "No path to datacenter", not a loop.
func TestDatacenterHopDoesNotLoop(t *testing.T) {
	dc1 := singleServer(t)
	dc1.Running.Agent.SetDatacenterRouter(routeTo{dc: "dc2", addr: fmt.Sprintf("127.0.0.1:%d", dc1.Config.Ports.Server)})
	resp, err := rawHTTP().Get("http://" + dc1.HTTPAddr() + "/v1/kv/x?dc=dc2")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 500 || string(b) != "No path to datacenter" {
		t.Fatalf("looping route: %d %q", resp.StatusCode, b)
	}
}
