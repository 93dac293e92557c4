package agentrun_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"consulx/internal/testcluster"
)

// officialClients caches one official client per agent address: each
// client has its own connection pool, and the agent caps connections per IP.
var officialClients sync.Map

func official(t *testing.T, a *testcluster.Agent) *consul.Client {
	t.Helper()
	if c, ok := officialClients.Load(a.HTTPAddr()); ok {
		return c.(*consul.Client)
	}
	cfg := consul.DefaultConfig()
	cfg.Address = a.HTTPAddr()
	// Without a timeout a request to an agent that never answers would
	// block its test until go test's timeout.
	cfg.HttpClient = &http.Client{Transport: cfg.Transport, Timeout: httpTimeout()}
	c, err := consul.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	officialClients.Store(a.HTTPAddr(), c)
	return c
}

func TestThreeServersElectOneLeader(t *testing.T) {
	c := testcluster.StartCluster(t, 3, 1)
	c.WaitLeader(10 * time.Second)
	for _, a := range c.All() {
		cl := official(t, a)
		testcluster.Eventually(t, 5*time.Second, func() error {
			ms, err := cl.Agent().Members(false)
			if err != nil {
				return err
			}
			alive := 0
			for _, m := range ms {
				if m.Status == 1 {
					alive++
				}
			}
			if alive != 4 {
				return fmt.Errorf("%s sees %d alive members, want 4", a.Name, alive)
			}
			return nil
		})
	}
	// Under load a leader may change between two reads; the Raft
	// configuration and the status endpoint are compared on one leader.
	testcluster.Eventually(t, 10*time.Second, func() error {
		leader := c.WaitLeader(10 * time.Second)
		rc, err := official(t, c.Clients[0]).Operator().RaftGetConfiguration(nil)
		if err != nil {
			return err
		}
		leaders := 0
		for _, s := range rc.Servers {
			if !s.Voter {
				return fmt.Errorf("server %s is not a voter", s.Node)
			}
			if s.Leader {
				leaders++
				if s.Node != leader.Name {
					return fmt.Errorf("raft configuration says leader %s, status says %s", s.Node, leader.Name)
				}
			}
		}
		if len(rc.Servers) != 3 || leaders != 1 {
			return fmt.Errorf("want 3 servers and 1 leader, got %d servers, %d leaders: %+v", len(rc.Servers), leaders, rc.Servers)
		}
		return nil
	})
	peers, err := official(t, c.Servers[1]).Status().Peers()
	if err != nil || len(peers) != 3 {
		t.Fatalf("peers = %v, %v", peers, err)
	}
}

// followerOf returns a running server that is not the leader.
func followerOf(c *testcluster.Cluster, leader *testcluster.Agent) *testcluster.Agent {
	for _, s := range c.Servers {
		if s != leader && !s.Stopped() {
			return s
		}
	}
	return nil
}

func TestWritesThroughFollowerAndClientReachEveryServer(t *testing.T) {
	c := testcluster.StartCluster(t, 3, 1)
	leader := c.WaitLeader(10 * time.Second)
	follower := followerOf(c, leader)
	writes := map[string]*testcluster.Agent{"via/follower": follower, "via/client": c.Clients[0], "via/leader": leader}
	for key, a := range writes {
		if _, err := official(t, a).KV().Put(&consul.KVPair{Key: key, Value: []byte(a.Name), Flags: 42}, nil); err != nil {
			t.Fatalf("put %s through %s: %v", key, a.Name, err)
		}
	}
	for _, s := range c.Servers {
		kv := official(t, s).KV()
		testcluster.Eventually(t, 5*time.Second, func() error {
			pairs, meta, err := kv.List("via/", &consul.QueryOptions{AllowStale: true})
			if err != nil {
				return err
			}
			if len(pairs) != 3 {
				return fmt.Errorf("%s has %d keys under via/, want 3", s.Name, len(pairs))
			}
			for _, p := range pairs {
				if string(p.Value) != writes[p.Key].Name || p.Flags != 42 {
					return fmt.Errorf("%s: %s = %q flags %d", s.Name, p.Key, p.Value, p.Flags)
				}
			}
			if meta.LastIndex == 0 {
				return fmt.Errorf("no X-Consul-Index")
			}
			return nil
		})
	}
}

