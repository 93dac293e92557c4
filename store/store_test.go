package store

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// ---------------------------------------------------------------------------
// Test harness: drives a Store through its FSM exactly as raft would.
// ---------------------------------------------------------------------------

type testStore struct {
	t   testing.TB
	s   *Store
	fsm *FSM
	idx uint64 // index of the last log handed to the FSM
}

func newTestStore(t testing.TB) *testStore {
	t.Helper()
	s, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &testStore{t: t, s: s, fsm: s.FSM()}
}

// kvLog frames req as the raft log entry at index idx.
func kvLog(t testing.TB, idx uint64, req KVRequest) *raft.Log {
	t.Helper()
	data, err := EncodeCommand(KVCommand, &req)
	if err != nil {
		t.Fatalf("EncodeCommand(%+v): %v", req, err)
	}
	return &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: data}
}

// next returns the log entry for req at the next index.
func (ts *testStore) next(req KVRequest) *raft.Log {
	ts.t.Helper()
	ts.idx++
	return kvLog(ts.t, ts.idx, req)
}

// raw returns a log entry of the given type and data at the next index.
func (ts *testStore) raw(typ raft.LogType, data []byte) *raft.Log {
	ts.idx++
	return &raft.Log{Index: ts.idx, Term: 1, Type: typ, Data: data}
}

func asResult(t testing.TB, v interface{}) ApplyResult {
	t.Helper()
	r, ok := v.(ApplyResult)
	if !ok {
		t.Fatalf("FSM returned %T (%#v), want ApplyResult", v, v)
	}
	return r
}

// apply applies req at the next index and returns its result and index.
func (ts *testStore) apply(req KVRequest) (ApplyResult, uint64) {
	ts.t.Helper()
	l := ts.next(req)
	return asResult(ts.t, ts.fsm.Apply(l)), l.Index
}

// mustApply applies req and fails unless it succeeded with Ok true.
func (ts *testStore) mustApply(req KVRequest) uint64 {
	ts.t.Helper()
	r, idx := ts.apply(req)
	if r.Err != "" || !r.Ok {
		ts.t.Fatalf("apply %+v at %d: got %+v, want Ok", req, idx, r)
	}
	return idx
}

func (ts *testStore) list(prefix string) ([]KVEntry, uint64) {
	ts.t.Helper()
	es, idx, err := ts.s.KVList(prefix)
	if err != nil {
		ts.t.Fatalf("KVList(%q): %v", prefix, err)
	}
	return es, idx
}

func (ts *testStore) get(key string) (*KVEntry, uint64) {
	ts.t.Helper()
	e, idx, err := ts.s.KVGet(key)
	if err != nil {
		ts.t.Fatalf("KVGet(%q): %v", key, err)
	}
	return e, idx
}

// snapshotBytes serialises the whole state (live keys, tombstones and the
// table index) through the FSM's own snapshot path, so two calls compare
// equal exactly when nothing at all changed.
func (ts *testStore) snapshotBytes() []byte {
	ts.t.Helper()
	snap, err := ts.fsm.Snapshot()
	if err != nil {
		ts.t.Fatalf("Snapshot: %v", err)
	}
	defer snap.Release()
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		ts.t.Fatalf("Persist: %v", err)
	}
	return sink.Bytes()
}

// Request constructors.

func setReq(key, val string) KVRequest {
	return KVRequest{Op: KVSet, Entry: KVEntry{Key: key, Value: []byte(val)}}
}

func setFlagsReq(key, val string, flags uint64) KVRequest {
	return KVRequest{Op: KVSet, Entry: KVEntry{Key: key, Value: []byte(val), Flags: flags}}
}

func casReq(key, val string, index uint64) KVRequest {
	return KVRequest{Op: KVCAS, Entry: KVEntry{Key: key, Value: []byte(val), ModifyIndex: index}}
}

func delReq(key string) KVRequest {
	return KVRequest{Op: KVDelete, Entry: KVEntry{Key: key}}
}

func delCASReq(key string, index uint64) KVRequest {
	return KVRequest{Op: KVDeleteCAS, Entry: KVEntry{Key: key, ModifyIndex: index}}
}

func delTreeReq(prefix string) KVRequest {
	return KVRequest{Op: KVDeleteTree, Entry: KVEntry{Key: prefix}}
}

