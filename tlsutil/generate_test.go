package tlsutil

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testCA is a CA and its key, PEM-encoded.
type testCA struct{ cert, key string }

func newTestCA(t *testing.T, o CAOptions) testCA {
	t.Helper()
	if o.Days == 0 {
		o.Days = 1825
	}
	if o.Domain == "" {
		o.Domain = "consul"
	}
	c, k, err := GenerateCA(o)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{c, k}
}

// issue makes a certificate of role for dc1/consul.
func (ca testCA) issue(t *testing.T, role Role, node string) (cert, key string, name string) {
	t.Helper()
	o, _ := AgentCert(role, "dc1", "consul", node, nil, nil)
	o.CACert, o.CAKey, o.Days = ca.cert, ca.key, 365
	c, k, err := GenerateCert(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, k, o.Name
}

// writeFiles writes name→content into a temp dir and returns the paths.
func writeFiles(t *testing.T, files map[string]string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	out := map[string]string{}
	for n, c := range files {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		out[n] = p
	}
	return out
}

func TestGenerateCAIsConsuls(t *testing.T) {
	before := time.Now().Add(-time.Second)
	ca := newTestCA(t, CAOptions{Days: 10})
	c, err := ParseCert(ca.cert)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Subject
	if !c.IsCA || !c.BasicConstraintsValid || !strings.HasPrefix(s.CommonName, "Consul Agent CA ") ||
		strings.Join(s.Organization, "") != "HashiCorp Inc." || strings.Join(s.Country, "") != "US" ||
		strings.Join(s.Locality, "") != "San Francisco" || strings.Join(s.StreetAddress, "") != "101 Second Street" ||
		strings.Join(s.PostalCode, "") != "94105" || strings.Join(s.Province, "") != "CA" {
		t.Errorf("subject %+v IsCA %v", s, c.IsCA)
	}
	if s.CommonName != "Consul Agent CA "+c.SerialNumber.String() {
		t.Errorf("CN %q does not carry serial %s", s.CommonName, c.SerialNumber)
	}
	if c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign|x509.KeyUsageDigitalSignature {
		t.Errorf("key usage %v", c.KeyUsage)
	}
	if len(c.SubjectKeyId) != 32 || !bytes.Equal(c.SubjectKeyId, c.AuthorityKeyId) {
		t.Errorf("SKI %x AKI %x", c.SubjectKeyId, c.AuthorityKeyId)
	}
	if _, ok := c.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("key %T, want ECDSA", c.PublicKey)
	}
	if c.NotBefore.Before(before) || c.NotAfter.Sub(c.NotBefore) < 10*24*time.Hour-time.Minute || c.NotAfter.Sub(c.NotBefore) > 10*24*time.Hour+time.Minute {
		t.Errorf("validity %v..%v", c.NotBefore, c.NotAfter)
	}
	if len(c.PermittedDNSDomains) != 0 || len(c.URIs) != 0 {
		t.Errorf("constraints %v URIs %v without asking", c.PermittedDNSDomains, c.URIs)
	}
	if !strings.HasPrefix(ca.key, "-----BEGIN EC PRIVATE KEY-----") {
		t.Errorf("key PEM %q", ca.key[:30])
	}
}

func TestGenerateCAOptions(t *testing.T) {
	ca := newTestCA(t, CAOptions{Domain: "example", NameConstraint: true, AdditionalConstraints: []string{"foo.com"},
		CommonName: "My CA", ClusterID: "abc"})
	c, err := ParseCert(ca.cert)
	if err != nil {
		t.Fatal(err)
	}
	if !c.PermittedDNSDomainsCritical || !reflect.DeepEqual(c.PermittedDNSDomains, []string{"foo.com", "example", "localhost"}) {
		t.Errorf("constraints %v (critical %v)", c.PermittedDNSDomains, c.PermittedDNSDomainsCritical)
	}
	if c.Subject.CommonName != "My CA" || len(c.URIs) != 1 || c.URIs[0].String() != "spiffe://abc.example" {
		t.Errorf("CN %q URIs %v", c.Subject.CommonName, c.URIs)
	}
	// The constraint is enforced: a certificate for another domain does
	// not verify, one under the domain does.
	for _, tc := range []struct {
		domain string
		ok     bool
	}{{"example", true}, {"consul", false}} {
		o, _ := AgentCert(RoleServer, "dc1", tc.domain, "", nil, nil)
		o.CACert, o.CAKey, o.Days = ca.cert, ca.key, 1
		cert, _, err := GenerateCert(o)
		if err != nil {
			t.Fatal(err)
		}
		if err := Verify(ca.cert, cert, o.Name); (err == nil) != tc.ok {
			t.Errorf("domain %s: verify error %v, want ok=%v", tc.domain, err, tc.ok)
		}
	}
}

