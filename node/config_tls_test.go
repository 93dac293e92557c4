package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"consulx/tlsutil"
)

// testPKI writes a CA, a server certificate and a client certificate
// (Consul's names, dc1) into a temp dir.
type testPKI struct{ dir, ca, srv, srvKey, cli, cliKey string }

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caPEM, caKey, err := tlsutil.GenerateCA(tlsutil.CAOptions{Days: 30, Domain: "consul"})
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := testPKI{dir: dir, ca: write("consul-agent-ca.pem", caPEM)}
	for _, role := range []tlsutil.Role{tlsutil.RoleServer, tlsutil.RoleClient} {
		o, prefix := tlsutil.AgentCert(role, "dc1", "consul", "", nil, nil)
		o.CACert, o.CAKey, o.Days = caPEM, caKey, 30
		c, k, err := tlsutil.GenerateCert(o)
		if err != nil {
			t.Fatal(err)
		}
		cp, kp := write(prefix+"-0.pem", c), write(prefix+"-0-key.pem", k)
		if role == tlsutil.RoleServer {
			p.srv, p.srvKey = cp, kp
		} else {
			p.cli, p.cliKey = cp, kp
		}
	}
	return p
}

// q quotes a path for JSON.
func q(s string) string { return fmt.Sprintf("%q", s) }

// TestTLSResolution: each sub-block overrides tls.defaults; the legacy
// top-level keys fill tls.defaults (or internal_rpc / https) unless the
// same file sets the new key; later files win; verify_server_hostname
// implies verify_outgoing.
func TestTLSResolution(t *testing.T) {
	p := newTestPKI(t)
	t.Run("sub-blocks over defaults", func(t *testing.T) {
		c, err := resolve(false, parseOK(t, `{"data_dir": "/d", "tls": {
			"defaults": {"ca_file": `+q(p.ca)+`, "cert_file": `+q(p.srv)+`, "key_file": `+q(p.srvKey)+`, "verify_incoming": true},
			"internal_rpc": {"verify_server_hostname": true},
			"https": {"verify_incoming": false, "cert_file": `+q(p.cli)+`, "key_file": `+q(p.cliKey)+`, "tls_min_version": "TLSv1_3"}}}`))
		if err != nil {
			t.Fatal(err)
		}
		rpc, web := c.TLS.InternalRPC, c.TLS.HTTPS
		if !rpc.VerifyIncoming || !rpc.VerifyOutgoing || !rpc.VerifyServerHostname || rpc.CertFile != p.srv || rpc.CAFile != p.ca || rpc.MinVersion != "" {
			t.Errorf("internal_rpc %+v", rpc)
		}
		if rpc.Keys["verify_outgoing"] != "tls.internal_rpc.verify_server_hostname" || rpc.Keys["cert_file"] != "tls.defaults.cert_file" {
			t.Errorf("keys %v", rpc.Keys)
		}
		if web.VerifyIncoming || web.CertFile != p.cli || web.CAFile != p.ca || web.MinVersion != "TLSv1_3" || web.Keys["cert_file"] != "tls.https.cert_file" {
			t.Errorf("https %+v", web)
		}
		if c.TLS.RPC == nil || !c.TLS.RPC.HasCert() || c.TLS.Web == nil || !c.TLS.Web.HasCert() {
			t.Error("material not loaded")
		}
		if got := c.TLS.ServerName("dc2"); got != "server.dc2.consul" {
			t.Errorf("server name %q", got)
		}
	})
	t.Run("legacy keys", func(t *testing.T) {
		c, err := resolve(false, parseOK(t, `{"data_dir": "/d", "ca_file": `+q(p.ca)+`, "cert_file": `+q(p.srv)+`, "key_file": `+q(p.srvKey)+`,
			"verify_incoming_rpc": true, "verify_incoming_https": false, "verify_outgoing": true, "verify_server_hostname": true,
			"tls_min_version": "tls13", "domain": "example."}`))
		if err != nil {
			t.Fatal(err)
		}
		rpc, web := c.TLS.InternalRPC, c.TLS.HTTPS
		if !rpc.VerifyIncoming || !rpc.VerifyOutgoing || !rpc.VerifyServerHostname || rpc.CertFile != p.srv || rpc.MinVersion != "TLSv1_3" {
			t.Errorf("internal_rpc %+v", rpc)
		}
		if rpc.Keys["verify_incoming"] != "verify_incoming_rpc" || rpc.Keys["cert_file"] != "cert_file" {
			t.Errorf("keys %v", rpc.Keys)
		}
		if web.VerifyIncoming || web.CertFile != p.srv {
			t.Errorf("https %+v", web)
		}
		if got := c.TLS.ServerName("dc1"); got != "server.dc1.example" {
			t.Errorf("server name %q", got)
		}
	})
	t.Run("the same file's tls block wins over its legacy key; a later file's legacy key wins", func(t *testing.T) {
		c, err := resolve(false,
			parseOK(t, `{"data_dir": "/d", "verify_outgoing": false, "ca_file": "/nope", "tls": {"defaults": {"verify_outgoing": true, "ca_file": `+q(p.ca)+`}}}`),
			parseOK(t, `{"verify_incoming": true, "cert_file": `+q(p.srv)+`, "key_file": `+q(p.srvKey)+`}`))
		if err != nil {
			t.Fatal(err)
		}
		if rpc := c.TLS.InternalRPC; !rpc.VerifyOutgoing || rpc.CAFile != p.ca || !rpc.VerifyIncoming || rpc.Keys["verify_incoming"] != "verify_incoming" {
			t.Errorf("internal_rpc %+v", rpc)
		}
		c, err = resolve(false,
			parseOK(t, `{"data_dir": "/d", "tls": {"defaults": {"ca_file": "/nope"}}}`),
			parseOK(t, `{"ca_file": `+q(p.ca)+`}`))
		if err != nil || c.TLS.InternalRPC.CAFile != p.ca {
			t.Errorf("ca_file %q, err %v", c.TLS.InternalRPC.CAFile, err)
		}
	})
	t.Run("cipher suites inherited by a TLS 1.3 block are dropped", func(t *testing.T) {
		suite := "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
		c, err := resolve(false, parseOK(t, `{"data_dir": "/d", "tls": {"defaults": {"tls_cipher_suites": "`+suite+`"},
			"https": {"tls_min_version": "TLSv1_3"}}}`))
		if err != nil {
			t.Fatal(err)
		}
		if c.TLS.HTTPS.CipherSuites != "" || c.TLS.InternalRPC.CipherSuites != suite {
			t.Errorf("https %q internal_rpc %q", c.TLS.HTTPS.CipherSuites, c.TLS.InternalRPC.CipherSuites)
		}
		// Set in the same block, or both in tls.defaults, it is an error.
		_, err = resolve(false, parseOK(t, `{"data_dir": "/d", "tls": {"defaults": {"tls_cipher_suites": "`+suite+`", "tls_min_version": "TLSv1_3"}}}`))
		checkConfigErr(t, err, "tls.defaults.tls_cipher_suites: TLS 1.3 cipher suites are not configurable")
	})
	t.Run("nothing set: no TLS", func(t *testing.T) {
		c, err := resolve(false, parseOK(t, `{"data_dir": "/d"}`))
		if err != nil {
			t.Fatal(err)
		}
		if c.TLS.RPC.HasCert() || c.TLS.InternalRPC.VerifyOutgoing || c.TLS.InternalRPC.VerifyIncoming || c.Ports.HTTPS != -1 {
			t.Errorf("%+v https port %d", c.TLS.InternalRPC, c.Ports.HTTPS)
		}
	})
}

