// Package api is consulx's Go client for the agent's HTTP API. The CLI and
// the console use it, and so may any program; it speaks only HTTP(S), the same
// surface github.com/hashicorp/consul/api talks to.
//
// It must not import the agent's packages (node, httpapi, store): a client
// knows the API's JSON, not how the agent stores or routes it.
package api
