// Package httpapi serves Consul's /v1 HTTP API on top of an agent: it
// decodes requests into the agent's typed requests, validates them (bad
// input is a 400 that changes nothing), calls the agent, and encodes
// replies with Consul's JSON field names, status codes and X-Consul-*
// headers. All HTTP framing lives here: statusOf (server.go) is the one
// place a typed error becomes a status code.
//
// It sees the agent only through the Agent interface it defines
// (agent.go), so handler tests run on a fake (fake_test.go). A blocking
// read goes through serveRead (read.go): when the agent can answer it from
// its own state and nothing changed yet, the request is parked (park.go):
// the connection is hijacked and waits on the agent's watch with one
// small goroutine in a 1-byte read (to see a client hang up) instead of
// net/http's buffers and handler stack, then is answered and handed back
// for keep-alive.
//
// It holds no state of its own beyond parked connections and encoded
// answers (whole /v1/health/service answers and per-instance fragments),
// and must not reach into Raft or the store.
package httpapi