// ent builds the entry the store should hold; an empty val means nil Value,
// which is how Consul reports an empty value ("Value": null).
func ent(key, val string, flags, create, modify uint64) KVEntry {
	e := KVEntry{Key: key, Flags: flags, CreateIndex: create, ModifyIndex: modify}
	if val != "" {
		e.Value = []byte(val)
	}
	return e
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// ---------------------------------------------------------------------------
// Write semantics
// ---------------------------------------------------------------------------

// TestKVWriteSemantics applies setup (at indexes 1..n, each must succeed),
// then op at n+1, and compares the result, the complete table and the table
// index.
func TestKVWriteSemantics(t *testing.T) {
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}

	tests := []struct {
		name      string
		setup     []KVRequest
		op        KVRequest
		wantOK    bool
		want      []KVEntry // the whole table after op, in key order
		wantIndex uint64    // KVIndex after op
	}{
		// --- set ---
		{
			name:      "set new key",
			op:        setReq("foo", "bar"),
			wantOK:    true,
			want:      []KVEntry{ent("foo", "bar", 0, 1, 1)},
			wantIndex: 1,
		},
		{
			name:      "set empty value comes back nil",
			op:        setReq("empty", ""),
			wantOK:    true,
			want:      []KVEntry{ent("empty", "", 0, 1, 1)},
			wantIndex: 1,
		},
		{
			name:      "set explicit zero-length value comes back nil",
			op:        KVRequest{Op: KVSet, Entry: KVEntry{Key: "empty", Value: []byte{}}},
			wantOK:    true,
			want:      []KVEntry{ent("empty", "", 0, 1, 1)},
			wantIndex: 1,
		},
		{
			name:      "set stores flags",
			op:        setFlagsReq("foo", "bar", 42),
			wantOK:    true,
			want:      []KVEntry{ent("foo", "bar", 42, 1, 1)},
			wantIndex: 1,
		},
		{
			name:      "set stores max uint64 flags",
			op:        setFlagsReq("foo", "bar", math.MaxUint64),
			wantOK:    true,
			want:      []KVEntry{ent("foo", "bar", math.MaxUint64, 1, 1)},
			wantIndex: 1,
		},
		{
			name:      "set stores arbitrary binary value",
			op:        KVRequest{Op: KVSet, Entry: KVEntry{Key: "bin", Value: allBytes}},
			wantOK:    true,
			want:      []KVEntry{{Key: "bin", Value: allBytes, CreateIndex: 1, ModifyIndex: 1}},
			wantIndex: 1,
		},
		{
			name:      "set key with unicode, spaces and NUL",
			op:        setReq("a b/ключ/\x00z", "v"),
			wantOK:    true,
			want:      []KVEntry{ent("a b/ключ/\x00z", "v", 0, 1, 1)},
			wantIndex: 1,
		},
		{
			name: "set ignores caller-supplied indexes and session",
			op: KVRequest{Op: KVSet, Entry: KVEntry{
				Key: "foo", Value: []byte("bar"),
				CreateIndex: 77, ModifyIndex: 88, LockIndex: 5, Session: "sess",
			}},
			wantOK:    true,
			want:      []KVEntry{ent("foo", "bar", 0, 1, 1)},
			wantIndex: 1,
		},
		{
			name:      "overwrite keeps CreateIndex and bumps ModifyIndex",
			setup:     []KVRequest{setReq("foo", "v1"), setReq("other", "x")},
			op:        setReq("foo", "v2"),
			wantOK:    true,
			want:      []KVEntry{ent("foo", "v2", 0, 1, 3), ent("other", "x", 0, 2, 2)},
			wantIndex: 3,
		},
		{
			name:      "overwrite without flags resets flags to 0",
			setup:     []KVRequest{setFlagsReq("foo", "v1", 42)},
			op:        setReq("foo", "v2"),
			wantOK:    true,
			want:      []KVEntry{ent("foo", "v2", 0, 1, 2)},
			wantIndex: 2,
		},
		{
			name:      "overwrite with new flags replaces flags",
			setup:     []KVRequest{setFlagsReq("foo", "v1", 42)},
			op:        setFlagsReq("foo", "v2", 7),
			wantOK:    true,
			want:      []KVEntry{ent("foo", "v2", 7, 1, 2)},
			wantIndex: 2,
		},
		{
			name:      "overwrite with empty value gives nil",
			setup:     []KVRequest{setReq("foo", "v1")},
			op:        setReq("foo", ""),
			wantOK:    true,
			want:      []KVEntry{ent("foo", "", 0, 1, 2)},
			wantIndex: 2,
		},
		{
			name:      "set after delete starts a new CreateIndex",
			setup:     []KVRequest{setReq("foo", "v1"), delReq("foo")},
			op:        setReq("foo", "v2"),
			wantOK:    true,
			want:      []KVEntry{ent("foo", "v2", 0, 3, 3)},
			wantIndex: 3,
		},

		// --- cas ---
		{
			name:      "cas 0 on new key creates it",
			op:        casReq("foo", "bar", 0),
			wantOK:    true,
			want:      []KVEntry{ent("foo", "bar", 0, 1, 1)},
			wantIndex: 1,
		},
		{
			name:      "cas 0 on existing key fails and changes nothing",
			setup:     []KVRequest{setReq("foo", "v1")},
			op:        casReq("foo", "v2", 0),
			wantOK:    false,
			want:      []KVEntry{ent("foo", "v1", 0, 1, 1)},
			wantIndex: 1,
		},
		{
			name:      "cas 0 on deleted key creates it",
			setup:     []KVRequest{setReq("foo", "v1"), delReq("foo")},
			op:        casReq("foo", "v2", 0),
			wantOK:    true,
			want:      []KVEntry{ent("foo", "v2", 0, 3, 3)},
			wantIndex: 3,
		},
		{
			name:      "cas with stale index fails",
			setup:     []KVRequest{setReq("foo", "v1"), setReq("foo", "v2")},
			op:        casReq("foo", "v3", 1),
			wantOK:    false,
			want:      []KVEntry{ent("foo", "v2", 0, 1, 2)},
			wantIndex: 2,
		},
		{
			name:      "cas with future index fails",
			setup:     []KVRequest{setReq("foo", "v1")},
			op:        casReq("foo", "v2", 99),
			wantOK:    false,
			want:      []KVEntry{ent("foo", "v1", 0, 1, 1)},
			wantIndex: 1,
		},
		{
			name:      "cas with matching index writes",
			setup:     []KVRequest{setReq("foo", "v1"), setReq("foo", "v2")},
			op:        casReq("foo", "v3", 2),
			wantOK:    true,
			want:      []KVEntry{ent("foo", "v3", 0, 1, 3)},
			wantIndex: 3,
		},
		{
			name:      "cas with matching index stores flags",
			setup:     []KVRequest{setFlagsReq("foo", "v1", 3)},
			op:        KVRequest{Op: KVCAS, Entry: KVEntry{Key: "foo", Value: []byte("v2"), Flags: 9, ModifyIndex: 1}},
			wantOK:    true,
			want:      []KVEntry{ent("foo", "v2", 9, 1, 2)},
			wantIndex: 2,
		},
		{
			name:      "cas without flags resets flags",
			setup:     []KVRequest{setFlagsReq("foo", "v1", 3)},
			op:        casReq("foo", "v2", 1),
			wantOK:    true,
			want:      []KVEntry{ent("foo", "v2", 0, 1, 2)},
			wantIndex: 2,
		},
		{
			name:      "cas nonzero on missing key fails",
			setup:     []KVRequest{setReq("other", "x")},
			op:        casReq("foo", "v", 1),
			wantOK:    false,
			want:      []KVEntry{ent("other", "x", 0, 1, 1)},
			wantIndex: 1,
		},
		{
			name:      "cas nonzero on deleted key fails even with its old index",
			setup:     []KVRequest{setReq("foo", "v1"), delReq("foo")},
			op:        casReq("foo", "v2", 1),
			wantOK:    false,
			want:      nil,
			wantIndex: 2,
		},

		// --- delete ---
		{
			name:      "delete existing key",
			setup:     []KVRequest{setReq("foo", "v"), setReq("bar", "v")},
			op:        delReq("foo"),
			wantOK:    true,
			want:      []KVEntry{ent("bar", "v", 0, 2, 2)},
			wantIndex: 3,
		},
		{
			name:      "delete missing key returns true and does not move the index",
			setup:     []KVRequest{setReq("bar", "v")},
			op:        delReq("foo"),
			wantOK:    true,
			want:      []KVEntry{ent("bar", "v", 0, 1, 1)},
			wantIndex: 1,
		},
		{
			name:      "delete on empty store returns true",
			op:        delReq("foo"),
			wantOK:    true,
			want:      nil,
			wantIndex: 0,
		},
		{
			name:      "delete is exact, not a prefix delete",
			setup:     []KVRequest{setReq("app/x", "v"), setReq("apple", "v")},
			op:        delReq("app"),
			wantOK:    true,
			want:      []KVEntry{ent("app/x", "v", 0, 1, 1), ent("apple", "v", 0, 2, 2)},
			wantIndex: 2,
		},

		// --- delete-cas ---
		{
			name:      "delete-cas 0 on existing key returns false and deletes nothing",
			setup:     []KVRequest{setReq("foo", "v")},
			op:        delCASReq("foo", 0),
			wantOK:    false,
			want:      []KVEntry{ent("foo", "v", 0, 1, 1)},
			wantIndex: 1,
		},
		{
			name:      "delete-cas 0 on missing key returns true",
			setup:     []KVRequest{setReq("bar", "v")},
			op:        delCASReq("foo", 0),
			wantOK:    true,
			want:      []KVEntry{ent("bar", "v", 0, 1, 1)},
			wantIndex: 1,
		},
		{
			name:      "delete-cas nonzero on missing key returns true",
			setup:     []KVRequest{setReq("bar", "v")},
			op:        delCASReq("foo", 7),
			wantOK:    true,
			want:      []KVEntry{ent("bar", "v", 0, 1, 1)},
			wantIndex: 1,
		},
		{
			name:      "delete-cas with stale index returns false",
			setup:     []KVRequest{setReq("foo", "v1"), setReq("foo", "v2")},
			op:        delCASReq("foo", 1),
			wantOK:    false,
			want:      []KVEntry{ent("foo", "v2", 0, 1, 2)},
			wantIndex: 2,
		},
		{
			name:      "delete-cas with matching index deletes",
			setup:     []KVRequest{setReq("foo", "v1"), setReq("foo", "v2"), setReq("bar", "v")},
			op:        delCASReq("foo", 2),
			wantOK:    true,
			want:      []KVEntry{ent("bar", "v", 0, 3, 3)},
			wantIndex: 4,
		},

		// --- delete-tree ---
		{
			name: "delete-tree is a string prefix: app/rec also matches app/rec2",
			setup: []KVRequest{
				setReq("app/rec", "1"), setReq("app/rec2", "2"), setReq("app/rec/x", "3"),
				setReq("app/re", "4"), setReq("apple", "5"), setReq("zzz", "6"),
			},
			op:     delTreeReq("app/rec"),
			wantOK: true,
			want: []KVEntry{
				ent("app/re", "4", 0, 4, 4), ent("apple", "5", 0, 5, 5), ent("zzz", "6", 0, 6, 6),
			},
			wantIndex: 7,
		},
		{
			name: "delete-tree of a folder prefix",
			setup: []KVRequest{
				setReq("web/a", "1"), setReq("web/b/c", "2"), setReq("web", "3"), setReq("webx", "4"),
			},
			op:        delTreeReq("web/"),
			wantOK:    true,
			want:      []KVEntry{ent("web", "3", 0, 3, 3), ent("webx", "4", 0, 4, 4)},
			wantIndex: 5,
		},
		{
			name:      "delete-tree of empty prefix deletes everything",
			setup:     []KVRequest{setReq("a", "1"), setReq("b/c", "2"), setReq("\x00", "3"), setReq("~~", "4")},
			op:        delTreeReq(""),
			wantOK:    true,
			want:      nil,
			wantIndex: 5,
		},
		{
			name:      "delete-tree with no match returns true and does not move the index",
			setup:     []KVRequest{setReq("a", "1")},
			op:        delTreeReq("b/"),
			wantOK:    true,
			want:      []KVEntry{ent("a", "1", 0, 1, 1)},
			wantIndex: 1,
		},
		{
			name:      "delete-tree of empty store",
			op:        delTreeReq(""),
			wantOK:    true,
			want:      nil,
			wantIndex: 0,
		},
		{
			name:      "delete-tree prefix equal to a whole key deletes it",
			setup:     []KVRequest{setReq("foo", "1"), setReq("fo", "2")},
			op:        delTreeReq("foo"),
			wantOK:    true,
			want:      []KVEntry{ent("fo", "2", 0, 2, 2)},
			wantIndex: 3,
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestStore(t)
			for _, req := range tc.setup {
				ts.mustApply(req)
			}
			res, _ := ts.apply(tc.op)
			if res.Err != "" {
				t.Fatalf("op %+v: unexpected Err %q", tc.op, res.Err)
			}
			if res.Ok != tc.wantOK {
				t.Errorf("op Ok = %v, want %v", res.Ok, tc.wantOK)
			}
			got, _ := ts.list("")
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("table after op:\n got  %+v\n want %+v", got, tc.want)
			}
			if idx := ts.s.KVIndex(); idx != tc.wantIndex {
				t.Errorf("KVIndex = %d, want %d", idx, tc.wantIndex)
			}
			// Every expected entry must read back identically by key, with
			// the key's ModifyIndex as the read index.
			for _, w := range tc.want {
				e, idx := ts.get(w.Key)
				if e == nil {
					t.Errorf("KVGet(%q) = nil, want %+v", w.Key, w)
					continue
				}
				if !reflect.DeepEqual(*e, w) {
					t.Errorf("KVGet(%q) = %+v, want %+v", w.Key, *e, w)
				}
				if idx != w.ModifyIndex {
					t.Errorf("KVGet(%q) index = %d, want ModifyIndex %d", w.Key, idx, w.ModifyIndex)
				}
				if e.LockIndex != 0 || e.Session != "" {
					t.Errorf("KVGet(%q): LockIndex=%d Session=%q, want 0 and empty", w.Key, e.LockIndex, e.Session)
				}
			}
		})
	}
}

