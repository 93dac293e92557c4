package node

// TLS on the server port, as Consul does it: a connection that starts
// with rpcTLS runs a TLS handshake, and inside TLS starts over with its
// protocol byte (Raft, RPC, exec). With verify_outgoing every dialler of a
// server's port (the RPC pool, Raft's transport, remote exec streams)
// goes through TLS; with verify_incoming a server refuses anything else.

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"consulx/tlsutil"
)

// rpcTLS is the server port's TLS byte (Consul's is 0x03, which consulx
// gives to remote exec; see ARCHITECTURE.md "Ports").
const rpcTLS byte = 0x04

// handshakeTimeout bounds the first byte and a TLS handshake on the
// server port, from either side.
const handshakeTimeout = 5 * time.Second

// serverDCKey carries, in a dial's context, the datacenter of the server
// being dialled, for verify_server_hostname (server.<dc>.<domain>).
type serverDCKey struct{}

// withServerDC marks ctx as reaching a server of datacenter dc (a hop to
// another datacenter); without it a server of our own is assumed.
func withServerDC(ctx context.Context, dc string) context.Context {
	return context.WithValue(ctx, serverDCKey{}, dc)
}

// serverDialer opens connections to servers' ports. Its zero value dials
// plaintext, as an agent without verify_outgoing does.
type serverDialer struct {
	// out is the internal RPC material when verify_outgoing is set.
	out *tlsutil.Material
	// names says verify_server_hostname is set: a server of datacenter dc
	// must present a certificate for tlsCfg.ServerName(dc).
	names  bool
	tlsCfg TLSConfig
	dc     string
}

func newServerDialer(cfg *Config) *serverDialer {
	d := &serverDialer{dc: cfg.Datacenter, tlsCfg: cfg.TLS}
	if cfg.TLS.RPC != nil && cfg.TLS.InternalRPC.VerifyOutgoing {
		d.out = cfg.TLS.RPC
		d.names = cfg.TLS.InternalRPC.VerifyServerHostname
	}
	return d
}

