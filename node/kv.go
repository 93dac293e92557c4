package node

import (
	"context"
	"fmt"
	"time"

	"consulx/store"
)

var kvApplyEndpoint = &endpoint[KVWriteRequest, KVWriteResponse]{
	name: "KV.Apply", kind: writeEndpoint,
	validate: func(req *KVWriteRequest) error {
		if err := req.Request.Validate(); err != nil {
			return &BadRequestError{Msg: err.Error()}
		}
		return nil
	},
	leader: func(s *server, _ context.Context, req *KVWriteRequest) (*KVWriteResponse, error) {
		if req.Request.Op == store.KVLock {
			// Lock-delay is judged by the leader's clock before the log,
			// as in Consul; a refused acquire is a plain false.
			if until := s.store.KVLockDelay(req.Request.Entry.Key); time.Now().Before(until) {
				s.logger.Warn("rejecting lock due to lock-delay", "key", req.Request.Entry.Key, "until", until.Format(time.RFC3339Nano))
				return &KVWriteResponse{Ok: false, Index: s.store.KVIndex()}, nil
			}
		}
		res, idx, err := s.raftApply(store.KVCommand, &req.Request)
		if err != nil {
			return nil, err
		}
		return &KVWriteResponse{Ok: res.Ok, Index: idx}, nil
	},
}

var kvReadEndpoint = &endpoint[KVReadRequest, KVReadResponse]{
	name: "KV.Read", kind: readEndpoint,
	read: func(s *server, req *KVReadRequest, arm *watchArm) (*KVReadResponse, uint64, error) {
		out := &KVReadResponse{}
		var idx uint64
		var err error
		switch req.Mode {
		case KVReadKey:
			arm.Key(req.Key)
			var e *store.KVEntry
			e, idx, err = s.store.KVGet(req.Key)
			if e != nil {
				out.Entries = []store.KVEntry{*e}
			}
		case KVReadPrefix:
			arm.Prefix(req.Key)
			out.Entries, idx, err = s.store.KVList(req.Key)
		case KVReadKeys:
			arm.Prefix(req.Key)
			out.Keys, idx, err = s.store.KVKeys(req.Key, req.Separator)
		default:
			return nil, 0, &BadRequestError{Msg: fmt.Sprintf("unknown KV read mode %d", req.Mode)}
		}
		return out, idx, err
	},
}

// KVApply performs a KV write.
func (a *Agent) KVApply(ctx context.Context, req *KVWriteRequest) (*KVWriteResponse, error) {
	return kvApplyEndpoint.call(ctx, a, req)
}
