package store

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/hashicorp/raft"
	"github.com/tidwall/buntdb"
)

// FSM adapts Store to hashicorp/raft. It implements raft.BatchingFSM so a
// batch of committed entries is applied in one buntdb transaction.
type FSM struct{ s *Store }

// FSM returns the raft state machine backed by this store.
func (s *Store) FSM() *FSM { return &FSM{s: s} }

var _ raft.BatchingFSM = (*FSM)(nil)

// Apply applies one committed entry.
func (f *FSM) Apply(l *raft.Log) interface{} {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies committed entries in order, in one transaction.
func (f *FSM) ApplyBatch(logs []*raft.Log) []interface{} {
	// Consul's rule: a newer version marks a command older servers may
	// skip with the high bit; any other unknown command stops this server,
	// because applying everything but that entry would let its state
	// diverge silently. Checked before any lock is taken or anything is
	// applied, so the panic leaves the store as it was.
	for _, l := range logs {
		if l.Type != raft.LogCommand || len(l.Data) == 0 {
			continue
		}
		if t := CommandType(l.Data[0]); commandTable[t].apply == nil && t&IgnoreUnknownTypeFlag == 0 {
			panic(&UnknownCommandError{Type: t, Index: l.Index})
		}
	}
	out := make([]interface{}, len(logs))
	s := f.s
	w := &wtx{}
	var services []string // whose instances or checks changed
	s.mu.RLock()
	err := s.db.Update(func(tx *buntdb.Tx) error {
		w.tx = tx
		var maxKV, maxSess, maxCat uint64
		for i, l := range logs {
			if l.Type != raft.LogCommand || len(l.Data) == 0 {
				continue
			}
			if commandTable[CommandType(l.Data[0])].apply == nil {
				continue // unknown but ignorable: checked above
			}
			nTouched, sessBefore, catBefore := len(w.touched), w.sessionsChanged, w.catalogChanged
			w.sessionsChanged, w.catalogChanged = false, false
			out[i] = s.applyCommand(w, l)
			if w.catalogChanged {
				maxCat = l.Index
			}
			w.catalogChanged = w.catalogChanged || catBefore
			if len(w.touched) > nTouched {
				maxKV = l.Index
			}
			if w.sessionsChanged {
				maxSess = l.Index
			}
			w.sessionsChanged = w.sessionsChanged || sessBefore
			// The undo log only serves rollbacks inside one command.
			w.undo = w.undo[:0]
		}
		if maxKV > 0 {
			if _, _, err := tx.Set(kvIndexKey, strconv.FormatUint(maxKV, 10), nil); err != nil {
				return err
			}
		}
		if maxCat > 0 {
			if _, _, err := tx.Set(catalogIndexKey, strconv.FormatUint(maxCat, 10), nil); err != nil {
				return err
			}
		}
		if len(w.catalogNodes) > 0 {
			// Inside the write transaction, so readers of the mirror never
			// see it behind a committed catalog index for long.
			services = s.catalog.refreshNodes(tx, w.catalogNodes, getUint(tx, catalogIndexKey))
		}
		if maxSess > 0 {
			if _, _, err := tx.Set(sessionIndexKey, strconv.FormatUint(maxSess, 10), nil); err != nil {
				return err
			}
		}
		return nil
	})
	s.mu.RUnlock()
	if err != nil {
		// A failing in-memory transaction means the state is unusable; every
		// entry of the batch reports it rather than pretending success.
		for i := range out {
			out[i] = ApplyResult{Err: fmt.Sprintf("apply: %v", err)}
		}
		return out
	}
	s.watches.notify(w.touched)
	if w.sessionsChanged {
		s.watches.notifySessions()
	}
	if w.catalogChanged {
		s.watches.notifyCatalog()
	}
	if w.aclChanged {
		s.watches.notifyACL()
	}
	s.watches.notifyServices(services)
	// Last: a reader that sees the new generation must also find every
	// cache keyed by the ACL watch (the token resolver's) already dropped,
	// or it could store an answer filtered with an old identity under the
	// new generation.
	if w.catalogChanged || w.aclChanged {
		s.answersGen.Add(1)
	}
	return out
}

// applyCommand applies one entry. A rejected command must leave no trace,
// so any partial change it made is rolled back here.
func (s *Store) applyCommand(w *wtx, l *raft.Log) ApplyResult {
	u, t, sc := w.mark()
	res := s.decodeAndApply(w, l)
	if res.Err != "" {
		w.rollback(u, t, sc)
		w.catalogChanged = false
	}
	return res
}

func (s *Store) decodeAndApply(w *wtx, l *raft.Log) ApplyResult {
	// ApplyBatch has checked the type is known.
	return commandTable[CommandType(l.Data[0])].apply(s, w, l.Index, l.Data[1:])
}

// commandHandler decodes one command type's body and applies it.
type commandHandler struct {
	name  string
	apply func(s *Store, w *wtx, index uint64, body []byte) ApplyResult
}

// decoded makes the handler of a command whose body is the JSON of a T.
// A body that does not decode is a rejected command, never a partial one.
// binaryDecoded is decoded for the binary bodies of codec.go.
func binaryDecoded[T any, PT interface {
	*T
	binaryDecodable
}](name string, fn func(s *Store, w *wtx, index uint64, req *T) ApplyResult) commandHandler {
	return commandHandler{name: name, apply: func(s *Store, w *wtx, index uint64, body []byte) ApplyResult {
		var req T
		if err := PT(&req).decodeBinary(body); err != nil {
			return ApplyResult{Err: fmt.Sprintf("decode %s command: %v", name, err)}
		}
		return fn(s, w, index, &req)
	}}
}

func decoded[T any](name string, fn func(s *Store, w *wtx, index uint64, req *T) ApplyResult) commandHandler {
	return commandHandler{name: name, apply: func(s *Store, w *wtx, index uint64, body []byte) ApplyResult {
		var req T
		if err := json.Unmarshal(body, &req); err != nil {
			return ApplyResult{Err: fmt.Sprintf("decode %s command: %v", name, err)}
		}
		return fn(s, w, index, &req)
	}}
}

// result turns an apply error into a rejected command's result.
func result(ok bool, err error) ApplyResult {
	if err != nil {
		return ApplyResult{Err: err.Error()}
	}
	return ApplyResult{Ok: ok}
}

// commandTable is every command type this version applies: adding a
// command is one entry here (and its CommandType constant).
var commandTable = map[CommandType]commandHandler{
	KVCommand:       decoded("KV", applyKVCommand),
	KVBinaryCommand: binaryDecoded("KV", applyKVCommand),
	SessionCommand: decoded("session", func(s *Store, w *wtx, index uint64, req *SessionRequest) ApplyResult {
		return result(s.applySession(w, index, req))
	}),
	RegisterCommand: decoded("register", func(_ *Store, w *wtx, index uint64, req *RegisterRequest) ApplyResult {
		return result(true, applyRegister(w, index, req))
	}),
	DeregisterCommand: decoded("deregister", func(_ *Store, w *wtx, _ uint64, req *DeregisterRequest) ApplyResult {
		return result(true, applyDeregister(w, req))
	}),
	TombstoneReapCommand: decoded("reap", func(_ *Store, w *wtx, _ uint64, req *TombstoneReapRequest) ApplyResult {
		return result(true, reapTombstones(w, req.Index))
	}),
	ACLCommand: decoded("acl", func(s *Store, w *wtx, index uint64, req *ACLRequest) ApplyResult {
		return result(true, s.applyACL(w, index, req))
	}),
	TxnCommand:       decoded("txn", applyTxnCommand),
	TxnBinaryCommand: binaryDecoded("txn", applyTxnCommand),
}

func applyKVCommand(_ *Store, w *wtx, index uint64, req *KVRequest) ApplyResult {
	if req.Op.IsRead() {
		return ApplyResult{Err: fmt.Sprintf("%s is only valid in a transaction", req.Op)}
	}
	ok, _, err := applyKV(w, index, req)
	return result(ok, err)
}

func applyTxnCommand(_ *Store, w *wtx, index uint64, req *TxnRequest) ApplyResult {
	res := applyTxn(w, index, req)
	return ApplyResult{Ok: len(res.Errors) == 0, Txn: res}
}

// UnknownCommandError is the panic value of a server that meets a command
// type it does not know and may not skip (see IgnoreUnknownTypeFlag).
type UnknownCommandError struct {
	Type  CommandType
	Index uint64
}

func (e *UnknownCommandError) Error() string {
	return fmt.Sprintf("consulx: Raft log entry %d has command type %d, which this server does not know; "+
		"a newer consulx wrote it: upgrade this server (skipping the entry would make its state diverge from the others')", e.Index, e.Type)
}

// ReadTxn runs a read-only transaction against the current state without
// going through Raft; nothing it does is kept.
func (s *Store) ReadTxn(req *TxnRequest) (*TxnResult, uint64, error) {
	var res *TxnResult
	var idx uint64
	s.mu.RLock()
	defer s.mu.RUnlock()
	errRollback := fmt.Errorf("rollback")
	err := s.db.Update(func(tx *buntdb.Tx) error {
		idx = getUint(tx, kvIndexKey)
		res = applyTxn(&wtx{tx: tx}, idx, req)
		return errRollback
	})
	if err != errRollback {
		return nil, 0, err
	}
	return res, idx, nil
}

// maxRecord bounds one key or value in a snapshot; Raft entries are far
// smaller, so anything larger is corruption.
const maxRecord = 64 << 20

// snapshotMagic starts every FSM snapshot so a foreign file is refused.
const snapshotMagic = "consulx-fsm-v1\n"

type fsmSnapshot struct{ items [][2]string }

// Snapshot captures the state. buntdb strings are immutable, so copying the
// string headers is a consistent point-in-time copy that costs no value
// copies; Persist then writes it while Apply continues.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	snap := &fsmSnapshot{}
	err := f.s.view(func(tx *buntdb.Tx) error {
		return tx.Ascend("", func(k, v string) bool {
			snap.items = append(snap.items, [2]string{k, v})
			return true
		})
	})
	return snap, err
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := writeItems(sink, s.items); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}

