package node

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/serf/serf"
)

// TestPeerStoreKeepsUnseenPeers: the first record written after a start,
// when the pool holds only this agent, must keep the peers loaded from the
// previous run; otherwise an agent killed again before its rejoin finished
// has nothing to rejoin the time after.
func TestPeerStoreKeepsUnseenPeers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local.peers.json")
	if err := os.WriteFile(path, []byte(`{"peers":[{"name":"s2","addr":"127.0.0.1:8321"},{"name":"s3","addr":"127.0.0.1:8331"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ps := newPeerStore(path, "s1")
	known, err := ps.load()
	if err != nil || len(known) != 2 {
		t.Fatalf("load: %v %v", known, err)
	}
	self := serf.Member{Name: "s1", Addr: net.ParseIP("127.0.0.1"), Port: 8311, Status: serf.StatusAlive}
	if err := ps.write(ps.peersOf([]serf.Member{self})); err != nil {
		t.Fatal(err)
	}
	again := newPeerStore(path, "s1")
	if got, err := again.load(); err != nil || len(got) != 2 {
		t.Fatalf("after a write with only ourselves in the pool the record holds %v (%v), want s2 and s3", got, err)
	}
	// Once the pool has seen a peer, the pool decides: s2 left, s3 moved.
	s2 := serf.Member{Name: "s2", Addr: net.ParseIP("127.0.0.1"), Port: 8321, Status: serf.StatusLeft}
	s3 := serf.Member{Name: "s3", Addr: net.ParseIP("127.0.0.2"), Port: 8331, Status: serf.StatusFailed}
	if err := ps.write(ps.peersOf([]serf.Member{self, s2, s3})); err != nil {
		t.Fatal(err)
	}
	got, err := newPeerStore(path, "s1").load()
	if err != nil || len(got) != 1 || got[0] != (knownPeer{Name: "s3", Addr: "127.0.0.2:8331"}) {
		t.Fatalf("record = %v (%v), want only s3 at its new address", got, err)
	}
}