// TestKVGetReturnsCopy checks a reader mutating a returned value cannot
// change the stored state.
func TestKVGetReturnsCopy(t *testing.T) {
	ts := newTestStore(t)
	ts.mustApply(setReq("foo", "bar"))
	e, _ := ts.get("foo")
	e.Value[0] = 'X'
	es, _ := ts.list("")
	es[0].Value[1] = 'Y'
	e2, _ := ts.get("foo")
	if string(e2.Value) != "bar" {
		t.Fatalf("stored value changed through a returned slice: %q", e2.Value)
	}
}

// TestKVSetPreservesLock checks §1.4: a plain write (and a CAS) to a locked
// key keeps Session and LockIndex. The lock is planted through a restored
// snapshot because the FSM has no acquire verb yet.
func TestKVSetPreservesLock(t *testing.T) {
	locked := KVEntry{Key: "lock", Value: []byte("v"), Flags: 1, CreateIndex: 3, ModifyIndex: 4, LockIndex: 2, Session: "sess-1"}
	var buf bytes.Buffer
	if err := writeItems(&buf, [][2]string{
		{kvPrefix + "lock", locked.encode()},
		{kvIndexKey, "4"},
	}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		op   KVRequest
		want KVEntry
	}{
		{
			name: "plain set keeps holder",
			op:   setReq("lock", "new"),
			want: KVEntry{Key: "lock", Value: []byte("new"), CreateIndex: 3, ModifyIndex: 10, LockIndex: 2, Session: "sess-1"},
		},
		{
			name: "set cannot steal the lock by naming another session",
			op:   KVRequest{Op: KVSet, Entry: KVEntry{Key: "lock", Value: []byte("new"), Session: "other", LockIndex: 9}},
			want: KVEntry{Key: "lock", Value: []byte("new"), CreateIndex: 3, ModifyIndex: 10, LockIndex: 2, Session: "sess-1"},
		},
		{
			name: "cas keeps holder",
			op:   casReq("lock", "new", 4),
			want: KVEntry{Key: "lock", Value: []byte("new"), CreateIndex: 3, ModifyIndex: 10, LockIndex: 2, Session: "sess-1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestStore(t)
			if err := ts.fsm.Restore(readCloser(buf.Bytes())); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			ts.idx = 9
			ts.mustApply(tc.op)
			got, _ := ts.get("lock")
			if got == nil || !reflect.DeepEqual(*got, tc.want) {
				t.Fatalf("after %+v: got %+v, want %+v", tc.op, got, tc.want)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Read index semantics (§1.8, Appendix D 6 and 7)
// ---------------------------------------------------------------------------

func TestKVIndexSemantics(t *testing.T) {
	ts := newTestStore(t)
	// Build a history with live keys, tombstones and no-op writes.
	steps := []struct {
		req    KVRequest
		wantOK bool
	}{
		{setReq("a/x", "1"), true},     // 1
		{setReq("a/y", "2"), true},     // 2
		{setReq("b/x", "3"), true},     // 3
		{delReq("a/y"), true},          // 4: tombstone a/y=4
		{setReq("c/z", "5"), true},     // 5
		{delReq("d/q"), true},          // 6: no-op
		{casReq("b/x", "n", 1), false}, // 7: failed cas, no-op
		{delCASReq("b/x", 0), false},   // 8: no-op
		{delTreeReq("nothing/"), true}, // 9: no-op
	}
	for i, st := range steps {
		res, idx := ts.apply(st.req)
		if res.Err != "" || res.Ok != st.wantOK {
			t.Fatalf("step %d (%+v) at %d: got %+v, want Ok=%v", i, st.req, idx, res, st.wantOK)
		}
	}

	type query struct {
		name      string
		fn        func() (n int, idx uint64) // returns entries/keys found and the index
		wantN     int
		wantIndex uint64
	}
	getQ := func(key string, wantN int, want uint64) query {
		return query{"get " + key, func() (int, uint64) {
			e, idx := ts.get(key)
			if e == nil {
				return 0, idx
			}
			return 1, idx
		}, wantN, want}
	}
	listQ := func(prefix string, wantN int, want uint64) query {
		return query{"list " + prefix, func() (int, uint64) {
			es, idx := ts.list(prefix)
			return len(es), idx
		}, wantN, want}
	}
	keysQ := func(prefix, sep string, wantN int, want uint64) query {
		return query{"keys " + prefix + " sep " + sep, func() (int, uint64) {
			ks, idx, err := ts.s.KVKeys(prefix, sep)
			if err != nil {
				t.Fatalf("KVKeys: %v", err)
			}
			return len(ks), idx
		}, wantN, want}
	}

	check := func(stage string, wantKVIndex uint64, qs []query) {
		t.Helper()
		if got := ts.s.KVIndex(); got != wantKVIndex {
			t.Errorf("%s: KVIndex = %d, want %d", stage, got, wantKVIndex)
		}
		for _, q := range qs {
			n, idx := q.fn()
			if n != q.wantN || idx != q.wantIndex {
				t.Errorf("%s: %s = (%d results, index %d), want (%d, %d)", stage, q.name, n, idx, q.wantN, q.wantIndex)
			}
		}
	}

	check("after history", 5, []query{
		getQ("a/x", 1, 1),        // present: its own ModifyIndex
		getQ("b/x", 1, 3),        // failed cas did not touch it
		getQ("a/y", 0, 5),        // deleted: the table index
		getQ("never", 0, 5),      // missing: the table index
		listQ("a/", 1, 4),        // tombstone a/y=4 beats live a/x=1
		listQ("a/y", 0, 4),       // only a tombstone: still its index
		listQ("a", 1, 4),         // string prefix
		listQ("b/", 1, 3),        // no tombstones
		listQ("c/", 1, 5),        // live only
		listQ("d/", 0, 0),        // nothing ever there (delete of missing leaves no tombstone)
		listQ("", 3, 5),          // root: the table index
		keysQ("a/", "", 1, 4),    // keys share the list index
		keysQ("a/", "/", 1, 4),   // with separator too
		keysQ("", "/", 3, 5),     // root folders: a/ b/ c/
		keysQ("zzz/", "/", 0, 0), // empty prefix result
	})

	// Re-creating a deleted key moves its prefix forward again.
	ts.mustApply(setReq("a/y", "again")) // 10
	check("after re-create", 10, []query{
		getQ("a/y", 1, 10),
		listQ("a/", 2, 10),
		listQ("a/y", 1, 10),
		getQ("a/x", 1, 1),
	})

	// Deleting everything under a prefix leaves only tombstones, and the
	// prefix's index is the index of that delete.
	ts.mustApply(delTreeReq("a/")) // 11
	check("after delete-tree", 11, []query{
		listQ("a/", 0, 11),
		listQ("a/x", 0, 11),
		keysQ("a/", "/", 0, 11),
		getQ("a/x", 0, 11),
		listQ("b/", 1, 3),
		getQ("b/x", 1, 3),
		listQ("", 2, 11),
	})

	// A write elsewhere moves the table index but not the prefix index.
	ts.mustApply(setReq("z", "1")) // 12
	check("after unrelated write", 12, []query{
		listQ("a/", 0, 11),
		getQ("a/x", 0, 12),
		getQ("b/x", 1, 3),
	})
}

func TestKVListPrefix(t *testing.T) {
	ts := newTestStore(t)
	for _, k := range []string{"app/re", "app/rec", "app/rec/x", "app/rec2", "apple", "b", "web/", "web/a"} {
		ts.mustApply(setReq(k, "v-"+k))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"app/rec", []string{"app/rec", "app/rec/x", "app/rec2"}},
		{"app/rec/", []string{"app/rec/x"}},
		{"app/", []string{"app/re", "app/rec", "app/rec/x", "app/rec2"}},
		{"app", []string{"app/re", "app/rec", "app/rec/x", "app/rec2", "apple"}},
		{"web/", []string{"web/", "web/a"}},
		{"b", []string{"b"}},
		{"c", nil},
		{"app/rec2/", nil},
		{"", []string{"app/re", "app/rec", "app/rec/x", "app/rec2", "apple", "b", "web/", "web/a"}},
	}
	for _, tc := range tests {
		t.Run("prefix="+tc.prefix, func(t *testing.T) {
			es, _ := ts.list(tc.prefix)
			var got []string
			for _, e := range es {
				got = append(got, e.Key)
				if string(e.Value) != "v-"+e.Key {
					t.Errorf("entry %q has value %q", e.Key, e.Value)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("KVList(%q) keys = %q, want %q", tc.prefix, got, tc.want)
			}
		})
	}
}

func TestKVKeys(t *testing.T) {
	ts := newTestStore(t)
	keys := []string{
		"web/bar", "web/foo", "web/subdir/x", "web/subdir/y/z", "web/subdir-a",
		"web/", "webx", "db/1", "top",
	}
	for _, k := range keys {
		ts.mustApply(setReq(k, "v"))
	}
	tests := []struct {
		prefix, sep string
		want        []string
	}{
		{"web/", "/", []string{"web/", "web/bar", "web/foo", "web/subdir-a", "web/subdir/"}},
		{"web/", "", []string{"web/", "web/bar", "web/foo", "web/subdir-a", "web/subdir/x", "web/subdir/y/z"}},
		{"web/subdir/", "/", []string{"web/subdir/x", "web/subdir/y/"}},
		{"web/sub", "/", []string{"web/subdir-a", "web/subdir/"}},
		{"web", "/", []string{"web/", "webx"}},
		{"", "/", []string{"db/", "top", "web/", "webx"}},
		{"", "", []string{"db/1", "top", "web/", "web/bar", "web/foo", "web/subdir-a", "web/subdir/x", "web/subdir/y/z", "webx"}},
		{"web/", "-", []string{"web/", "web/bar", "web/foo", "web/subdir-", "web/subdir/x", "web/subdir/y/z"}},
		{"web/", "dir/", []string{"web/", "web/bar", "web/foo", "web/subdir-a", "web/subdir/"}},
		{"nope/", "/", nil},
	}
	for _, tc := range tests {
		t.Run("prefix="+tc.prefix+",sep="+tc.sep, func(t *testing.T) {
			got, _, err := ts.s.KVKeys(tc.prefix, tc.sep)
			if err != nil {
				t.Fatalf("KVKeys: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("KVKeys(%q, %q) = %q, want %q", tc.prefix, tc.sep, got, tc.want)
			}
		})
	}

	// The exact example from the brief, on a store holding only those keys.
	t.Run("folder collapse example", func(t *testing.T) {
		ts := newTestStore(t)
		for _, k := range []string{"web/bar", "web/foo", "web/subdir/x"} {
			ts.mustApply(setReq(k, "v"))
		}
		got, idx, err := ts.s.KVKeys("web/", "/")
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"web/bar", "web/foo", "web/subdir/"}
		if !reflect.DeepEqual(got, want) || idx != 3 {
			t.Fatalf("KVKeys = %q @%d, want %q @3", got, idx, want)
		}
	})
}

// ---------------------------------------------------------------------------
// Rejected requests
// ---------------------------------------------------------------------------

func TestKVInvalidRequests(t *testing.T) {
	validSet, err := EncodeCommand(KVCommand, &KVRequest{Op: KVSet, Entry: KVEntry{Key: "new", Value: []byte("v")}})
	if err != nil {
		t.Fatal(err)
	}
	mustEncode := func(req KVRequest) []byte {
		b, err := EncodeCommand(KVCommand, &req)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	tests := []struct {
		name    string
		typ     raft.LogType
		data    []byte
		wantNil bool   // the FSM ignores the entry and returns nil
		wantErr string // substring of ApplyResult.Err
	}{
		{name: "set with empty key", data: mustEncode(setReq("", "v")), wantErr: "Missing key name"},
		{name: "cas with empty key", data: mustEncode(casReq("", "v", 0)), wantErr: "Missing key name"},
		{name: "delete with empty key", data: mustEncode(delReq("")), wantErr: "Missing key name"},
		{name: "delete-cas with empty key", data: mustEncode(delCASReq("", 1)), wantErr: "Missing key name"},
		{name: "unknown op", data: mustEncode(KVRequest{Op: "frob", Entry: KVEntry{Key: "existing"}}), wantErr: "unknown KV operation"},
		{name: "empty op", data: mustEncode(KVRequest{Entry: KVEntry{Key: "existing"}}), wantErr: "unknown KV operation"},
		{name: "upper-case op", data: mustEncode(KVRequest{Op: "SET", Entry: KVEntry{Key: "existing"}}), wantErr: "unknown KV operation"},
		{name: "malformed JSON body", data: []byte{byte(KVCommand), '{', 'x'}, wantErr: "decode KV command"},
		{name: "type byte only", data: []byte{byte(KVCommand)}, wantErr: "decode KV command"},
		{name: "wrong JSON shape", data: append([]byte{byte(KVCommand)}, `{"Op":1}`...), wantErr: "decode KV command"},
		{name: "unknown command type marked ignorable", data: append([]byte{byte(IgnoreUnknownTypeFlag | 99)}, validSet[1:]...), wantNil: true},
		{name: "known type with the ignorable bit is still unknown", data: append([]byte{byte(IgnoreUnknownTypeFlag | KVCommand)}, validSet[1:]...), wantNil: true},
		{name: "empty command data", data: nil, wantNil: true},
		{name: "configuration entry carrying a set", typ: raft.LogConfiguration, data: validSet, wantNil: true},
		{name: "noop entry carrying a set", typ: raft.LogNoop, data: validSet, wantNil: true},
		{name: "barrier entry carrying a set", typ: raft.LogBarrier, data: validSet, wantNil: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestStore(t)
			ts.mustApply(setFlagsReq("existing", "v", 5))
			ts.mustApply(setReq("gone", "v"))
			ts.mustApply(delReq("gone"))
			before := ts.snapshotBytes()
			beforeIdx := ts.s.KVIndex()

			w, stop := ts.s.Watches().WatchPrefix("")
			defer stop()

			typ := tc.typ // zero value is raft.LogCommand
			out := ts.fsm.Apply(ts.raw(typ, tc.data))
			if tc.wantNil {
				if out != nil {
					t.Fatalf("Apply = %#v, want nil (entry ignored)", out)
				}
			} else {
				res := asResult(t, out)
				if res.Ok || !strings.Contains(res.Err, tc.wantErr) {
					t.Fatalf("Apply = %+v, want Ok=false and Err containing %q", res, tc.wantErr)
				}
			}
			if after := ts.snapshotBytes(); !bytes.Equal(before, after) {
				t.Errorf("state changed by a rejected entry")
			}
			if idx := ts.s.KVIndex(); idx != beforeIdx {
				t.Errorf("KVIndex moved from %d to %d", beforeIdx, idx)
			}
			if e, _ := ts.get("new"); e != nil {
				t.Errorf("key %q written by a rejected entry", "new")
			}
			if isClosed(w) {
				t.Errorf("watchers woken by a rejected entry")
			}

			// The store keeps working after the rejection.
			idx := ts.mustApply(setReq("after", "v"))
			if got := ts.s.KVIndex(); got != idx {
				t.Errorf("KVIndex after a later write = %d, want %d", got, idx)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		req     KVRequest
		wantErr bool
	}{
		{setReq("k", ""), false},
		{casReq("k", "", 0), false},
		{delReq("k"), false},
		{delCASReq("k", 0), false},
		{delTreeReq(""), false},
		{delTreeReq("p/"), false},
		{setReq("", ""), true},
		{casReq("", "", 0), true},
		{delReq(""), true},
		{delCASReq("", 0), true},
		{KVRequest{Op: "lock"}, true},
		{KVRequest{}, true},
	}
	for _, tc := range tests {
		err := tc.req.Validate()
		if (err != nil) != tc.wantErr {
			t.Errorf("Validate(%+v) = %v, wantErr %v", tc.req, err, tc.wantErr)
		}
	}
}

// ---------------------------------------------------------------------------
// Entry encoding
// ---------------------------------------------------------------------------

func TestEntryEncodeRoundTrip(t *testing.T) {
	tests := []KVEntry{
		{Key: "k"},
		{Key: "k", Value: []byte("v")},
		{Key: "k", Value: []byte{0, 0xff, 0x80}, Flags: 1, CreateIndex: 2, ModifyIndex: 3, LockIndex: 4, Session: "s"},
		{Key: "", Flags: math.MaxUint64, CreateIndex: math.MaxUint64, ModifyIndex: math.MaxUint64, LockIndex: math.MaxUint64},
		{Key: "k", Session: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "k", Session: "s", Value: bytes.Repeat([]byte("x"), 1<<16)},
	}
	for _, want := range tests {
		got, err := decodeEntry(want.Key, want.encode())
		if err != nil {
			t.Errorf("decodeEntry(encode(%+v)): %v", want, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip: got %+v, want %+v", got, want)
		}
	}
}

func TestDecodeEntryCorrupt(t *testing.T) {
	valid := (&KVEntry{Key: "k", Session: "sess", Value: []byte("v")}).encode()
	overflow := string(bytes.Repeat([]byte{0xff}, 11))
	tests := map[string]string{
		"empty":                     "",
		"truncated varint":          "\x80",
		"only three fields":         "\x01\x02\x03",
		"four fields, no session":   "\x01\x02\x03\x04",
		"session longer than data":  "\x01\x02\x03\x04\x05abc",
		"session length overflow":   "\x01\x02\x03\x04" + overflow,
		"huge session length":       "\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
		"overflowing first field":   overflow,
		"valid entry cut in header": valid[:3],
		"valid entry cut in sess":   valid[:7],
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := decodeEntry("k", s)
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("decodeEntry(%q) error = %v, want errCorrupt", s, err)
			}
		})
	}
}

func FuzzDecodeEntry(f *testing.F) {
	seeds := []KVEntry{
		{},
		{Value: []byte("v")},
		{Flags: 1, CreateIndex: 2, ModifyIndex: 3, LockIndex: 4, Session: "sess", Value: []byte("value")},
		{Flags: math.MaxUint64, CreateIndex: math.MaxUint64, ModifyIndex: math.MaxUint64, LockIndex: math.MaxUint64},
	}
	for _, e := range seeds {
		f.Add("key", e.encode())
	}
	f.Add("", "")
	f.Add("k", "\x80")
	f.Add("k", "\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")
	f.Add("k", string(bytes.Repeat([]byte{0xff}, 11)))

	f.Fuzz(func(t *testing.T, key, s string) {
		e, err := decodeEntry(key, s) // must never panic
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		if e.Key != key {
			t.Fatalf("Key = %q, want %q", e.Key, key)
		}
		if e.Value != nil && len(e.Value) == 0 {
			t.Fatalf("empty Value must be nil")
		}
		if len(e.Session)+len(e.Value) > len(s) {
			t.Fatalf("decoded more bytes than the input holds")
		}
		// Whatever decodes must survive a canonical re-encode unchanged.
		e2, err := decodeEntry(key, e.encode())
		if err != nil {
			t.Fatalf("re-decode of %+v: %v", e, err)
		}
		if !reflect.DeepEqual(e, e2) {
			t.Fatalf("re-encode changed the entry: %+v -> %+v", e, e2)
		}
	})
}

// ---------------------------------------------------------------------------
// Watches
// ---------------------------------------------------------------------------

func TestWatchesWakeups(t *testing.T) {
	tests := []struct {
		name    string
		setup   []KVRequest
		prefix  bool // WatchPrefix instead of WatchKey
		target  string
		trigger KVRequest
		want    bool
	}{
		{name: "key: set of the missing key wakes", target: "foo", trigger: setReq("foo", "v"), want: true},
		{name: "key: set of another key does not wake", target: "foo", trigger: setReq("bar", "v")},
		{name: "key: set of a longer key does not wake", target: "foo", trigger: setReq("foo2", "v")},
		{name: "key: set of a child key does not wake", target: "foo", trigger: setReq("foo/x", "v")},
		{name: "key: overwrite wakes", setup: []KVRequest{setReq("foo", "a")}, target: "foo", trigger: setReq("foo", "b"), want: true},
		{name: "key: delete wakes", setup: []KVRequest{setReq("foo", "a")}, target: "foo", trigger: delReq("foo"), want: true},
		{name: "key: delete of missing key does not wake", target: "foo", trigger: delReq("foo")},
		{name: "key: failed cas does not wake", setup: []KVRequest{setReq("foo", "a")}, target: "foo", trigger: casReq("foo", "b", 0)},
		{name: "key: successful cas wakes", setup: []KVRequest{setReq("foo", "a")}, target: "foo", trigger: casReq("foo", "b", 1), want: true},
		{name: "key: delete-cas 0 does not wake", setup: []KVRequest{setReq("foo", "a")}, target: "foo", trigger: delCASReq("foo", 0)},
		{name: "key: delete-cas match wakes", setup: []KVRequest{setReq("foo", "a")}, target: "foo", trigger: delCASReq("foo", 1), want: true},
		{name: "key: delete-tree of parent wakes", setup: []KVRequest{setReq("a/foo", "a")}, target: "a/foo", trigger: delTreeReq("a/"), want: true},
		{name: "key: delete-tree of everything wakes", setup: []KVRequest{setReq("a/foo", "a")}, target: "a/foo", trigger: delTreeReq(""), want: true},
		{name: "key: delete-tree elsewhere does not wake", setup: []KVRequest{setReq("a/foo", "a"), setReq("b/x", "a")}, target: "a/foo", trigger: delTreeReq("b/")},
		{name: "key: invalid request does not wake", target: "foo", trigger: KVRequest{Op: "frob", Entry: KVEntry{Key: "foo"}}},
		{name: "prefix: set under prefix wakes", prefix: true, target: "web/", trigger: setReq("web/x", "v"), want: true},
		{name: "prefix: set deep under prefix wakes", prefix: true, target: "web/", trigger: setReq("web/a/b/c", "v"), want: true},
		{name: "prefix: set of the prefix itself wakes", prefix: true, target: "web/", trigger: setReq("web/", "v"), want: true},
		{name: "prefix: set outside prefix does not wake", prefix: true, target: "web/", trigger: setReq("webx", "v")},
		{name: "prefix: set of parent does not wake", prefix: true, target: "web/", trigger: setReq("web", "v")},
		{name: "prefix: is a string prefix", prefix: true, target: "app/rec", trigger: setReq("app/rec2", "v"), want: true},
		{name: "prefix: empty prefix sees everything", prefix: true, target: "", trigger: setReq("anything", "v"), want: true},
		{name: "prefix: delete under prefix wakes", prefix: true, setup: []KVRequest{setReq("web/x", "v")}, target: "web/", trigger: delReq("web/x"), want: true},
		{name: "prefix: delete-tree of prefix wakes", prefix: true, setup: []KVRequest{setReq("web/x", "v")}, target: "web/", trigger: delTreeReq("web/"), want: true},
		{name: "prefix: delete-tree of parent wakes", prefix: true, setup: []KVRequest{setReq("web/a/x", "v")}, target: "web/a/", trigger: delTreeReq("web/"), want: true},
		{name: "prefix: delete-tree with no match does not wake", prefix: true, setup: []KVRequest{setReq("db/x", "v")}, target: "web/", trigger: delTreeReq("web/")},
		{name: "prefix: failed cas under prefix does not wake", prefix: true, setup: []KVRequest{setReq("web/x", "v")}, target: "web/", trigger: casReq("web/x", "n", 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestStore(t)
			for _, req := range tc.setup {
				ts.mustApply(req)
			}
			w := ts.s.Watches()
			var ch <-chan struct{}
			var stop func()
			if tc.prefix {
				ch, stop = w.WatchPrefix(tc.target)
			} else {
				ch, stop = w.WatchKey(tc.target)
			}
			defer stop()
			if isClosed(ch) {
				t.Fatal("fresh watch already closed")
			}
			ts.apply(tc.trigger)
			// Notification is synchronous with ApplyBatch, so a
			// non-blocking check is exact in both directions.
			if got := isClosed(ch); got != tc.want {
				t.Fatalf("woken = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWatchStopReleases(t *testing.T) {
	ts := newTestStore(t)
	w := ts.s.Watches()
	sizes := func() (int, int) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.exact), len(w.prefixes)
	}

	k1, stopK1 := w.WatchKey("foo")
	k2, stopK2 := w.WatchKey("foo")
	p1, stopP1 := w.WatchPrefix("web/")
	if e, p := sizes(); e != 1 || p != 1 {
		t.Fatalf("registered sizes = %d,%d, want 1,1", e, p)
	}

	// Stopping one of two watchers on a key keeps the other.
	stopK1()
	if e, _ := sizes(); e != 1 {
		t.Fatalf("exact size after one stop = %d, want 1", e)
	}
	stopK2()
	stopP1()
	if e, p := sizes(); e != 0 || p != 0 {
		t.Fatalf("sizes after all stops = %d,%d, want 0,0", e, p)
	}
	// Stopped watchers are never closed by later writes.
	ts.mustApply(setReq("foo", "v"))
	ts.mustApply(setReq("web/x", "v"))
	if isClosed(k1) || isClosed(k2) || isClosed(p1) {
		t.Fatal("a stopped watcher was closed")
	}
	// stop is idempotent.
	stopK1()
	stopP1()

	// A fired watcher is dropped from the set; stop after firing is a
	// harmless no-op, and does not remove a newer watcher of the same key.
	k3, stopK3 := w.WatchKey("foo")
	ts.mustApply(setReq("foo", "v2"))
	if !isClosed(k3) {
		t.Fatal("watcher not woken")
	}
	if e, _ := sizes(); e != 0 {
		t.Fatalf("fired watcher still registered: exact size %d", e)
	}
	k4, stopK4 := w.WatchKey("foo")
	stopK3()
	if e, _ := sizes(); e != 1 {
		t.Fatalf("stop of a fired watcher removed a live one: exact size %d", e)
	}
	ts.mustApply(setReq("foo", "v3"))
	if !isClosed(k4) {
		t.Fatal("newer watcher not woken")
	}
	stopK4()
}

func TestWatchManyWatchersAndBatches(t *testing.T) {
	ts := newTestStore(t)
	w := ts.s.Watches()
	var keyChs, prefChs []<-chan struct{}
	for range 5 {
		ch, stop := w.WatchKey("a/x")
		defer stop()
		keyChs = append(keyChs, ch)
		ch, stop = w.WatchPrefix("a/")
		defer stop()
		prefChs = append(prefChs, ch)
	}
	other, stop := w.WatchKey("b")
	defer stop()

	// One batch touching the same key twice and the prefix many times must
	// close each channel exactly once (a double close would panic).
	logs := []*raft.Log{
		ts.next(setReq("a/x", "1")),
		ts.next(setReq("a/x", "2")),
		ts.next(setReq("a/y", "3")),
		ts.next(delTreeReq("a/")),
	}
	for i, r := range ts.fsm.ApplyBatch(logs) {
		if res := asResult(t, r); !res.Ok {
			t.Fatalf("result %d = %+v", i, res)
		}
	}
	for i := range keyChs {
		if !isClosed(keyChs[i]) || !isClosed(prefChs[i]) {
			t.Fatalf("watcher %d not woken", i)
		}
	}
	if isClosed(other) {
		t.Fatal("unrelated watcher woken")
	}
}

// TestWatchBlockingReader mimics a blocking query: a goroutine waits on a
// watch while another applies the write.
func TestWatchBlockingReader(t *testing.T) {
	ts := newTestStore(t)
	ch, stop := ts.s.Watches().WatchKey("foo")
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ch
	}()
	ts.mustApply(setReq("foo", "v"))
	select {
	case <-done:
	case <-time.After(30 * time.Second): // a bound for a loaded machine, not a latency target
		t.Fatal("blocked reader never woke")
	}
	e, idx := ts.get("foo")
	if e == nil || idx != 1 {
		t.Fatalf("after wake: %+v @%d", e, idx)
	}
}

// TestUnknownCommandTypeStopsTheServer: a command type this version does
// not know, without the ignorable bit, must stop the server with a clear
// error instead of being skipped (an older server that skipped what a newer
// leader applied would silently diverge), as Consul's FSM does.
func TestUnknownCommandTypeStopsTheServer(t *testing.T) {
	validSet, err := EncodeCommand(KVCommand, setReq("k", "v"))
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []byte{99, 0, 10} {
		t.Run(fmt.Sprint(typ), func(t *testing.T) {
			ts := newTestStore(t)
			var got any
			func() {
				defer func() { got = recover() }()
				ts.fsm.Apply(ts.raw(raft.LogCommand, append([]byte{typ}, validSet[1:]...)))
			}()
			err, ok := got.(*UnknownCommandError)
			if !ok {
				t.Fatalf("Apply of command type %d: recovered %#v, want an *UnknownCommandError panic", typ, got)
			}
			if msg := err.Error(); !strings.Contains(msg, fmt.Sprintf("command type %d", typ)) || !strings.Contains(msg, "upgrade this server") {
				t.Fatalf("unclear error: %s", msg)
			}
			// Nothing was applied or left locked.
			if got, _ := ts.list(""); len(got) != 0 {
				t.Fatalf("the refused entry changed the store: %+v", got)
			}
			ts.mustApply(setReq("after", "v"))
		})
	}
}
