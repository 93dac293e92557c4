package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Protocol is one interface's TLS settings, tls.defaults already merged
// under tls.<interface> (Consul's ProtocolConfig).
type Protocol struct {
	CAFile, CAPath       string
	CertFile, KeyFile    string
	VerifyIncoming       bool
	VerifyOutgoing       bool
	VerifyServerHostname bool
	// MinVersion is Consul's name (TLSv1_0 ... TLSv1_3, TLS_AUTO); ""
	// means TLS_AUTO, which is TLS 1.2.
	MinVersion string
	// CipherSuites is Consul's comma-separated list of TLS 1.2 suites;
	// "" keeps Go's defaults.
	CipherSuites string
	// Keys names the configuration key behind each setting, by its key
	// name ("cert_file" → "tls.defaults.cert_file"), so an error names
	// what the operator must fix.
	Keys map[string]string
}

// key is the configuration key that set name.
func (p *Protocol) key(name string) string {
	if k := p.Keys[name]; k != "" {
		return k
	}
	return name
}

// Material is a Protocol with its files loaded and checked.
type Material struct {
	p          Protocol
	cert       *tls.Certificate // nil: no certificate to present
	roots      *x509.CertPool   // nil: no CA
	minVersion uint16
	suites     []uint16
}

// tlsVersions are Consul's names for the TLS versions.
var tlsVersions = map[string]uint16{
	"TLS_AUTO": tls.VersionTLS12,
	"TLSv1_0":  tls.VersionTLS10,
	"TLSv1_1":  tls.VersionTLS11,
	"TLSv1_2":  tls.VersionTLS12,
	"TLSv1_3":  tls.VersionTLS13,
}

// cipherSuites are the suites Consul lets an operator choose (TLS 1.2;
// TLS 1.3's are not configurable).
var cipherSuites = map[string]uint16{
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA":          tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256":       tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA":          tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384":       tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA":            tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256":         tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA":            tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384":         tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
}

// CheckSettings checks what can be checked without reading files: the TLS
// version and the cipher suites.
func CheckSettings(p Protocol) error {
	_, _, err := parseSettings(p)
	return err
}

func parseSettings(p Protocol) (uint16, []uint16, error) {
	var v uint16 = tls.VersionTLS12
	if p.MinVersion != "" {
		var ok bool
		if v, ok = tlsVersions[p.MinVersion]; !ok {
			return 0, nil, fmt.Errorf("%s: invalid TLS version: no matching TLS version found for %s, please specify one of [TLS_AUTO, TLSv1_0, TLSv1_1, TLSv1_2, TLSv1_3]",
				p.key("tls_min_version"), p.MinVersion)
		}
	}
	if strings.TrimSpace(p.CipherSuites) == "" {
		return v, nil, nil
	}
	if v == tls.VersionTLS13 {
		return 0, nil, fmt.Errorf("%s: TLS 1.3 cipher suites are not configurable; remove it, or lower tls_min_version", p.key("tls_cipher_suites"))
	}
	var suites []uint16
	for _, name := range strings.Split(p.CipherSuites, ",") {
		id, ok := cipherSuites[strings.TrimSpace(name)]
		if !ok {
			return 0, nil, fmt.Errorf("%s: unsupported cipher %q", p.key("tls_cipher_suites"), strings.TrimSpace(name))
		}
		suites = append(suites, id)
	}
	return v, suites, nil
}

// Load reads the CA, certificate and key of p and checks that they fit
// what p asks for. Every error is one line naming the configuration key.
func Load(p Protocol) (*Material, error) {
	m := &Material{p: p}
	var err error
	if m.minVersion, m.suites, err = parseSettings(p); err != nil {
		return nil, err
	}
	switch {
	case p.CertFile != "" && p.KeyFile == "":
		return nil, fmt.Errorf("%s is set but key_file is not: set both", p.key("cert_file"))
	case p.KeyFile != "" && p.CertFile == "":
		return nil, fmt.Errorf("%s is set but cert_file is not: set both", p.key("key_file"))
	case p.CertFile != "":
		certPEM, err := os.ReadFile(p.CertFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.key("cert_file"), err)
		}
		keyPEM, err := os.ReadFile(p.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.key("key_file"), err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("%s and %s: %w", p.key("cert_file"), p.key("key_file"), err)
		}
		m.cert = &cert
	}
	if m.roots, err = loadCAs(p); err != nil {
		return nil, err
	}
	if p.VerifyIncoming {
		if m.roots == nil {
			return nil, fmt.Errorf("%s is set but no CA certificates were provided: set ca_file or ca_path", p.key("verify_incoming"))
		}
		if m.cert == nil {
			return nil, fmt.Errorf("%s is set but there is no certificate to present: set cert_file and key_file", p.key("verify_incoming"))
		}
	}
	if p.VerifyOutgoing && m.roots == nil {
		return nil, fmt.Errorf("%s is set but no CA certificates were provided: set ca_file or ca_path", p.key("verify_outgoing"))
	}
	return m, nil
}

