package tlsutil

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pki is a CA, a server and a client certificate in files, plus a server
// certificate from another CA.
type pki struct {
	ca, caKey, srv, srvKey, cli, cliKey, rogue, rogueKey string
}

func newPKI(t *testing.T) pki {
	t.Helper()
	ca := newTestCA(t, CAOptions{})
	other := newTestCA(t, CAOptions{})
	sc, sk, _ := ca.issue(t, RoleServer, "")
	cc, ck, _ := ca.issue(t, RoleClient, "")
	rc, rk, _ := other.issue(t, RoleServer, "")
	f := writeFiles(t, map[string]string{"ca.pem": ca.cert, "ca-key.pem": ca.key, "srv.pem": sc, "srv-key.pem": sk,
		"cli.pem": cc, "cli-key.pem": ck, "rogue.pem": rc, "rogue-key.pem": rk})
	return pki{f["ca.pem"], f["ca-key.pem"], f["srv.pem"], f["srv-key.pem"], f["cli.pem"], f["cli-key.pem"], f["rogue.pem"], f["rogue-key.pem"]}
}

func keys(block string) map[string]string {
	m := map[string]string{}
	for _, k := range []string{"ca_file", "ca_path", "cert_file", "key_file", "verify_incoming", "verify_outgoing", "tls_min_version", "tls_cipher_suites"} {
		m[k] = "tls." + block + "." + k
	}
	return m
}

