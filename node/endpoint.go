package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"consulx/acl"
	"consulx/store"
)

// An endpoint is one internal RPC, declared once (endpoints.go): its name,
// its kind, and what it does on a server. The declaration is used three
// ways: it registers the server-side handler, it carries a request where
// it must go (another datacenter; client agent → server → leader), and it
// is what the Agent's exported method calls. Adding an endpoint is one
// declaration, one line in endpointTable and a one-line Agent method.
//
//	client agent ──rpc──▶ server ──rpc──▶ leader
//	                        │ dc≠ours
//	                        └──rpc──▶ a server of that datacenter
type endpoint[A, R any] struct {
	name string
	kind endpointKind
	// validate checks a request where it enters a server, before any
	// forward (optional). It returns typed errors.
	validate func(*A) error
	// leader does a write on the leader (writeEndpoint), after the
	// authorizer allowed it.
	leader func(s *server, ctx context.Context, req *A) (*R, error)
	// read reads once from this server's state, arming through arm a watch
	// on exactly what it reads before reading it (readEndpoint). The
	// consistency mode, blocking and read filtering are the table's.
	read func(s *server, req *A, arm *watchArm) (*R, uint64, error)
	// direct runs on whichever server receives the request and does any
	// forwarding itself (directEndpoint: status, transactions).
	direct func(s *server, ctx context.Context, req *A) (*R, error)

	// Access control: every write and direct endpoint declares authorize
	// or public, every read filter (check() refuses a declaration
	// without), so no endpoint escapes ACLs.
	//
	// authorize says whether the request's token may make it: nil, or a
	// *PermissionDeniedError. It runs where the request is served, before
	// anything is written.
	authorize func(s *server, z acl.Authorizer, req *A) error
	// public, instead of authorize, declares an endpoint open to every
	// token (its reason, for the reader): its token is not even resolved
	// (ACL.ResolveToken must not resolve the token it is asked about).
	public string
	// filter removes from a read's answer what the token may not read
	// (replacing slices, never editing the store's memoised ones) and
	// reports whether it removed anything; or refuses the read.
	filter func(z acl.Authorizer, req *A, resp *R) (filtered bool, err error)
}

// denied is the refusal of an endpoint's authorize or filter. what names
// the permission missing, as Consul's detail text does
// (`token with AccessorID '...' lacks permission "key:write" on "foo"`).
func denied(z acl.Authorizer, perm, on string) error { return Denied(z, perm, on) }

// Denied is Consul's refusal text for a token z that lacks perm
// ("key:write") on the resource on ("" for acl, operator, keyring):
// `Permission denied: token with AccessorID '...' lacks permission
// 'key:write' on "app/x"`, naming the anonymous token as Consul does.
func Denied(z acl.Authorizer, perm, on string) error {
	who := "token"
	anonymous := false
	if n, ok := z.(accessorNamed); ok {
		if anonymous = n.accessor == store.AnonymousTokenAccessorID; anonymous {
			who = "anonymous token"
		} else if n.accessor != "" {
			who = fmt.Sprintf("token with AccessorID '%s'", n.accessor)
		}
	}
	msg := fmt.Sprintf("%s lacks permission '%s'", who, perm)
	if on != "" {
		msg += fmt.Sprintf(" on %q", on)
	}
	if anonymous {
		msg += ". The anonymous token is used implicitly when a request does not specify a token."
	}
	return &PermissionDeniedError{Msg: msg}
}

// accessorNamed is a resolved token's authorizer, carrying its
// AccessorID for the refusal text.
type accessorNamed struct {
	acl.Authorizer
	accessor string
}

// allowOrDeny turns one permission check into authorize's answer.
func allowOrDeny(ok bool, z acl.Authorizer, perm, on string) error {
	if ok {
		return nil
	}
	return denied(z, perm, on)
}

// authorizeRequest resolves the request's token and asks the endpoint's
// authorize, then the installed Authorizer hook.
func (e *endpoint[A, R]) authorizeRequest(ctx context.Context, s *server, req *A) error {
	if e.public == "" && s.hooks.acl.enabled() {
		id, err := s.hooks.acl.resolve(ctx, *any(req).(routed).token())
		if err != nil {
			return err
		}
		if err := e.authorize(s, id.Authz, req); err != nil {
			return err
		}
	}
	if e.kind == writeEndpoint {
		return s.hooks.authorizeWrite(ctx, e.name, req)
	}
	return nil
}

