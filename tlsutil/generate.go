package tlsutil

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"
)

// CAOptions describe a CA as `consul tls ca create` makes it.
type CAOptions struct {
	// Days the CA is valid (Consul's CLI default: 1825).
	Days int
	// Domain is the cluster's DNS domain (Consul's "consul"): the name
	// constraint and the cluster ID's URI use it.
	Domain string
	// NameConstraint restricts the CA to Domain, "localhost" and
	// AdditionalConstraints (a critical X.509 name constraint), so a stolen
	// CA key cannot sign certificates for other names.
	NameConstraint        bool
	AdditionalConstraints []string
	// CommonName defaults to "Consul Agent CA <serial>".
	CommonName string
	// ClusterID, when set, gives the CA the URI spiffe://<id>.<domain>.
	ClusterID string
}

// GenerateCA returns a new self-signed CA certificate and its private key,
// both PEM-encoded, with Consul's subject and key usages.
func GenerateCA(o CAOptions) (certPEM, keyPEM string, err error) {
	if o.Days <= 0 {
		return "", "", errors.New("the CA's validity in days must be positive")
	}
	signer, keyPEM, err := generateKey()
	if err != nil {
		return "", "", err
	}
	id, err := keyID(signer.Public())
	if err != nil {
		return "", "", err
	}
	sn, err := serialNumber()
	if err != nil {
		return "", "", err
	}
	name := o.CommonName
	if name == "" {
		name = fmt.Sprintf("Consul Agent CA %d", sn)
	}
	now := time.Now()
	tmpl := x509.Certificate{
		SerialNumber: sn,
		Subject: pkix.Name{
			Country:       []string{"US"},
			PostalCode:    []string{"94105"},
			Province:      []string{"CA"},
			Locality:      []string{"San Francisco"},
			StreetAddress: []string{"101 Second Street"},
			Organization:  []string{"HashiCorp Inc."},
			CommonName:    name,
		},
		BasicConstraintsValid: true,
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		NotBefore:             now,
		NotAfter:              now.AddDate(0, 0, o.Days),
		SubjectKeyId:          id,
		AuthorityKeyId:        id,
	}
	if o.ClusterID != "" {
		tmpl.URIs = []*url.URL{{Scheme: "spiffe", Host: o.ClusterID + "." + o.Domain}}
	}
	if o.NameConstraint {
		// Consul's order: the additional names, then the domain and localhost.
		tmpl.PermittedDNSDomainsCritical = true
		tmpl.PermittedDNSDomains = append(append([]string{}, o.AdditionalConstraints...), o.Domain, "localhost")
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, signer.Public(), signer)
	if err != nil {
		return "", "", fmt.Errorf("error generating CA certificate: %w", err)
	}
	return encodePEM("CERTIFICATE", der), keyPEM, nil
}

// CertOptions describe an agent certificate signed by a CA.
type CertOptions struct {
	// CACert and CAKey are the signing CA, PEM-encoded.
	CACert, CAKey string
	Name          string // the subject's common name
	Days          int
	DNSNames      []string
	IPAddresses   []net.IP
	ExtKeyUsage   []x509.ExtKeyUsage
}

// Role is the kind of agent certificate `consul tls cert create` makes.
type Role string

// The roles of -server, -client and -cli.
const (
	RoleServer Role = "server"
	RoleClient Role = "client"
	RoleCLI    Role = "cli"
)

