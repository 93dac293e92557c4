package agentrun_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"
	mdns "github.com/miekg/dns"

	"consulx/api"
	"consulx/internal/testcluster"
	"consulx/node"
)

// wanNames lists the WAN pool as a server sees it, sorted.
func wanNames(t *testing.T, a *testcluster.Agent) []string {
	ms, err := official(t, a).Agent().Members(true)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		if m.Status == 1 {
			out = append(out, m.Name)
		}
	}
	sort.Strings(out)
	return out
}

// TestTwoDatacenters is the seeds' walk-through on 127.0.0.1: dc1 with
// three servers and a client, dc2 with a server and a client. One
// `join -wan` of dc2's server to one dc1 server brings all of dc1's
// servers into the WAN pool; members stay per datacenter; KV is per
// datacenter and ?dc= reads, writes and blocking reads cross over,
// through clients as well; events fired for dc2 are heard there only; an
// unknown datacenter has no path; and with a dc1 server gone, dc1 is
// still reachable from dc2 through the others.
func TestTwoDatacenters(t *testing.T) {
	dc1 := testcluster.StartCluster(t, 3, 1)
	dc2 := testcluster.StartClusterIn(t, "dc2", 1, 1)
	s2 := dc2.Servers[0]
	if _, err := s2.Running.Agent.Join([]string{dc1.Servers[0].WANAddr()}, true); err != nil {
		t.Fatalf("join -wan: %v", err)
	}
	want := []string{"dc2-server-1.dc2", "server-1.dc1", "server-2.dc1", "server-3.dc1"}
	for _, s := range append(append([]*testcluster.Agent{}, dc1.Servers...), s2) {
		testcluster.Eventually(t, 10*time.Second, func() error {
			if got := wanNames(t, s); strings.Join(got, " ") != strings.Join(want, " ") {
				return fmt.Errorf("%s's WAN pool: %v, want %v", s.Name, got, want)
			}
			return nil
		})
	}
	// Members stay per datacenter; a client has no WAN pool.
	if ms, _ := official(t, dc2.Clients[0]).Agent().Members(false); len(ms) != 2 {
		t.Fatalf("dc2 client sees %d LAN members, want 2", len(ms))
	}
	if ms, err := official(t, dc2.Clients[0]).Agent().Members(true); err != nil || len(ms) != 0 {
		t.Fatalf("dc2 client's WAN members: %v %v, want none", ms, err)
	}
	for _, a := range []*testcluster.Agent{dc1.Clients[0], s2} {
		dcs, err := official(t, a).Catalog().Datacenters()
		if err != nil || len(dcs) != 2 {
			t.Fatalf("%s: datacenters %v %v", a.Name, dcs, err)
		}
		own := a.Config.Datacenter
		if dcs[0] != own {
			t.Fatalf("%s: datacenters %v do not start with its own", a.Name, dcs)
		}
	}

	kv1, kv2 := official(t, dc1.Clients[0]).KV(), official(t, dc2.Clients[0]).KV()
	if _, err := kv1.Put(&consul.KVPair{Key: "ts/test/sex", Value: []byte("male")}, nil); err != nil {
		t.Fatal(err)
	}
	// KV is per datacenter.
	if p, _, err := kv2.Get("ts/test/sex", nil); err != nil || p != nil {
		t.Fatalf("dc2 sees dc1's key: %v %v", p, err)
	}
	// ?dc= crosses over, from a client, both ways.
	p, meta, err := kv2.Get("ts/test/sex", &consul.QueryOptions{Datacenter: "dc1"})
	if err != nil || p == nil || string(p.Value) != "male" {
		t.Fatalf("dc2 client reading dc1: %v %v", p, err)
	}
	if _, err := kv1.Put(&consul.KVPair{Key: "from/dc1", Value: []byte("v")}, &consul.WriteOptions{Datacenter: "dc2"}); err != nil {
		t.Fatal(err)
	}
	if p, _, err := kv2.Get("from/dc1", nil); err != nil || p == nil {
		t.Fatalf("dc1's write with ?dc=dc2 not in dc2: %v %v", p, err)
	}
	// A blocking read across the hop wakes on the write in the other
	// datacenter.
	woke := make(chan string, 1)
	go func() {
		p, _, err := kv2.Get("ts/test/sex", &consul.QueryOptions{Datacenter: "dc1", WaitIndex: meta.LastIndex, WaitTime: 20 * time.Second})
		if err != nil || p == nil {
			woke <- fmt.Sprintf("error %v", err)
			return
		}
		woke <- string(p.Value)
	}()
	time.Sleep(200 * time.Millisecond)
	if _, err := kv1.Put(&consul.KVPair{Key: "ts/test/sex", Value: []byte("female")}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-woke:
		if v != "female" {
			t.Fatalf("blocking read across datacenters: %s", v)
		}
	case <-time.After(testcluster.Scaled(10 * time.Second)):
		t.Fatal("a blocking read across datacenters did not wake on the write")
	}

	// Events fired for dc2 are broadcast there only.
	if _, _, err := official(t, dc1.Clients[0]).Event().Fire(&consul.UserEvent{Name: "deploy", Payload: []byte("dc2 only")}, &consul.WriteOptions{Datacenter: "dc2"}); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		evs, _, err := official(t, dc2.Clients[0]).Event().List("deploy", nil)
		if err != nil || len(evs) != 1 {
			return fmt.Errorf("dc2 client's events: %v %v", evs, err)
		}
		return nil
	})
	if evs, _, _ := official(t, dc1.Clients[0]).Event().List("deploy", nil); len(evs) != 0 {
		t.Fatalf("dc1 heard dc2's event: %v", evs)
	}

	// DNS answers for the other datacenter through the hop, from a client.
	dnsAsk := func(name string, qtype uint16) *mdns.Msg {
		m := new(mdns.Msg)
		m.SetQuestion(name, qtype)
		r, err := mdns.Exchange(m, dc1.Clients[0].Running.DNSAddr)
		if err != nil {
			t.Fatalf("dig %s: %v", name, err)
		}
		return r
	}
	if r := dnsAsk("dc2-server-1.node.dc2.consul.", mdns.TypeA); r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("dc2-server-1.node.dc2.consul: %v", r)
	}
	if r := dnsAsk("consul.service.dc2.consul.", mdns.TypeSRV); r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 ||
		!strings.HasPrefix(r.Answer[0].(*mdns.SRV).Target, "dc2-server-1.node.dc2.consul") {
		t.Fatalf("consul.service.dc2.consul SRV: %v", r)
	}
	if r := dnsAsk("server-1.node.dc2.consul.", mdns.TypeA); r.Rcode != mdns.RcodeNameError {
		t.Fatalf("a dc1 node looked up in dc2: %v", r)
	}
	if r := dnsAsk("server-1.node.dc9.consul.", mdns.TypeA); r.Rcode != mdns.RcodeNameError {
		t.Fatalf("an unknown datacenter: %v", r)
	}

	// Remote exec across datacenters, from a client and from a server of
	// dc1: the job runs on dc2's nodes, relayed by a dc2 server.
	for _, from := range []*testcluster.Agent{dc1.Clients[0], dc1.Servers[1]} {
		var expected []string
		outputs := map[string]string{}
		exits := 0
		err := from.Client().Exec(t.Context(), &api.ExecRequest{Command: "echo hello from $0"}, "dc2", func(ev api.ExecEvent) {
			switch ev.Type {
			case api.ExecStart:
				expected = ev.Expected
			case api.ExecOutput:
				outputs[ev.Node] += string(ev.Data)
			case api.ExecExit:
				if ev.Code == 0 {
					exits++
				}
			}
		})
		if err != nil || exits != 2 || strings.Join(expected, " ") != "dc2-client-1 dc2-server-1" ||
			!strings.HasPrefix(outputs["dc2-client-1"], "hello from") || !strings.HasPrefix(outputs["dc2-server-1"], "hello from") {
			t.Fatalf("exec -datacenter dc2 from %s: err %v, expected %v, %d clean exits, output %v", from.Name, err, expected, exits, outputs)
		}
	}
	err = dc1.Clients[0].Client().Exec(t.Context(), &api.ExecRequest{Command: "true"}, "dc9", func(api.ExecEvent) {})
	if err == nil || !strings.Contains(err.Error(), "No path to datacenter") {
		t.Fatalf("exec -datacenter dc9: %v", err)
	}

	// Status and operator endpoints answer for the other datacenter too.
	if l, err := official(t, dc1.Clients[0]).Status().LeaderWithQueryOptions(&consul.QueryOptions{Datacenter: "dc2"}); err != nil || l != fmt.Sprintf("127.0.0.1:%d", s2.Config.Ports.Server) {
		t.Fatalf("dc2's leader asked in dc1: %q %v", l, err)
	}
	if cfg, err := official(t, dc1.Clients[0]).Operator().RaftGetConfiguration(&consul.QueryOptions{Datacenter: "dc2"}); err != nil || len(cfg.Servers) != 1 || cfg.Servers[0].Node != "dc2-server-1" {
		t.Fatalf("dc2's raft configuration asked in dc1: %+v %v", cfg, err)
	}

	// A snapshot of dc2, asked through a dc1 client.
	snap, _, err := official(t, dc1.Clients[0]).Snapshot().Save(&consul.QueryOptions{Datacenter: "dc2"})
	if err != nil {
		t.Fatalf("snapshot of dc2 from dc1: %v", err)
	}
	snapMeta, err := node.InspectArchive(snap)
	snap.Close()
	if err != nil || snapMeta.Index == 0 {
		t.Fatalf("dc2's snapshot: %+v %v", snapMeta, err)
	}
	if _, _, err := official(t, dc1.Clients[0]).Snapshot().Save(&consul.QueryOptions{Datacenter: "dc9"}); err == nil || !strings.Contains(err.Error(), "No path to datacenter") {
		t.Fatalf("snapshot of dc9: %v", err)
	}

	// An unknown datacenter: Consul's 500.
	resp, err := rawHTTP().Get("http://" + dc1.Clients[0].HTTPAddr() + "/v1/kv/x?dc=dc9")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "No path to datacenter") {
		t.Fatalf("?dc=dc9: %d %q", resp.StatusCode, body)
	}

	// A dc1 server goes; dc2 still reaches dc1 through the others.
	dc1.Servers[0].Running.Shutdown()
	testcluster.Eventually(t, 20*time.Second, func() error {
		p, _, err := kv2.Get("ts/test/sex", &consul.QueryOptions{Datacenter: "dc1"})
		if err != nil || p == nil || string(p.Value) != "female" {
			return fmt.Errorf("dc1 from dc2 after a dc1 server left: %v %v", p, err)
		}
		return nil
	})
}

