package node

import (
	"encoding/json"
	"fmt"
	"strings"

	"consulx/tlsutil"
)

// Consul's TLS configuration: the tls block (defaults, internal_rpc,
// https; each sub-block overrides defaults) and the deprecated top-level
// keys, mapped into it per file as Consul's deprecated.go does (a legacy
// key fills its tls.* key only where the same file does not set that).

// tlsProtocolFile is one tls sub-block as a file writes it.
type tlsProtocolFile struct {
	CAFile               *string `json:"ca_file"`
	CAPath               *string `json:"ca_path"`
	CertFile             *string `json:"cert_file"`
	KeyFile              *string `json:"key_file"`
	TLSMinVersion        *string `json:"tls_min_version"`
	TLSCipherSuites      *string `json:"tls_cipher_suites"`
	VerifyIncoming       *bool   `json:"verify_incoming"`
	VerifyOutgoing       *bool   `json:"verify_outgoing"`
	VerifyServerHostname *bool   `json:"verify_server_hostname"`
	// UseAutoCert is decoded only to be refused, as Consul refuses it
	// outside tls.grpc.
	UseAutoCert *bool `json:"use_auto_cert"`
}

// tlsFile is the tls block of one file (tls.grpc is accepted with a
// warning and dropped: there is no gRPC listener).
type tlsFile struct {
	Defaults    *tlsProtocolFile `json:"defaults"`
	InternalRPC *tlsProtocolFile `json:"internal_rpc"`
	HTTPS       *tlsProtocolFile `json:"https"`
}

// checkTLSFile refuses what Consul's builder refuses.
func checkTLSFile(fc *FileConfig) error {
	if fc.TLS == nil {
		return nil
	}
	for _, b := range []struct {
		name string
		f    *tlsProtocolFile
	}{{"defaults", fc.TLS.Defaults}, {"internal_rpc", fc.TLS.InternalRPC}, {"https", fc.TLS.HTTPS}} {
		if b.f == nil {
			continue
		}
		if b.f.UseAutoCert != nil {
			return fmt.Errorf("\"tls.%s.use_auto_cert\": use_auto_cert is only valid in the tls.grpc stanza", b.name)
		}
		if b.name == "https" && b.f.VerifyServerHostname != nil {
			return fmt.Errorf("\"tls.https.verify_server_hostname\": verify_server_hostname is only valid in the tls.defaults and tls.internal_rpc stanzas")
		}
	}
	return nil
}

// tlsStr and tlsBool are one merged setting and the key that set it
// ("" when unset), so an error can name the key to fix.
type tlsStr struct{ v, key string }
type tlsBool struct {
	v   bool
	key string
}

// tlsBlock is one sub-block merged over all sources.
type tlsBlock struct {
	caFile, caPath, certFile, keyFile, minVersion, cipherSuites tlsStr
	verifyIncoming, verifyOutgoing, verifyServerHostname        tlsBool
}

func setTLSStr(dst *tlsStr, v *string, key string) {
	if v != nil {
		*dst = tlsStr{*v, key}
	}
}

func setTLSBool(dst *tlsBool, v *bool, key string) {
	if v != nil {
		*dst = tlsBool{*v, key}
	}
}

func (b *tlsBlock) merge(prefix string, f *tlsProtocolFile) {
	if f == nil {
		return
	}
	setTLSStr(&b.caFile, f.CAFile, prefix+".ca_file")
	setTLSStr(&b.caPath, f.CAPath, prefix+".ca_path")
	setTLSStr(&b.certFile, f.CertFile, prefix+".cert_file")
	setTLSStr(&b.keyFile, f.KeyFile, prefix+".key_file")
	setTLSStr(&b.minVersion, f.TLSMinVersion, prefix+".tls_min_version")
	setTLSStr(&b.cipherSuites, f.TLSCipherSuites, prefix+".tls_cipher_suites")
	setTLSBool(&b.verifyIncoming, f.VerifyIncoming, prefix+".verify_incoming")
	setTLSBool(&b.verifyOutgoing, f.VerifyOutgoing, prefix+".verify_outgoing")
	setTLSBool(&b.verifyServerHostname, f.VerifyServerHostname, prefix+".verify_server_hostname")
}

// tlsSources is the tls block merged over every source.
type tlsSources struct{ defaults, internalRPC, https tlsBlock }

// deprecatedTLSVersions are the old tls_min_version spellings Consul still
// takes in the top-level key.
var deprecatedTLSVersions = map[string]string{"tls10": "TLSv1_0", "tls11": "TLSv1_1", "tls12": "TLSv1_2", "tls13": "TLSv1_3"}