// TestTLSStartupErrors: missing or unreadable files, a key that does not
// match, verify_incoming without a CA, an HTTPS port without a
// certificate: one line naming the key to fix.
func TestTLSStartupErrors(t *testing.T) {
	p := newTestPKI(t)
	unreadable := filepath.Join(p.dir, "unreadable.pem")
	if err := os.WriteFile(unreadable, []byte("x"), 0o000); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"missing cert", `{"tls": {"defaults": {"cert_file": "/nope/c.pem", "key_file": ` + q(p.srvKey) + `}}}`,
			[]string{"tls.defaults.cert_file: open /nope/c.pem: no such file or directory"}},
		{"missing key, legacy key", `{"cert_file": ` + q(p.srv) + `, "key_file": "/nope/k.pem"}`,
			[]string{"key_file: open /nope/k.pem"}},
		{"key of another certificate", `{"tls": {"internal_rpc": {"cert_file": ` + q(p.srv) + `, "key_file": ` + q(p.cliKey) + `}}}`,
			[]string{"tls.internal_rpc.cert_file and tls.internal_rpc.key_file", "private key does not match public key"}},
		{"verify_incoming without a CA", `{"tls": {"defaults": {"verify_incoming": true, "cert_file": ` + q(p.srv) + `, "key_file": ` + q(p.srvKey) + `}}}`,
			[]string{"tls.defaults.verify_incoming is set but no CA certificates were provided"}},
		{"verify_incoming_https without a certificate", `{"ca_file": ` + q(p.ca) + `, "verify_incoming_https": true}`,
			[]string{"verify_incoming_https is set but there is no certificate to present"}},
		{"verify_server_hostname without a CA", `{"tls": {"internal_rpc": {"verify_server_hostname": true}}}`,
			[]string{"tls.internal_rpc.verify_server_hostname is set but no CA certificates"}},
		{"unreadable CA", `{"tls": {"https": {"ca_file": ` + q(unreadable) + `}}}`,
			[]string{"tls.https.ca_file: open " + unreadable}},
		{"https port without a certificate", `{"ports": {"https": 8501}, "ca_file": ` + q(p.ca) + `}`,
			[]string{"ports.https is 8501 but HTTPS has no certificate: set cert_file and key_file in tls.https or tls.defaults"}},
		{"bad version", `{"tls": {"internal_rpc": {"tls_min_version": "TLSv9"}}}`,
			[]string{"tls.internal_rpc.tls_min_version: invalid TLS version"}},
		{"bad https port", `{"ports": {"https": 70000}}`, []string{"ports.https: invalid port 70000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "unreadable CA" && os.Geteuid() == 0 {
				t.Skip("root reads any file")
			}
			_, err := resolve(false, parseOK(t, `{"data_dir": "/d"}`), parseOK(t, tc.src))
			checkConfigErr(t, err, tc.want...)
			// One file named through tls.defaults fails both interfaces:
			// it is reported once.
			if err != nil && strings.Count(err.Error(), tc.want[0]) > 1 {
				t.Errorf("reported twice: %v", err)
			}
		})
	}
}
