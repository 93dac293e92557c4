package store

import (
	"encoding/json"
	"fmt"
)

// CommandType is the first byte of every Raft log entry consulx writes; it
// tells the FSM how to decode the rest.
type CommandType uint8

const (
	// KVCommand carries a KVRequest.
	KVCommand CommandType = 1
)

// KVOp names a KV write verb; the names match Consul's txn verbs.
type KVOp string

const (
	KVSet        KVOp = "set"
	KVCAS        KVOp = "cas"
	KVDelete     KVOp = "delete"
	KVDeleteCAS  KVOp = "delete-cas"
	KVDeleteTree KVOp = "delete-tree"
)

// KVRequest is one KV write. For cas and delete-cas, Entry.ModifyIndex holds
// the index the caller expects.
type KVRequest struct {
	Op    KVOp
	Entry KVEntry
}

// Validate rejects requests that must never reach the log.
func (r *KVRequest) Validate() error {
	switch r.Op {
	case KVSet, KVCAS, KVDelete, KVDeleteCAS:
		if r.Entry.Key == "" {
			return fmt.Errorf("Missing key name")
		}
	case KVDeleteTree:
	default:
		return fmt.Errorf("unknown KV operation %q", r.Op)
	}
	return nil
}

// ApplyResult is what the FSM returns for each applied command.
type ApplyResult struct {
	// Ok is the boolean Consul returns for writes (false for a failed CAS).
	Ok bool
	// Err is set when the command was rejected by the state machine.
	Err string
}

// EncodeCommand frames a typed command for raft.Apply.
func EncodeCommand(t CommandType, body any) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode command: %w", err)
	}
	return append([]byte{byte(t)}, b...), nil
}
