package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
)

// memSink is a raft.SnapshotSink over a bytes.Buffer.
type memSink struct {
	bytes.Buffer
	closed, cancelled bool
	failWrite         bool
}

var _ raft.SnapshotSink = (*memSink)(nil)

func (m *memSink) ID() string { return "mem-snapshot" }

func (m *memSink) Write(p []byte) (int, error) {
	if m.failWrite {
		return 0, errors.New("sink: disk full")
	}
	return m.Buffer.Write(p)
}

func (m *memSink) Close() error  { m.closed = true; return nil }
func (m *memSink) Cancel() error { m.cancelled = true; return nil }

// trackingReader is the io.ReadCloser handed to Restore; it records Close.
type trackingReader struct {
	*bytes.Reader
	closed bool
}

func (r *trackingReader) Close() error { r.closed = true; return nil }

func readCloser(b []byte) *trackingReader {
	return &trackingReader{Reader: bytes.NewReader(b)}
}

// persist takes a snapshot of ts and returns its serialised bytes.
func persist(t testing.TB, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	defer snap.Release()
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatalf("Persist: %v", err)
	}
	if !sink.closed || sink.cancelled {
		t.Fatalf("Persist left sink closed=%v cancelled=%v, want closed only", sink.closed, sink.cancelled)
	}
	return sink.Bytes()
}

// buildHistory applies a mixed history that leaves live keys with flags and
// empty values, tombstones under several prefixes and some no-op writes.
func buildHistory(ts *testStore) {
	ts.t.Helper()
	for _, req := range []KVRequest{
		setReq("app/a", "1"),
		setFlagsReq("app/b", "2", 42),
		setReq("app/c", ""),
		setReq("web/x", "x"),
		setReq("web/y", "y"),
		setReq("db/1", "d"),
		setReq("db/2", "d"),
		setReq("app/a", "1b"),
	} {
		ts.mustApply(req)
	}
	ts.mustApply(delReq("app/c"))       // tombstone under app/
	ts.mustApply(delTreeReq("web/"))    // tombstones under web/
	ts.mustApply(delReq("missing"))     // no-op
	ts.apply(casReq("db/1", "n", 0))    // failed cas
	ts.mustApply(setReq("zzz", "last")) // moves the table index
	ts.mustApply(delReq("db/2"))        // tombstone that is also the table index
}

// readState is everything a reader can observe, for comparing two stores.
type readState struct {
	KVIndex  uint64
	Lists    map[string][]KVEntry
	ListIdx  map[string]uint64
	Keys     map[string][]string
	KeysIdx  map[string]uint64
	Gets     map[string]*KVEntry
	GetIdx   map[string]uint64
	Snapshot []byte
}

var observedPrefixes = []string{"", "app/", "app/c", "web/", "web/x", "db/", "zzz", "nothing/"}
var observedKeys = []string{"app/a", "app/b", "app/c", "web/x", "db/1", "db/2", "zzz", "missing"}

func observe(ts *testStore) readState {
	ts.t.Helper()
	st := readState{
		KVIndex: ts.s.KVIndex(),
		Lists:   map[string][]KVEntry{}, ListIdx: map[string]uint64{},
		Keys: map[string][]string{}, KeysIdx: map[string]uint64{},
		Gets: map[string]*KVEntry{}, GetIdx: map[string]uint64{},
		Snapshot: persist(ts.t, ts.fsm),
	}
	for _, p := range observedPrefixes {
		st.Lists[p], st.ListIdx[p] = ts.list(p)
		ks, idx, err := ts.s.KVKeys(p, "/")
		if err != nil {
			ts.t.Fatalf("KVKeys(%q): %v", p, err)
		}
		st.Keys[p], st.KeysIdx[p] = ks, idx
	}
	for _, k := range observedKeys {
		st.Gets[k], st.GetIdx[k] = ts.get(k)
	}
	return st
}

