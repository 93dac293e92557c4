package agentrun_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"consulx/internal/testcluster"
)

// TestWipedServerRejoinsAtSameAddressWithoutGhost is the disaster-recovery
// drill for one server: its data_dir is lost, it starts again at the same
// address with a new node ID and joins. The leader must replace the old
// Raft entry rather than keep it as a ghost voter (which also made every
// AddVoter fail with "found duplicate address in configuration").
func TestWipedServerRejoinsAtSameAddressWithoutGhost(t *testing.T) {
	c := testcluster.StartCluster(t, 3, 0)
	leader := c.WaitLeader(15 * time.Second)
	var f *testcluster.Agent
	for _, s := range c.Servers {
		if s != leader {
			f = s
			break
		}
	}
	oldID := f.Running.Agent.NodeID()
	addr := fmt.Sprintf("127.0.0.1:%d", f.Config.Ports.Server)

	f.Running.Shutdown()
	if err := os.RemoveAll(f.Config.DataDir); err != nil {
		t.Fatal(err)
	}
	f.Restart()
	newID := f.Running.Agent.NodeID()
	if newID == oldID {
		t.Fatalf("a wiped data_dir kept node ID %s", oldID)
	}
	if _, err := f.Running.Agent.Join([]string{leader.SerfAddr()}, false); err != nil {
		t.Fatal(err)
	}

	op := official(t, leader).Operator()
	testcluster.Eventually(t, 20*time.Second, func() error {
		conf, err := op.RaftGetConfiguration(nil)
		if err != nil {
			return err
		}
		byAddr := map[string]int{}
		var found bool
		for _, s := range conf.Servers {
			byAddr[s.Address]++
			if s.ID == oldID {
				return fmt.Errorf("old ID %s still in the Raft configuration: %+v", oldID, conf.Servers)
			}
			if s.ID == newID && s.Address == addr && s.Voter {
				found = true
			}
		}
		if byAddr[addr] != 1 || !found || len(conf.Servers) != 3 {
			return fmt.Errorf("want 3 servers with %s once as voter %s, got %+v", addr, newID, conf.Servers)
		}
		return nil
	})

	// The rebuilt server takes part: a write through it is readable from it.
	kv := official(t, f).KV()
	if _, err := kv.Put(&consul.KVPair{Key: "drill/after-wipe", Value: []byte("ok")}, nil); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		p, _, err := kv.Get("drill/after-wipe", &consul.QueryOptions{AllowStale: true})
		if err != nil || p == nil || string(p.Value) != "ok" {
			return fmt.Errorf("not replicated to the rebuilt server yet (%v)", err)
		}
		return nil
	})
}

// TestDamagedGossipStateIsSkipped: a torn or unreadable record of gossip
// peers must not stop an agent from starting; it is skipped with a
// warning (and serf's unreadable snapshot is moved aside).
func TestDamagedGossipStateIsSkipped(t *testing.T) {
	c := testcluster.StartCluster(t, 1, 1)
	cl := c.Clients[0]
	serfDir := filepath.Join(cl.Config.DataDir, "serf")
	peers := filepath.Join(serfDir, "local.peers.json")
	// The peer record is written on every membership change.
	testcluster.Eventually(t, 10*time.Second, func() error {
		b, err := os.ReadFile(peers)
		if err != nil || !strings.Contains(string(b), c.Servers[0].Name) {
			return fmt.Errorf("peer record %q (%v)", b, err)
		}
		return nil
	})
	cl.Running.Shutdown()
	if err := os.WriteFile(peers, []byte(`{"peers":[{"name":"server-1","addr":"127.0.0`), 0o600); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(serfDir, "local.snapshot")
	if err := os.Remove(snap); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(snap, 0o700); err != nil { // unreadable as a file
		t.Fatal(err)
	}
	cl.Restart()
	if _, err := os.Stat(snap + ".damaged"); err != nil {
		t.Fatalf("the unreadable serf snapshot was not moved aside: %v", err)
	}
	logs, err := os.ReadFile(cl.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ignoring the recorded gossip peers", "local.peers.json is damaged", "gossip snapshot cannot be read"} {
		if !strings.Contains(string(logs), want) {
			t.Errorf("log has no %q", want)
		}
	}
	// The agent works and can join again; the record is rewritten.
	if _, err := cl.Running.Agent.Join([]string{c.Servers[0].SerfAddr()}, false); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		b, err := os.ReadFile(peers)
		if err != nil || !strings.Contains(string(b), `"addr":"127.0.0.1:`) {
			return fmt.Errorf("peer record not rewritten: %q (%v)", b, err)
		}
		return nil
	})
}

// TestRetryJoinKeepsTryingUntilOthersAreSeen: a join that reaches only the
// agent itself (retry_join listing its own address first, as every server
// of the README's recipe does) must not end the retries while the other
// addresses are still down.
func TestRetryJoinKeepsTryingUntilOthersAreSeen(t *testing.T) {
	bcfg := testcluster.Config(t, "late", false, 0)
	acfg := testcluster.Config(t, "early", true, 1)
	acfg.RetryJoin = []string{fmt.Sprintf("127.0.0.1:%d", acfg.Ports.SerfLAN), fmt.Sprintf("127.0.0.1:%d", bcfg.Ports.SerfLAN)}
	a := testcluster.Start(t, acfg)
	time.Sleep(3 * acfg.RetryInterval) // a few attempts reach only itself
	b := testcluster.Start(t, bcfg)
	testcluster.Eventually(t, 10*time.Second, func() error {
		for _, ag := range []*testcluster.Agent{a, b} {
			if n := len(memberStatuses(t, ag)); n != 2 {
				return fmt.Errorf("%s sees %d members, want 2", ag.Name, n)
			}
		}
		return nil
	})
}

// TestLANRefusesAnotherDatacenter: a join (a retry_join address, or a
// recorded peer whose address now belongs to another cluster) must not
// merge the LAN pools of two datacenters.
func TestLANRefusesAnotherDatacenter(t *testing.T) {
	a := testcluster.Start(t, testcluster.Config(t, "dc1-server", true, 1))
	cfg := testcluster.Config(t, "dc2-client", false, 0)
	cfg.Datacenter = "dc2"
	b := testcluster.Start(t, cfg)
	if _, err := b.Running.Agent.Join([]string{a.SerfAddr()}, false); err == nil {
		t.Fatal("a dc2 agent joined dc1's LAN pool")
	}
	for _, ag := range []*testcluster.Agent{a, b} {
		if ms := memberStatuses(t, ag); len(ms) != 1 {
			t.Fatalf("%s sees %v, want only itself", ag.Name, ms)
		}
	}
}
