// Package store is the replicated state machine of consulx.
//
// It owns the data that Raft replicates — KV entries and tombstones,
// sessions and the locks they hold, the catalog (nodes, services, checks)
// — in an in-memory tidwall/buntdb database, and the raft.FSM that applies
// committed commands in batches, takes snapshots and restores them. Indexes
// are Raft log indexes, so they survive restarts and replay identically on
// every server. It also owns the watch index that wakes blocking readers
// of exactly what a write touched, and the in-memory catalog mirror.
//
// The store knows nothing about HTTP, gossip, forwarding or consistency
// modes: callers hand it typed commands (command.go; KV writes and
// transactions travel in the binary encoding of codec.go under their own
// command types, the rest as JSON) and read it through plain methods. DESIGN.md says why it is built this way.
package store
