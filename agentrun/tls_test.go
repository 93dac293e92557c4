package agentrun_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"consulx/api"
	"consulx/internal/testcluster"
	"consulx/node"
	"consulx/tlsutil"
)

// agentPKI is a CA with a server and a client certificate (dc1, consul),
// and a server certificate from a CA nobody trusts.
type agentPKI struct {
	ca, srv, srvKey, cli, cliKey, rogue, rogueKey string
}

func newAgentPKI(t *testing.T) agentPKI {
	t.Helper()
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	issue := func(caCert, caKey string, role tlsutil.Role) (string, string) {
		o, _ := tlsutil.AgentCert(role, "dc1", "consul", "", nil, nil)
		o.CACert, o.CAKey, o.Days = caCert, caKey, 30
		c, k, err := tlsutil.GenerateCert(o)
		if err != nil {
			t.Fatal(err)
		}
		return c, k
	}
	caCert, caKey, err := tlsutil.GenerateCA(tlsutil.CAOptions{Days: 30, Domain: "consul"})
	if err != nil {
		t.Fatal(err)
	}
	otherCert, otherKey, err := tlsutil.GenerateCA(tlsutil.CAOptions{Days: 30, Domain: "consul"})
	if err != nil {
		t.Fatal(err)
	}
	p := agentPKI{ca: write("consul-agent-ca.pem", caCert)}
	c, k := issue(caCert, caKey, tlsutil.RoleServer)
	p.srv, p.srvKey = write("dc1-server-consul-0.pem", c), write("dc1-server-consul-0-key.pem", k)
	c, k = issue(caCert, caKey, tlsutil.RoleClient)
	p.cli, p.cliKey = write("dc1-client-consul-0.pem", c), write("dc1-client-consul-0-key.pem", k)
	c, k = issue(otherCert, otherKey, tlsutil.RoleServer)
	p.rogue, p.rogueKey = write("rogue.pem", c), write("rogue-key.pem", k)
	return p
}

// withConfig merges a JSON config source into cfg, as a config file would
// be, and finalizes it again (which loads the TLS files).
func withConfig(t *testing.T, cfg *node.Config, src string) *node.Config {
	t.Helper()
	fc, err := node.ParseConfigFile("tls.json", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Merge(fc)
	if err := cfg.Finalize(false, false); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// rpcTLS is the servers' configuration for TLS on the server port,
// Consul's recommended one: verify everything, names included.
func (p agentPKI) rpcTLS(cert, key string) string {
	return fmt.Sprintf(`{"tls": {"defaults": {"ca_file": %q, "cert_file": %q, "key_file": %q, "verify_incoming": true, "verify_outgoing": true},
		"internal_rpc": {"verify_server_hostname": true}}}`, p.ca, cert, key)
}

func waitKV(t *testing.T, a *testcluster.Agent, key, want string, stale bool) {
	t.Helper()
	testcluster.Eventually(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		kv, _, err := a.Client().KVGet(ctx, key, &api.QueryOptions{Stale: stale})
		if err != nil {
			return err
		}
		if kv == nil || string(kv.Value) != want {
			return fmt.Errorf("%s: %s = %v, want %q", a.Name, key, kv, want)
		}
		return nil
	})
}

// TestTLSRaftClusterElectsAndReplicates: three servers with
// verify_incoming, verify_outgoing and verify_server_hostname elect a
// leader over TLS Raft, replicate a write to every server, forward a
// client agent's write (the client dials with its client certificate) and
// run a remote exec job whose streams go through TLS; a plaintext
// connection to a server port is refused.
func TestTLSRaftClusterElectsAndReplicates(t *testing.T) {
	p := newAgentPKI(t)
	var servers []*testcluster.Agent
	for i := 1; i <= 3; i++ {
		cfg := withConfig(t, testcluster.Config(t, fmt.Sprintf("tls-server-%d", i), true, 3), p.rpcTLS(p.srv, p.srvKey))
		servers = append(servers, testcluster.Start(t, cfg))
	}
	client := testcluster.Start(t, withConfig(t, testcluster.Config(t, "tls-client", false, 0), p.rpcTLS(p.cli, p.cliKey)))
	for _, a := range append(servers[1:], client) {
		if _, err := a.Running.Agent.Join([]string{servers[0].SerfAddr()}, false); err != nil {
			t.Fatal(err)
		}
	}
	c := testcluster.Of(t, servers, []*testcluster.Agent{client})
	c.WaitLeader(testcluster.Scaled(15 * time.Second))

	ctx, cancel := context.WithTimeout(context.Background(), testcluster.Scaled(10*time.Second))
	defer cancel()
	if ok, err := client.Client().KVPut(ctx, &api.KVPair{Key: "tls/k", Value: []byte("over tls")}, nil); err != nil || !ok {
		t.Fatalf("KV put through the client agent: %v %v", ok, err)
	}
	// Each server's own store has it: Raft replicated over TLS.
	for _, s := range servers {
		waitKV(t, s, "tls/k", "over tls", true)
	}

	// Remote exec: every target dials the relay through TLS. Gossip may
	// still be settling on a loaded machine (a node the announcement
	// misses reports no ack), so the job is run again, a bounded number
	// of times, until all four nodes exit 0.
	testcluster.Eventually(t, testcluster.Scaled(30*time.Second), func() error {
		ectx, ecancel := context.WithTimeout(context.Background(), testcluster.Scaled(10*time.Second))
		defer ecancel()
		got := map[string]string{}
		err := client.Client().Exec(ectx, &api.ExecRequest{Command: "true", Wait: 3 * time.Second}, "", func(ev api.ExecEvent) {
			switch ev.Type {
			case api.ExecExit:
				got[ev.Node] = fmt.Sprintf("exit %d", ev.Code)
			case api.ExecRefused, api.ExecLost, api.ExecNoAck:
				got[ev.Node] = ev.Type + ": " + ev.Reason
			}
		})
		exits := 0
		for _, v := range got {
			if v == "exit 0" {
				exits++
			}
		}
		if err != nil || exits != 4 {
			return fmt.Errorf("exec over TLS: %d of 4 nodes exited 0 (%v): %v", exits, err, got)
		}
		return nil
	})

	// A plaintext RPC straight to a server's port is answered with why.
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", servers[0].Config.Ports.Server), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "%cPOST /rpc/Status.Leader HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 0x02)
	answer, _ := io.ReadAll(conn) // the server closes after answering
	if got := string(answer); !strings.Contains(got, "403") || !strings.Contains(got, "requires TLS (verify_incoming is set)") {
		t.Errorf("plaintext RPC answered %q", got)
	}
}

