package httpapi

import (
	"context"
	"net/http"
	"sort"

	"consulx/acl"
	"consulx/node"
)

// routeAccess is what a route requires of the request's token. Every
// route declares one (handle and handleRaw take it), so a route cannot be
// added without deciding its access control; TestEveryRouteDeniesAnonymous
// walks the table under default deny.
type routeAccess struct {
	// kind says where the decision is made.
	kind accessKind
	// check decides here, before the handler (kind == accessAgent).
	check func(z acl.Authorizer, self string) error
	// why: what is required, for the reader and the route table's listing.
	why string
}

type accessKind int

const (
	// accessPublic: any token, as in Consul (status, the datacenter list).
	accessPublic accessKind = iota + 1
	// accessServers: the servers' endpoint table decides (every endpoint
	// there declares authorize or filter).
	accessServers
	// accessAgent: check runs here before the handler.
	accessAgent
	// accessHandler: the handler checks or filters with the resolved
	// identity (what it needs is in the body, or it filters a list).
	accessHandler
)

func public(why string) routeAccess     { return routeAccess{kind: accessPublic, why: why} }
func viaServers(why string) routeAccess { return routeAccess{kind: accessServers, why: why} }
func inHandler(why string) routeAccess  { return routeAccess{kind: accessHandler, why: why} }

// needs is an access check made by this agent before the handler; perm
// on this agent's node when onSelf (agent:read), else on nothing
// (operator:write).
func needs(perm string, onSelf bool, ok func(z acl.Authorizer, self string) bool) routeAccess {
	return routeAccess{kind: accessAgent, why: perm, check: func(z acl.Authorizer, self string) error {
		if ok(z, self) {
			return nil
		}
		on := ""
		if onSelf {
			on = self
		}
		return node.Denied(z, perm, on)
	}}
}

var (
	agentRead     = needs("agent:read", true, func(z acl.Authorizer, self string) bool { return z.AgentRead(self) })
	agentWrite    = needs("agent:write", true, func(z acl.Authorizer, self string) bool { return z.AgentWrite(self) })
	operatorRead  = needs("operator:read", false, func(z acl.Authorizer, _ string) bool { return z.OperatorRead() })
	operatorWrite = needs("operator:write", false, func(z acl.Authorizer, _ string) bool { return z.OperatorWrite() })
	aclWrite      = needs("acl:write", false, func(z acl.Authorizer, _ string) bool { return z.ACLWrite() })
	// Consul's snapshot check: management, or acl = "write".
	management = needs("acl:write", false, func(z acl.Authorizer, _ string) bool { return acl.AllowSnapshot(z) })
)

// Route is one registered route, as the route-walking test sees it.
type Route struct {
	Pattern string
	Methods []string
	Access  string // "public", "servers", "agent", "handler"
	Why     string
	// MaxBody is the largest request body the route takes (bodylimit.go).
	MaxBody int64
}

// Routes lists every route this handler serves, by pattern.
func (h *Handler) Routes() []Route {
	out := append([]Route(nil), h.table...)
	sort.Slice(out, func(i, j int) bool { return out[i].Pattern < out[j].Pattern })
	return out
}

func (h *Handler) record(pattern string, methods []string, a routeAccess) {
	if a.kind == 0 {
		panic("route " + pattern + " declares no access control")
	}
	name := map[accessKind]string{accessPublic: "public", accessServers: "servers", accessAgent: "agent", accessHandler: "handler"}[a.kind]
	h.table = append(h.table, Route{Pattern: pattern, Methods: methods, Access: name, Why: a.why, MaxBody: h.bodyLimit(pattern)})
}

type identityKey struct{}

// admit resolves the request's token when this agent must decide (an
// agent check, or a handler that filters), runs the route's check, and
// returns the request carrying the identity.
func (h *Handler) admit(r *http.Request, a routeAccess) (*http.Request, error) {
	if !h.agent.ACLEnabled() {
		return r, nil
	}
	if a.kind != accessAgent && a.kind != accessHandler {
		// Decided elsewhere; a handler that asked authz anyway gets
		// nothing (fail closed), not everything.
		return r.WithContext(context.WithValue(r.Context(), identityKey{}, &node.Identity{Authz: acl.DenyAll()})), nil
	}
	id, err := h.agent.Resolve(r.Context(), requestToken(r))
	if err != nil {
		return r, err
	}
	if a.check != nil {
		if err := a.check(id.Authz, h.agent.Config().NodeName); err != nil {
			return r, err
		}
	}
	return r.WithContext(context.WithValue(r.Context(), identityKey{}, id)), nil
}

// authz is what the request's token may do, for handlers that check or
// filter themselves (everything, when ACLs are off).
func authz(r *http.Request) acl.Authorizer {
	if id, ok := r.Context().Value(identityKey{}).(*node.Identity); ok {
		return id.Authz
	}
	// No identity: ACLs are off (with ACLs on, admit attaches one to
	// every request).
	return acl.AllowAll()
}

// require is a handler's own check of what the token z may do.
func require(z acl.Authorizer, ok bool, perm, on string) error {
	if ok {
		return nil
	}
	return node.Denied(z, perm, on)
}

// setFiltered marks an answer the token saw only part of.
func setFiltered(w http.ResponseWriter, filtered bool) {
	if filtered {
		w.Header().Set("X-Consul-Results-Filtered-By-ACLs", "true")
	}
}
