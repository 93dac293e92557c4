package store

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func (ts *testStore) acl(req *ACLRequest) ApplyResult {
	ts.t.Helper()
	data, err := EncodeCommand(ACLCommand, req)
	if err != nil {
		ts.t.Fatal(err)
	}
	return asResult(ts.t, ts.fsm.Apply(ts.raw(raft.LogCommand, data)))
}

func TestACLTables(t *testing.T) {
	ts := newTestStore(t)
	mgmt := ACLPolicy{ID: GlobalManagementPolicyID, Name: GlobalManagementPolicyName}
	root := ACLToken{AccessorID: "a1", SecretID: "s1", Policies: []ACLLink{{ID: mgmt.ID}}, CreateTime: time.Now()}
	if r := ts.acl(&ACLRequest{Op: ACLSet, Policies: []ACLPolicy{mgmt}}); r.Err != "" {
		t.Fatal(r.Err)
	}
	if r := ts.acl(&ACLRequest{Op: ACLBootstrap, Tokens: []ACLToken{root}}); r.Err != "" {
		t.Fatal(r.Err)
	}
	// A second bootstrap is refused by the state machine, and names the reset index.
	r := ts.acl(&ACLRequest{Op: ACLBootstrap, Tokens: []ACLToken{{AccessorID: "a2", SecretID: "s2"}}})
	if !strings.Contains(r.Err, "ACL bootstrap no longer allowed (reset index: 2)") {
		t.Fatalf("second bootstrap: %+v", r)
	}
	if tok, _, _ := ts.s.ACLTokenGet("s2", true); tok != nil {
		t.Fatal("the refused bootstrap stored its token")
	}
	// By secret, with the policy's name filled in.
	tok, idx, err := ts.s.ACLTokenGet("s1", true)
	if err != nil || tok == nil || tok.AccessorID != "a1" || tok.Policies[0].Name != GlobalManagementPolicyName || idx != ts.s.ACLIndex() {
		t.Fatalf("token by secret: %+v %d %v", tok, idx, err)
	}
	// Policy names are unique; a rename frees the old name.
	p := ACLPolicy{ID: "p1", Name: "web", Rules: `service "web" { policy = "write" }`}
	if r := ts.acl(&ACLRequest{Op: ACLSet, Policies: []ACLPolicy{p}}); r.Err != "" {
		t.Fatal(r.Err)
	}
	if r := ts.acl(&ACLRequest{Op: ACLSet, Policies: []ACLPolicy{{ID: "p2", Name: "web"}}}); !strings.Contains(r.Err, "already exists") {
		t.Fatalf("duplicate name: %+v", r)
	}
	p.Name = "web2"
	if r := ts.acl(&ACLRequest{Op: ACLSet, Policies: []ACLPolicy{p}}); r.Err != "" {
		t.Fatal(r.Err)
	}
	if got, _, _ := ts.s.ACLPolicyGet("web", true); got != nil {
		t.Fatal("old name still resolves")
	}
	if got, _, _ := ts.s.ACLPolicyGet("web2", true); got == nil || got.CreateIndex == got.ModifyIndex {
		t.Fatalf("renamed policy: %+v", got)
	}
	// A secret cannot be reused or changed.
	if r := ts.acl(&ACLRequest{Op: ACLSet, Tokens: []ACLToken{{AccessorID: "a3", SecretID: "s1"}}}); !strings.Contains(r.Err, "SecretID is already in use") {
		t.Fatalf("reused secret: %+v", r)
	}
	// A failed command in a batch changes nothing: the policy of the
	// same request is not stored either.
	if r := ts.acl(&ACLRequest{Op: ACLSet, Policies: []ACLPolicy{{ID: "p9", Name: "ok"}}, Tokens: []ACLToken{{AccessorID: "a1", SecretID: "other"}}}); r.Err == "" {
		t.Fatal("changed secret accepted")
	}
	if got, _, _ := ts.s.ACLPolicyGet("p9", false); got != nil {
		t.Fatal("a rejected command left its policy behind")
	}
	// Delete frees the secret and the name.
	if r := ts.acl(&ACLRequest{Op: ACLDelete, TokenIDs: []string{"a1"}, PolicyIDs: []string{"p1"}}); r.Err != "" {
		t.Fatal(r.Err)
	}
	if tok, _, _ := ts.s.ACLTokenGet("s1", true); tok != nil {
		t.Fatal("deleted token resolves")
	}
	toks, _, _ := ts.s.ACLTokenList()
	pols, _, _ := ts.s.ACLPolicyList()
	if len(toks) != 0 || len(pols) != 1 {
		t.Fatalf("after delete: %d tokens, %d policies", len(toks), len(pols))
	}
	// The tables travel in snapshots.
	snap, err := ts.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	ts2 := newTestStore(t)
	if err := ts2.fsm.Restore(readCloser(sink.Bytes())); err != nil {
		t.Fatal(err)
	}
	if ok, idx := ts2.s.ACLBootstrapped(); !ok || idx != 2 {
		t.Fatalf("restored bootstrap mark: %v %d", ok, idx)
	}
	if got, _, _ := ts2.s.ACLPolicyGet(GlobalManagementPolicyName, true); got == nil {
		t.Fatal("restored state lacks the management policy")
	}
}