// TestTLSClientWithoutCertificateIsRefused: a client agent without TLS
// (verify_outgoing off) joins gossip but cannot RPC into servers with
// verify_incoming: its requests fail saying why, and the server logs one
// line per peer however often it retries.
func TestTLSClientWithoutCertificateIsRefused(t *testing.T) {
	p := newAgentPKI(t)
	srv := testcluster.Start(t, withConfig(t, testcluster.Config(t, "tls-server", true, 1), p.rpcTLS(p.srv, p.srvKey)))
	plain := testcluster.Start(t, testcluster.Config(t, "plain-client", false, 0))
	// A client with verify_outgoing and the CA but no certificate of its
	// own: the TLS handshake is refused.
	noCert := testcluster.Start(t, withConfig(t, testcluster.Config(t, "nocert-client", false, 0),
		fmt.Sprintf(`{"tls": {"defaults": {"ca_file": %q, "verify_outgoing": true}}}`, p.ca)))
	for _, a := range []*testcluster.Agent{plain, noCert} {
		if _, err := a.Running.Agent.Join([]string{srv.SerfAddr()}, false); err != nil {
			t.Fatal(err)
		}
	}
	testcluster.Of(t, []*testcluster.Agent{srv}, nil).WaitLeader(testcluster.Scaled(10 * time.Second))
	for _, tc := range []struct {
		a    *testcluster.Agent
		want string
	}{
		{plain, "this server requires TLS (verify_incoming is set) and refused a plaintext connection: set verify_outgoing, with ca_file, cert_file and key_file"},
		{noCert, "the server requires a client certificate (verify_incoming) and none is configured: set cert_file and key_file"},
	} {
		// Gossip first: until the client knows the server it has no one
		// to ask.
		testcluster.Eventually(t, 10*time.Second, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for i := 0; i < 3; i++ {
				_, err := tc.a.Client().KVPut(ctx, &api.KVPair{Key: "k", Value: []byte("v")}, nil)
				var se *api.StatusError
				if !errors.As(err, &se) || se.Code != http.StatusInternalServerError || !strings.Contains(se.Body, tc.want) {
					return fmt.Errorf("%s: KV put: %v, want a 500 saying %q", tc.a.Name, err, tc.want)
				}
			}
			return nil
		})
	}
	// The server still works for TLS peers, and said it once per peer.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ok, err := srv.Client().KVPut(ctx, &api.KVPair{Key: "k", Value: []byte("v")}, nil); err != nil || !ok {
		t.Fatalf("put on the server: %v", err)
	}
	b, err := os.ReadFile(srv.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	if n := strings.Count(log, "Non-TLS connection attempted with VerifyIncoming set"); n != 1 {
		t.Errorf("the plaintext refusal was logged %d times, want once for the one peer", n)
	}
	if n := strings.Count(log, "TLS handshake failed"); n != 1 {
		t.Errorf("the refused handshake was logged %d times, want once", n)
	}
}

