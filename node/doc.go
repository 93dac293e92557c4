// Package node is the consulx agent: configuration, lifecycle, the LAN and
// WAN gossip pools (hashicorp/serf), Raft on servers, and the internal RPC
// that carries a request client → server → leader (and to another
// datacenter).
//
// The pieces, and where to start reading:
//
//   - The agent's lifecycle: agent.go (New, Leave, Shutdown), gossip.go,
//     peers.go, datadir.go, config*.go (config_tls.go: the tls block).
//   - The server (servers only): server.go (Raft, the server port,
//     bootstrap, Raft membership) and its leader duties in leader_*.go
//     (catalog reconcile from gossip, session TTLs, tombstone reaping). It
//     is built from serverDeps and holds no pointer back to the Agent.
//   - RPC and forwarding: endpoint.go (one declaration per RPC: name, kind,
//     handler; registration, the datacenter hop, client → server →
//     leader), endpoints.go (the table), forward.go (leader holds,
//     consistency modes, raftApply), hooks.go (the authorizer and the
//     datacenter router), errors.go (typed errors, also on the wire),
//     rpc.go (the server-port mux and the pooled RPC transport), tls.go
//     (TLS on the server port, and the one dialler of servers' ports).
//   - Reads: readwatch.go, the one read-and-watch primitive that blocking
//     queries and the HTTP layer's parking both use.
//   - The endpoints by subject: kv.go, catalog.go, session.go, txn.go,
//     status.go, snapshot.go.
//   - The agent's own services and checks: local state, the check runner
//     and anti-entropy (local*.go, agentlocal.go, remote.go).
//
// It owns the rules of who answers what (consistency modes, leader holds,
// bootstrap-expect) but not the data itself, which lives in package store,
// nor the HTTP surface, which lives in package httpapi: nothing here writes
// an HTTP status or header of the public API.
package node
