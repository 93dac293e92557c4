package node

import (
	"time"

	"consulx/store"
)

// Consistency modes of a read, as in Consul.
const (
	ModeDefault    = ""
	ModeStale      = "stale"
	ModeConsistent = "consistent"
)

// QueryOptions travel with every read.
type QueryOptions struct {
	Consistency string
	// MinIndex > 0 makes the read a blocking query: it returns once the
	// result's index passes MinIndex or MaxWait elapses.
	MinIndex uint64
	MaxWait  time.Duration
	// Datacenter is reserved for the ?dc= hop: one more forward, not a rewrite.
	Datacenter string
}

// QueryMeta describes the server that answered a read.
type QueryMeta struct {
	Index       uint64
	KnownLeader bool
	LastContact time.Duration
}

// KVReadRequest is a GET on /v1/kv.
type KVReadRequest struct {
	Key string
	// Mode is "get" (one key), "list" (recurse) or "keys".
	Mode      string
	Separator string
	QueryOptions
}

// KVReadResponse answers a KVReadRequest.
type KVReadResponse struct {
	Entries []store.KVEntry
	Keys    []string
	QueryMeta
}

// KVWriteRequest is a PUT or DELETE on /v1/kv.
type KVWriteRequest struct {
	Request    store.KVRequest
	Datacenter string
}

// KVWriteResponse carries Consul's boolean and the index of the write.
type KVWriteResponse struct {
	Ok    bool
	Index uint64
}

// StatusRequest asks for leader/peers/raft information.
type StatusRequest struct{ QueryOptions }

// StatusLeaderResponse is the leader's RPC address, "" when none.
type StatusLeaderResponse struct{ Leader string }

// StatusPeersResponse lists Raft peer addresses.
type StatusPeersResponse struct{ Peers []string }

// RaftServer is one entry of the Raft configuration.
type RaftServer struct {
	ID              string
	Node            string
	Address         string
	Leader          bool
	Voter           bool
	ProtocolVersion string
}

// RaftConfigResponse is /v1/operator/raft/configuration.
type RaftConfigResponse struct {
	Servers []RaftServer
	Index   uint64
	QueryMeta
}

// RaftStateResponse is used by bootstrap to learn whether a peer already
// belongs to a cluster.
type RaftStateResponse struct {
	LastIndex uint64
}