// TestLoadErrorsNameTheKey: each mistake is one line naming the key.
func TestLoadErrorsNameTheKey(t *testing.T) {
	p := newPKI(t)
	empty := t.TempDir()
	for _, tc := range []struct {
		name string
		p    Protocol
		want []string
	}{
		{"missing cert", Protocol{CertFile: "/nope/c.pem", KeyFile: p.srvKey}, []string{"tls.defaults.cert_file", "/nope/c.pem", "no such file"}},
		{"missing key", Protocol{CertFile: p.srv, KeyFile: "/nope/k.pem"}, []string{"tls.defaults.key_file", "/nope/k.pem"}},
		{"key of another cert", Protocol{CertFile: p.srv, KeyFile: p.cliKey}, []string{"tls.defaults.cert_file and tls.defaults.key_file", "private key does not match public key"}},
		{"cert without key", Protocol{CertFile: p.srv}, []string{"tls.defaults.cert_file is set but key_file is not"}},
		{"key without cert", Protocol{KeyFile: p.srvKey}, []string{"tls.defaults.key_file is set but cert_file is not"}},
		{"missing CA", Protocol{CAFile: "/nope/ca.pem"}, []string{"tls.defaults.ca_file", "/nope/ca.pem"}},
		{"CA file not PEM", Protocol{CAFile: p.caKey}, []string{"tls.defaults.ca_file: no PEM certificate in " + p.caKey}},
		{"empty CA path", Protocol{CAPath: empty}, []string{"tls.defaults.ca_path: no CA certificates in " + empty}},
		{"verify_incoming without CA", Protocol{VerifyIncoming: true, CertFile: p.srv, KeyFile: p.srvKey},
			[]string{"tls.defaults.verify_incoming is set but no CA certificates were provided"}},
		{"verify_incoming without cert", Protocol{VerifyIncoming: true, CAFile: p.ca},
			[]string{"tls.defaults.verify_incoming is set but there is no certificate to present"}},
		{"verify_outgoing without CA", Protocol{VerifyOutgoing: true}, []string{"tls.defaults.verify_outgoing is set but no CA certificates"}},
		{"bad version", Protocol{MinVersion: "TLSv9"}, []string{"tls.defaults.tls_min_version: invalid TLS version", "TLSv9", "TLSv1_3"}},
		{"bad cipher", Protocol{CipherSuites: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_RSA_WITH_RC4_128_SHA"},
			[]string{`tls.defaults.tls_cipher_suites: unsupported cipher "TLS_RSA_WITH_RC4_128_SHA"`}},
		{"ciphers with TLS 1.3", Protocol{MinVersion: "TLSv1_3", CipherSuites: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
			[]string{"tls.defaults.tls_cipher_suites: TLS 1.3 cipher suites are not configurable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.p.Keys = keys("defaults")
			m, err := Load(tc.p)
			if err == nil {
				t.Fatalf("loaded %+v", m)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("not one line: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
		})
	}
	t.Run("CA path with certificates", func(t *testing.T) {
		dir := t.TempDir()
		b, _ := os.ReadFile(p.ca)
		if err := os.WriteFile(filepath.Join(dir, "a.pem"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(Protocol{CAPath: dir, VerifyOutgoing: true}); err != nil {
			t.Fatal(err)
		}
	})
}

// handshake runs a TLS handshake between a server and a client config
// over an in-memory pipe and returns each side's error.
func handshake(t *testing.T, srv, cli *tls.Config) (serverErr, clientErr error, cs tls.ConnectionState) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	deadline := time.Now().Add(5 * time.Second)
	_ = a.SetDeadline(deadline)
	_ = b.SetDeadline(deadline)
	done := make(chan error, 1)
	s := tls.Server(a, srv)
	go func() {
		err := s.Handshake()
		if err == nil {
			// TLS 1.3 reports a refused client certificate on the
			// client's first read.
			_, err = s.Write([]byte{1})
		}
		if err != nil {
			a.Close()
		}
		done <- err
	}()
	c := tls.Client(b, cli)
	clientErr = c.Handshake()
	if clientErr == nil {
		_, clientErr = c.Read(make([]byte, 1))
	}
	if clientErr != nil {
		b.Close()
	}
	serverErr = <-done
	return serverErr, clientErr, s.ConnectionState()
}

func load(t *testing.T, p Protocol) *Material {
	t.Helper()
	m, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestHandshakes(t *testing.T) {
	p := newPKI(t)
	server := load(t, Protocol{CAFile: p.ca, CertFile: p.srv, KeyFile: p.srvKey, VerifyIncoming: true})
	client := load(t, Protocol{CAFile: p.ca, CertFile: p.cli, KeyFile: p.cliKey, VerifyOutgoing: true})
	noCert := load(t, Protocol{CAFile: p.ca, VerifyOutgoing: true})
	rogue := load(t, Protocol{CAFile: p.ca, CertFile: p.rogue, KeyFile: p.rogueKey})
	otherCA := load(t, Protocol{CAFile: p.rogue, VerifyOutgoing: true})

	t.Run("client with a certificate of the CA", func(t *testing.T) {
		se, ce, cs := handshake(t, server.ServerConfig(), client.ClientConfig(""))
		if se != nil || ce != nil || len(cs.VerifiedChains) == 0 {
			t.Fatalf("server %v client %v chains %d", se, ce, len(cs.VerifiedChains))
		}
		if err := server.AuthorizeServer(cs, ServerName("dc1", "consul")); err == nil {
			t.Error("a client agent's certificate passed as a server's")
		}
	})
	t.Run("server to server passes AuthorizeServer", func(t *testing.T) {
		peer := load(t, Protocol{CAFile: p.ca, CertFile: p.srv, KeyFile: p.srvKey, VerifyOutgoing: true})
		_, ce, cs := handshake(t, server.ServerConfig(), peer.ClientConfig(ServerName("dc1", "consul.")))
		if ce != nil {
			t.Fatal(ce)
		}
		if err := server.AuthorizeServer(cs, "server.dc1.consul"); err != nil {
			t.Error(err)
		}
		if err := server.AuthorizeServer(cs, "server.dc2.consul"); err == nil {
			t.Error("a dc1 server passed as dc2's")
		}
	})
	t.Run("verify_incoming refuses a client without a certificate", func(t *testing.T) {
		// Our client gives up saying why, rather than on its first read
		// as TLS 1.3 would have it.
		se, ce, _ := handshake(t, server.ServerConfig(), noCert.ClientConfig(""))
		if se == nil || ce == nil || !strings.Contains(ce.Error(), "the server requires a client certificate (verify_incoming) and none is configured") {
			t.Fatalf("server %v client %v", se, ce)
		}
		hc := noCert.HTTPSClientConfig()
		hc.ServerName = "localhost"
		if _, ce, _ := handshake(t, server.ServerConfig(), hc); ce == nil || !strings.Contains(ce.Error(), "requires a client certificate") {
			t.Fatalf("HTTPS client %v", ce)
		}
		// Any other client is refused by the server.
		se, _, _ = handshake(t, server.ServerConfig(), &tls.Config{RootCAs: noCert.ClientConfig("x").RootCAs, ServerName: "server.dc1.consul"})
		if se == nil || !strings.Contains(se.Error(), "client didn't provide a certificate") {
			t.Errorf("server says %v", se)
		}
	})
	t.Run("without verify_incoming a client needs no certificate", func(t *testing.T) {
		open := load(t, Protocol{CAFile: p.ca, CertFile: p.srv, KeyFile: p.srvKey})
		if se, ce, _ := handshake(t, open.ServerConfig(), noCert.ClientConfig("")); se != nil || ce != nil {
			t.Fatalf("server %v client %v", se, ce)
		}
	})
	t.Run("a client certificate of another CA is refused", func(t *testing.T) {
		if se, _, _ := handshake(t, server.ServerConfig(), rogue.ClientConfig("")); se == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("a server of another CA is refused", func(t *testing.T) {
		rogueSrv := load(t, Protocol{CertFile: p.rogue, KeyFile: p.rogueKey})
		_, ce, _ := handshake(t, rogueSrv.ServerConfig(), client.ClientConfig(""))
		if ce == nil || !strings.Contains(ce.Error(), "unknown authority") {
			t.Fatalf("client %v", ce)
		}
		// The client trusting only the other CA refuses ours, too.
		if _, ce, _ := handshake(t, server.ServerConfig(), otherCA.ClientConfig("")); ce == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("verify_server_hostname refuses a client certificate posing as a server", func(t *testing.T) {
		posing := load(t, Protocol{CAFile: p.ca, CertFile: p.cli, KeyFile: p.cliKey})
		_, ce, _ := handshake(t, posing.ServerConfig(), client.ClientConfig("server.dc1.consul"))
		if ce == nil || !strings.Contains(ce.Error(), "server.dc1.consul") {
			t.Fatalf("client %v", ce)
		}
		// Without the name check the chain is all that counts.
		if _, ce, _ := handshake(t, posing.ServerConfig(), client.ClientConfig("")); ce != nil {
			t.Fatal(ce)
		}
	})
	t.Run("min version", func(t *testing.T) {
		v13 := load(t, Protocol{CAFile: p.ca, CertFile: p.srv, KeyFile: p.srvKey, MinVersion: "TLSv1_3"})
		old := client.ClientConfig("")
		old.MaxVersion = tls.VersionTLS12
		if se, _, _ := handshake(t, v13.ServerConfig(), old); se == nil || !strings.Contains(se.Error(), "version") {
			t.Fatalf("server %v", se)
		}
	})
}
