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
	// SessionCommand carries a SessionRequest.
	SessionCommand CommandType = 2
	// TxnCommand carries a TxnRequest.
	TxnCommand CommandType = 3
	// RegisterCommand carries a RegisterRequest.
	RegisterCommand CommandType = 4
	// DeregisterCommand carries a DeregisterRequest.
	DeregisterCommand CommandType = 5
	// TombstoneReapCommand carries a TombstoneReapRequest.
	TombstoneReapCommand CommandType = 6
	// ACLCommand carries an ACLRequest.
	ACLCommand CommandType = 7
	// KVBinaryCommand and TxnBinaryCommand carry a KVRequest and a
	// TxnRequest in codec.go's binary encoding. New types rather than new
	// bodies for 1 and 3: a server that predates them stops on the
	// unknown type instead of rejecting the entry and diverging.
	KVBinaryCommand  CommandType = 8
	TxnBinaryCommand CommandType = 9

	// IgnoreUnknownTypeFlag, set on a command type, lets a server that
	// does not know the type skip the entry (as Consul's flag of the same
	// name): for commands whose absence cannot make states diverge. Any
	// other unknown type stops the server (UnknownCommandError).
	IgnoreUnknownTypeFlag CommandType = 128
)

// TombstoneReapRequest removes KV tombstones created at or before Index.
// The leader picks Index from a time-to-index record, so every server
// removes exactly the same tombstones.
type TombstoneReapRequest struct {
	Index uint64
}

// KVOp names a KV write verb; the names match Consul's txn verbs.
type KVOp string

const (
	KVSet        KVOp = "set"
	KVCAS        KVOp = "cas"
	KVDelete     KVOp = "delete"
	KVDeleteCAS  KVOp = "delete-cas"
	KVDeleteTree KVOp = "delete-tree"
	KVLock       KVOp = "lock"
	KVUnlock     KVOp = "unlock"
	// Read and check verbs, valid inside transactions only.
	KVGet            KVOp = "get"
	KVGetOrEmpty     KVOp = "get-or-empty"
	KVGetTree        KVOp = "get-tree"
	KVCheckIndex     KVOp = "check-index"
	KVCheckSession   KVOp = "check-session"
	KVCheckNotExists KVOp = "check-not-exists"
)

// IsRead reports whether the verb only reads or checks.
func (op KVOp) IsRead() bool {
	switch op {
	case KVGet, KVGetOrEmpty, KVGetTree, KVCheckIndex, KVCheckSession, KVCheckNotExists:
		return true
	}
	return false
}

// KVRequest is one KV write. For cas and delete-cas, Entry.ModifyIndex holds
// the index the caller expects.
type KVRequest struct {
	Op    KVOp
	Entry KVEntry
}

// Validate rejects requests that must never reach the log.
func (r *KVRequest) Validate() error {
	switch r.Op {
	case KVSet, KVCAS, KVDelete, KVDeleteCAS, KVGet, KVGetOrEmpty, KVCheckIndex, KVCheckNotExists:
		if r.Entry.Key == "" {
			return fmt.Errorf("Missing key name")
		}
	case KVLock, KVUnlock, KVCheckSession:
		if r.Entry.Key == "" {
			return fmt.Errorf("Missing key name")
		}
		if r.Entry.Session == "" && r.Op != KVCheckSession {
			return fmt.Errorf("Missing session")
		}
	case KVDeleteTree, KVGetTree:
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
	// Txn holds a transaction's outcome.
	Txn *TxnResult
}

// EncodeCommand frames a typed command for raft.Apply: binary for the
// bodies that have an encoding (codec.go), JSON for the rest.
func EncodeCommand(t CommandType, body any) ([]byte, error) {
	if bt, ok := binaryTypes[t]; ok {
		if bc, ok := body.(binaryCommand); ok {
			return bc.appendBinary(append(make([]byte, 0, 256), byte(bt))), nil
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode command: %w", err)
	}
	return append([]byte{byte(t)}, b...), nil
}
