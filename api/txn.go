package api

import (
	"context"
	"encoding/json"
	"fmt"
)

// KVTxnOp is one KV operation of a transaction (verbs as Consul's:
// "set", "delete", ...).
type KVTxnOp struct {
	Verb  string
	Key   string
	Value []byte `json:",omitempty"`
	Flags uint64 `json:",omitempty"`
}

// KVTxn applies ops atomically (PUT /v1/txn, at most 64 operations); a
// rolled-back transaction is an error naming the first failure.
func (c *Client) KVTxn(ctx context.Context, ops []KVTxnOp) error {
	body := make([]map[string]KVTxnOp, len(ops))
	for i, op := range ops {
		body[i] = map[string]KVTxnOp{"KV": op}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	data, err := c.put(ctx, "/v1/txn", nil, b)
	if err != nil {
		return err
	}
	var resp struct {
		Errors []struct {
			OpIndex int
			What    string
		}
	}
	if json.Unmarshal(data, &resp) == nil && len(resp.Errors) > 0 {
		return fmt.Errorf("transaction rolled back: operation %d: %s", resp.Errors[0].OpIndex, resp.Errors[0].What)
	}
	return nil
}
