package agentrun_test

import (
	"fmt"
	"os"
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
