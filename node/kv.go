package node

import (
	"context"
	"fmt"
	"time"

	"consulx/acl"
	"consulx/store"
)

var kvApplyEndpoint = &endpoint[KVWriteRequest, KVWriteResponse]{
	name: "KV.Apply", kind: writeEndpoint,
	authorize: func(_ *server, z acl.Authorizer, req *KVWriteRequest) error {
		return authorizeKVOp(z, &req.Request)
	},
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
	filter: func(z acl.Authorizer, req *KVReadRequest, resp *KVReadResponse) (bool, error) {
		switch req.Mode {
		case KVReadKey:
			return false, allowOrDeny(z.KeyRead(req.Key), z, "key:read", req.Key)
		case KVReadPrefix:
			return filterSlice(&resp.Entries, func(e *store.KVEntry) bool { return z.KeyRead(e.Key) }), nil
		default:
			// list (or read) lets a token see key names.
			return filterSlice(&resp.Keys, func(k *string) bool { return z.KeyList(*k) || z.KeyRead(*k) }), nil
		}
	},
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

// authorizeKVOp checks one KV write (alone or in a transaction): write on
// the key, and on everything under it for delete-tree; reads need read.
func authorizeKVOp(z acl.Authorizer, op *store.KVRequest) error {
	k := op.Entry.Key
	switch {
	case op.Op == store.KVDeleteTree:
		return allowOrDeny(z.KeyWritePrefix(k), z, "key:write", k)
	case op.Op == store.KVGetTree:
		return allowOrDeny(z.KeyRead(k) || z.KeyList(k), z, "key:read", k)
	case op.Op.IsRead():
		return allowOrDeny(z.KeyRead(k), z, "key:read", k)
	}
	return allowOrDeny(z.KeyWrite(k), z, "key:write", k)
}

// filterSlice replaces *s with the elements keep keeps, reporting
// whether any was dropped. It never edits the slice it was given (the
// store may share it with other readers).
func filterSlice[T any](s *[]T, keep func(*T) bool) bool {
	var out []T
	dropped := false
	for i := range *s {
		if keep(&(*s)[i]) {
			out = append(out, (*s)[i])
		} else {
			dropped = true
		}
	}
	if dropped {
		if out == nil {
			out = []T{}
		}
		*s = out
	}
	return dropped
}