func diffState(t *testing.T, what string, got, want readState) {
	t.Helper()
	if got.KVIndex != want.KVIndex {
		t.Errorf("%s: KVIndex = %d, want %d", what, got.KVIndex, want.KVIndex)
	}
	for _, p := range observedPrefixes {
		if !reflect.DeepEqual(got.Lists[p], want.Lists[p]) {
			t.Errorf("%s: KVList(%q) = %+v, want %+v", what, p, got.Lists[p], want.Lists[p])
		}
		if got.ListIdx[p] != want.ListIdx[p] {
			t.Errorf("%s: KVList(%q) index = %d, want %d", what, p, got.ListIdx[p], want.ListIdx[p])
		}
		if !reflect.DeepEqual(got.Keys[p], want.Keys[p]) || got.KeysIdx[p] != want.KeysIdx[p] {
			t.Errorf("%s: KVKeys(%q) = %q @%d, want %q @%d", what, p, got.Keys[p], got.KeysIdx[p], want.Keys[p], want.KeysIdx[p])
		}
	}
	for _, k := range observedKeys {
		if !reflect.DeepEqual(got.Gets[k], want.Gets[k]) || got.GetIdx[k] != want.GetIdx[k] {
			t.Errorf("%s: KVGet(%q) = %+v @%d, want %+v @%d", what, k, got.Gets[k], got.GetIdx[k], want.Gets[k], want.GetIdx[k])
		}
	}
	if !bytes.Equal(got.Snapshot, want.Snapshot) {
		t.Errorf("%s: re-snapshot bytes differ (%d vs %d bytes)", what, len(got.Snapshot), len(want.Snapshot))
	}
}

// ---------------------------------------------------------------------------
// Apply / ApplyBatch
// ---------------------------------------------------------------------------

func TestApplyBatchResults(t *testing.T) {
	ts := newTestStore(t)
	ts.mustApply(setReq("pre", "v")) // 1

	type expect struct {
		nilResult bool
		ok        bool
		err       string
	}
	entries := []struct {
		log  *raft.Log
		want expect
	}{
		{ts.next(setReq("a", "1")), expect{ok: true}},                                                // 2
		{ts.raw(raft.LogConfiguration, []byte("peers")), expect{nilResult: true}},                    // 3
		{ts.next(casReq("a", "2", 2)), expect{ok: true}},                                             // 4: sees the write at 2 in the same batch
		{ts.next(setReq("", "x")), expect{err: "Missing key name"}},                                  // 5
		{ts.raw(raft.LogNoop, nil), expect{nilResult: true}},                                         // 6
		{ts.next(casReq("a", "3", 2)), expect{ok: false}},                                            // 7: stale now
		{ts.next(delReq("nope")), expect{ok: true}},                                                  // 8: no-op
		{ts.raw(raft.LogCommand, []byte{byte(IgnoreUnknownTypeFlag | 42)}), expect{nilResult: true}}, // 9: unknown but ignorable
		{ts.next(setReq("b", "1")), expect{ok: true}},                                                // 10
		{ts.next(delCASReq("pre", 0)), expect{ok: false}},                                            // 11
		{ts.next(delTreeReq("none/")), expect{ok: true}},                                             // 12: no-op
		{ts.raw(raft.LogBarrier, nil), expect{nilResult: true}},                                      // 13
	}
	logs := make([]*raft.Log, len(entries))
	for i := range entries {
		logs[i] = entries[i].log
	}
	out := ts.fsm.ApplyBatch(logs)
	if len(out) != len(logs) {
		t.Fatalf("ApplyBatch returned %d results for %d logs", len(out), len(logs))
	}
	for i, e := range entries {
		if e.want.nilResult {
			if out[i] != nil {
				t.Errorf("result %d (index %d, %v) = %#v, want nil", i, e.log.Index, e.log.Type, out[i])
			}
			continue
		}
		r := asResult(t, out[i])
		if r.Ok != e.want.ok || (e.want.err == "") != (r.Err == "") || !strings.Contains(r.Err, e.want.err) {
			t.Errorf("result %d (index %d) = %+v, want %+v", i, e.log.Index, r, e.want)
		}
	}
	want := []KVEntry{ent("a", "2", 0, 2, 4), ent("b", "1", 0, 10, 10), ent("pre", "v", 0, 1, 1)}
	if got, _ := ts.list(""); !reflect.DeepEqual(got, want) {
		t.Errorf("table = %+v, want %+v", got, want)
	}
	// The table index is the last log that changed something, not the last
	// log of the batch.
	if idx := ts.s.KVIndex(); idx != 10 {
		t.Errorf("KVIndex = %d, want 10", idx)
	}
}

