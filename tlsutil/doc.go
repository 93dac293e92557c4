// Package tlsutil is consulx's agent TLS, as Consul's tlsutil: creating a
// CA and agent certificates the way `consul tls ca create` and `consul tls
// cert create` do (ECDSA P-256 keys, Consul's subjects, SANs and key
// usages), and turning an interface's settings (Consul's tls.defaults
// merged with tls.internal_rpc or tls.https) into loaded material and the
// tls.Config objects the agent serves and dials with.
//
// Loading checks everything an operator can get wrong before the agent
// starts, each as one line naming the configuration key to fix: a missing
// or unreadable file, a key that does not match its certificate,
// verify_incoming without a CA or without a certificate, verify_outgoing
// without a CA, an unknown TLS version or cipher suite.
//
// Outgoing verification follows Consul: with verify_outgoing the server's
// chain must lead to the CA; only verify_server_hostname also checks that
// the certificate is for server.<datacenter>.<domain> (Consul's agents use
// node names that are not DNS names, so the name is not checked by
// default).
//
// It imports nothing of consulx's and uses only the standard library.
package tlsutil