// filterResult resolves the request's token and filters a read's answer,
// then asks the installed Authorizer hook.
func (e *endpoint[A, R]) filterResult(ctx context.Context, s *server, req *A, resp *R) error {
	if s.hooks.acl.enabled() {
		id, err := s.hooks.acl.resolve(ctx, *any(req).(routed).token())
		if err != nil {
			return err
		}
		filtered, err := e.filter(id.Authz, req, resp)
		if err != nil {
			return err
		}
		if filtered {
			if m, ok := any(resp).(interface{ meta() *QueryMeta }); ok {
				m.meta().ResultsFilteredByACLs = true
			}
		}
	}
	return s.hooks.filterRead(ctx, e.name, req, resp)
}

type endpointKind int

const (
	// readEndpoint: answered under the request's consistency mode, as a
	// blocking query when it carries MinIndex, filtered by the authorizer.
	readEndpoint endpointKind = iota + 1
	// writeEndpoint: runs on the leader (followers forward it there),
	// authorized before it reaches Raft.
	writeEndpoint
	// directEndpoint: runs where it arrives.
	directEndpoint
)

// routed is what every request carries for routing: the datacenter it is
// for ("" means this agent's), and whether it was forwarded to another
// datacenter already (hop marks it and reports the old mark).
// QueryOptions and WriteOptions provide it.
type routed interface {
	targetDC() string
	hop() bool
	token() *string
}

// queried is what a read request carries: QueryOptions.
type queried interface {
	routed
	query() *QueryOptions
}

// metaSetter is what a read response carries: QueryMeta.
type metaSetter interface{ setMeta(QueryMeta) }

// WriteOptions travel with every write.
type WriteOptions struct {
	// Datacenter is the datacenter the write is for ("" means ours).
	Datacenter string
	// Hopped: see QueryOptions.Hopped.
	Hopped bool
	// Token: see QueryOptions.Token.
	Token string
}

func (o *WriteOptions) targetDC() string { return o.Datacenter }
func (o *QueryOptions) targetDC() string { return o.Datacenter }
func (o *WriteOptions) token() *string   { return &o.Token }
func (o *QueryOptions) token() *string   { return &o.Token }
func (o *WriteOptions) hop() bool        { h := o.Hopped; o.Hopped = true; return h }
func (o *QueryOptions) hop() bool        { h := o.Hopped; o.Hopped = true; return h }
func (o *QueryOptions) query() *QueryOptions {
	return o
}
func (m *QueryMeta) setMeta(q QueryMeta) { *m = q }
func (m *QueryMeta) meta() *QueryMeta    { return m }

// check verifies, when the table is built, that the request and response
// types carry what the endpoint's kind needs; a mistake stops the program
// at start rather than misrouting a request later.
func (e *endpoint[A, R]) check() {
	var a A
	var r R
	if _, ok := any(&a).(routed); !ok {
		panic(fmt.Sprintf("endpoint %s: *%T carries no WriteOptions or QueryOptions", e.name, a))
	}
	ok := false
	switch e.kind {
	case readEndpoint:
		_, q := any(&a).(queried)
		_, m := any(&r).(metaSetter)
		ok = q && m && e.read != nil && e.filter != nil
	case writeEndpoint:
		ok = e.leader != nil && (e.authorize != nil) != (e.public != "")
	case directEndpoint:
		ok = e.direct != nil && (e.authorize != nil) != (e.public != "")
	}
	if !ok {
		panic(fmt.Sprintf("endpoint %s is not declared completely for its kind", e.name))
	}
}

// rpcName is the endpoint's name on the wire.
func (e *endpoint[A, R]) rpcName() string { return e.name }

// handler decodes a request arriving over RPC and serves it.
func (e *endpoint[A, R]) handler(s *server) rpcHandler {
	return func(ctx context.Context, body []byte) (any, error) {
		var req A
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, &BadRequestError{Msg: fmt.Sprintf("decode %s: %v", e.name, err)}
		}
		return e.serve(ctx, s, &req)
	}
}

