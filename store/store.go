package store

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/buntdb"
)

// Key spaces inside buntdb. Keeping them as prefixes of one ordered keyspace
// lets prefix scans be plain ordered iterations.
const (
	kvPrefix   = "k:" // live KV entries
	tombPrefix = "t:" // tombstones: deleted key -> index of the delete
	kvIndexKey = "m:kvs"
	// lockPrefix indexes held locks: l:<session>\x00<key>, so invalidating
	// a session touches only its keys.
	lockPrefix = "l:"
)

// Store holds the FSM state. Reads may run concurrently with Apply.
type Store struct {
	// mu guards the db pointer, which Restore swaps wholesale.
	mu sync.RWMutex
	db *buntdb.DB
	// watches wakes blocking readers of the keys each commit touched.
	watches *Watches

	delayMu   sync.Mutex
	lockDelay map[string]time.Time
	// restores counts snapshot restores: blocking queries return when it
	// moves, since indexes may then go backwards.
	restores atomic.Uint64
	// catalog mirrors the catalog tables in memory for fast reads.
	catalog *catalogMirror
	// answersGen moves after every commit that changed the catalog or
	// the ACL tables, and on a restore: caches of answers derived from
	// them (DNS) compare it instead of asking the store.
	answersGen atomic.Uint64
}

// AnswersGeneration changes after every commit that changed the catalog
// (nodes, services, checks) or the ACL tables, and after a restore.
func (s *Store) AnswersGeneration() uint64 { return s.answersGen.Load() }

// RestoreEpoch changes whenever a snapshot is restored.
func (s *Store) RestoreEpoch() uint64 { return s.restores.Load() }

// New returns an empty in-memory store.
func New() (*Store, error) {
	db, err := openMemDB()
	if err != nil {
		return nil, err
	}
	return &Store{db: db, watches: NewWatches(), catalog: newCatalogMirror()}, nil
}

func openMemDB() (*buntdb.DB, error) {
	db, err := buntdb.Open(":memory:")
	if err != nil {
		return nil, fmt.Errorf("open state db: %w", err)
	}
	// The state is rebuilt from Raft; buntdb's own persistence is unused.
	if err := db.SetConfig(buntdb.Config{SyncPolicy: buntdb.Never, AutoShrinkDisabled: true}); err != nil {
		return nil, fmt.Errorf("configure state db: %w", err)
	}
	return db, nil
}

// Close releases the database.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Close()
}

// Watches exposes the store's change notifications for blocking queries.
func (s *Store) Watches() *Watches { return s.watches }