func TestApplyBatchEmpty(t *testing.T) {
	ts := newTestStore(t)
	if out := ts.fsm.ApplyBatch(nil); len(out) != 0 {
		t.Fatalf("ApplyBatch(nil) = %v", out)
	}
	if out := ts.fsm.ApplyBatch([]*raft.Log{}); len(out) != 0 {
		t.Fatalf("ApplyBatch(empty) = %v", out)
	}
	if idx := ts.s.KVIndex(); idx != 0 {
		t.Fatalf("KVIndex = %d", idx)
	}
}

// TestApplyBatchEquivalence checks that the way raft happens to batch
// entries cannot change the resulting state or results: every server must
// reach the same state whatever its batch boundaries.
func TestApplyBatchEquivalence(t *testing.T) {
	reqs := []KVRequest{
		setReq("a/1", "x"), setFlagsReq("a/2", "y", 3), casReq("a/1", "z", 1), casReq("a/1", "w", 1),
		delReq("a/2"), delCASReq("a/1", 0), setReq("b", ""), casReq("c", "new", 0),
		delTreeReq("a/"), setReq("a/3", "again"), {Op: "bogus", Entry: KVEntry{Key: "q"}},
		delCASReq("c", 8), setReq("", "bad"), delTreeReq(""), setReq("final", "f"),
	}
	reference := newTestStore(t)
	var refResults []ApplyResult
	for _, r := range reqs {
		res, _ := reference.apply(r)
		refResults = append(refResults, res)
	}
	refState := persist(t, reference.fsm)
	refIndex := reference.s.KVIndex()

	for _, size := range []int{1, 2, 3, 4, 7, len(reqs)} {
		t.Run(fmt.Sprintf("batch=%d", size), func(t *testing.T) {
			ts := newTestStore(t)
			var results []ApplyResult
			for start := 0; start < len(reqs); start += size {
				var logs []*raft.Log
				for _, r := range reqs[start:min(start+size, len(reqs))] {
					logs = append(logs, ts.next(r))
				}
				for _, o := range ts.fsm.ApplyBatch(logs) {
					results = append(results, asResult(t, o))
				}
			}
			if !reflect.DeepEqual(results, refResults) {
				t.Errorf("results differ:\n got  %+v\n want %+v", results, refResults)
			}
			if !bytes.Equal(persist(t, ts.fsm), refState) {
				t.Errorf("state differs from one-at-a-time application")
			}
			if idx := ts.s.KVIndex(); idx != refIndex {
				t.Errorf("KVIndex = %d, want %d", idx, refIndex)
			}
		})
	}
}

func TestEncodeCommand(t *testing.T) {
	kvs := []KVRequest{
		{Op: KVCAS, Entry: KVEntry{Key: "k", Value: []byte{0, 1, 0xff}, Flags: 9, ModifyIndex: 3}},
		{Op: KVSet, Entry: KVEntry{Key: "empty", Value: []byte{}}},
		{Op: KVDelete, Entry: KVEntry{Key: "nil"}},
		{Op: KVLock, Entry: KVEntry{Key: "l", Value: []byte("v"), Session: "5f8a-…", LockIndex: 1 << 40, CreateIndex: 7}},
	}
	for _, req := range kvs {
		b, err := EncodeCommand(KVCommand, &req)
		if err != nil {
			t.Fatal(err)
		}
		if CommandType(b[0]) != KVBinaryCommand {
			t.Fatalf("type byte %d", b[0])
		}
		var got KVRequest
		if err := got.decodeBinary(b[1:]); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, req) {
			t.Fatalf("decoded %+v, want %+v", got, req)
		}
		for cut := 1; cut < len(b); cut++ {
			var short KVRequest
			if short.decodeBinary(b[1:cut]) == nil {
				t.Fatalf("%+v cut to %d bytes decodes", req, cut)
			}
		}
	}
	txn := TxnRequest{Ops: kvs}
	b, err := EncodeCommand(TxnCommand, txn)
	if err != nil {
		t.Fatal(err)
	}
	if CommandType(b[0]) != TxnBinaryCommand {
		t.Fatalf("txn type byte %d", b[0])
	}
	var got TxnRequest
	if err := got.decodeBinary(b[1:]); err != nil || !reflect.DeepEqual(got, txn) {
		t.Fatalf("txn decoded %+v (%v), want %+v", got, err, txn)
	}
	// Other commands stay JSON.
	b, err = EncodeCommand(TombstoneReapCommand, &TombstoneReapRequest{Index: 4})
	if err != nil || b[1] != '{' {
		t.Fatalf("tombstone reap: %q %v", b, err)
	}
	if _, err := EncodeCommand(SessionCommand, make(chan int)); err == nil {
		t.Fatal("EncodeCommand of an unencodable body succeeded")
	}
}