func writeItems(w io.Writer, items [][2]string) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := bw.WriteString(snapshotMagic); err != nil {
		return err
	}
	var hdr [2 * binary.MaxVarintLen64]byte
	for _, it := range items {
		n := binary.PutUvarint(hdr[:], uint64(len(it[0])))
		n += binary.PutUvarint(hdr[n:], uint64(len(it[1])))
		if _, err := bw.Write(hdr[:n]); err != nil {
			return err
		}
		if _, err := bw.WriteString(it[0]); err != nil {
			return err
		}
		if _, err := bw.WriteString(it[1]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Restore replaces the whole state with a snapshot and wakes every watcher.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	db, err := openMemDB()
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(rc, 1<<16)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != snapshotMagic {
		db.Close()
		return errors.New("restore: not a consulx state snapshot")
	}
	err = db.Update(func(tx *buntdb.Tx) error {
		for {
			kl, err := binary.ReadUvarint(br)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			vl, err := binary.ReadUvarint(br)
			if err != nil {
				return err
			}
			// Lengths come from a file: bound them before allocating, so a
			// corrupt snapshot is an error, not a crash.
			if kl > maxRecord || vl > maxRecord {
				return fmt.Errorf("record length %d/%d exceeds %d bytes: corrupt snapshot", kl, vl, maxRecord)
			}
			buf := make([]byte, kl+vl)
			if _, err := io.ReadFull(br, buf); err != nil {
				return err
			}
			if _, _, err := tx.Set(string(buf[:kl]), string(buf[kl:]), nil); err != nil {
				return err
			}
		}
	})
	if err != nil {
		db.Close()
		return fmt.Errorf("restore: %w", err)
	}
	mirror := newCatalogMirror()
	_ = db.View(func(tx *buntdb.Tx) error {
		mirror.rebuild(tx, getUint(tx, catalogIndexKey))
		return nil
	})
	f.s.mu.Lock()
	old := f.s.db
	f.s.db = db
	f.s.catalog = mirror
	f.s.mu.Unlock()
	old.Close()
	f.s.restores.Add(1)
	f.s.watches.notifyAll()
	f.s.answersGen.Add(1) // after the watches, as in ApplyBatch
	return nil
}
