package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"consulx/internal/testcluster"
)

// cliWith runs the built binary with env on top of the environment
// (minus any CONSUL_* of the machine running the tests) and returns its
// stdout, stderr and exit code.
func cliWith(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(consulxBinary(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONSUL_") && !strings.HasPrefix(kv, "CONSULX_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	return runCmd(t, cmd)
}

// tlsFiles creates a CA, a server and a client certificate in dir with
// the binary's own `tls` commands and returns their paths.
func tlsFiles(t *testing.T, dir string) (ca, srv, srvKey, cli, cliKey string) {
	t.Helper()
	for _, args := range [][]string{{"tls", "ca", "create"}, {"tls", "cert", "create", "-server"}, {"tls", "cert", "create", "-client"}} {
		if out, errOut, code := runIn(t, dir, args...); code != 0 {
			t.Fatalf("%v: exit %d %s %s", args, code, out, errOut)
		}
	}
	f := func(n string) string { return filepath.Join(dir, n) }
	return f("consul-agent-ca.pem"), f("dc1-server-consul-0.pem"), f("dc1-server-consul-0-key.pem"), f("dc1-client-consul-0.pem"), f("dc1-client-consul-0-key.pem")
}

// TestTLSAgentAndCLI runs an agent process with HTTPS (verify_incoming)
// and TLS on its server port, made from `consulx tls` files, and the CLI
// against it the ways Consul's CLI is pointed at HTTPS: CONSUL_HTTP_ADDR
// https://, CONSUL_HTTP_SSL, CONSUL_CACERT and the client certificate, or
// the -ca-file/-client-cert/-client-key/-tls-server-name flags; without
// a client certificate, or without the CA, it is refused; curl --cacert
// without a certificate too. HTTP keeps working.
func TestTLSAgentAndCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	ca, srv, srvKey, cliCert, cliKey := tlsFiles(t, dir)
	https := testcluster.FreePorts(t, 1)[0]
	conf := filepath.Join(dir, "agent.json")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`{"ports": {"https": %d}, "tls": {
		"defaults": {"ca_file": %q, "cert_file": %q, "key_file": %q, "verify_incoming": true, "verify_outgoing": true},
		"internal_rpc": {"verify_server_hostname": true}}}`, https, ca, srv, srvKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newProc(t, "tls-agent", true, 1, "")
	p.args = append(p.args, "-config-file", conf)
	startProc(t, p)
	addr := fmt.Sprintf("127.0.0.1:%d", https)
	good := []string{"CONSUL_HTTP_ADDR=https://" + addr, "CONSUL_CACERT=" + ca, "CONSUL_CLIENT_CERT=" + cliCert, "CONSUL_CLIENT_KEY=" + cliKey}
	testcluster.Eventually(t, 20*time.Second, func() error {
		out, errOut, code := cliWith(t, good, "kv", "put", "tls/hello", "world")
		if code != 0 || out != "Success! Data written to: tls/hello\n" {
			return fmt.Errorf("kv put over HTTPS: exit %d %q %q", code, out, errOut)
		}
		return nil
	})
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"environment", good, nil},
		{"CONSUL_HTTP_SSL with a bare address", []string{"CONSUL_HTTP_SSL=true", "CONSUL_HTTP_ADDR=" + addr, "CONSUL_CACERT=" + ca,
			"CONSUL_CLIENT_CERT=" + cliCert, "CONSUL_CLIENT_KEY=" + cliKey}, nil},
		{"flags", nil, []string{"-http-addr", "https://" + addr, "-ca-file", ca, "-client-cert", cliCert, "-client-key", cliKey}},
		{"a CA directory and the server's name", nil, []string{"-http-addr", "https://" + addr, "-ca-path", filepath.Dir(ca) + "/cas",
			"-client-cert", cliCert, "-client-key", cliKey, "-tls-server-name", "server.dc1.consul"}},
		{"no verification, no CA", []string{"CONSUL_HTTP_SSL_VERIFY=false", "CONSUL_HTTP_ADDR=https://" + addr,
			"CONSUL_CLIENT_CERT=" + cliCert, "CONSUL_CLIENT_KEY=" + cliKey}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(strings.Join(tc.args, " "), "/cas") {
				cas := filepath.Join(dir, "cas")
				_ = os.MkdirAll(cas, 0o700)
				b, _ := os.ReadFile(ca)
				if err := os.WriteFile(filepath.Join(cas, "ca.pem"), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			args := append(append([]string{"kv", "get"}, tc.args...), "tls/hello")
			if out, errOut, code := cliWith(t, tc.env, args...); code != 0 || out != "world\n" {
				t.Fatalf("kv get: exit %d %q %q", code, out, errOut)
			}
		})
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no client certificate", []string{"CONSUL_HTTP_ADDR=https://" + addr, "CONSUL_CACERT=" + ca}, nil,
			"the server requires a client certificate (verify_incoming) and none is configured"},
		{"no CA", []string{"CONSUL_HTTP_ADDR=https://" + addr, "CONSUL_CLIENT_CERT=" + cliCert, "CONSUL_CLIENT_KEY=" + cliKey}, nil,
			"certificate signed by unknown authority"},
		{"wrong server name", good, []string{"-tls-server-name", "server.dc9.consul"}, "not server.dc9.consul"},
		{"unreadable CA file", []string{"CONSUL_HTTP_ADDR=https://" + addr, "CONSUL_CACERT=/nope/ca.pem"}, nil,
			"CONSUL_CACERT (-ca-file): open /nope/ca.pem: no such file or directory"},
		{"bad CONSUL_HTTP_SSL_VERIFY", append([]string{"CONSUL_HTTP_SSL_VERIFY=maybe"}, good...), nil, `CONSUL_HTTP_SSL_VERIFY="maybe": want true or false`},
		{"plain HTTP to the HTTPS port", []string{"CONSUL_HTTP_ADDR=" + addr}, nil, "Client sent an HTTP request to an HTTPS server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"kv", "get"}, tc.args...), "tls/hello")
			out, errOut, code := cliWith(t, tc.env, args...)
			if code != 1 || out != "" || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
				t.Fatalf("exit %d stdout %q stderr %q, want an error saying %q", code, out, errOut, tc.want)
			}
		})
	}
	t.Run("curl", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("no curl")
		}
		url := "https://" + addr + "/v1/kv/tls/hello?raw"
		if out, err := exec.Command("curl", "-sS", "--max-time", "5", "--cacert", ca, url).CombinedOutput(); err == nil {
			t.Errorf("curl --cacert without a certificate got in: %s", out)
		}
		out, err := exec.Command("curl", "-sS", "--max-time", "5", "--cacert", ca, "--cert", cliCert, "--key", cliKey, url).CombinedOutput()
		if err != nil || string(out) != "world" {
			t.Errorf("curl with the client certificate: %v %q", err, out)
		}
	})
	// HTTP keeps working beside HTTPS.
	if out, code := cli(t, p.http, "kv", "get", "tls/hello"); code != 0 || out != "world\n" {
		t.Errorf("kv get over HTTP: exit %d %q", code, out)
	}
}