// TestOldJSONEntriesStillApply: a log written before the binary encoding
// (KV and txn entries in JSON) applies as before, next to binary entries;
// a damaged binary entry is a rejected command, not a crash.
func TestOldJSONEntriesStillApply(t *testing.T) {
	s, _ := New()
	fsm := s.FSM()
	jsonEntry := func(typ CommandType, body any) []byte {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte{byte(typ)}, b...)
	}
	bin, _ := EncodeCommand(KVCommand, &KVRequest{Op: KVSet, Entry: KVEntry{Key: "new", Value: []byte("b")}})
	logs := []*raft.Log{
		{Index: 1, Type: raft.LogCommand, Data: jsonEntry(KVCommand, &KVRequest{Op: KVSet, Entry: KVEntry{Key: "old", Value: []byte("j")}})},
		{Index: 2, Type: raft.LogCommand, Data: jsonEntry(TxnCommand, &TxnRequest{Ops: []KVRequest{{Op: KVSet, Entry: KVEntry{Key: "oldtxn", Value: []byte("t")}}}})},
		{Index: 3, Type: raft.LogCommand, Data: bin},
		{Index: 4, Type: raft.LogCommand, Data: bin[:len(bin)-3]},
	}
	out := fsm.ApplyBatch(logs)
	for i, want := range []string{"j", "t", "b"} {
		key := []string{"old", "oldtxn", "new"}[i]
		e, _, err := s.KVGet(key)
		if err != nil || e == nil || string(e.Value) != want {
			t.Fatalf("%s: %+v %v (apply result %+v)", key, e, err, out[i])
		}
	}
	if res, _ := out[3].(ApplyResult); !strings.Contains(res.Err, "truncated binary command") {
		t.Fatalf("damaged entry: %+v", out[3])
	}
}

// ---------------------------------------------------------------------------
// Snapshot / Restore
// ---------------------------------------------------------------------------

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	src := newTestStore(t)
	buildHistory(src)
	want := observe(src)

	// Sanity-check the history really exercises tombstone indexes.
	if want.ListIdx["web/"] == 0 || len(want.Lists["web/"]) != 0 {
		t.Fatalf("history should leave web/ with tombstones only, got %+v @%d", want.Lists["web/"], want.ListIdx["web/"])
	}
	if want.ListIdx["app/"] <= maxModify(want.Lists["app/"]) {
		t.Fatalf("history should leave app/ index driven by a tombstone")
	}

	data := persist(t, src.fsm)
	if !bytes.HasPrefix(data, []byte(snapshotMagic)) {
		t.Fatalf("snapshot does not start with the magic")
	}

	dst := newTestStore(t)
	rc := readCloser(data)
	if err := dst.fsm.Restore(rc); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if !rc.closed {
		t.Error("Restore did not close its reader")
	}
	diffState(t, "restored", observe(dst), want)

	// Both stores continue identically from the same next log.
	dst.idx = src.idx
	for _, req := range []KVRequest{setReq("app/new", "n"), delReq("app/a"), casReq("db/1", "m", 6)} {
		r1, _ := src.apply(req)
		r2, _ := dst.apply(req)
		if r1 != r2 {
			t.Errorf("apply %+v: source %+v, restored %+v", req, r1, r2)
		}
	}
	diffState(t, "after further writes", observe(dst), observe(src))
}

func maxModify(es []KVEntry) uint64 {
	var m uint64
	for _, e := range es {
		m = max(m, e.ModifyIndex)
	}
	return m
}