// dial connects to the server port at addr and starts protocol proto:
// with verify_outgoing, through rpcTLS and a handshake first. The
// handshake is bounded even when ctx is not.
func (d *serverDialer) dial(ctx context.Context, addr string, proto byte) (net.Conn, error) {
	nd := net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	c, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if d == nil || d.out == nil {
		if _, err := c.Write([]byte{proto}); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	dc := d.dc
	if v, ok := ctx.Value(serverDCKey{}).(string); ok && v != "" {
		dc = v
	}
	name := ""
	if d.names {
		name = d.tlsCfg.ServerName(dc)
	}
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	if _, err := c.Write([]byte{rpcTLS}); err != nil {
		c.Close()
		return nil, err
	}
	tc := tls.Client(c, d.out.ClientConfig(name))
	if err := tc.HandshakeContext(hctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("TLS handshake with server %s: %w", addr, err)
	}
	if _, err := tc.Write([]byte{proto}); err != nil {
		tc.Close()
		return nil, err
	}
	return tc, nil
}

// incomingTLS is what a server's port accepts.
type incomingTLS struct {
	// conf answers rpcTLS; nil when the server has no certificate.
	conf *tls.Config
	// required is verify_incoming: plaintext is refused.
	required bool
	// material and raftName: with verify_incoming and
	// verify_server_hostname, Raft is only for certificates valid for
	// raftName (server.<dc>.<domain>), so a client agent's certificate
	// cannot join Raft (Consul's AuthorizeServerConn).
	material *tlsutil.Material
	raftName string
	logger   hclog.Logger
	warned   peerSet
}

func newIncomingTLS(cfg *Config, logger hclog.Logger) *incomingTLS {
	in := &incomingTLS{logger: logger}
	m := cfg.TLS.RPC
	if m == nil {
		return in
	}
	if m.HasCert() {
		in.conf = m.ServerConfig()
	}
	in.required = cfg.TLS.InternalRPC.VerifyIncoming
	in.material = m
	if in.required && cfg.TLS.InternalRPC.VerifyServerHostname {
		in.raftName = cfg.TLS.ServerName(cfg.Datacenter)
	}
	return in
}

// peerSet remembers which peers were told about, so a client agent that
// retries every second logs one line, not one per attempt.
type peerSet struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

// first reports whether key is new; past 4096 keys it starts over (a
// peer may then be logged again, never unboundedly often).
func (p *peerSet) first(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.seen[key]; ok {
		return false
	}
	if p.seen == nil || len(p.seen) >= 4096 {
		p.seen = map[string]struct{}{}
	}
	p.seen[key] = struct{}{}
	return true
}

// warnOnce logs msg once per peer address (host, not port).
func (in *incomingTLS) warnOnce(c net.Conn, msg string, args ...any) {
	host := c.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if in.logger != nil && in.warned.first(msg+"\x00"+host) {
		in.logger.Warn(msg, append([]any{"peer", c.RemoteAddr().String()}, args...)...)
	}
}

// accept runs the TLS side of a connection whose first byte was b: it
// returns the connection to route (inside TLS when it asked for it) and
// its protocol byte, or ok false when it was refused and closed.
func (in *incomingTLS) accept(c net.Conn, b byte) (net.Conn, byte, bool) {
	if b != rpcTLS {
		if !in.required {
			return c, b, true
		}
		in.warnOnce(c, "Non-TLS connection attempted with VerifyIncoming set (logged once per peer)")
		if b == rpcInternal {
			// The caller is a client agent (or a server) without
			// verify_outgoing: answer its request so it can say why.
			go answerPlaintextRPC(c)
		} else {
			c.Close()
		}
		return nil, 0, false
	}
	if in.conf == nil {
		in.warnOnce(c, "TLS connection attempted, server not configured for TLS: set cert_file and key_file")
		c.Close()
		return nil, 0, false
	}
	tc := tls.Server(c, in.conf)
	if err := tc.Handshake(); err != nil {
		in.warnOnce(c, "TLS handshake failed (logged once per peer)", "error", err)
		c.Close()
		return nil, 0, false
	}
	var buf [1]byte
	if _, err := io.ReadFull(tc, buf[:]); err != nil || buf[0] == rpcTLS {
		// No TLS inside TLS: a peer cannot make us unwrap forever.
		tc.Close()
		return nil, 0, false
	}
	if buf[0] == rpcRaft && in.raftName != "" {
		if err := in.material.AuthorizeServer(tc.ConnectionState(), in.raftName); err != nil {
			in.warnOnce(c, "Raft connection refused (logged once per peer)", "error", err)
			tc.Close()
			return nil, 0, false
		}
	}
	return tc, buf[0], true
}

// tlsRequiredMsg is what an agent dialling a verify_incoming server in
// plaintext is told.
const tlsRequiredMsg = "this server requires TLS (verify_incoming is set) and refused a plaintext connection: set verify_outgoing, with ca_file, cert_file and key_file"

// tlsRequiredHeader marks that refusal, which the caller treats as a
// failure to reach the server (nothing ran, so another server may be
// tried).
const tlsRequiredHeader = "X-Consulx-TLS-Required"

// answerPlaintextRPC reads one plaintext RPC request (the body, bounded)
// and answers it with tlsRequiredMsg, then closes.
func answerPlaintextRPC(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(req.Body, 1<<20))
	resp := &http.Response{StatusCode: http.StatusForbidden, ProtoMajor: 1, ProtoMinor: 1, Close: true,
		Header:        http.Header{tlsRequiredHeader: {"1"}, "Content-Type": {"text/plain"}},
		ContentLength: int64(len(tlsRequiredMsg)), Body: io.NopCloser(strings.NewReader(tlsRequiredMsg))}
	_ = resp.Write(c)
}

// errTLSRequired is the refusal as the caller sees it.
var errTLSRequired = errors.New(tlsRequiredMsg)
