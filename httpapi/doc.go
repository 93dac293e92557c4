// Package httpapi serves Consul's /v1 HTTP API on top of a node.Agent:
// it decodes requests, validates them (bad input is a 400 that changes
// nothing), calls the agent, and encodes replies with Consul's JSON field
// names, status codes and X-Consul-* headers.
//
// It holds no state of its own and must not reach into Raft or the store;
// everything goes through the agent's methods so forwarding and
// consistency rules live in one place.
package httpapi