// TestLeaderLossLosesNoAcknowledgedWrite writes continuously through a
// client agent while the leader is stopped without leaving (as a crash
// looks to its peers); every write that was acknowledged must be readable
// afterwards.
func TestLeaderLossLosesNoAcknowledgedWrite(t *testing.T) {
	c := testcluster.StartCluster(t, 3, 1)
	leader := c.WaitLeader(10 * time.Second)
	kv := official(t, c.Clients[0]).KV()

	var acked sync.Map
	var stop atomic.Bool
	var wg sync.WaitGroup
	var n atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 5000 && !stop.Load(); i++ {
				key := fmt.Sprintf("ack/%d/%d", w, i)
				_, err := kv.Put(&consul.KVPair{Key: key, Value: []byte(key)}, nil)
				if err == nil {
					acked.Store(key, true)
					n.Add(1)
				} else if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
					// A failed write is expected here; one that hangs
					// until the client's timeout is the bug this names.
					t.Errorf("put %s through %s hung for %s (no answer): %v", key, c.Clients[0].Name, httpTimeout(), err)
					return
				}
			}
		}(w)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		if n.Load() < 50 {
			return fmt.Errorf("only %d writes so far", n.Load())
		}
		return nil
	})
	leader.Running.Shutdown()
	before := n.Load()
	newLeader := c.WaitLeader(10 * time.Second)
	if newLeader == leader {
		t.Fatal("stopped leader still reported as leader")
	}
	// Writes must flow again under the new leader.
	testcluster.Eventually(t, 10*time.Second, func() error {
		if n.Load() < before+50 {
			return fmt.Errorf("writes stalled at %d", n.Load())
		}
		return nil
	})
	stop.Store(true)
	waitGroup(t, &wg, 60*time.Second, "the writers")

	pairs, _, err := official(t, newLeader).KV().List("ack/", &consul.QueryOptions{RequireConsistent: true})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, p := range pairs {
		have[p.Key] = true
	}
	missing := 0
	acked.Range(func(k, _ any) bool {
		if !have[k.(string)] {
			missing++
			t.Errorf("acknowledged write %s is missing", k)
		}
		return missing < 10
	})
	t.Logf("%d acknowledged writes, all present after the leader stopped", n.Load())
}