// TestHTTPSWithVerifyIncoming: ports.https serves the API over TLS beside
// HTTP; with https.verify_incoming only a client presenting a certificate
// of the CA gets in; a client that does not trust the CA refuses the
// agent. A blocking query parked on HTTPS answers and the connection is
// reused.
func TestHTTPSWithVerifyIncoming(t *testing.T) {
	p := newAgentPKI(t)
	port := testcluster.FreePorts(t, 1)[0]
	cfg := withConfig(t, testcluster.Config(t, "https-agent", true, 1), fmt.Sprintf(`{"ports": {"https": %d},
		"tls": {"defaults": {"ca_file": %q, "cert_file": %q, "key_file": %q}, "https": {"verify_incoming": true}}}`, port, p.ca, p.srv, p.srvKey))
	a := testcluster.Start(t, cfg)
	if a.Running.HTTPSAddr != fmt.Sprintf("127.0.0.1:%d", port) {
		t.Fatalf("HTTPS address %q", a.Running.HTTPSAddr)
	}
	testcluster.Of(t, []*testcluster.Agent{a}, nil).WaitLeader(testcluster.Scaled(10 * time.Second))
	url := "https://" + a.Running.HTTPSAddr

	good, err := api.NewClientTLS(url, api.TLSConfig{CAFile: p.ca, CertFile: p.cli, KeyFile: p.cliKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testcluster.Scaled(10*time.Second))
	defer cancel()
	if ok, err := good.KVPut(ctx, &api.KVPair{Key: "https/k", Value: []byte("v1")}, nil); err != nil || !ok {
		t.Fatalf("put over HTTPS with a client certificate: %v", err)
	}
	// The HTTP port still works.
	waitKV(t, a, "https/k", "v1", false)

	// A blocking query parks and answers on the TLS connection.
	_, meta, err := good.KVGet(ctx, "https/k", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		kv, _, err := good.KVGet(ctx, "https/k", &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 10 * time.Second})
		if err == nil && (kv == nil || string(kv.Value) != "v2") {
			err = fmt.Errorf("blocking read woke with %v", kv)
		}
		got <- err
	}()
	testcluster.Eventually(t, 5*time.Second, func() error {
		if a.Running.ParkedQueries() != 1 {
			return errors.New("the blocking query is not parked yet")
		}
		return nil
	})
	if _, err := good.KVPut(ctx, &api.KVPair{Key: "https/k", Value: []byte("v2")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// The connection handed back after parking serves the next request.
	if kv, _, err := good.KVGet(ctx, "https/k", nil); err != nil || string(kv.Value) != "v2" {
		t.Fatalf("after the parked query: %v %v", kv, err)
	}

	// Trusting the CA without a client certificate: refused.
	noCert, err := api.NewClientTLS(url, api.TLSConfig{CAFile: p.ca})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noCert.Leader(ctx); err == nil || !strings.Contains(err.Error(), "the server requires a client certificate") {
		t.Errorf("no client certificate: %v, want the handshake refused", err)
	}
	// A certificate from another CA: refused.
	rogue, err := api.NewClientTLS(url, api.TLSConfig{CAFile: p.ca, CertFile: p.rogue, KeyFile: p.rogueKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rogue.Leader(ctx); err == nil {
		t.Error("a client certificate from another CA was accepted")
	}
	// Not trusting the CA: the client refuses the agent.
	noCA, err := api.NewClientTLS(url, api.TLSConfig{CertFile: p.cli, KeyFile: p.cliKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noCA.Leader(ctx); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("client without the CA: %v, want unknown authority", err)
	}
	// Plain HTTP on the HTTPS port gets nothing useful.
	hc := &http.Client{Timeout: 5 * time.Second}
	if resp, err := hc.Get("http://" + a.Running.HTTPSAddr + "/v1/status/leader"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered on the HTTPS port")
		}
	}
	// And Go's own client with the CA but no certificate, as curl --cacert.
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: mustPool(t, p.ca)}}
	if _, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(url + "/v1/status/leader"); err == nil {
		t.Error("a client without a certificate got an answer")
	}
}

func mustPool(t *testing.T, caFile string) *x509.CertPool {
	t.Helper()
	m, err := tlsutil.Load(tlsutil.Protocol{CAFile: caFile, VerifyOutgoing: true})
	if err != nil {
		t.Fatal(err)
	}
	return m.HTTPSClientConfig().RootCAs
}
