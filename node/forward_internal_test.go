package node

import (
	"testing"

	"consulx/store"
)

// TestDetachResponseEmptiesWhatRaftKeeps: the caller gets the whole
// transaction result, and the result raft's future still points to is
// emptied, so the values it held can be collected while raft keeps the
// entry in its log cache.
func TestDetachResponseEmptiesWhatRaftKeeps(t *testing.T) {
	kept := store.ApplyResult{Ok: true, Txn: &store.TxnResult{
		Results: []store.KVEntry{{Key: "a", Value: []byte("big value")}},
		Reads:   []bool{true},
	}}
	got := detachResponse(kept)
	if !got.Ok || got.Txn == nil || len(got.Txn.Results) != 1 || string(got.Txn.Results[0].Value) != "big value" {
		t.Fatalf("detached result %+v", got)
	}
	if kept.Txn.Results != nil || kept.Txn.Reads != nil {
		t.Fatalf("the result raft keeps still holds %+v", kept.Txn)
	}
	if got := detachResponse(nil); got.Ok || got.Txn != nil {
		t.Fatalf("no response: %+v", got)
	}
}
