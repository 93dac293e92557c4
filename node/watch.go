package node

import (
	"github.com/hashicorp/raft"
)

// KVWatch returns a channel that closes when the data a KV read touches
// changes, when this agent can answer that read itself (a server that is
// the ready leader, or any server for a stale read). ok is false otherwise;
// the caller then uses the ordinary (forwarded) blocking path.
//
// It lets the HTTP layer park a blocking query without holding a goroutine
// stack and connection buffers per watcher.
func (a *Agent) KVWatch(req *KVReadRequest) (changed <-chan struct{}, stop func(), ok bool) {
	s := a.srv
	if s == nil {
		return nil, nil, false
	}
	switch req.Consistency {
	case ModeStale:
		if !s.everKnewLeader.Load() && s.raft.State() != raft.Leader {
			return nil, nil, false
		}
	case ModeDefault:
		if s.raft.State() != raft.Leader || !s.isReady() {
			return nil, nil, false
		}
	default:
		return nil, nil, false
	}
	w := s.store.Watches()
	if req.Mode == "get" {
		ch, stop := w.WatchKey(req.Key)
		return ch, stop, true
	}
	ch, stop := w.WatchPrefix(req.Key)
	return ch, stop, true
}

// NotNewer reports whether a read's index has not passed a blocking
// query's MinIndex (index 0 counts as 1, as the headers report it).
func NotNewer(index, minIndex uint64) bool { return atLeastOne(index) <= minIndex }

// RestoreEpoch changes whenever this server restores a snapshot (0 on
// client agents).
func (a *Agent) RestoreEpoch() uint64 {
	if a.srv == nil {
		return 0
	}
	return a.srv.store.RestoreEpoch()
}

// OnWatchFire calls fn (which must not block) when a channel returned by
// KVWatch fires, so a parked request needs no goroutine waiting on it.
func (a *Agent) OnWatchFire(ch <-chan struct{}, fn func()) {
	if a.srv != nil {
		a.srv.store.Watches().OnFire(ch, fn)
	}
}