// AgentCert returns what Consul puts in a certificate for role in
// datacenter dc under domain: the name <role>.<dc>.<domain>, its SANs
// (extra names first; node adds <node>.server.<dc>.<domain> to a server
// certificate; localhost and 127.0.0.1 except 127.0.0.1 for the CLI) and
// key usages; and the file name prefix, <dc>-<role>-<domain>.
func AgentCert(role Role, dc, domain, node string, dnsNames []string, ips []net.IP) (o CertOptions, prefix string) {
	name := fmt.Sprintf("%s.%s.%s", role, dc, domain)
	o = CertOptions{Name: name, DNSNames: append([]string{}, dnsNames...), IPAddresses: append([]net.IP{}, ips...)}
	switch role {
	case RoleServer:
		if node != "" {
			o.DNSNames = append(o.DNSNames, fmt.Sprintf("%s.server.%s.%s", node, dc, domain))
		}
		o.DNSNames = append(o.DNSNames, name, "localhost")
		o.IPAddresses = append(o.IPAddresses, net.IPv4(127, 0, 0, 1))
		o.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	case RoleClient:
		o.DNSNames = append(o.DNSNames, name, "localhost")
		o.IPAddresses = append(o.IPAddresses, net.IPv4(127, 0, 0, 1))
		o.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}
	case RoleCLI:
		// Consul drops the extra names and addresses for the CLI, and gives
		// it no extended key usage (so it is valid for any).
		o.DNSNames = []string{name, "localhost"}
		o.IPAddresses = nil
	}
	return o, fmt.Sprintf("%s-%s-%s", dc, role, domain)
}

// GenerateCert returns a new certificate signed by the CA in o, and its
// private key, both PEM-encoded.
func GenerateCert(o CertOptions) (certPEM, keyPEM string, err error) {
	if o.Days <= 0 {
		return "", "", errors.New("the certificate's validity in days must be positive")
	}
	parent, err := ParseCert(o.CACert)
	if err != nil {
		return "", "", fmt.Errorf("failed to parse CA: %w", err)
	}
	caSigner, err := ParseSigner(o.CAKey)
	if err != nil {
		return "", "", err
	}
	signer, keyPEM, err := generateKey()
	if err != nil {
		return "", "", err
	}
	id, err := keyID(signer.Public())
	if err != nil {
		return "", "", err
	}
	sn, err := serialNumber()
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	tmpl := x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: o.Name},
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           o.ExtKeyUsage,
		NotBefore:             now,
		NotAfter:              now.AddDate(0, 0, o.Days),
		SubjectKeyId:          id,
		DNSNames:              o.DNSNames,
		IPAddresses:           o.IPAddresses,
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, parent, signer.Public(), caSigner)
	if err != nil {
		return "", "", fmt.Errorf("failed to create certificate: %w", err)
	}
	return encodePEM("CERTIFICATE", der), keyPEM, nil
}

// Verify checks that certPEM chains to caPEM and is valid for dnsName.
func Verify(caPEM, certPEM, dnsName string) error {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(caPEM)) {
		return errors.New("failed to parse root certificate")
	}
	cert, err := ParseCert(certPEM)
	if err != nil {
		return fmt.Errorf("failed to parse certificate: %w", err)
	}
	_, err = cert.Verify(x509.VerifyOptions{DNSName: dnsName, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

// ParseCert decodes the first PEM block of s, which must be a certificate.
func ParseCert(s string) (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("no PEM-encoded data found")
	}
	if block.Type != "CERTIFICATE" {
		return nil, errors.New("first PEM-block should be CERTIFICATE type")
	}
	return x509.ParseCertificate(block.Bytes)
}

// ParseSigner decodes a PEM private key (EC, PKCS#1 RSA or PKCS#8), as
// Consul accepts for a CA key.
func ParseSigner(s string) (crypto.Signer, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("no PEM-encoded data found")
	}
	switch block.Type {
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, fmt.Errorf("private key of type %T cannot sign", k)
	}
	return nil, fmt.Errorf("unknown PEM block type for signing key: %s", block.Type)
}

// generateKey makes an ECDSA P-256 key, Consul's choice for agent TLS.
func generateKey() (crypto.Signer, string, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("error generating private key: %w", err)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, "", fmt.Errorf("error encoding private key: %w", err)
	}
	return k, encodePEM("EC PRIVATE KEY", der), nil
}

// serialNumber is a random 128-bit serial, as Consul's.
func serialNumber() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}

// keyID is the SHA-256 of the public key's DER, Consul's subject (and
// authority) key identifier.
func keyID(pub crypto.PublicKey) ([]byte, error) {
	switch pub.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey:
	default:
		return nil, fmt.Errorf("invalid key type: %T", pub)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	return sum[:], nil
}

func encodePEM(typ string, der []byte) string {
	var b bytes.Buffer
	_ = pem.Encode(&b, &pem.Block{Type: typ, Bytes: der})
	return b.String()
}