func TestRestoreReplacesStateAndWakesWatchers(t *testing.T) {
	src := newTestStore(t)
	src.mustApply(setReq("only", "src"))
	data := persist(t, src.fsm)

	dst := newTestStore(t)
	for i := range 5 {
		dst.mustApply(setReq(fmt.Sprintf("old/%d", i), "v"))
	}
	dst.mustApply(delReq("old/0"))
	w := dst.s.Watches()
	k, stopK := w.WatchKey("unrelated")
	defer stopK()
	p, stopP := w.WatchPrefix("nothing/")
	defer stopP()

	if err := dst.fsm.Restore(readCloser(data)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	got, idx := dst.list("")
	if want := []KVEntry{ent("only", "src", 0, 1, 1)}; !reflect.DeepEqual(got, want) || idx != 1 {
		t.Fatalf("after restore: %+v @%d, want %+v @1", got, idx, want)
	}
	if _, idx := dst.list("old/"); idx != 0 {
		t.Errorf("old tombstones survived the restore: old/ index %d", idx)
	}
	if !isClosed(k) || !isClosed(p) {
		t.Error("Restore did not wake every watcher")
	}
}

func TestRestoreEmptySnapshot(t *testing.T) {
	empty := persist(t, newTestStore(t).fsm)
	if string(empty) != snapshotMagic {
		t.Fatalf("empty snapshot = %q, want just the magic", empty)
	}
	dst := newTestStore(t)
	buildHistory(dst)
	if err := dst.fsm.Restore(readCloser(empty)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if es, idx := dst.list(""); len(es) != 0 || idx != 0 || dst.s.KVIndex() != 0 {
		t.Fatalf("after restoring empty: %d entries @%d, KVIndex %d", len(es), idx, dst.s.KVIndex())
	}
	if _, idx := dst.list("web/"); idx != 0 {
		t.Fatalf("tombstones survived: web/ index %d", idx)
	}
}

func TestSnapshotIsPointInTime(t *testing.T) {
	src := newTestStore(t)
	src.mustApply(setReq("a", "1"))
	src.mustApply(setReq("b", "1"))
	want := persist(t, src.fsm)

	snap, err := src.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	// Writes after Snapshot but before Persist, as raft allows.
	src.mustApply(setReq("a", "2"))
	src.mustApply(delReq("b"))
	src.mustApply(setReq("c", "3"))
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sink.Bytes(), want) {
		t.Fatal("snapshot content changed after later writes")
	}
}

func TestPersistFailingSink(t *testing.T) {
	ts := newTestStore(t)
	buildHistory(ts)
	snap, err := ts.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	sink := &memSink{failWrite: true}
	if err := snap.Persist(sink); err == nil {
		t.Fatal("Persist into a failing sink returned nil")
	}
	if !sink.cancelled || sink.closed {
		t.Fatalf("sink cancelled=%v closed=%v, want cancelled only", sink.cancelled, sink.closed)
	}
}

func TestRestoreGarbage(t *testing.T) {
	valid := func() []byte {
		ts := newTestStore(t)
		buildHistory(ts)
		return persist(t, ts.fsm)
	}()
	magic := []byte(snapshotMagic)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	uv := func(vs ...uint64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.AppendUvarint(b, v)
		}
		return b
	}

	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"text", []byte("this is not a snapshot at all")},
		{"binary noise", []byte{0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
		{"magic cut short", magic[:len(magic)-1]},
		{"other version magic", []byte("consulx-fsm-v2\nrest")},
		{"magic without newline", cat([]byte("consulx-fsm-v1 "), uv(1, 1), []byte("kv"))},
		{"foreign snapshot (raft JSON)", []byte(`{"Version":1,"ID":"2-10-123"}`)},
		{"truncated key length", cat(magic, []byte{0x80})},
		{"missing value length", cat(magic, uv(3))},
		{"truncated value length", cat(magic, uv(3), []byte{0xff})},
		{"overflowing length varint", cat(magic, bytes.Repeat([]byte{0xff}, 11))},
		{"truncated record body", cat(magic, uv(3, 3), []byte("ab"))},
		{"good record then truncated", cat(magic, uv(2, 1), []byte("k:v"), uv(5, 5), []byte("k:"))},
		{"valid snapshot missing last byte", valid[:len(valid)-1]},
		{"valid snapshot with trailing junk", cat(valid, []byte{0x80})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestStore(t)
			buildHistory(ts)
			before := observe(ts)
			ch, stop := ts.s.Watches().WatchPrefix("")
			defer stop()

			rc := readCloser(tc.data)
			if err := ts.fsm.Restore(rc); err == nil {
				t.Fatal("Restore of garbage returned nil error")
			}
			if !rc.closed {
				t.Error("Restore did not close its reader on error")
			}
			diffState(t, "after failed restore", observe(ts), before)
			if isClosed(ch) {
				t.Error("a failed restore woke watchers")
			}
			// The store still accepts writes.
			ts.mustApply(setReq("after", "v"))
		})
	}
}

