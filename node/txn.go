package node

import (
	"context"
	"fmt"
	"time"

	"consulx/acl"
	"consulx/store"
)

// TxnRequest is PUT /v1/txn.
type TxnRequest struct {
	Ops []store.KVRequest
	QueryOptions
}

// TxnResponse carries the outcome and, for read-only transactions, the
// read metadata.
type TxnResponse struct {
	Result store.TxnResult
	Index  uint64
	QueryMeta
}

// txnEndpoint is direct: a read-only transaction behaves like a read
// (consistency modes apply, nothing goes through Raft), any other like a
// write; it decides which when it sees the operations.
var txnEndpoint = &endpoint[TxnRequest, TxnResponse]{
	name: "Txn.Apply", kind: directEndpoint,
	// As in Consul, a denied operation is not a 403 of the whole request
	// but an error of that operation (409), and nothing is applied: direct
	// checks every operation (txnDenied) before it reads or writes.
	public: "every operation is checked by txnDenied",
	validate: func(req *TxnRequest) error {
		for i := range req.Ops {
			if err := req.Ops[i].Validate(); err != nil {
				return &BadRequestError{Msg: err.Error()}
			}
		}
		return nil
	},
	direct: func(s *server, ctx context.Context, req *TxnRequest) (*TxnResponse, error) {
		z, errs, err := s.txnDenied(ctx, req)
		if err != nil || len(errs) > 0 {
			if err != nil {
				return nil, err
			}
			idx := s.store.KVIndex()
			return &TxnResponse{Result: store.TxnResult{Errors: errs}, Index: idx, QueryMeta: s.meta(idx)}, nil
		}
		readOnly := true
		for i := range req.Ops {
			readOnly = readOnly && req.Ops[i].Op.IsRead()
		}
		var out TxnResponse
		if readOnly {
			err := read(ctx, s, "Txn.Apply", req.QueryOptions, req, &out, func() error {
				res, idx, err := s.store.ReadTxn(&store.TxnRequest{Ops: req.Ops})
				if err != nil {
					return err
				}
				out = TxnResponse{Result: *res, Index: idx, QueryMeta: s.meta(idx)}
				out.ResultsFilteredByACLs = filterTxnReads(z, &out.Result)
				return s.hooks.filterRead(ctx, "Txn.Apply", req, &out)
			})
			return &out, err
		}
		err = onLeader(ctx, s, "Txn.Apply", req, &out, forwardWrite, func() error {
			if err := s.hooks.authorizeWrite(ctx, "Txn.Apply", req); err != nil {
				return err
			}
			// Lock-delay applies to lock operations inside transactions too.
			for i, op := range req.Ops {
				if op.Op == store.KVLock && time.Now().Before(s.store.KVLockDelay(op.Entry.Key)) {
					out = TxnResponse{Result: store.TxnResult{Errors: []store.TxnError{{OpIndex: i,
						What: fmt.Sprintf("failed to lock key %q due to lock delay", op.Entry.Key)}}}, Index: s.store.KVIndex()}
					out.QueryMeta = s.meta(out.Index)
					return nil
				}
			}
			res, idx, err := s.raftApply(store.TxnCommand, &store.TxnRequest{Ops: req.Ops})
			if err != nil {
				return err
			}
			out = TxnResponse{Result: *res.Txn, Index: idx, QueryMeta: s.meta(idx)}
			out.ResultsFilteredByACLs = filterTxnReads(z, &out.Result)
			return nil
		})
		return &out, err
	},
}

// Txn runs an atomic transaction.
func (a *Agent) Txn(ctx context.Context, req *TxnRequest) (*TxnResponse, error) {
	return txnEndpoint.call(ctx, a, req)
}

// txnDenied checks every operation of a transaction against its token
// and lists the ones refused; it returns what the token may do (nil with
// ACLs off) for filtering what the transaction reads.
func (s *server) txnDenied(ctx context.Context, req *TxnRequest) (acl.Authorizer, []store.TxnError, error) {
	if !s.hooks.acl.enabled() {
		return nil, nil, nil
	}
	id, err := s.hooks.acl.resolve(ctx, req.Token)
	if err != nil {
		return nil, nil, err
	}
	var errs []store.TxnError
	for i := range req.Ops {
		if authorizeKVOp(id.Authz, &req.Ops[i]) != nil {
			errs = append(errs, store.TxnError{OpIndex: i, What: "Permission denied"})
		}
	}
	return id.Authz, errs, nil
}

// filterTxnReads drops from a transaction's results the entries it read
// (get-tree reads a whole prefix) that the token may not read, as
// Consul filters them; written entries were authorized before Raft.
func filterTxnReads(z acl.Authorizer, res *store.TxnResult) bool {
	if z == nil || len(res.Results) != len(res.Reads) {
		return false
	}
	var results []store.KVEntry
	var reads []bool
	dropped := false
	for i, e := range res.Results {
		if res.Reads[i] && !z.KeyRead(e.Key) {
			dropped = true
			continue
		}
		results = append(results, e)
		reads = append(reads, res.Reads[i])
	}
	if dropped {
		res.Results, res.Reads = results, reads
	}
	return dropped
}