// TestConsulReplicateCallPattern makes, with the official client, the
// calls the published consul-replicate makes against the destination
// agent: its leader lock (sessions, acquire, a second replicator kept
// out), stale blocking recursive reads of the source with ?dc= that wake
// on a write there, writes with flags and deletes, and its status key.
// (consul-replicate itself is not on the module proxy here to run.)
func TestConsulReplicateCallPattern(t *testing.T) {
	dc1 := testcluster.StartCluster(t, 1, 0)
	dc2 := testcluster.StartClusterIn(t, "dc2", 1, 1)
	if _, err := dc2.Servers[0].Running.Agent.Join([]string{dc1.Servers[0].WANAddr()}, true); err != nil {
		t.Fatal(err)
	}
	dest := official(t, dc2.Clients[0])
	lock, err := dest.LockOpts(&consul.LockOptions{Key: "service/consul-replicate/leader", SessionName: "Consul-Replicate"})
	if err != nil {
		t.Fatal(err)
	}
	lost, err := lock.Lock(nil)
	if err != nil || lost == nil {
		t.Fatalf("leader lock: %v", err)
	}
	defer func() { _ = lock.Unlock() }()
	other, _ := official(t, dc2.Servers[0]).LockOpts(&consul.LockOptions{Key: "service/consul-replicate/leader", SessionName: "Consul-Replicate", LockTryOnce: true, LockWaitTime: 500 * time.Millisecond})
	if ch, err := other.Lock(nil); err != nil || ch != nil {
		t.Fatalf("a second replicator got the lock: %v %v", ch, err)
	}

	if _, err := official(t, dc1.Servers[0]).KV().Put(&consul.KVPair{Key: "ts/test/sex", Value: []byte("male")}, nil); err != nil {
		t.Fatal(err)
	}
	var pairs consul.KVPairs
	var meta *consul.QueryMeta
	testcluster.Eventually(t, 10*time.Second, func() error {
		pairs, meta, err = dest.KV().List("ts", &consul.QueryOptions{Datacenter: "dc1", AllowStale: true})
		if err != nil || len(pairs) != 1 {
			return fmt.Errorf("stale recursive read of dc1: %v %v", pairs, err)
		}
		return nil
	})
	woke := make(chan int, 1)
	go func() {
		p, _, err := dest.KV().List("ts", &consul.QueryOptions{Datacenter: "dc1", AllowStale: true, WaitIndex: meta.LastIndex, WaitTime: 20 * time.Second})
		if err != nil {
			woke <- -1
			return
		}
		woke <- len(p)
	}()
	time.Sleep(200 * time.Millisecond)
	if _, err := official(t, dc1.Servers[0]).KV().Put(&consul.KVPair{Key: "ts/test/age", Value: []byte("30")}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-woke:
		if n != 2 {
			t.Fatalf("blocking read woke with %d pairs", n)
		}
	case <-time.After(testcluster.Scaled(10 * time.Second)):
		t.Fatal("the blocking read of dc1 did not wake")
	}
	// Writes with flags, deletes and the status key in the destination.
	if _, err := dest.KV().Put(&consul.KVPair{Key: "ts/test/sex", Value: []byte("male"), Flags: 7}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := dest.KV().Put(&consul.KVPair{Key: "ts/gone", Value: []byte("x")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := dest.KV().Delete("ts/gone", nil); err != nil {
		t.Fatal(err)
	}
	status := []byte(`{"LastReplicated":42,"Source":"ts","Destination":"ts"}`)
	if _, err := dest.KV().Put(&consul.KVPair{Key: "service/consul-replicate/statuses/3d7c1a", Value: status}, nil); err != nil {
		t.Fatal(err)
	}
	got, _, err := dest.KV().List("", nil)
	if err != nil || len(got) != 3 || got[0].Key != "service/consul-replicate/leader" || got[1].Key != "service/consul-replicate/statuses/3d7c1a" ||
		got[2].Key != "ts/test/sex" || got[2].Flags != 7 || string(got[1].Value) != string(status) {
		t.Fatalf("destination after the replicator's writes: %v %v", got, err)
	}
}

// TestRetryMaxGivesUp: retry_max and retry_max_wan bound the join
// retries, each at its own interval.
func TestRetryMaxGivesUp(t *testing.T) {
	cfg := testcluster.Config(t, "lonely", true, 1)
	dead := testcluster.FreePorts(t, 2)
	cfg.RetryJoin = []string{fmt.Sprintf("127.0.0.1:%d", dead[0])}
	cfg.RetryJoinWAN = []string{fmt.Sprintf("127.0.0.1:%d", dead[1])}
	cfg.RetryInterval, cfg.RetryMax = 20*time.Millisecond, 2
	cfg.RetryIntervalWAN, cfg.RetryMaxWAN = 30*time.Millisecond, 3
	a := testcluster.Start(t, cfg)
	testcluster.Eventually(t, 10*time.Second, func() error {
		b, _ := os.ReadFile(a.LogPath)
		for _, want := range []string{"(LAN) giving up joining after 2 attempts", "(WAN) giving up joining after 3 attempts"} {
			if !strings.Contains(string(b), want) {
				return fmt.Errorf("log has no %q", want)
			}
		}
		return nil
	})
}

// TestRetryJoinWANReachesTheOtherDatacenter: a server of dc2 whose
// retry_join_wan points at dc1 before dc1 exists keeps retrying, even
// once the flood join has put its own datacenter's servers in the WAN
// pool, until it has joined dc1.
func TestRetryJoinWANReachesTheOtherDatacenter(t *testing.T) {
	dc1Cfg := testcluster.Config(t, "later", true, 1)
	mk := func(name string) *node.Config {
		cfg := testcluster.Config(t, name, true, 2)
		cfg.Datacenter = "dc2"
		cfg.RetryJoinWAN = []string{fmt.Sprintf("127.0.0.1:%d", dc1Cfg.Ports.SerfWAN)}
		cfg.RetryIntervalWAN = 100 * time.Millisecond
		return cfg
	}
	a, b := testcluster.Start(t, mk("dc2-a")), testcluster.Start(t, mk("dc2-b"))
	if _, err := b.Running.Agent.Join([]string{a.SerfAddr()}, false); err != nil {
		t.Fatal(err)
	}
	// dc2's servers find each other in the WAN pool first.
	testcluster.Eventually(t, 10*time.Second, func() error {
		if n := len(a.Running.Agent.Members(true)); n != 2 {
			return fmt.Errorf("dc2-a's WAN pool has %d members", n)
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond) // retries go on meanwhile
	dc1 := testcluster.Start(t, dc1Cfg)
	testcluster.Eventually(t, 10*time.Second, func() error {
		if n := len(dc1.Running.Agent.Members(true)); n != 3 {
			return fmt.Errorf("dc1's WAN pool has %d members, want dc2's two and itself", n)
		}
		return nil
	})
}
