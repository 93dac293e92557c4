// Package store is the replicated state machine of consulx.
//
// It owns the data that Raft replicates — today the KV table, later sessions,
// the catalog and ACL tables — kept in an in-memory tidwall/buntdb database,
// and the raft.FSM that applies committed commands, takes snapshots and
// restores them. Indexes are Raft log indexes, so they survive restarts and
// replay identically on every server.
//
// The store knows nothing about HTTP, gossip or forwarding: callers hand it
// typed commands (Command) and read it through plain methods.
package store
