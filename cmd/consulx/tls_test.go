package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

// runIn runs the built binary in dir and returns stdout, stderr and the
// exit code.
func runIn(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(consulxBinary(t), args...)
	cmd.Dir = dir
	return runCmd(t, cmd)
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s: no certificate", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const serverWarning = `==> WARNING: Server Certificates grants authority to become a
    server and access all state in the cluster including root keys
    and all ACL tokens. Do not distribute them to production hosts
    that are not server nodes. Store them as securely as CA keys.
`

// TestTLSCreateAsConsul: `consulx tls ca create` and `tls cert create`
// print Consul 1.22's lines, write its file names (numbering up when a
// name is taken, never overwriting), and the certificates carry the SANs
// and key usages Consul's do and verify against the CA.
func TestTLSCreateAsConsul(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	step := func(wantOut string, args ...string) {
		t.Helper()
		out, errOut, code := runIn(t, dir, args...)
		if code != 0 || out != wantOut || errOut != "" {
			t.Fatalf("%v: exit %d\nstdout %q\nwant   %q\nstderr %q", args, code, out, wantOut, errOut)
		}
	}
	step("==> Saved consul-agent-ca.pem\n==> Saved consul-agent-ca-key.pem\n", "tls", "ca", "create")
	caBytes, _ := os.ReadFile(filepath.Join(dir, "consul-agent-ca.pem"))
	out, errOut, code := runIn(t, dir, "tls", "ca", "create")
	if code != 1 || out != "" || errOut != "consul-agent-ca.pem already exists.\n" {
		t.Fatalf("second ca create: exit %d %q %q", code, out, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "consul-agent-ca.pem")); !bytes.Equal(b, caBytes) {
		t.Fatal("the CA was overwritten")
	}
	using := "==> Using consul-agent-ca.pem and consul-agent-ca-key.pem\n"
	step(serverWarning+using+"==> Saved dc1-server-consul-0.pem\n==> Saved dc1-server-consul-0-key.pem\n", "tls", "cert", "create", "-server", "-dc", "dc1")
	step(serverWarning+using+"==> Saved dc1-server-consul-1.pem\n==> Saved dc1-server-consul-1-key.pem\n", "tls", "cert", "create", "-server",
		"-node", "n1", "-additional-dnsname", "foo.example", "-additional-ipaddress", "10.0.0.1")
	step(using+"==> Saved dc1-client-consul-0.pem\n==> Saved dc1-client-consul-0-key.pem\n", "tls", "cert", "create", "-client")
	step(using+"==> Saved dc1-cli-consul-0.pem\n==> Saved dc1-cli-consul-0-key.pem\n", "tls", "cert", "create", "-cli")

	ca := readCert(t, filepath.Join(dir, "consul-agent-ca.pem"))
	if !ca.IsCA || ca.Subject.Organization[0] != "HashiCorp Inc." {
		t.Errorf("CA %+v", ca.Subject)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	lo := net.IPv4(127, 0, 0, 1).To4()
	for _, tc := range []struct {
		file string
		dns  []string
		ips  []net.IP
		eku  []x509.ExtKeyUsage
	}{
		{"dc1-server-consul-0", []string{"server.dc1.consul", "localhost"}, []net.IP{lo}, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{"dc1-server-consul-1", []string{"foo.example", "n1.server.dc1.consul", "server.dc1.consul", "localhost"},
			[]net.IP{net.ParseIP("10.0.0.1").To4(), lo}, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{"dc1-client-consul-0", []string{"client.dc1.consul", "localhost"}, []net.IP{lo}, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}},
		{"dc1-cli-consul-0", []string{"cli.dc1.consul", "localhost"}, nil, nil},
	} {
		c := readCert(t, filepath.Join(dir, tc.file+".pem"))
		var ips []net.IP
		for _, ip := range c.IPAddresses {
			ips = append(ips, ip.To4())
		}
		if !reflect.DeepEqual(c.DNSNames, tc.dns) || !reflect.DeepEqual(ips, tc.ips) || !reflect.DeepEqual(c.ExtKeyUsage, tc.eku) {
			t.Errorf("%s: DNS %v IPs %v EKU %v", tc.file, c.DNSNames, ips, c.ExtKeyUsage)
		}
		if c.Subject.CommonName != tc.dns[len(tc.dns)-2] {
			t.Errorf("%s: CN %q", tc.file, c.Subject.CommonName)
		}
		for _, name := range tc.dns {
			if _, err := c.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				t.Errorf("%s does not verify for %s: %v", tc.file, name, err)
			}
		}
		for _, f := range []struct {
			name string
			perm os.FileMode
		}{{tc.file + ".pem", 0o644}, {tc.file + "-key.pem", 0o600}} {
			if st, err := os.Stat(filepath.Join(dir, f.name)); err != nil || st.Mode().Perm() != f.perm {
				t.Errorf("%s: %v mode %v, want %v", f.name, err, st.Mode().Perm(), f.perm)
			}
		}
	}
}

func TestTLSCreateErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"tls", "cert", "create", "-server"}, "Error reading CA: open consul-agent-ca.pem: no such file or directory\n"},
		{[]string{"tls", "cert", "create"}, "Please provide either -server, -client, or -cli\n"},
		{[]string{"tls", "cert", "create", "-server", "-client"}, "Please provide either -server, -client, or -cli\n"},
		{[]string{"tls", "cert", "create", "-client", "-node", "n1"}, "-node requires -server\n"},
		{[]string{"tls", "cert", "create", "-client", "-additional-ipaddress", "nope"}, "-additional-ipaddress \"nope\" is not an IP address\n"},
		{[]string{"tls", "ca", "create", "-days", "0"}, "-days must be positive, got 0\n"},
		{[]string{"tls", "nope"}, "tls: unknown subcommand \"nope\" (ca create, cert create)\n"},
	} {
		out, errOut, code := runIn(t, dir, tc.args...)
		if code != 1 || out != "" || errOut != tc.err {
			t.Errorf("%v: exit %d stdout %q stderr %q, want %q", tc.args, code, out, errOut, tc.err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed commands left files: %v", entries)
	}
}
