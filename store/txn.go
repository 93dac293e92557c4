package store

import "fmt"

// MaxTxnOps bounds one transaction, as Consul's txn endpoint does.
const MaxTxnOps = 128

// TxnRequest is an atomic list of KV operations.
type TxnRequest struct {
	Ops []KVRequest
}

// TxnError names the operation that made a transaction roll back.
type TxnError struct {
	OpIndex int
	What    string
}

// TxnResult is either the entries read and written (on commit) or the
// errors (on rollback).
type TxnResult struct {
	Results []KVEntry
	// Kinds says, per result, whether the value should be shown (reads)
	// or hidden (writes), since Consul returns values only for get verbs.
	Reads  []bool
	Errors []TxnError
}

// applyTxn runs every operation; if any fails, all of them are undone.
func applyTxn(w *wtx, idx uint64, req *TxnRequest) *TxnResult {
	res := &TxnResult{}
	u, t, sc := w.mark()
	for i := range req.Ops {
		op := &req.Ops[i]
		ok, read, err := applyKV(w, idx, op)
		if err == nil && !ok {
			switch op.Op {
			case KVLock:
				err = fmt.Errorf("failed to lock key %q, lock is already held", op.Entry.Key)
			case KVUnlock:
				err = fmt.Errorf("failed to unlock key %q, lock isn't held, or is held by another session", op.Entry.Key)
			case KVCAS, KVDeleteCAS:
				err = fmt.Errorf("failed to %s key %q, index is stale", op.Op, op.Entry.Key)
			default:
				err = fmt.Errorf("failed to %s key %q", op.Op, op.Entry.Key)
			}
		}
		if err != nil {
			res.Errors = append(res.Errors, TxnError{OpIndex: i, What: err.Error()})
			continue
		}
		switch {
		case op.Op.IsRead():
			// Check verbs return the entry too, with its value hidden.
			showValue := op.Op == KVGet || op.Op == KVGetTree || op.Op == KVGetOrEmpty
			for _, e := range read {
				res.Results = append(res.Results, e)
				res.Reads = append(res.Reads, showValue)
			}
		case op.Op == KVDelete || op.Op == KVDeleteCAS || op.Op == KVDeleteTree:
			// deletes produce no result entry
		default:
			e, err := readEntry(w, op.Entry.Key)
			if err == nil && e != nil {
				res.Results = append(res.Results, *e)
				res.Reads = append(res.Reads, false)
			}
		}
	}
	if len(res.Errors) > 0 {
		w.rollback(u, t, sc)
		res.Results, res.Reads = nil, nil
	}
	return res
}