func TestRestartFromDataDirKeepsDataAndIndexes(t *testing.T) {
	c := testcluster.StartCluster(t, 3, 0)
	kv := official(t, c.Servers[0]).KV()
	for i := 0; i < 20; i++ {
		if _, err := kv.Put(&consul.KVPair{Key: fmt.Sprintf("keep/%02d", i), Value: []byte{byte(i), 0, 255}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kv.Delete("keep/05", nil); err != nil {
		t.Fatal(err)
	}
	before, _, err := kv.List("keep/", &consul.QueryOptions{RequireConsistent: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range c.Servers {
		s.Running.Shutdown()
	}
	for _, s := range c.Servers {
		s.Restart()
	}
	c.WaitLeader(15 * time.Second)
	for _, s := range c.Servers {
		kv := official(t, s).KV()
		testcluster.Eventually(t, 10*time.Second, func() error {
			after, _, err := kv.List("keep/", &consul.QueryOptions{AllowStale: true})
			if err != nil {
				return err
			}
			if len(after) != len(before) {
				return fmt.Errorf("%s has %d keys after restart, want %d", s.Name, len(after), len(before))
			}
			for i := range before {
				b, a := before[i], after[i]
				if a.Key != b.Key || string(a.Value) != string(b.Value) || a.CreateIndex != b.CreateIndex || a.ModifyIndex != b.ModifyIndex {
					return fmt.Errorf("%s: entry changed across restart: %+v vs %+v", s.Name, a, b)
				}
			}
			return nil
		})
	}
}

func memberStatuses(t *testing.T, a *testcluster.Agent) map[string]string {
	ms, err := official(t, a).Agent().Members(false)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range ms {
		out[m.Name] = []string{"none", "alive", "leaving", "left", "failed"}[m.Status]
	}
	return out
}

func TestMembersShowAliveLeftFailed(t *testing.T) {
	c := testcluster.StartCluster(t, 1, 3)
	srv := c.Servers[0]
	// Everyone must know everyone first: a member that dies before another
	// has heard of it never appears there at all.
	for _, a := range c.All() {
		testcluster.Eventually(t, 10*time.Second, func() error {
			if n := len(memberStatuses(t, a)); n != 4 {
				return fmt.Errorf("%s knows %d members, want 4", a.Name, n)
			}
			return nil
		})
	}
	// client-1 leaves gracefully through the HTTP API, client-2 stops dead.
	if err := official(t, c.Clients[0]).Agent().Leave(); err != nil {
		t.Fatal(err)
	}
	c.Clients[1].Running.Shutdown()
	want := map[string]string{"server-1": "alive", "client-1": "left", "client-2": "failed", "client-3": "alive"}
	testcluster.Eventually(t, 10*time.Second, func() error {
		got := memberStatuses(t, srv)
		for k, v := range want {
			if got[k] != v {
				return fmt.Errorf("statuses = %v, want %v", got, want)
			}
		}
		return nil
	})
	if err := official(t, srv).Agent().ForceLeave("client-2"); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 5*time.Second, func() error {
		if got := memberStatuses(t, srv)["client-2"]; got != "left" {
			return fmt.Errorf("client-2 is %s after force-leave", got)
		}
		return nil
	})
	// The surviving client sees the same picture.
	testcluster.Eventually(t, 5*time.Second, func() error {
		got := memberStatuses(t, c.Clients[2])
		names := make([]string, 0, len(got))
		for k := range got {
			names = append(names, k+"="+got[k])
		}
		sort.Strings(names)
		if got["client-1"] != "left" || got["client-2"] != "left" {
			return fmt.Errorf("client-3 sees %v", names)
		}
		return nil
	})
}

func TestServerLeaveShrinksRaftAndLaterServerJoins(t *testing.T) {
	c := testcluster.StartCluster(t, 3, 0)
	leader := c.WaitLeader(10 * time.Second)
	follower := followerOf(c, leader)
	if err := official(t, follower).Agent().Leave(); err != nil {
		t.Fatal(err)
	}
	raftServers := func(a *testcluster.Agent) (int, error) {
		rc, err := official(t, a).Operator().RaftGetConfiguration(nil)
		if err != nil {
			return 0, err
		}
		return len(rc.Servers), nil
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		n, err := raftServers(leader)
		if err != nil || n != 2 {
			return fmt.Errorf("raft has %d servers (%v), want 2 after a graceful leave", n, err)
		}
		return nil
	})
	// A new server joining later is added as a voter by the leader.
	extra := testcluster.Start(t, testcluster.Config(t, "server-4", true, 3))
	if _, err := extra.Running.Agent.Join([]string{leader.SerfAddr()}, false); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		n, err := raftServers(leader)
		if err != nil || n != 3 {
			return fmt.Errorf("raft has %d servers (%v), want 3 after server-4 joined", n, err)
		}
		return nil
	})
	if _, err := official(t, extra).KV().Put(&consul.KVPair{Key: "after/join", Value: []byte("x")}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestNoLeaderFailsFastAndStaleReadsAnswer(t *testing.T) {
	c := testcluster.StartCluster(t, 3, 0)
	leader := c.WaitLeader(10 * time.Second)
	if _, err := official(t, leader).KV().Put(&consul.KVPair{Key: "survives", Value: []byte("yes")}, nil); err != nil {
		t.Fatal(err)
	}
	survivor := followerOf(c, leader)
	kv := official(t, survivor).KV()
	testcluster.Eventually(t, 5*time.Second, func() error {
		p, _, err := kv.Get("survives", &consul.QueryOptions{AllowStale: true})
		if err != nil || p == nil {
			return fmt.Errorf("not replicated yet: %v", err)
		}
		return nil
	})
	for _, s := range c.Servers {
		if s != survivor {
			s.Running.Shutdown()
		}
	}
	// Quorum is gone: default reads and writes fail with Consul's text.
	testcluster.Eventually(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), testcluster.Scaled(5*time.Second))
		defer cancel()
		_, _, err := kv.Get("survives", (&consul.QueryOptions{}).WithContext(ctx))
		if err == nil || !containsNoLeader(err) {
			return fmt.Errorf("default read error = %v, want No cluster leader", err)
		}
		return nil
	})
	if _, err := kv.Put(&consul.KVPair{Key: "lost", Value: []byte("x")}, nil); err == nil || !containsNoLeader(err) {
		t.Fatalf("write without quorum: err = %v, want No cluster leader", err)
	}
	p, meta, err := kv.Get("survives", &consul.QueryOptions{AllowStale: true})
	if err != nil || p == nil || string(p.Value) != "yes" {
		t.Fatalf("stale read without leader = %v, %v", p, err)
	}
	if meta.KnownLeader {
		t.Errorf("X-Consul-KnownLeader should be false without a leader")
	}
}

func containsNoLeader(err error) bool {
	return err != nil && (contains(err.Error(), "No cluster leader"))
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub)))
}