func (s *Store) view(fn func(tx *buntdb.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.View(fn)
}

func getUint(tx *buntdb.Tx, key string) uint64 {
	v, err := tx.Get(key)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(v, 10, 64)
	return n
}

// KVIndex is the highest index at which the KV table changed.
func (s *Store) KVIndex() uint64 {
	var idx uint64
	_ = s.view(func(tx *buntdb.Tx) error { idx = getUint(tx, kvIndexKey); return nil })
	return idx
}

// KVGet returns the entry for key (nil when absent) and the index a reader
// should report: the entry's ModifyIndex, or the table index when missing.
func (s *Store) KVGet(key string) (*KVEntry, uint64, error) {
	var out *KVEntry
	var idx uint64
	err := s.view(func(tx *buntdb.Tx) error {
		v, err := tx.Get(kvPrefix + key)
		if err == buntdb.ErrNotFound {
			idx = getUint(tx, kvIndexKey)
			return nil
		}
		if err != nil {
			return err
		}
		e, err := decodeEntry(key, v)
		if err != nil {
			return err
		}
		out, idx = &e, e.ModifyIndex
		return nil
	})
	return out, idx, err
}

// ascendPrefix calls fn for each buntdb key under space+prefix, in order.
func ascendPrefix(tx *buntdb.Tx, space, prefix string, fn func(key, val string) bool) error {
	start := space + prefix
	return tx.AscendGreaterOrEqual("", start, func(k, v string) bool {
		if !strings.HasPrefix(k, start) {
			return false
		}
		return fn(k[len(space):], v)
	})
}

// prefixIndex is the index a listing of prefix reports: the highest
// ModifyIndex among live entries or tombstones under it, so deletes still
// move it forward. The empty prefix reports the table index.
func prefixIndex(tx *buntdb.Tx, prefix string, live uint64) uint64 {
	if prefix == "" {
		return getUint(tx, kvIndexKey)
	}
	idx := live
	_ = ascendPrefix(tx, tombPrefix, prefix, func(_, v string) bool {
		if n, _ := strconv.ParseUint(v, 10, 64); n > idx {
			idx = n
		}
		return true
	})
	return idx
}

// scanPrefix decodes every entry under prefix in key order and returns
// the listing's index (see prefixIndex).
func (s *Store) scanPrefix(prefix string, fn func(e KVEntry)) (uint64, error) {
	var idx uint64
	err := s.view(func(tx *buntdb.Tx) error {
		var maxIdx uint64
		var derr error
		err := ascendPrefix(tx, kvPrefix, prefix, func(k, v string) bool {
			e, err := decodeEntry(k, v)
			if err != nil {
				derr = err
				return false
			}
			maxIdx = max(maxIdx, e.ModifyIndex)
			fn(e)
			return true
		})
		if err == nil {
			err = derr
		}
		idx = prefixIndex(tx, prefix, maxIdx)
		return err
	})
	return idx, err
}

// KVList returns every entry whose key starts with prefix (a string prefix,
// not a path: "app/rec" matches "app/rec2", as in Consul).
func (s *Store) KVList(prefix string) ([]KVEntry, uint64, error) {
	var out []KVEntry
	idx, err := s.scanPrefix(prefix, func(e KVEntry) { out = append(out, e) })
	return out, idx, err
}

// KVKeys lists key names under prefix. With a separator, each key is cut
// after the first separator following the prefix and duplicates collapse,
// giving a folder view.
func (s *Store) KVKeys(prefix, sep string) ([]string, uint64, error) {
	var out []string
	idx, err := s.scanPrefix(prefix, func(e KVEntry) {
		k := e.Key
		if sep != "" {
			if i := strings.Index(k[len(prefix):], sep); i >= 0 {
				k = k[:len(prefix)+i+len(sep)]
			}
		}
		if n := len(out); n == 0 || out[n-1] != k {
			out = append(out, k)
		}
	})
	return out, idx, err
}

// readEntry loads the current entry for key, nil when absent.
func readEntry(w *wtx, key string) (*KVEntry, error) {
	v, ok := w.get(kvPrefix + key)
	if !ok {
		return nil, nil
	}
	e, err := decodeEntry(key, v)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

func lockKey(session, key string) string { return lockPrefix + session + "\x00" + key }

// putEntry stores e and keeps the session→held-keys index in step.
func putEntry(w *wtx, old, e *KVEntry) error {
	if old != nil && old.Session != "" && old.Session != e.Session {
		if err := w.del(lockKey(old.Session, e.Key)); err != nil {
			return err
		}
	}
	if e.Session != "" && (old == nil || old.Session != e.Session) {
		if err := w.set(lockKey(e.Session, e.Key), ""); err != nil {
			return err
		}
	}
	if err := w.set(kvPrefix+e.Key, e.encode()); err != nil {
		return err
	}
	if err := w.del(tombPrefix + e.Key); err != nil {
		return err
	}
	w.touched = append(w.touched, e.Key)
	return nil
}

func deleteEntry(w *wtx, idx uint64, e *KVEntry) error {
	if e.Session != "" {
		if err := w.del(lockKey(e.Session, e.Key)); err != nil {
			return err
		}
	}
	if err := w.del(kvPrefix + e.Key); err != nil {
		return err
	}
	w.touched = append(w.touched, e.Key)
	return w.set(tombPrefix+e.Key, strconv.FormatUint(idx, 10))
}

// applyKV performs one KV operation at raft index idx and returns Consul's
// boolean result. Read-type operations (used by transactions) return the
// entries they read.
func applyKV(w *wtx, idx uint64, req *KVRequest) (ok bool, read []KVEntry, err error) {
	if err := req.Validate(); err != nil {
		return false, nil, err
	}
	e := req.Entry
	if req.Op == KVDeleteTree || req.Op == KVGetTree {
		var ents []KVEntry
		var derr error
		err := ascendPrefix(w.tx, kvPrefix, e.Key, func(k, v string) bool {
			ent, err := decodeEntry(k, v)
			if err != nil {
				derr = err
				return false
			}
			ents = append(ents, ent)
			return true
		})
		if err == nil {
			err = derr
		}
		if err != nil {
			return false, nil, err
		}
		if req.Op == KVGetTree {
			return true, ents, nil
		}
		for i := range ents {
			if err := deleteEntry(w, idx, &ents[i]); err != nil {
				return false, nil, err
			}
		}
		return true, nil, nil
	}
	existing, err := readEntry(w, e.Key)
	if err != nil {
		return false, nil, err
	}
	newEntry := func() *KVEntry {
		nv := &KVEntry{Key: e.Key, Value: e.Value, Flags: e.Flags, CreateIndex: idx, ModifyIndex: idx}
		if existing != nil {
			// Locks are advisory: a plain write keeps the holder and count.
			nv.CreateIndex, nv.LockIndex, nv.Session = existing.CreateIndex, existing.LockIndex, existing.Session
		}
		return nv
	}
	switch req.Op {
	case KVGet:
		if existing == nil {
			return false, nil, fmt.Errorf("key %q doesn't exist", e.Key)
		}
		return true, []KVEntry{*existing}, nil
	case KVGetOrEmpty:
		if existing == nil {
			return true, []KVEntry{{Key: e.Key}}, nil // Consul answers a key-only entry
		}
		return true, []KVEntry{*existing}, nil
	case KVCheckIndex:
		if existing == nil || existing.ModifyIndex != e.ModifyIndex {
			return false, nil, fmt.Errorf("current modify index %d != %d", modifyIndexOf(existing), e.ModifyIndex)
		}
		return true, []KVEntry{*existing}, nil
	case KVCheckSession:
		if existing == nil || existing.Session != e.Session {
			return false, nil, fmt.Errorf("current session %q != %q", sessionOf(existing), e.Session)
		}
		return true, []KVEntry{*existing}, nil
	case KVCheckNotExists:
		if existing != nil {
			return false, nil, fmt.Errorf("key %q exists", e.Key)
		}
		return true, nil, nil
	case KVCAS:
		if e.ModifyIndex == 0 && existing != nil {
			return false, nil, nil
		}
		if e.ModifyIndex != 0 && (existing == nil || existing.ModifyIndex != e.ModifyIndex) {
			return false, nil, nil
		}
		return true, nil, putEntry(w, existing, newEntry())
	case KVSet:
		return true, nil, putEntry(w, existing, newEntry())
	case KVLock:
		if _, ok := w.get(sessionPrefix + e.Session); !ok {
			return false, nil, fmt.Errorf("invalid session %q", e.Session)
		}
		nv := newEntry()
		if existing != nil && existing.Session != "" && existing.Session != e.Session {
			return false, nil, nil
		}
		if existing == nil || existing.Session != e.Session {
			nv.LockIndex++
		}
		nv.Session = e.Session
		return true, nil, putEntry(w, existing, nv)
	case KVUnlock:
		if existing == nil || existing.Session != e.Session {
			return false, nil, nil
		}
		nv := newEntry()
		nv.Session = ""
		return true, nil, putEntry(w, existing, nv)
	case KVDeleteCAS:
		if existing == nil {
			return true, nil, nil // Consul's quirk: nothing to delete counts as success
		}
		if e.ModifyIndex == 0 || existing.ModifyIndex != e.ModifyIndex {
			return false, nil, nil
		}
		return true, nil, deleteEntry(w, idx, existing)
	case KVDelete:
		if existing == nil {
			return true, nil, nil
		}
		return true, nil, deleteEntry(w, idx, existing)
	}
	return false, nil, fmt.Errorf("unknown KV operation %q", req.Op)
}

func modifyIndexOf(e *KVEntry) uint64 {
	if e == nil {
		return 0
	}
	return e.ModifyIndex
}

func sessionOf(e *KVEntry) string {
	if e == nil {
		return ""
	}
	return e.Session
}

// reapTombstones deletes tombstones whose delete index is at most upTo.
// Listing indexes under reaped prefixes may then go backwards, which
// blocking clients handle by resetting (as with Consul's tombstone GC).
func reapTombstones(w *wtx, upTo uint64) error {
	var victims []string
	err := ascendPrefix(w.tx, tombPrefix, "", func(k, v string) bool {
		if n, _ := strconv.ParseUint(v, 10, 64); n <= upTo {
			victims = append(victims, tombPrefix+k)
		}
		return true
	})
	if err != nil {
		return err
	}
	for _, k := range victims {
		if err := w.del(k); err != nil {
			return err
		}
	}
	return nil
}

// TombstoneCount reports how many KV tombstones exist, counting at most
// limit (the leader only needs to know whether there are any).
func (s *Store) TombstoneCount(limit int) int {
	n := 0
	_ = s.view(func(tx *buntdb.Tx) error {
		return ascendPrefix(tx, tombPrefix, "", func(string, string) bool { n++; return n < limit })
	})
	return n
}