// TestRestoreHugeLengths feeds record headers whose lengths cannot be real.
// Restore must refuse them with an error, not panic.
func TestRestoreHugeLengths(t *testing.T) {
	magic := []byte(snapshotMagic)
	tests := []struct {
		name   string
		kl, vl uint64
	}{
		// kl+vl wraps to 0, so buf is empty and buf[:kl] is out of range.
		{"lengths overflow to zero", 1 << 63, 1 << 63},
		// Beyond what makeslice accepts at all.
		{"length beyond address space", 1 << 62, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestStore(t)
			ts.mustApply(setReq("keep", "v"))
			before := persist(t, ts.fsm)
			data := binary.AppendUvarint(append([]byte{}, magic...), tc.kl)
			data = binary.AppendUvarint(data, tc.vl)
			data = append(data, "some bytes"...)

			var err error
			panicked := func() (p any) {
				defer func() { p = recover() }()
				err = ts.fsm.Restore(readCloser(data))
				return nil
			}()
			if panicked != nil {
				t.Fatalf("Restore panicked on a corrupt header (kl=%d vl=%d): %v", tc.kl, tc.vl, panicked)
			}
			if err == nil {
				t.Fatal("Restore accepted an impossible record length")
			}
			if after := persist(t, ts.fsm); !bytes.Equal(after, before) {
				t.Fatal("failed restore changed the state")
			}
		})
	}
}

// TestCorruptEntryIsReported restores a structurally valid snapshot whose
// KV value is not a valid entry: reads must report an error, not panic or
// invent data, and a write over it is rejected rather than guessed.
func TestCorruptEntryIsReported(t *testing.T) {
	var buf bytes.Buffer
	if err := writeItems(&buf, [][2]string{
		{kvPrefix + "bad", "\x80"},
		{kvPrefix + "good", (&KVEntry{ModifyIndex: 2, CreateIndex: 2, Value: []byte("v")}).encode()},
		{kvIndexKey, "2"},
	}); err != nil {
		t.Fatal(err)
	}
	ts := newTestStore(t)
	if err := ts.fsm.Restore(readCloser(buf.Bytes())); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	ts.idx = 2
	if _, _, err := ts.s.KVGet("bad"); err == nil {
		t.Error("KVGet of a corrupt entry returned no error")
	}
	if _, _, err := ts.s.KVList(""); err == nil {
		t.Error("KVList over a corrupt entry returned no error")
	}
	if _, _, err := ts.s.KVKeys("", "/"); err == nil {
		t.Error("KVKeys over a corrupt entry returned no error")
	}
	if e, idx := ts.get("good"); e == nil || string(e.Value) != "v" || idx != 2 {
		t.Errorf("good entry = %+v @%d", e, idx)
	}
	if r, _ := ts.apply(setReq("bad", "x")); r.Err == "" || r.Ok {
		t.Errorf("set over a corrupt entry = %+v, want an Err", r)
	}
}

// ---------------------------------------------------------------------------
// Concurrency (meaningful under -race)
// ---------------------------------------------------------------------------

