// Package watch runs Consul's watches: a view of the data (a key, a key
// prefix, the services, the nodes, one service's health, checks, user
// events) read with blocking queries over the HTTP API, and a handler run
// at once and then every time that view really changes. `consulx watch`
// and the watches of the agent's configuration (`watches`) both use it.
//
// It owns:
//
//   - the plan of each watch type: which endpoint it reads, with which
//     parameters, and what a 404 means (plan.go);
//   - the blocking loop and its change detection: the data is compared
//     without CreateIndex and ModifyIndex, so a write of the same value
//     (a new index, the same data) and a write to another key fire
//     nothing; handlers of one watch run one at a time, in order; a failed
//     read is retried with a growing pause (loop.go);
//   - the handlers: a script (through package exec: its own process group,
//     the JSON on stdin, CONSUL_INDEX set, output captured, a timeout) and
//     an HTTP call (the JSON as the body, X-Consul-Index, the configured
//     method, headers, timeout and TLS verification) (handler.go);
//   - the `watches` entries of the agent's configuration, with Consul's
//     field names, checked in full before the agent starts (config.go),
//     and running them against the agent's own HTTP API (agent.go).
//
// It must not know the agent: nothing here reads node's state, the store
// or the HTTP server; watches reach the data only through the HTTP API
// (consulx/api), as Consul's do, so a watch behaves the same in the agent
// and in the CLI. Where its output goes (a terminal, the agent's log) is
// the caller's choice.
package watch
