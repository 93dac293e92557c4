package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
}

func (o *WriteOptions) targetDC() string { return o.Datacenter }
func (o *QueryOptions) targetDC() string { return o.Datacenter }
func (o *WriteOptions) hop() bool        { h := o.Hopped; o.Hopped = true; return h }
func (o *QueryOptions) hop() bool        { h := o.Hopped; o.Hopped = true; return h }
func (o *QueryOptions) query() *QueryOptions {
	return o
}
func (m *QueryMeta) setMeta(q QueryMeta) { *m = q }

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
		ok = q && m && e.read != nil
	case writeEndpoint:
		ok = e.leader != nil
	case directEndpoint:
		ok = e.direct != nil
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
			if err := s.hooks.authorizeWrite(ctx, e.name, req); err != nil {
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
				err = s.hooks.filterRead(ctx, e.name, req, r)
			}
			if r != nil {
				*out = *r
			}
			return err
		})
		return out, err
	default:
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