// TestAgentCertSANs: the names, addresses and key usages Consul 1.22's
// `tls cert create` puts in, in its order.
func TestAgentCertSANs(t *testing.T) {
	ca := newTestCA(t, CAOptions{})
	lo := net.IPv4(127, 0, 0, 1)
	ten := net.ParseIP("10.0.0.1")
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	for _, tc := range []struct {
		role     Role
		node     string
		dns      []string
		ips      []net.IP
		wantName string
		wantDNS  []string
		wantIPs  []net.IP
		wantEKU  []x509.ExtKeyUsage
		prefix   string
	}{
		{RoleServer, "", nil, nil, "server.dc1.consul", []string{"server.dc1.consul", "localhost"}, []net.IP{lo}, both, "dc1-server-consul"},
		{RoleServer, "n1", []string{"foo.example"}, []net.IP{ten}, "server.dc1.consul",
			[]string{"foo.example", "n1.server.dc1.consul", "server.dc1.consul", "localhost"}, []net.IP{ten, lo}, both, "dc1-server-consul"},
		{RoleClient, "", []string{"c.example"}, nil, "client.dc1.consul", []string{"c.example", "client.dc1.consul", "localhost"}, []net.IP{lo},
			[]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}, "dc1-client-consul"},
		{RoleCLI, "", []string{"dropped.example"}, []net.IP{ten}, "cli.dc1.consul", []string{"cli.dc1.consul", "localhost"}, nil, nil, "dc1-cli-consul"},
	} {
		t.Run(string(tc.role)+tc.node, func(t *testing.T) {
			o, prefix := AgentCert(tc.role, "dc1", "consul", tc.node, tc.dns, tc.ips)
			if prefix != tc.prefix {
				t.Errorf("prefix %q", prefix)
			}
			o.CACert, o.CAKey, o.Days = ca.cert, ca.key, 365
			certPEM, keyPEM, err := GenerateCert(o)
			if err != nil {
				t.Fatal(err)
			}
			c, err := ParseCert(certPEM)
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject.CommonName != tc.wantName || !reflect.DeepEqual(c.DNSNames, tc.wantDNS) {
				t.Errorf("CN %q DNS %v", c.Subject.CommonName, c.DNSNames)
			}
			if len(c.IPAddresses) != len(tc.wantIPs) {
				t.Errorf("IPs %v, want %v", c.IPAddresses, tc.wantIPs)
			}
			for i := range c.IPAddresses {
				if i < len(tc.wantIPs) && !c.IPAddresses[i].Equal(tc.wantIPs[i]) {
					t.Errorf("IPs %v, want %v", c.IPAddresses, tc.wantIPs)
				}
			}
			if !reflect.DeepEqual(c.ExtKeyUsage, tc.wantEKU) || c.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment || c.IsCA {
				t.Errorf("EKU %v KU %v IsCA %v", c.ExtKeyUsage, c.KeyUsage, c.IsCA)
			}
			caCert, _ := ParseCert(ca.cert)
			if !bytes.Equal(c.AuthorityKeyId, caCert.SubjectKeyId) || len(c.SubjectKeyId) != 32 {
				t.Errorf("AKI %x, CA SKI %x", c.AuthorityKeyId, caCert.SubjectKeyId)
			}
			if err := Verify(ca.cert, certPEM, tc.wantName); err != nil {
				t.Errorf("does not verify against its CA: %v", err)
			}
			if err := Verify(ca.cert, certPEM, "other.dc1.consul"); err == nil {
				t.Error("verified for a name it does not carry")
			}
			if _, err := ParseSigner(keyPEM); err != nil {
				t.Errorf("key: %v", err)
			}
		})
	}
	other := newTestCA(t, CAOptions{})
	cert, _, name := ca.issue(t, RoleServer, "")
	if err := Verify(other.cert, cert, name); err == nil {
		t.Error("a certificate verified against another CA")
	}
}

func TestGenerateRefusesBadInput(t *testing.T) {
	if _, _, err := GenerateCA(CAOptions{Days: 0}); err == nil {
		t.Error("CA with 0 days")
	}
	ca := newTestCA(t, CAOptions{})
	o, _ := AgentCert(RoleClient, "dc1", "consul", "", nil, nil)
	o.CACert, o.CAKey, o.Days = ca.cert, "not a key", 1
	if _, _, err := GenerateCert(o); err == nil || !strings.Contains(err.Error(), "no PEM-encoded data") {
		t.Errorf("bad CA key: %v", err)
	}
	o.CAKey, o.CACert = ca.key, ca.key
	if _, _, err := GenerateCert(o); err == nil || !strings.Contains(err.Error(), "failed to parse CA") {
		t.Errorf("key as CA: %v", err)
	}
}
