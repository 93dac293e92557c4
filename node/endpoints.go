package node

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/raft"

	"consulx/store"
)

// holdPoll is how often a held request looks for a leader again.
const holdPoll = 10 * time.Millisecond

// onLeader runs local on the leader, forwarding the call to the leader when
// this server is a follower. With no leader it waits up to the hold
// timeout, then fails with ErrNoLeader. The hold bounds only the wait for a
// leader: a blocking query may then run for as long as it asked.
func (s *server) onLeader(ctx context.Context, method string, args, reply any, write bool, local func() error) error {
	hold := time.NewTimer(s.a.cfg.RPCHoldTimeout)
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
			err = s.a.pool.call(ctx, string(addr), method, args, reply)
			var de *dialError
			// Only failures that cannot have reached the leader are retried
			// for writes, so a retry never applies a write twice.
			if err == nil || !(errors.Is(err, ErrNoLeader) || errors.As(err, &de) || (!write && ctx.Err() == nil && isTransport(err))) {
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

// read runs a read under the requested consistency mode.
func (s *server) read(ctx context.Context, method string, opts QueryOptions, args, reply any, local func() error) error {
	switch opts.Consistency {
	case ModeStale:
		if s.everKnewLeader.Load() || s.raft.State() == raft.Leader {
			return local()
		}
		return s.onLeader(ctx, method, args, reply, false, local)
	case ModeConsistent:
		return s.onLeader(ctx, method, args, reply, false, func() error {
			if err := s.raft.VerifyLeader().Error(); err != nil {
				return raft.ErrNotLeader
			}
			return local()
		})
	case ModeDefault:
		return s.onLeader(ctx, method, args, reply, false, local)
	}
	return &BadRequestError{Msg: fmt.Sprintf("unknown consistency mode %q", opts.Consistency)}
}

// apply commits one command through Raft on the leader.
func (s *server) apply(t store.CommandType, body any) (store.ApplyResult, uint64, error) {
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
	res, _ := fut.Response().(store.ApplyResult)
	return res, fut.Index(), nil
}

func (s *server) kvApply(ctx context.Context, req *KVWriteRequest) (*KVWriteResponse, error) {
	if err := req.Request.Validate(); err != nil {
		return nil, &BadRequestError{Msg: err.Error()}
	}
	var out KVWriteResponse
	err := s.onLeader(ctx, "KV.Apply", req, &out, true, func() error {
		if req.Request.Op == store.KVLock {
			// Lock-delay is judged by the leader's clock before the log,
			// as in Consul; a refused acquire is a plain false.
			if until := s.store.KVLockDelay(req.Request.Entry.Key); time.Now().Before(until) {
				s.logger.Warn("rejecting lock due to lock-delay", "key", req.Request.Entry.Key, "until", until.Format(time.RFC3339Nano))
				out = KVWriteResponse{Ok: false, Index: s.store.KVIndex()}
				return nil
			}
		}
		res, idx, err := s.apply(store.KVCommand, &req.Request)
		if err != nil {
			return err
		}
		if res.Err != "" {
			return errors.New(res.Err)
		}
		out = KVWriteResponse{Ok: res.Ok, Index: idx}
		return nil
	})
	return &out, err
}

func (s *server) kvRead(ctx context.Context, req *KVReadRequest) (*KVReadResponse, error) {
	var out KVReadResponse
	err := s.read(ctx, "KV.Read", req.QueryOptions, req, &out, func() error {
		return s.blocking(ctx, req.QueryOptions, func() (uint64, <-chan struct{}, func(), error) {
			var idx uint64
			var err error
			var ch <-chan struct{}
			var stop func()
			out = KVReadResponse{}
			// The watch is taken before the read, so a write landing in
			// between still wakes us.
			switch req.Mode {
			case "get":
				ch, stop = s.store.Watches().WatchKey(req.Key)
				var e *store.KVEntry
				e, idx, err = s.store.KVGet(req.Key)
				if e != nil {
					out.Entries = []store.KVEntry{*e}
				}
			case "list":
				ch, stop = s.store.Watches().WatchPrefix(req.Key)
				out.Entries, idx, err = s.store.KVList(req.Key)
			case "keys":
				ch, stop = s.store.Watches().WatchPrefix(req.Key)
				out.Keys, idx, err = s.store.KVKeys(req.Key, req.Separator)
			default:
				return 0, nil, func() {}, &BadRequestError{Msg: fmt.Sprintf("unknown KV read mode %q", req.Mode)}
			}
			out.QueryMeta = s.meta(idx)
			return idx, ch, stop, err
		})
	})
	return &out, err
}

func (s *server) statusLeader(ctx context.Context, _ *StatusRequest) (*StatusLeaderResponse, error) {
	addr, _ := s.raft.LeaderWithID()
	return &StatusLeaderResponse{Leader: string(addr)}, nil
}

func (s *server) statusPeers(ctx context.Context, _ *StatusRequest) (*StatusPeersResponse, error) {
	fut := s.raft.GetConfiguration()
	if err := fut.Error(); err != nil {
		return nil, err
	}
	out := &StatusPeersResponse{Peers: []string{}}
	for _, srv := range fut.Configuration().Servers {
		out.Peers = append(out.Peers, string(srv.Address))
	}
	return out, nil
}

func (s *server) raftState(ctx context.Context, _ *StatusRequest) (*RaftStateResponse, error) {
	return &RaftStateResponse{LastIndex: s.raft.LastIndex()}, nil
}

func (s *server) raftConfiguration(ctx context.Context, req *StatusRequest) (*RaftConfigResponse, error) {
	var out RaftConfigResponse
	err := s.read(ctx, "Operator.RaftConfiguration", req.QueryOptions, req, &out, func() error {
		fut := s.raft.GetConfiguration()
		if err := fut.Error(); err != nil {
			return err
		}
		leader, _ := s.raft.LeaderWithID()
		// The future's index is 0 for a bootstrap configuration; the stats
		// carry the index of the configuration actually in force.
		cfgIndex, _ := strconv.ParseUint(s.raft.Stats()["latest_configuration_index"], 10, 64)
		out = RaftConfigResponse{Index: max(fut.Index(), cfgIndex), Servers: []RaftServer{}}
		for _, srv := range fut.Configuration().Servers {
			out.Servers = append(out.Servers, RaftServer{
				ID:              string(srv.ID),
				Node:            s.a.nodeNameByID(string(srv.ID)),
				Address:         string(srv.Address),
				Leader:          srv.Address == leader,
				Voter:           srv.Suffrage == raft.Voter,
				ProtocolVersion: "3",
			})
		}
		out.QueryMeta = s.meta(out.Index)
		return nil
	})
	return &out, err
}

// callServer runs method on this agent's server half, or — on a client
// agent — on some server of the datacenter, trying others if one is
// unreachable.
func callServer[A any, R any](ctx context.Context, a *Agent, method string, args *A, local func(*server) func(context.Context, *A) (*R, error)) (*R, error) {
	if a.srv != nil {
		return local(a.srv)(ctx, args)
	}
	var lastErr error = ErrNoServers
	tried := map[string]bool{}
	for {
		addr := a.pickServer(tried)
		if addr == "" {
			if len(tried) == 0 {
				return nil, ErrNoServers
			}
			return nil, fmt.Errorf("rpc error making call: %w", lastErr)
		}
		tried[addr] = true
		var reply R
		err := a.pool.call(ctx, addr, method, args, &reply)
		var de *dialError
		if err == nil {
			return &reply, nil
		}
		if !errors.As(err, &de) {
			return nil, err
		}
		lastErr = err
	}
}

// KVApply performs a KV write.
func (a *Agent) KVApply(ctx context.Context, req *KVWriteRequest) (*KVWriteResponse, error) {
	return callServer(ctx, a, "KV.Apply", req, func(s *server) func(context.Context, *KVWriteRequest) (*KVWriteResponse, error) { return s.kvApply })
}

// KVRead performs a KV read.
func (a *Agent) KVRead(ctx context.Context, req *KVReadRequest) (*KVReadResponse, error) {
	return callServer(ctx, a, "KV.Read", req, func(s *server) func(context.Context, *KVReadRequest) (*KVReadResponse, error) { return s.kvRead })
}

// StatusLeader returns the leader's RPC address ("" when there is none).
func (a *Agent) StatusLeader(ctx context.Context) (string, error) {
	r, err := callServer(ctx, a, "Status.Leader", &StatusRequest{}, func(s *server) func(context.Context, *StatusRequest) (*StatusLeaderResponse, error) {
		return s.statusLeader
	})
	if err != nil {
		return "", err
	}
	return r.Leader, nil
}

// StatusPeers returns the Raft peers' addresses.
func (a *Agent) StatusPeers(ctx context.Context) ([]string, error) {
	r, err := callServer(ctx, a, "Status.Peers", &StatusRequest{}, func(s *server) func(context.Context, *StatusRequest) (*StatusPeersResponse, error) {
		return s.statusPeers
	})
	if err != nil {
		return nil, err
	}
	return r.Peers, nil
}

// RaftConfiguration returns the Raft configuration as the operator API shows it.
func (a *Agent) RaftConfiguration(ctx context.Context, opts QueryOptions) (*RaftConfigResponse, error) {
	return callServer(ctx, a, "Operator.RaftConfiguration", &StatusRequest{QueryOptions: opts}, func(s *server) func(context.Context, *StatusRequest) (*RaftConfigResponse, error) {
		return s.raftConfiguration
	})
}
