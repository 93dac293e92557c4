package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// tlsMux starts a server-port mux on 127.0.0.1 configured by src (a
// config file's JSON).
func tlsMux(t *testing.T, src string) (*muxListener, *Config) {
	t.Helper()
	c, err := resolve(false, parseOK(t, `{"data_dir": "/d", "node_name": "n"}`), parseOK(t, src))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := newMuxListener(ln, ln.Addr(), newIncomingTLS(c, hclog.NewNullLogger()))
	t.Cleanup(func() { m.Close() })
	return m, c
}

// queued waits (bounded) for a connection on ch, or for none.
func queued(ch chan net.Conn) net.Conn {
	select {
	case c := <-ch:
		return c
	case <-time.After(2 * time.Second):
		return nil
	}
}

// closedByPeer reports whether c is closed by the other side.
func closedByPeer(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestServerPortTLS: what the server port takes with TLS on.
func TestServerPortTLS(t *testing.T) {
	p := newTestPKI(t)
	m, c := tlsMux(t, fmt.Sprintf(`{"tls": {"defaults": {"ca_file": %q, "cert_file": %q, "key_file": %q, "verify_incoming": true},
		"internal_rpc": {"verify_server_hostname": true}}}`, p.ca, p.srv, p.srvKey))
	addr := m.ln.Addr().String()
	dialer := func(cert, key string) *serverDialer {
		t.Helper()
		dc, err := resolve(false, parseOK(t, `{"data_dir": "/d", "node_name": "n"}`), parseOK(t,
			fmt.Sprintf(`{"tls": {"defaults": {"ca_file": %q, "cert_file": %q, "key_file": %q, "verify_outgoing": true}, "internal_rpc": {"verify_server_hostname": true}}}`, p.ca, cert, key)))
		if err != nil {
			t.Fatal(err)
		}
		return newServerDialer(dc)
	}
	ctx := context.Background()

	t.Run("a server's Raft and a client's RPC get through, inside TLS", func(t *testing.T) {
		conn, err := dialer(p.srv, p.srvKey).dial(ctx, addr, rpcRaft)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if got := queued(m.raftCh); got == nil {
			t.Fatal("not routed to Raft")
		} else if _, ok := got.(*tls.Conn); !ok {
			t.Errorf("routed a %T", got)
		}
		conn, err = dialer(p.cli, p.cliKey).dial(ctx, addr, rpcInternal)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if queued(m.rpcCh) == nil {
			t.Fatal("client RPC not routed")
		}
	})
	t.Run("Raft refuses a client agent's certificate", func(t *testing.T) {
		conn, err := dialer(p.cli, p.cliKey).dial(ctx, addr, rpcRaft)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if !closedByPeer(conn) || len(m.raftCh) != 0 {
			t.Fatal("a client certificate reached Raft")
		}
	})
	t.Run("plaintext Raft and exec are closed", func(t *testing.T) {
		for _, b := range []byte{rpcRaft, rpcExec} {
			conn, err := (&serverDialer{}).dial(ctx, addr, b)
			if err != nil {
				t.Fatal(err)
			}
			if !closedByPeer(conn) {
				t.Errorf("plaintext 0x%02x not closed", b)
			}
			conn.Close()
		}
		if len(m.raftCh)+len(m.execCh) != 0 {
			t.Error("plaintext was routed")
		}
	})
	t.Run("no TLS inside TLS", func(t *testing.T) {
		conn, err := dialer(p.srv, p.srvKey).dial(ctx, addr, rpcTLS)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if !closedByPeer(conn) {
			t.Fatal("nested TLS byte accepted")
		}
	})
	t.Run("the name checked is the datacenter dialled", func(t *testing.T) {
		// Our servers' certificates are dc1's: dialling them as dc2's
		// (a hop) fails the name check.
		_, err := dialer(p.srv, p.srvKey).dial(withServerDC(ctx, "dc2"), addr, rpcInternal)
		if err == nil || !strings.Contains(err.Error(), "server.dc2.consul") {
			t.Fatalf("dc2: %v", err)
		}
		if c.TLS.ServerName("dc1") != "server.dc1.consul" {
			t.Errorf("name %q", c.TLS.ServerName("dc1"))
		}
	})
}

// TestServerPortWithoutCertificate: a server without a certificate
// refuses the TLS byte, and without verify_incoming takes plaintext.
func TestServerPortWithoutCertificate(t *testing.T) {
	m, _ := tlsMux(t, `{}`)
	addr := m.ln.Addr().String()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte{rpcTLS}); err != nil {
		t.Fatal(err)
	}
	if !closedByPeer(conn) {
		t.Fatal("TLS byte accepted without a certificate")
	}
	plain, err := (&serverDialer{}).dial(context.Background(), addr, rpcInternal)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if queued(m.rpcCh) == nil {
		t.Fatal("plaintext RPC not routed")
	}
	_, _ = io.WriteString(plain, "x")
}
