// Package api is consulx's Go client for the agent's HTTP API. The CLI and
// the console use it, and so may any program; it speaks only HTTP, the same
// surface github.com/hashicorp/consul/api talks to.
package api