// TestTLSAgentConfigErrors: the agent refuses to start on a TLS mistake
// with one line naming the key.
func TestTLSAgentConfigErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	ca, srv, srvKey, _, cliKey := tlsFiles(t, dir)
	for _, tc := range []struct {
		name, conf, want string
	}{
		{"missing certificate", fmt.Sprintf(`{"cert_file": "/nope/cert.pem", "key_file": %q}`, cliKey),
			"config: cert_file: open /nope/cert.pem: no such file or directory"},
		{"key of another certificate", fmt.Sprintf(`{"tls": {"defaults": {"cert_file": %q, "key_file": %q}}}`, srv, cliKey),
			"config: tls.defaults.cert_file and tls.defaults.key_file: tls: private key does not match public key"},
		{"verify_incoming without a CA", fmt.Sprintf(`{"tls": {"internal_rpc": {"verify_incoming": true, "cert_file": %q, "key_file": %q}}}`, srv, srvKey),
			"config: tls.internal_rpc.verify_incoming is set but no CA certificates were provided: set ca_file or ca_path"},
		{"verify_incoming_rpc without a certificate", fmt.Sprintf(`{"ca_file": %q, "verify_incoming_rpc": true}`, ca),
			"config: verify_incoming_rpc is set but there is no certificate to present: set cert_file and key_file"},
		{"https port without a certificate", `{"ports": {"https": 8501}}`,
			"config: ports.https is 8501 but HTTPS has no certificate: set cert_file and key_file in tls.https or tls.defaults"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := filepath.Join(t.TempDir(), "agent.json")
			if err := os.WriteFile(conf, []byte(tc.conf), 0o600); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := cliWith(t, nil, "agent", "-headless", "-dev", "-config-file", conf)
			if code != 1 || out != "" || !strings.HasPrefix(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
				t.Fatalf("exit %d stdout %q stderr %q, want the one line %q", code, out, errOut, tc.want)
			}
		})
	}
}

// runCmd runs cmd and returns its stdout, stderr and exit code (a failure
// to start it fails the test).
func runCmd(t *testing.T, cmd *exec.Cmd) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}
