package store

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tidwall/buntdb"
)

const (
	sessionPrefix   = "s:"
	sessionIndexKey = "m:sessions"
)

// Session behaviours on invalidation.
const (
	BehaviorRelease = "release"
	BehaviorDelete  = "delete"
)

// Session is Consul's session, in its JSON shape.
type Session struct {
	ID            string
	Name          string
	Node          string
	LockDelay     time.Duration
	Behavior      string
	TTL           string
	NodeChecks    []string
	ServiceChecks []ServiceCheck
	// Checks is the older spelling of NodeChecks, kept for old clients.
	Checks      []string
	CreateIndex uint64
	ModifyIndex uint64
}

// ServiceCheck names a service check a session depends on.
type ServiceCheck struct {
	ID        string
	Namespace string
}

// SessionOp names a session write.
type SessionOp string

const (
	SessionCreate  SessionOp = "create"
	SessionDestroy SessionOp = "destroy"
)

// SessionRequest creates or destroys (invalidates) a session.
type SessionRequest struct {
	Op      SessionOp
	Session Session
}

// applySession creates or invalidates a session at index idx. Invalidation
// releases or deletes the keys the session holds and starts their
// lock-delay window.
func (s *Store) applySession(w *wtx, idx uint64, req *SessionRequest) (bool, error) {
	switch req.Op {
	case SessionCreate:
		sess := req.Session
		if sess.ID == "" {
			return false, fmt.Errorf("missing session ID")
		}
		if _, ok := w.get(sessionPrefix + sess.ID); ok {
			return false, fmt.Errorf("session %q already exists", sess.ID)
		}
		sess.CreateIndex, sess.ModifyIndex = idx, idx
		b, err := json.Marshal(&sess)
		if err != nil {
			return false, err
		}
		w.sessionsChanged = true
		return true, w.set(sessionPrefix+sess.ID, string(b))
	case SessionDestroy:
		v, ok := w.get(sessionPrefix + req.Session.ID)
		if !ok {
			return true, nil // destroying an unknown session is not an error
		}
		var sess Session
		if err := json.Unmarshal([]byte(v), &sess); err != nil {
			return false, err
		}
		if err := w.del(sessionPrefix + sess.ID); err != nil {
			return false, err
		}
		w.sessionsChanged = true
		var held []string
		start := lockPrefix + sess.ID + "\x00"
		err := w.tx.AscendGreaterOrEqual("", start, func(k, _ string) bool {
			if !strings.HasPrefix(k, start) {
				return false
			}
			held = append(held, k[len(start):])
			return true
		})
		if err != nil {
			return false, err
		}
		for _, key := range held {
			e, err := readEntry(w, key)
			if err != nil {
				return false, err
			}
			if e == nil {
				continue
			}
			if sess.Behavior == BehaviorDelete {
				if err := deleteEntry(w, idx, e); err != nil {
					return false, err
				}
			} else {
				nv := *e
				nv.Session, nv.ModifyIndex = "", idx
				if err := putEntry(w, e, &nv); err != nil {
					return false, err
				}
			}
			if sess.LockDelay > 0 {
				s.setLockDelay(key, time.Now().Add(sess.LockDelay))
			}
		}
		return true, nil
	}
	return false, fmt.Errorf("unknown session operation %q", req.Op)
}

// setLockDelay records that acquires of key must fail until t. Like
// Consul, the window lives in memory on each server, not in Raft.
func (s *Store) setLockDelay(key string, t time.Time) {
	s.delayMu.Lock()
	defer s.delayMu.Unlock()
	if s.lockDelay == nil {
		s.lockDelay = map[string]time.Time{}
	}
	now := time.Now()
	for k, until := range s.lockDelay {
		if until.Before(now) {
			delete(s.lockDelay, k)
		}
	}
	s.lockDelay[key] = t
}

// KVLockDelay returns when the lock-delay window of key ends (zero if none).
func (s *Store) KVLockDelay(key string) time.Time {
	s.delayMu.Lock()
	defer s.delayMu.Unlock()
	return s.lockDelay[key]
}

// SessionIndex is the index of the last change to the sessions table.
func (s *Store) SessionIndex() uint64 {
	var idx uint64
	_ = s.view(func(tx *buntdb.Tx) error { idx = getUint(tx, sessionIndexKey); return nil })
	return idx
}

// SessionGet returns one session (nil when unknown) and the table index.
func (s *Store) SessionGet(id string) (*Session, uint64, error) {
	var out *Session
	var idx uint64
	err := s.view(func(tx *buntdb.Tx) error {
		idx = getUint(tx, sessionIndexKey)
		v, err := tx.Get(sessionPrefix + id)
		if err == buntdb.ErrNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		var sess Session
		if err := json.Unmarshal([]byte(v), &sess); err != nil {
			return err
		}
		out = &sess
		return nil
	})
	return out, idx, err
}

// SessionList returns all sessions (filtered by node when node != ""),
// ordered by ID, and the table index.
func (s *Store) SessionList(node string) ([]Session, uint64, error) {
	out := []Session{}
	var idx uint64
	err := s.view(func(tx *buntdb.Tx) error {
		idx = getUint(tx, sessionIndexKey)
		var derr error
		err := ascendPrefix(tx, sessionPrefix, "", func(_, v string) bool {
			var sess Session
			if derr = json.Unmarshal([]byte(v), &sess); derr != nil {
				return false
			}
			if node == "" || sess.Node == node {
				out = append(out, sess)
			}
			return true
		})
		if err != nil {
			return err
		}
		return derr
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, idx, err
}
