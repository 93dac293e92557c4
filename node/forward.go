package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"consulx/store"
)

// holdPoll is how often a held request looks for a leader again.
const holdPoll = 10 * time.Millisecond

// forwarding says which failures to reach the leader may be retried.
type forwarding int

const (
	// forwardWrite retries only failures that cannot have reached the
	// leader (no leader, could not dial), so a write is never applied twice.
	forwardWrite forwarding = iota
	// forwardRead also retries a connection lost during the call.
	forwardRead
)

// onLeader runs local on the leader, forwarding the request to the leader
// (the same endpoint, by name) when this server is a follower; the
// leader's answer is decoded into reply. With no leader it waits up to the
// hold timeout, then fails with ErrNoLeader. The hold bounds only the
// wait for a leader: a blocking query may then run for as long as it asked.
func onLeader[A, R any](ctx context.Context, s *server, method string, req *A, reply *R, how forwarding, local func() error) error {
	hold := time.NewTimer(s.cfg.RPCHoldTimeout)
	defer hold.Stop()
	for {
		var err error
		if s.raft.State() == raft.Leader {
			if s.isReady() {
				err = local()
				if !errors.Is(err, raft.ErrNotLeader) {
					return err
				}
			}
		} else if addr, _ := s.raft.LeaderWithID(); addr != "" && addr != s.trans.LocalAddr() {
			err = s.pool.call(ctx, string(addr), method, req, reply)
			var de *dialError
			// Only failures that cannot have reached the leader are retried
			// for writes, so a retry never applies a write twice.
			if err == nil || !(errors.Is(err, ErrNoLeader) || errors.As(err, &de) || (how == forwardRead && ctx.Err() == nil && isTransport(err))) {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-hold.C:
			return ErrNoLeader
		case <-time.After(holdPoll):
		}
	}
}

// isTransport reports a connection failure (worth retrying a read on),
// as opposed to an answer from the remote server.
func isTransport(err error) bool {
	var te *transportError
	var de *dialError
	return errors.As(err, &te) || errors.As(err, &de)
}

func (s *server) meta(index uint64) QueryMeta {
	addr, _ := s.raft.LeaderWithID()
	m := QueryMeta{Index: index, KnownLeader: addr != ""}
	if s.raft.State() != raft.Leader {
		if lc := s.raft.LastContact(); !lc.IsZero() {
			m.LastContact = time.Since(lc)
		}
	}
	return m
}

// read runs a read under the requested consistency mode: here when this
// server may answer it (answersLocally), otherwise on the leader.
func read[A, R any](ctx context.Context, s *server, method string, opts QueryOptions, req *A, reply *R, local func() error) error {
	switch opts.Consistency {
	case ModeStale, ModeDefault:
		if s.answersLocally(opts) {
			return local()
		}
		return onLeader(ctx, s, method, req, reply, forwardRead, local)
	case ModeConsistent:
		return onLeader(ctx, s, method, req, reply, forwardRead, func() error {
			if err := s.raft.VerifyLeader().Error(); err != nil {
				return raft.ErrNotLeader
			}
			return local()
		})
	}
	return &BadRequestError{Msg: fmt.Sprintf("unknown consistency mode %q", opts.Consistency)}
}

// badInputCommands are the commands whose rejection by the state machine
// is the caller's mistake (a 400), not a server error.
var badInputCommands = map[store.CommandType]bool{
	store.RegisterCommand:   true,
	store.DeregisterCommand: true,
}

// detachResponse takes an applied entry's result out of raft's future.
// Raft keeps a pointer into the future for as long as the entry stays in
// its log cache (or the in-memory log of -dev), and with it the response:
// a transaction's result, values included, would stay on the heap for
// thousands of entries (100 MB and more after loading 1M keys through
// /v1/txn). The transaction's result moves to a copy; the one raft keeps
// is left empty.
func detachResponse(resp any) store.ApplyResult {
	res, _ := resp.(store.ApplyResult)
	if res.Txn != nil {
		txn := *res.Txn
		*res.Txn = store.TxnResult{}
		res.Txn = &txn
	}
	return res
}

// raftApply commits one command through Raft on the leader and turns the
// state machine's verdict into a typed error.
func (s *server) raftApply(t store.CommandType, body any) (store.ApplyResult, uint64, error) {
	data, err := store.EncodeCommand(t, body)
	if err != nil {
		return store.ApplyResult{}, 0, err
	}
	fut := s.raft.Apply(data, 30*time.Second)
	if err := fut.Error(); err != nil {
		if errors.Is(err, raft.ErrLeadershipLost) {
			return store.ApplyResult{}, 0, errors.New("leadership lost while committing the write; it may or may not have been applied")
		}
		return store.ApplyResult{}, 0, err
	}
	res := detachResponse(fut.Response())
	if res.Err != "" {
		if badInputCommands[t] {
			return res, fut.Index(), &BadRequestError{Msg: res.Err}
		}
		return res, fut.Index(), errors.New(res.Err)
	}
	return res, fut.Index(), nil
}
