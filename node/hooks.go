package node

import (
	"context"
	"sync/atomic"
)

// Authorizer decides what a request may do; access control plugs in here.
// Both methods see the endpoint's name and its typed request (and
// response): an implementation type-switches on what it guards.
type Authorizer interface {
	// AuthorizeWrite runs on the leader before a write enters Raft; an
	// error (a *PermissionDeniedError) refuses it and nothing is written.
	AuthorizeWrite(ctx context.Context, endpoint string, req any) error
	// FilterRead runs where a read is answered, after the read; it may
	// remove from resp what the requester must not see, or refuse. resp
	// may share slices with the store's memoised results: replace a slice
	// with a new one, never filter it in place.
	FilterRead(ctx context.Context, endpoint string, req, resp any) error
}

// DatacenterRouter finds a server of another datacenter to forward a
// request to (the WAN hop).
type DatacenterRouter interface {
	// ServersIn returns the RPC addresses of the live servers of dc,
	// the nearest first (the hop fails over down the list), or an error:
	// ErrNoPathToDatacenter for an unknown datacenter, ErrNoDCServers
	// when none of its servers is alive.
	ServersIn(dc string) (addrs []string, err error)
}

// hooks holds the pluggable policy of a server. Both may be replaced
// while the agent runs; nil means allow everything / no other datacenter.
type hooks struct {
	authorizer atomic.Pointer[Authorizer]
	router     atomic.Pointer[DatacenterRouter]
	// acl resolves tokens (node/acl.go); set once when the agent starts.
	acl *aclResolver
}

func (h *hooks) authorizeWrite(ctx context.Context, endpoint string, req any) error {
	if a := h.authorizer.Load(); a != nil {
		return (*a).AuthorizeWrite(ctx, endpoint, req)
	}
	return nil
}

func (h *hooks) filterRead(ctx context.Context, endpoint string, req, resp any) error {
	if a := h.authorizer.Load(); a != nil {
		return (*a).FilterRead(ctx, endpoint, req, resp)
	}
	return nil
}

func (h *hooks) serversIn(dc string) ([]string, error) {
	if r := h.router.Load(); r != nil {
		return (*r).ServersIn(dc)
	}
	return nil, ErrNoPathToDatacenter
}

// datacenters lists the known datacenters, nearest first, when the
// router can tell; otherwise only ours.
func (h *hooks) datacenters(own string) []string {
	if r := h.router.Load(); r != nil {
		if l, ok := (*r).(interface{ Datacenters() []string }); ok {
			return l.Datacenters()
		}
	}
	return []string{own}
}

// SetAuthorizer installs the authorizer consulted by this agent's server
// half (nil: allow everything). It has no effect on a client agent, whose
// requests are authorized by the servers.
func (a *Agent) SetAuthorizer(z Authorizer) {
	if z == nil {
		a.hooks.authorizer.Store(nil)
		return
	}
	a.hooks.authorizer.Store(&z)
}

// SetDatacenterRouter installs how this server finds servers of other
// datacenters (nil: none, requests for them fail with "No path to
// datacenter").
func (a *Agent) SetDatacenterRouter(r DatacenterRouter) {
	if r == nil {
		a.hooks.router.Store(nil)
		return
	}
	a.hooks.router.Store(&r)
}