func TestConcurrentReadsDuringApply(t *testing.T) {
	ts := newTestStore(t)
	const writes = 300
	var wg sync.WaitGroup
	stopReaders := make(chan struct{})
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stopReaders:
					return
				default:
				}
				switch r {
				case 0:
					if e, idx, err := ts.s.KVGet("k/1"); err != nil || (e != nil && idx != e.ModifyIndex) {
						t.Errorf("KVGet: %+v @%d, %v", e, idx, err)
						return
					}
				case 1:
					es, idx, err := ts.s.KVList("k/")
					if err != nil || idx < maxModify(es) {
						t.Errorf("KVList: index %d below entries' %d, %v", idx, maxModify(es), err)
						return
					}
				case 2:
					if _, _, err := ts.s.KVKeys("", "/"); err != nil {
						t.Errorf("KVKeys: %v", err)
						return
					}
				case 3:
					snap, err := ts.fsm.Snapshot()
					if err != nil {
						t.Errorf("Snapshot: %v", err)
						return
					}
					if err := snap.Persist(&memSink{}); err != nil {
						t.Errorf("Persist: %v", err)
					}
					snap.Release()
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			ch, stop := ts.s.Watches().WatchPrefix("k/")
			select {
			case <-ch:
			case <-stopReaders:
				stop()
				return
			}
			stop()
		}
	}()

	var last uint64
	for i := range writes {
		var logs []*raft.Log
		for j := range 3 {
			key := fmt.Sprintf("k/%d", (i*3+j)%17)
			if j == 2 {
				logs = append(logs, ts.next(delReq(key)))
			} else {
				logs = append(logs, ts.next(setReq(key, "v")))
			}
		}
		for _, o := range ts.fsm.ApplyBatch(logs) {
			if r := asResult(t, o); !r.Ok {
				t.Fatalf("apply: %+v", r)
			}
		}
		idx := ts.s.KVIndex()
		if idx < last {
			t.Fatalf("KVIndex went backwards: %d after %d", idx, last)
		}
		last = idx
	}
	// A restore racing readers must be safe too.
	snapData := persist(t, ts.fsm)
	if err := ts.fsm.Restore(readCloser(snapData)); err != nil {
		t.Fatal(err)
	}
	close(stopReaders)
	wg.Wait()
	if !bytes.Equal(persist(t, ts.fsm), snapData) {
		t.Fatal("state after self-restore differs")
	}
}

// ---------------------------------------------------------------------------
// Benchmark
// ---------------------------------------------------------------------------

// BenchmarkApplyBatch applies batches of 64 sets of 128-byte values, as
// raft hands them to a BatchingFSM. Commands are encoded up front: encoding
// happens on the leader's write path, not in the FSM.
func BenchmarkApplyBatch(b *testing.B) {
	const (
		batchSize = 64
		valueSize = 128
		keySpace  = 1 << 14 // bounded so the table stops growing
	)
	s, err := New()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	fsm := s.FSM()

	value := bytes.Repeat([]byte("v"), valueSize)
	payloads := make([][]byte, keySpace)
	for i := range payloads {
		req := KVRequest{Op: KVSet, Entry: KVEntry{Key: fmt.Sprintf("bench/key/%05d", i), Value: value}}
		if payloads[i], err = EncodeCommand(KVCommand, &req); err != nil {
			b.Fatal(err)
		}
	}
	logs := make([]*raft.Log, batchSize)
	for i := range logs {
		logs[i] = &raft.Log{Type: raft.LogCommand, Term: 1}
	}

	var index, batches uint64
	b.SetBytes(batchSize * valueSize)
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range logs {
			index++
			l.Index = index
			l.Data = payloads[index%keySpace]
		}
		out := fsm.ApplyBatch(logs)
		if r, ok := out[batchSize-1].(ApplyResult); !ok || !r.Ok {
			b.Fatalf("apply failed: %#v", out[batchSize-1])
		}
		batches++
	}
	b.StopTimer()
	if batches > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(batches*batchSize), "ns/entry")
	}
}

// BenchmarkEncodeDecodeKVCommand measures one KV write's trip through the
// Raft log's encoding: EncodeCommand on the leader, the FSM's decode on
// every server (go test -run x -bench EncodeDecode ./store).
func BenchmarkEncodeDecodeKVCommand(b *testing.B) {
	req := KVRequest{Op: KVSet, Entry: KVEntry{Key: "bench/key-000123", Value: make([]byte, 128), Flags: 42}}
	b.ReportAllocs()
	for b.Loop() {
		data, err := EncodeCommand(KVCommand, &req)
		if err != nil {
			b.Fatal(err)
		}
		var out KVRequest
		if err := out.decodeBinary(data[1:]); err != nil || out.Entry.Key != req.Entry.Key {
			b.Fatal(err)
		}
	}
}
