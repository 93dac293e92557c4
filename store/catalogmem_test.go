package store

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/hashicorp/raft"
)

type bufSink struct{ bytes.Buffer }

func (b *bufSink) ID() string    { return "test" }
func (b *bufSink) Cancel() error { return nil }
func (b *bufSink) Close() error  { return nil }

// TestCatalogMirrorMatchesDB applies a random mix of catalog writes
// (including rejected ones) and checks the in-memory mirror answers
// exactly what buntdb holds, throughout (memoised answers included) and
// after a snapshot restore.
func TestCatalogMirrorMatchesDB(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	fsm := s.FSM()
	r := rand.New(rand.NewPCG(1, 2))
	var idx uint64
	apply := func(t CommandType, body any) {
		idx++
		data, _ := EncodeCommand(t, body)
		fsm.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: data})
	}
	compare := func(s *Store) {
		t.Helper()
		for i := 0; i < 6; i++ {
			name := fmt.Sprintf("s%d", i)
			mem, midx, _ := s.ServiceInstances(name)
			db, didx, err := s.serviceInstancesFromDB(name)
			if err != nil {
				t.Fatal(err)
			}
			if len(mem) == 0 && len(db) == 0 {
				continue
			}
			// The mirror reports the service's own index: not past the
			// catalog's, not before the last change of anything in it.
			var last uint64
			for _, in := range mem {
				last = max(last, in.Node.ModifyIndex, in.Service.ModifyIndex)
				for _, c := range in.Checks {
					last = max(last, c.ModifyIndex)
				}
			}
			if !reflect.DeepEqual(mem, db) || midx > didx || midx < last {
				t.Fatalf("service %s: mirror (index %d) differs from buntdb (index %d):\n%+v\n%+v", name, midx, didx, mem, db)
			}
		}
	}
	statuses := []string{HealthPassing, HealthWarning, HealthCritical, "bogus"}
	for i := 0; i < 3000; i++ {
		// Reads between writes fill the memoised answers, so a write
		// that fails to drop one shows as a difference.
		if i%7 == 0 {
			compare(s)
		}
		node := fmt.Sprintf("n%d", r.IntN(40))
		svc := fmt.Sprintf("s%d", r.IntN(6))
		switch r.IntN(10) {
		case 0:
			apply(DeregisterCommand, &DeregisterRequest{Node: node})
		case 1:
			apply(DeregisterCommand, &DeregisterRequest{Node: node, ServiceID: svc + "-id"})
		case 2:
			apply(DeregisterCommand, &DeregisterRequest{Node: node, CheckID: "chk-" + svc})
		case 3:
			// A check for a service the node may not have: rejected when missing.
			apply(RegisterCommand, &RegisterRequest{Node: node, Address: "10.0.0.1", Checks: []*HealthCheck{{CheckID: "chk-" + svc, ServiceID: svc + "-id", Status: statuses[r.IntN(4)]}}})
		default:
			apply(RegisterCommand, &RegisterRequest{Node: node, Address: fmt.Sprintf("10.0.0.%d", r.IntN(3)),
				Service: &NodeService{ID: svc + "-id", Service: svc, Port: r.IntN(3), Tags: []string{"t"}},
				Checks:  []*HealthCheck{{CheckID: "chk-" + svc, ServiceID: svc + "-id", Status: statuses[r.IntN(3)]}, {CheckID: "serfHealth", Status: statuses[r.IntN(3)]}}})
		}
	}
	compare(s)
	snap, err := fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink bufSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	s2, _ := New()
	if err := s2.FSM().Restore(io.NopCloser(&sink.Buffer)); err != nil {
		t.Fatal(err)
	}
	compare(s2)
}

func TestTombstoneReap(t *testing.T) {
	s, _ := New()
	fsm := s.FSM()
	var idx uint64
	apply := func(ct CommandType, body any) ApplyResult {
		idx++
		data, _ := EncodeCommand(ct, body)
		return fsm.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: data}).(ApplyResult)
	}
	for _, k := range []string{"a/1", "a/2", "b/1"} {
		apply(KVCommand, &KVRequest{Op: KVSet, Entry: KVEntry{Key: k, Value: []byte("v")}})
	}
	apply(KVCommand, &KVRequest{Op: KVDelete, Entry: KVEntry{Key: "a/1"}}) // tombstone at 4
	apply(KVCommand, &KVRequest{Op: KVDelete, Entry: KVEntry{Key: "b/1"}}) // tombstone at 5
	if n := s.TombstoneCount(100); n != 2 {
		t.Fatalf("%d tombstones, want 2", n)
	}
	if res := apply(TombstoneReapCommand, &TombstoneReapRequest{Index: 4}); res.Err != "" {
		t.Fatal(res.Err)
	}
	if n := s.TombstoneCount(100); n != 1 {
		t.Fatalf("%d tombstones after reaping up to 4, want 1", n)
	}
	// The a/ listing index falls back to its live entries once the tombstone is gone.
	if _, i, _ := s.KVList("a/"); i != 2 {
		t.Fatalf("a/ index after reap = %d, want 2", i)
	}
}
