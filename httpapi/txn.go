package httpapi

import (
	"encoding/json"
	"net/http"

	"consulx/node"
	"consulx/store"
)

type txnKVOp struct {
	Verb    string
	Key     string
	Value   []byte
	Flags   uint64
	Index   uint64
	Session string
}

type txnOp struct {
	KV      *txnKVOp
	Node    json.RawMessage
	Service json.RawMessage
	Check   json.RawMessage
}

type txnResultJSON struct {
	KV kvEntryJSON
}

type txnErrorJSON struct {
	OpIndex int
	What    string
}

// txn serves PUT /v1/txn: all operations commit or none do (409 then).
func (h *Handler) txn(w http.ResponseWriter, r *http.Request) (any, error) {
	raw, err := readBody(r, int64(h.agent.Config().KVMaxValueSize))
	if err != nil {
		return nil, err
	}
	var ops []txnOp
	if err := json.Unmarshal(raw, &ops); err != nil {
		return nil, badRequest("Failed to parse body: %v", err)
	}
	if len(ops) > store.MaxTxnOps {
		return nil, &statusError{code: http.StatusRequestEntityTooLarge, msg: "Transaction contains too many operations (" + itoa(len(ops)) + " > " + itoa(store.MaxTxnOps) + ")"}
	}
	opts, err := queryOptions(r)
	if err != nil {
		return nil, err
	}
	req := &node.TxnRequest{QueryOptions: opts}
	for i, op := range ops {
		if op.KV == nil {
			return nil, badRequest("Failed to parse body: operation %d: only KV operations are supported by consulx transactions", i)
		}
		verb := store.KVOp(op.KV.Verb)
		if verb == "delete-tree" || verb == "get-tree" {
			// tree verbs take the key as a prefix; empty means everything
		} else if op.KV.Key == "" {
			return nil, badRequest("Failed to parse body: operation %d: Missing key name", i)
		}
		value := op.KV.Value
		if len(value) == 0 {
			value = nil
		}
		kr := store.KVRequest{Op: verb, Entry: store.KVEntry{Key: op.KV.Key, Value: value, Flags: op.KV.Flags, ModifyIndex: op.KV.Index, Session: op.KV.Session}}
		if err := kr.Validate(); err != nil {
			return nil, badRequest("Failed to parse body: operation %d: %v", i, err)
		}
		req.Ops = append(req.Ops, kr)
	}
	out, err := h.agent.Txn(r.Context(), req)
	if err != nil {
		return nil, err
	}
	setMeta(w, out.QueryMeta)
	if len(out.Result.Errors) > 0 {
		errs := make([]txnErrorJSON, len(out.Result.Errors))
		for i, e := range out.Result.Errors {
			errs[i] = txnErrorJSON{OpIndex: e.OpIndex, What: e.What}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		writeJSON(w, r, map[string]any{"Results": nil, "Errors": errs})
		return nil, nil
	}
	results := make([]txnResultJSON, len(out.Result.Results))
	for i, e := range out.Result.Results {
		j := toEntryJSON(e)
		if !out.Result.Reads[i] {
			j.Value = nil
		}
		results[i] = txnResultJSON{KV: j}
	}
	return map[string]any{"Results": results, "Errors": nil}, nil
}