// merge applies one source: its legacy keys first, so the same file's tls
// block wins over them.
func (s *tlsSources) merge(fc *FileConfig) {
	d := &s.defaults
	setTLSStr(&d.caFile, fc.CAFile, "ca_file")
	setTLSStr(&d.caPath, fc.CAPath, "ca_path")
	setTLSStr(&d.certFile, fc.CertFile, "cert_file")
	setTLSStr(&d.keyFile, fc.KeyFile, "key_file")
	if v := fc.TLSMinVersion; v != nil {
		ver := *v
		if nv, ok := deprecatedTLSVersions[ver]; ok {
			ver = nv
		}
		d.minVersion = tlsStr{ver, "tls_min_version"}
	}
	setTLSStr(&d.cipherSuites, fc.TLSCipherSuites, "tls_cipher_suites")
	setTLSBool(&d.verifyIncoming, fc.VerifyIncoming, "verify_incoming")
	setTLSBool(&d.verifyOutgoing, fc.VerifyOutgoing, "verify_outgoing")
	setTLSBool(&s.internalRPC.verifyIncoming, fc.VerifyIncomingRPC, "verify_incoming_rpc")
	setTLSBool(&s.https.verifyIncoming, fc.VerifyIncomingHTTPS, "verify_incoming_https")
	setTLSBool(&s.internalRPC.verifyServerHostname, fc.VerifyServerHostname, "verify_server_hostname")
	if t := fc.TLS; t != nil {
		s.defaults.merge("tls.defaults", t.Defaults)
		s.internalRPC.merge("tls.internal_rpc", t.InternalRPC)
		s.https.merge("tls.https", t.HTTPS)
	}
}

// protocol resolves one interface: its own setting, else tls.defaults'.
func (s *tlsSources) protocol(b tlsBlock) tlsutil.Protocol {
	d := s.defaults
	keys := map[string]string{}
	str := func(name string, own, def tlsStr) string {
		v := def
		if own.key != "" {
			v = own
		}
		if v.key != "" {
			keys[name] = v.key
		}
		return v.v
	}
	boolean := func(name string, own, def tlsBool) bool {
		v := def
		if own.key != "" {
			v = own
		}
		if v.key != "" {
			keys[name] = v.key
		}
		return v.v
	}
	p := tlsutil.Protocol{
		CAFile:               str("ca_file", b.caFile, d.caFile),
		CAPath:               str("ca_path", b.caPath, d.caPath),
		CertFile:             str("cert_file", b.certFile, d.certFile),
		KeyFile:              str("key_file", b.keyFile, d.keyFile),
		MinVersion:           str("tls_min_version", b.minVersion, d.minVersion),
		CipherSuites:         str("tls_cipher_suites", b.cipherSuites, d.cipherSuites),
		VerifyIncoming:       boolean("verify_incoming", b.verifyIncoming, d.verifyIncoming),
		VerifyOutgoing:       boolean("verify_outgoing", b.verifyOutgoing, d.verifyOutgoing),
		VerifyServerHostname: boolean("verify_server_hostname", b.verifyServerHostname, d.verifyServerHostname),
		Keys:                 keys,
	}
	// As Consul: suites inherited from tls.defaults by a block that asks
	// for TLS 1.3 (whose suites are not configurable) are dropped, not an
	// error.
	if b.cipherSuites.key == "" && b.minVersion.key != "" && p.MinVersion == "TLSv1_3" {
		p.CipherSuites = ""
		delete(keys, "tls_cipher_suites")
	}
	return p
}

// TLSConfig is the agent's TLS, resolved by Finalize.
type TLSConfig struct {
	// InternalRPC is the server port's (Raft, RPC, remote exec streams)
	// and HTTPS the HTTPS listener's settings.
	InternalRPC, HTTPS tlsutil.Protocol
	// RPC and Web are the same with their files loaded and checked.
	RPC, Web *tlsutil.Material
	// Domain is the DNS domain (the domain key, "consul"): a server's
	// certificate is for server.<datacenter>.<domain>.
	Domain string
}

// ServerName is the name verify_server_hostname expects on the servers of
// datacenter dc.
func (t *TLSConfig) ServerName(dc string) string { return tlsutil.ServerName(dc, t.Domain) }

// finalizeTLS resolves and loads the TLS settings; each error is one line
// naming the key to fix.
func (c *Config) finalizeTLS() []string {
	c.TLS.Domain = "consul"
	if d := c.Extra["domain"]; len(d) > 0 {
		var s string
		if json.Unmarshal(d[len(d)-1], &s) == nil && strings.Trim(s, ".") != "" {
			c.TLS.Domain = strings.Trim(s, ".")
		}
	}
	rpc := c.tls.protocol(c.tls.internalRPC)
	// Consul: verify_server_hostname implies verify_outgoing
	// (CVE-2018-19653), so a name check is never asked of plaintext.
	if rpc.VerifyServerHostname && !rpc.VerifyOutgoing {
		rpc.VerifyOutgoing = true
		rpc.Keys["verify_outgoing"] = rpc.Keys["verify_server_hostname"]
	}
	web := c.tls.protocol(c.tls.https)
	// Nothing goes out over HTTPS with these settings, in Consul either;
	// verify_server_hostname is refused in tls.https at parse time.
	web.VerifyOutgoing, web.VerifyServerHostname = false, false
	c.TLS.InternalRPC, c.TLS.HTTPS = rpc, web
	var errs []string
	var err error
	if c.TLS.RPC, err = tlsutil.Load(rpc); err != nil {
		errs = append(errs, err.Error())
	}
	if c.TLS.Web, err = tlsutil.Load(web); err != nil {
		// The same file named through tls.defaults fails both: say it once.
		if len(errs) == 0 || errs[0] != err.Error() {
			errs = append(errs, err.Error())
		}
	}
	if c.Ports.HTTPS > 0 && c.TLS.Web != nil && !c.TLS.Web.HasCert() {
		errs = append(errs, fmt.Sprintf("ports.https is %d but HTTPS has no certificate: set cert_file and key_file in tls.https or tls.defaults", c.Ports.HTTPS))
	}
	return errs
}
