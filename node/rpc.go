package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The server port carries three protocols, told apart by the first byte
// of each connection (as Consul does): Raft's transport, our internal RPC
// and remote exec streams (the relay, see exec.go); rpcTLS (tls.go) wraps
// any of them in TLS.
const (
	rpcRaft     byte = 0x01
	rpcInternal byte = 0x02
	rpcExec     byte = 0x03
)

// muxListener accepts on the server port and routes each connection by its
// first byte.
type muxListener struct {
	ln        net.Listener
	advertise net.Addr
	in        *incomingTLS // nil: plaintext only
	raftCh    chan net.Conn
	rpcCh     chan net.Conn
	execCh    chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newMuxListener(ln net.Listener, advertise net.Addr, in *incomingTLS) *muxListener {
	m := &muxListener{ln: ln, advertise: advertise, in: in, raftCh: make(chan net.Conn, 16), rpcCh: make(chan net.Conn, 16), execCh: make(chan net.Conn, 16), done: make(chan struct{})}
	go m.acceptLoop()
	return m
}

func (m *muxListener) acceptLoop() {
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		go m.route(c)
	}
}

func (m *muxListener) route(c net.Conn) {
	// The deadline covers the first byte and, for rpcTLS, the handshake
	// and the inner byte.
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		c.Close()
		return
	}
	proto := b[0]
	if m.in != nil {
		var ok bool
		if c, proto, ok = m.in.accept(c, proto); !ok {
			return
		}
	}
	_ = c.SetDeadline(time.Time{})
	var ch chan net.Conn
	switch proto {
	case rpcRaft:
		ch = m.raftCh
	case rpcInternal:
		ch = m.rpcCh
	case rpcExec:
		ch = m.execCh
	default:
		c.Close()
		return
	}
	select {
	case ch <- c:
	case <-m.done:
		c.Close()
	}
}

// Close stops accepting and closes the connections routed but not yet
// accepted: left in the queues, their senders (a client agent forwarding
// a request) would wait for an answer that never comes.
func (m *muxListener) Close() error {
	m.closeOnce.Do(func() { close(m.done) })
	err := m.ln.Close()
	for _, ch := range []chan net.Conn{m.raftCh, m.rpcCh, m.execCh} {
		for drained := false; !drained; {
			select {
			case c := <-ch:
				c.Close()
			default:
				drained = true
			}
		}
	}
	return err
}

// chanListener is a net.Listener fed by the mux.
type chanListener struct {
	m  *muxListener
	ch chan net.Conn
}

func (l *chanListener) Accept() (net.Conn, error) {
	// A closed mux wins over a queued connection (select alone picks at
	// random); Close closes what is left in the queue.
	select {
	case <-l.m.done:
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.m.done:
		return nil, net.ErrClosed
	}
}
func (l *chanListener) Close() error   { return nil }
func (l *chanListener) Addr() net.Addr { return l.m.advertise }

// raftLayer is raft's StreamLayer on the shared port.
type raftLayer struct {
	chanListener
	dialer *serverDialer
}

func (l *raftLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return l.dialer.dial(ctx, string(addr), rpcRaft)
}

// dialError marks a failure to reach a server at all, the one RPC failure
// after which retrying a write elsewhere cannot apply it twice.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// transportError is a failure of the connection during a call (as opposed
// to an error the remote server answered with); reads may retry it.
type transportError struct{ err error }

func (e *transportError) Error() string { return "rpc error making call: " + e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// rpcClientTimeout bounds an RPC that is not a blocking query, as
// Consul's limits.rpc_client_timeout (60 s) does: a server that never
// answers (its connection lost in a shutdown) fails the call instead of
// holding the caller, and the HTTP request behind it, forever.
var rpcClientTimeout = 60 * time.Second

// rpcPool keeps pooled HTTP/1.1 connections to servers' internal RPC.
type rpcPool struct {
	client *http.Client
	// maxQueryTime bounds a blocking query's wait; a forwarded blocking
	// read gets that much more time than rpcClientTimeout.
	maxQueryTime time.Duration
}

// newRPCPool dials servers with d (nil: plaintext). The request's
// context reaches d, so a hop marks the datacenter it dials
// (withServerDC) for verify_server_hostname.
func newRPCPool(maxQueryTime time.Duration, d *serverDialer) *rpcPool {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.dial(ctx, addr, rpcInternal)
			if err != nil {
				return nil, &dialError{err}
			}
			return c, nil
		},
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     2 * time.Minute,
		DisableCompression:  true,
	}
	return &rpcPool{client: &http.Client{Transport: tr}, maxQueryTime: maxQueryTime}
}

func (p *rpcPool) close() { p.client.CloseIdleConnections() }

// timeout is how long a call with args may take: rpcClientTimeout, plus
// the longest wait a blocking query may ask for (with its jitter).
func (p *rpcPool) timeout(args any) time.Duration {
	t := rpcClientTimeout
	if q, ok := args.(queried); ok && q.query().MinIndex > 0 {
		t += p.maxQueryTime + p.maxQueryTime/jitterFraction
	}
	return t
}

// rpcErrorHeader carries the kind of an application error across the wire.
const rpcErrorHeader = "X-Consulx-Error"

// call invokes method on the server at addr.
func (p *rpcPool) call(ctx context.Context, addr, method string, args, reply any) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout(args))
	defer cancel()
	body, err := json.Marshal(args)
	if err != nil {
		return fmt.Errorf("encode %s: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/rpc/"+method, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		var de *dialError
		if errors.As(err, &de) {
			return de
		}
		return &transportError{err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return &transportError{err}
	}
	if resp.Header.Get(tlsRequiredHeader) != "" {
		// Refused before anything ran: as good as not reached.
		return &dialError{errTLSRequired}
	}
	if resp.StatusCode != http.StatusOK {
		return rpcErrorFrom(resp.Header, string(data))
	}
	return json.Unmarshal(data, reply)
}

func decodeRPCError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return rpcErrorFrom(resp.Header, string(data))
}

// writeRPCError answers an RPC with err, keeping its kind.
func writeRPCError(w http.ResponseWriter, err error) {
	if kind := errorKind(err); kind != "" {
		w.Header().Set(rpcErrorHeader, kind)
	}
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = io.WriteString(w, err.Error())
}

// rpcHandler decodes a request body and runs one endpoint.
type rpcHandler func(ctx context.Context, body []byte) (any, error)

// serveRPC answers internal RPCs arriving on the mux.
func serveRPC(ln net.Listener, handlers map[string]rpcHandler, raw map[string]http.HandlerFunc) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /raw/{name}", func(w http.ResponseWriter, r *http.Request) {
		h, ok := raw[r.PathValue("name")]
		if !ok {
			http.Error(w, "unknown raw RPC", http.StatusNotFound)
			return
		}
		h(w, r)
	})
	mux.HandleFunc("POST /rpc/{method}", func(w http.ResponseWriter, r *http.Request) {
		h, ok := handlers[r.PathValue("method")]
		if !ok {
			http.Error(w, "unknown RPC method", http.StatusNotFound)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out, err := h(r.Context(), body)
		if err != nil {
			writeRPCError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv
}
