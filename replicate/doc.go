// Package replicate keeps prefixes of another datacenter's KV copied into
// the local one, as the published consul-replicate does, built into
// consulx: `consulx replicate -prefix "SRC@DC[:DEST]"`.
//
// It is a client of the destination agent's HTTP API only (package api):
// blocking recursive reads of the source prefix with ?dc=, writes and
// deletes in the destination, a session lock so that one replicator per
// prefix is active across the destination datacenter (others wait to take
// over), and a status key per prefix under service/consulx-replicate/
// holding the last replicated index, so a restarted replicator resumes
// with a blocking read from there and rewrites only what differs.
//
// It must not know the agent's internals, Raft or the store.
package replicate
