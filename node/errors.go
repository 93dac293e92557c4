package node

import (
	"errors"
	"net/http"
)

// The errors a request can end with, by kind. They cross the internal RPC
// by kind (rpcErrorHeader), so a client agent reports what a server
// would; httpapi maps each kind to one HTTP status in one place.
var (
	ErrNoLeader  = errors.New("No cluster leader")
	ErrNoServers = errors.New("No known Consul servers")
	// ErrNoPathToDatacenter answers a request for a datacenter this agent
	// has no route to (Consul's text).
	ErrNoPathToDatacenter = errors.New("No path to datacenter")
	// ErrNoDCServers answers a request for a known datacenter none of
	// whose servers is alive (Consul's text).
	ErrNoDCServers = errors.New("Remote DC has no server currently reachable")
)

// BadRequestError marks input that is wrong regardless of cluster state; the
// HTTP layer answers it with a 400.
type BadRequestError struct{ Msg string }

func (e *BadRequestError) Error() string { return e.Msg }

// NotFoundError is answered with a 404.
type NotFoundError struct{ Msg string }

func (e *NotFoundError) Error() string { return e.Msg }

// PermissionDeniedError is what the authorizer returns to refuse a
// request; the HTTP layer answers it with a 403.
type PermissionDeniedError struct{ Msg string }

func (e *PermissionDeniedError) Error() string {
	if e.Msg == "" {
		return "Permission denied"
	}
	return "Permission denied: " + e.Msg
}

// ErrACLNotFound: the request's token is not known (or has expired);
// Consul answers 403 "ACL not found".
var ErrACLNotFound = errors.New("ACL not found")

// errorKinds names each typed error on the wire. rebuild makes it again
// from the message on the calling side.
var errorKinds = []struct {
	name    string
	match   func(error) bool
	rebuild func(msg string) error
}{
	{"no-leader", func(err error) bool { return errors.Is(err, ErrNoLeader) }, func(string) error { return ErrNoLeader }},
	{"no-path-dc", func(err error) bool { return errors.Is(err, ErrNoPathToDatacenter) }, func(string) error { return ErrNoPathToDatacenter }},
	{"no-dc-servers", func(err error) bool { return errors.Is(err, ErrNoDCServers) }, func(string) error { return ErrNoDCServers }},
	{"bad-request", isType[*BadRequestError], func(m string) error { return &BadRequestError{Msg: m} }},
	{"not-found", isType[*NotFoundError], func(m string) error { return &NotFoundError{Msg: m} }},
	{"acl-not-found", func(err error) bool { return errors.Is(err, ErrACLNotFound) }, func(string) error { return ErrACLNotFound }},
	{"permission-denied", isType[*PermissionDeniedError], func(m string) error {
		return &PermissionDeniedError{Msg: trimDenied(m)}
	}},
}

func isType[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

func trimDenied(m string) string {
	const p = "Permission denied: "
	if len(m) > len(p) && m[:len(p)] == p {
		return m[len(p):]
	}
	return ""
}

// errorKind names err's kind for the wire ("" for a plain error).
func errorKind(err error) string {
	for _, k := range errorKinds {
		if k.match(err) {
			return k.name
		}
	}
	return ""
}

// rpcErrorFrom rebuilds a typed error from an RPC error reply.
func rpcErrorFrom(h http.Header, msg string) error {
	kind := h.Get(rpcErrorHeader)
	for _, k := range errorKinds {
		if k.name == kind {
			return k.rebuild(msg)
		}
	}
	return errors.New(msg)
}