// call runs the endpoint for this agent: on a server directly; on a
// client agent through some server of the datacenter, trying another one
// only when a server could not be dialled (so a write is never applied
// twice).
func (e *endpoint[A, R]) call(ctx context.Context, a *Agent, req *A) (*R, error) {
	if tok := any(req).(routed).token(); *tok == "" {
		*tok = a.tokens.user()
	}
	if a.srv != nil {
		return e.serve(ctx, a.srv, req)
	}
	var lastErr error = ErrNoServers
	tried := map[string]bool{}
	for {
		addr := a.pickServer(tried)
		if addr == "" {
			if len(tried) == 0 {
				return nil, ErrNoServers
			}
			return nil, fmt.Errorf("rpc error making call: %w", lastErr)
		}
		tried[addr] = true
		var reply R
		err := a.pool.call(ctx, addr, e.name, req, &reply)
		var de *dialError
		if err == nil {
			return &reply, nil
		}
		if !errors.As(err, &de) {
			return nil, err
		}
		lastErr = err
	}
}

// serve runs a request that reached a server: it hops to another
// datacenter, or does the work here, forwarding to the leader as its kind
// requires.
func (e *endpoint[A, R]) serve(ctx context.Context, s *server, req *A) (*R, error) {
	if e.validate != nil {
		if err := e.validate(req); err != nil {
			return nil, err
		}
	}
	if dc := any(req).(routed).targetDC(); dc != "" && dc != s.cfg.Datacenter {
		return e.hop(ctx, s, dc, req)
	}
	switch e.kind {
	case writeEndpoint:
		out := new(R)
		err := onLeader(ctx, s, e.name, req, out, forwardWrite, func() error {
			if err := e.authorizeRequest(ctx, s, req); err != nil {
				return err
			}
			r, err := e.leader(s, ctx, req)
			if r != nil {
				*out = *r
			}
			return err
		})
		return out, err
	case readEndpoint:
		opts := *any(req).(queried).query()
		out := new(R)
		err := read(ctx, s, e.name, opts, req, out, func() error {
			r, err := e.blockingRead(ctx, s, req, opts)
			if err == nil {
				err = e.filterResult(ctx, s, req, r)
			}
			if r != nil {
				*out = *r
			}
			return err
		})
		return out, err
	default:
		if err := e.authorizeRequest(ctx, s, req); err != nil {
			return nil, err
		}
		return e.direct(s, ctx, req)
	}
}

// hop forwards a request to a server of datacenter dc: one more forward,
// after which the request is local there.
func (e *endpoint[A, R]) hop(ctx context.Context, s *server, dc string, req *A) (*R, error) {
	fwd := *req // the caller's request stays as it was
	if any(&fwd).(routed).hop() {
		// Already forwarded once and still not in its datacenter: the
		// route is wrong; refuse rather than loop.
		return nil, ErrNoPathToDatacenter
	}
	req = &fwd
	addrs, err := s.hooks.serversIn(dc)
	if err != nil {
		return nil, err
	}
	// Nearest first; the next server of dc only when one could not be
	// dialled (a write that reached a server is never sent twice), or for
	// a read whose connection broke.
	// The servers there present certificates for dc's name.
	dctx := withServerDC(ctx, dc)
	for _, addr := range addrs {
		var reply R
		err = s.pool.call(dctx, addr, e.name, req, &reply)
		if err == nil {
			return &reply, nil
		}
		var de *dialError
		_, isRead := any(req).(queried)
		if !errors.As(err, &de) && !(isRead && ctx.Err() == nil && isTransport(err)) {
			return nil, err
		}
	}
	return nil, err
}

// rpcEndpoint is an endpoint of any request and response type, as the
// registration loop sees it.
type rpcEndpoint interface {
	rpcName() string
	handler(s *server) rpcHandler
	check()
}

// rpcHandlers builds the server's RPC handler map from the table.
func rpcHandlers(s *server) map[string]rpcHandler {
	m := map[string]rpcHandler{}
	for _, e := range endpointTable {
		m[e.rpcName()] = e.handler(s)
	}
	return m
}

func init() {
	seen := map[string]bool{}
	for _, e := range endpointTable {
		e.check()
		if seen[e.rpcName()] {
			panic("endpoint declared twice: " + e.rpcName())
		}
		seen[e.rpcName()] = true
	}
}
