package store

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/tidwall/buntdb"
)

// Key spaces inside buntdb. Keeping them as prefixes of one ordered keyspace
// lets prefix scans be plain ordered iterations.
const (
	kvPrefix   = "k:" // live KV entries
	tombPrefix = "t:" // tombstones: deleted key -> index of the delete
	kvIndexKey = "m:kvs"
)

// Store holds the FSM state. Reads may run concurrently with Apply.
type Store struct {
	// mu guards the db pointer, which Restore swaps wholesale.
	mu sync.RWMutex
	db *buntdb.DB
	// watches wakes blocking readers of the keys each commit touched.
	watches *Watches
}

// New returns an empty in-memory store.
func New() (*Store, error) {
	db, err := openMemDB()
	if err != nil {
		return nil, err
	}
	return &Store{db: db, watches: NewWatches()}, nil
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

// KVList returns every entry whose key starts with prefix (a string prefix,
// not a path: "app/rec" matches "app/rec2", as in Consul).
func (s *Store) KVList(prefix string) ([]KVEntry, uint64, error) {
	var out []KVEntry
	var idx uint64
	err := s.view(func(tx *buntdb.Tx) error {
		var derr error
		var maxIdx uint64
		err := ascendPrefix(tx, kvPrefix, prefix, func(k, v string) bool {
			e, err := decodeEntry(k, v)
			if err != nil {
				derr = err
				return false
			}
			maxIdx = max(maxIdx, e.ModifyIndex)
			out = append(out, e)
			return true
		})
		if err != nil {
			return err
		}
		if derr != nil {
			return derr
		}
		idx = prefixIndex(tx, prefix, maxIdx)
		return nil
	})
	return out, idx, err
}

// KVKeys lists key names under prefix. With a separator, each key is cut
// after the first separator following the prefix and duplicates collapse,
// giving a folder view.
func (s *Store) KVKeys(prefix, sep string) ([]string, uint64, error) {
	var out []string
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
			if sep != "" {
				if i := strings.Index(k[len(prefix):], sep); i >= 0 {
					k = k[:len(prefix)+i+len(sep)]
				}
			}
			if n := len(out); n == 0 || out[n-1] != k {
				out = append(out, k)
			}
			return true
		})
		if err != nil {
			return err
		}
		if derr != nil {
			return derr
		}
		idx = prefixIndex(tx, prefix, maxIdx)
		return nil
	})
	return out, idx, err
}

// applyKV performs one KV write at raft index idx inside tx and reports the
// keys it changed (for watchers) and Consul's boolean result.
func applyKV(tx *buntdb.Tx, idx uint64, req *KVRequest) (ok bool, touched []string, err error) {
	if err := req.Validate(); err != nil {
		return false, nil, err
	}
	e := req.Entry
	var existing *KVEntry
	if req.Op != KVDeleteTree {
		if v, err := tx.Get(kvPrefix + e.Key); err == nil {
			ex, err := decodeEntry(e.Key, v)
			if err != nil {
				return false, nil, err
			}
			existing = &ex
		}
	}
	switch req.Op {
	case KVCAS:
		if e.ModifyIndex == 0 && existing != nil {
			return false, nil, nil
		}
		if e.ModifyIndex != 0 && (existing == nil || existing.ModifyIndex != e.ModifyIndex) {
			return false, nil, nil
		}
		fallthrough
	case KVSet:
		nv := KVEntry{Key: e.Key, Value: e.Value, Flags: e.Flags, CreateIndex: idx, ModifyIndex: idx}
		if existing != nil {
			// Locks are advisory: a plain write keeps the holder and count.
			nv.CreateIndex, nv.LockIndex, nv.Session = existing.CreateIndex, existing.LockIndex, existing.Session
		}
		if _, _, err := tx.Set(kvPrefix+e.Key, nv.encode(), nil); err != nil {
			return false, nil, err
		}
		_, _ = tx.Delete(tombPrefix + e.Key)
		return true, []string{e.Key}, nil
	case KVDeleteCAS:
		if existing == nil {
			return true, nil, nil // Consul's quirk: nothing to delete counts as success
		}
		if e.ModifyIndex == 0 || existing.ModifyIndex != e.ModifyIndex {
			return false, nil, nil
		}
		fallthrough
	case KVDelete:
		if existing == nil {
			return true, nil, nil
		}
		return true, []string{e.Key}, deleteKey(tx, idx, e.Key)
	case KVDeleteTree:
		var keys []string
		err := ascendPrefix(tx, kvPrefix, e.Key, func(k, _ string) bool {
			keys = append(keys, k)
			return true
		})
		if err != nil {
			return false, nil, err
		}
		for _, k := range keys {
			if err := deleteKey(tx, idx, k); err != nil {
				return false, nil, err
			}
		}
		return true, keys, nil
	}
	return false, nil, fmt.Errorf("unknown KV operation %q", req.Op)
}

func deleteKey(tx *buntdb.Tx, idx uint64, key string) error {
	if _, err := tx.Delete(kvPrefix + key); err != nil && err != buntdb.ErrNotFound {
		return err
	}
	_, _, err := tx.Set(tombPrefix+key, strconv.FormatUint(idx, 10), nil)
	return err
}