// loadCAs builds the CA pool: ca_file, else every file under ca_path (as
// Consul, which walks it); nil when neither is set.
func loadCAs(p Protocol) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	add := func(key, path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return fmt.Errorf("%s: no PEM certificate in %s", key, path)
		}
		return nil
	}
	switch {
	case p.CAFile != "":
		if err := add(p.key("ca_file"), p.CAFile); err != nil {
			return nil, err
		}
	case p.CAPath != "":
		var files []string
		err := filepath.WalkDir(p.CAPath, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.key("ca_path"), err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: no CA certificates in %s", p.key("ca_path"), p.CAPath)
		}
		sort.Strings(files)
		for _, f := range files {
			if err := add(p.key("ca_path"), f); err != nil {
				return nil, err
			}
		}
	default:
		return nil, nil
	}
	return pool, nil
}

// Protocol returns the settings m was loaded from.
func (m *Material) Protocol() Protocol { return m.p }

// HasCert reports whether there is a certificate to present.
func (m *Material) HasCert() bool { return m.cert != nil }

// ServerConfig is for accepting connections: it presents the certificate
// and, with verify_incoming, requires a client certificate signed by the
// CA.
func (m *Material) ServerConfig() *tls.Config {
	c := m.base()
	if m.cert != nil {
		c.Certificates = []tls.Certificate{*m.cert}
	}
	c.ClientCAs = m.roots
	if m.p.VerifyIncoming {
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c
}

// ClientConfig is for dialling a server: the server's chain must lead to
// the CA and, when serverName is not "", its certificate must be for
// serverName (verify_server_hostname). It presents the certificate when the
// server asks for one.
func (m *Material) ClientConfig(serverName string) *tls.Config {
	c := m.base()
	c.RootCAs = m.roots
	c.GetClientCertificate = m.clientCert
	if serverName != "" {
		c.ServerName = serverName
		return c
	}
	// Without verify_server_hostname the name is not checked (Consul's node
	// addresses are not in its certificates), but the chain still is:
	// crypto/tls checks both or neither, so the chain is checked here.
	roots := m.roots
	c.InsecureSkipVerify = true
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("tls: the server presented no certificate")
		}
		opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
		for _, ic := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(ic)
		}
		_, err := cs.PeerCertificates[0].Verify(opts)
		return err
	}
	return c
}

// AuthorizeServer checks that a verified client certificate is a
// server's of this datacenter (valid for name, server.<dc>.<domain>, for
// client authentication), as Consul's AuthorizeServerConn does for Raft:
// with verify_server_hostname a client agent's certificate cannot join
// Raft.
func (m *Material) AuthorizeServer(cs tls.ConnectionState, name string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no client certificate")
	}
	opts := x509.VerifyOptions{DNSName: name, Roots: m.roots, Intermediates: x509.NewCertPool(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	for _, ic := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(ic)
	}
	if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
		return fmt.Errorf("the certificate is not a server's of this datacenter (%s): %w", name, err)
	}
	return nil
}

// ServerName is the name a server's certificate carries and
// verify_server_hostname checks: server.<datacenter>.<domain>.
func ServerName(dc, domain string) string {
	return "server." + dc + "." + strings.TrimSuffix(domain, ".")
}

// ErrNoClientCert fails a handshake on our side when the server asks for
// a certificate we do not have: with TLS 1.3 the server's refusal would
// otherwise only surface on the first read, as a bare "certificate
// required" alert.
var ErrNoClientCert = errors.New("the server requires a client certificate (verify_incoming) and none is configured: set cert_file and key_file")

// clientCert answers a server's certificate request.
func (m *Material) clientCert(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	if m.cert == nil {
		return nil, ErrNoClientCert
	}
	return m.cert, nil
}

func (m *Material) base() *tls.Config {
	return &tls.Config{MinVersion: m.minVersion, CipherSuites: m.suites}
}

// HTTPSClientConfig is for an HTTPS client such as the CLI: crypto/tls's
// full check of the chain and of the name dialled (or ServerName), against
// the CA when one is set, else the system's roots. It presents the
// certificate when the agent asks for one (verify_incoming).
func (m *Material) HTTPSClientConfig() *tls.Config {
	c := m.base()
	c.RootCAs = m.roots
	c.GetClientCertificate = m.clientCert
	return c
}
