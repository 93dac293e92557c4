package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"

	"consulx/api"
	"consulx/tlsutil"
)

// consulx tls: Consul's helpers for agent TLS, with its file names, flags
// and printed lines, so a Consul recipe works as written.

const tlsUsage = `Usage: consulx tls <subcommand> <subcommand> [options]

  Create a CA

    $ consulx tls ca create

  Create a server certificate

    $ consulx tls cert create -server

  Create a client certificate

    $ consulx tls cert create -client

Subcommands:
    ca      Helpers for CAs
    cert    Helpers for certificates
`

func runTLS(args []string, env *cliEnv) int {
	switch {
	case len(args) >= 2 && args[0] == "ca" && args[1] == "create":
		return runTLSCACreate(args[2:], env)
	case len(args) >= 2 && args[0] == "cert" && args[1] == "create":
		return runTLSCertCreate(args[2:], env)
	case len(args) == 1 && args[0] == "ca":
		fmt.Fprint(env.stderr, "Usage: consulx tls ca <subcommand> [options]\n\nSubcommands:\n    create    Create a new consul CA\n")
	case len(args) == 1 && args[0] == "cert":
		fmt.Fprint(env.stderr, "Usage: consulx tls cert <subcommand> [options]\n\nSubcommands:\n    create    Create a new certificate\n")
	case len(args) == 0:
		fmt.Fprint(env.stderr, tlsUsage)
	case len(args) == 1 && (args[0] == "-h" || args[0] == "--help"):
		fmt.Fprint(env.stderr, tlsUsage)
		return 0
	default:
		fmt.Fprintf(env.stderr, "tls: unknown subcommand %q (ca create, cert create)\n", strings.Join(args, " "))
	}
	return 1
}

// fileMissing is Consul's test for a free file name: anything but "does
// not exist" (even a permission error) counts as taken.
func fileMissing(name string) bool {
	_, err := os.Stat(name)
	return errors.Is(err, fs.ErrNotExist)
}

// writeNew writes a new file and never replaces one: a name taken since
// it was chosen fails instead of destroying a key.
func writeNew(name, data string, perm os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err = f.WriteString(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
	}
	return err
}

func runTLSCACreate(args []string, env *cliEnv) int {
	c := newCmd("tls ca create", env)
	days := c.fs.Int("days", 1825, "Number of days the CA is valid for (about 5 years)")
	domain := c.fs.String("domain", "consul", "The DNS domain of the cluster; names the files and, with -name-constraint, the constraint")
	constraint := c.fs.Bool("name-constraint", false, "Restrict the CA to localhost, -domain and each -additional-name-constraint (X.509 name constraints)")
	var extra stringList
	c.fs.Var(&extra, "additional-name-constraint", "Another DNS domain the CA may sign for, with -name-constraint (repeatable)")
	clusterID := c.fs.String("cluster-id", "", "ID of the cluster: sets the CA's URI to spiffe://<id>.<domain>")
	commonName := c.fs.String("common-name", "", `Common name of the CA (default "Consul Agent CA <serial>")`)
	return c.run(args, func(x *cmdRun) int {
		if len(x.args()) > 0 {
			return x.errorf("tls ca create: unexpected argument %q", x.args()[0])
		}
		if *days <= 0 {
			return x.errorf("-days must be positive, got %d", *days)
		}
		certFile, keyFile := *domain+"-agent-ca.pem", *domain+"-agent-ca-key.pem"
		for _, f := range []string{certFile, keyFile} {
			if !fileMissing(f) {
				return x.errorf("%s already exists.", f)
			}
		}
		cert, key, err := tlsutil.GenerateCA(tlsutil.CAOptions{Days: *days, Domain: *domain, NameConstraint: *constraint,
			AdditionalConstraints: extra, CommonName: *commonName, ClusterID: *clusterID})
		if err != nil {
			return x.errorf("%v", err)
		}
		if err := writeNew(certFile, cert, 0o644); err != nil {
			return x.errorf("%v", err)
		}
		fmt.Fprintln(x.stdout, "==> Saved "+certFile)
		if err := writeNew(keyFile, key, 0o600); err != nil {
			return x.errorf("%v", err)
		}
		fmt.Fprintln(x.stdout, "==> Saved "+keyFile)
		return 0
	})
}

const serverCertWarning = `==> WARNING: Server Certificates grants authority to become a
    server and access all state in the cluster including root keys
    and all ACL tokens. Do not distribute them to production hosts
    that are not server nodes. Store them as securely as CA keys.`

func runTLSCertCreate(args []string, env *cliEnv) int {
	c := newCmd("tls cert create", env)
	caFile := c.fs.String("ca", "#DOMAIN#-agent-ca.pem", "Path to the CA certificate")
	keyFile := c.fs.String("key", "#DOMAIN#-agent-ca-key.pem", "Path to the CA's key")
	server := c.fs.Bool("server", false, "Generate a server certificate")
	client := c.fs.Bool("client", false, "Generate a client certificate")
	cliRole := c.fs.Bool("cli", false, "Generate a CLI certificate")
	node := c.fs.String("node", "", "With -server: also include the name <node>.server.<datacenter>.<domain>")
	days := c.fs.Int("days", 365, "Number of days the certificate is valid for")
	dc := c.fs.String("dc", "dc1", "Datacenter of the certificate")
	domain := c.fs.String("domain", "consul", "DNS domain of the cluster")
	var dnsNames, ips stringList
	c.fs.Var(&dnsNames, "additional-dnsname", "Another DNS name for the Subject Alternative Names; localhost is always included (repeatable)")
	c.fs.Var(&ips, "additional-ipaddress", "Another IP address for the Subject Alternative Names; 127.0.0.1 is always included (repeatable)")
	return c.run(args, func(x *cmdRun) int {
		if len(x.args()) > 0 {
			return x.errorf("tls cert create: unexpected argument %q", x.args()[0])
		}
		if *caFile == "" {
			return x.errorf("Please provide the ca")
		}
		if *keyFile == "" {
			return x.errorf("Please provide the key")
		}
		var role tlsutil.Role
		switch {
		case *server && !*client && !*cliRole:
			role = tlsutil.RoleServer
		case *client && !*server && !*cliRole:
			role = tlsutil.RoleClient
		case *cliRole && !*server && !*client:
			role = tlsutil.RoleCLI
		default:
			return x.errorf("Please provide either -server, -client, or -cli")
		}
		if *node != "" && role != tlsutil.RoleServer {
			return x.errorf("-node requires -server")
		}
		if *days <= 0 {
			return x.errorf("-days must be positive, got %d", *days)
		}
		var names []string
		for _, d := range dnsNames {
			if d = strings.TrimSpace(d); d != "" {
				names = append(names, d)
			}
		}
		var addrs []net.IP
		for _, s := range ips {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			ip := net.ParseIP(s)
			if ip == nil {
				return x.errorf("-additional-ipaddress %q is not an IP address", s)
			}
			addrs = append(addrs, ip)
		}
		opts, prefix := tlsutil.AgentCert(role, *dc, *domain, *node, names, addrs)
		// The first number whose certificate and key are both free, as
		// Consul: dc1-server-consul-0.pem, then -1...
		certName, keyName := "", ""
		for i := 0; i <= 10000 && certName == ""; i++ {
			cn, kn := fmt.Sprintf("%s-%d.pem", prefix, i), fmt.Sprintf("%s-%d-key.pem", prefix, i)
			if fileMissing(cn) && fileMissing(kn) {
				certName, keyName = cn, kn
			}
		}
		if certName == "" {
			return x.errorf("Could not find a filename that doesn't already exist")
		}
		caPath := strings.Replace(*caFile, "#DOMAIN#", *domain, 1)
		keyPath := strings.Replace(*keyFile, "#DOMAIN#", *domain, 1)
		caPEM, err := os.ReadFile(caPath)
		if err != nil {
			return x.errorf("Error reading CA: %v", err)
		}
		keyPEM, err := os.ReadFile(keyPath)
		if err != nil {
			return x.errorf("Error reading CA key: %v", err)
		}
		if role == tlsutil.RoleServer {
			fmt.Fprintln(x.stdout, serverCertWarning)
		}
		fmt.Fprintln(x.stdout, "==> Using "+caPath+" and "+keyPath)
		opts.CACert, opts.CAKey, opts.Days = string(caPEM), string(keyPEM), *days
		cert, key, err := tlsutil.GenerateCert(opts)
		if err != nil {
			return x.errorf("%v", err)
		}
		if err := tlsutil.Verify(string(caPEM), cert, opts.Name); err != nil {
			return x.errorf("%v", err)
		}
		if err := writeNew(certName, cert, 0o644); err != nil {
			return x.errorf("%v", err)
		}
		fmt.Fprintln(x.stdout, "==> Saved "+certName)
		if err := writeNew(keyName, key, 0o600); err != nil {
			return x.errorf("%v", err)
		}
		fmt.Fprintln(x.stdout, "==> Saved "+keyName)
		return 0
	})
}

// tlsFlags are the HTTPS flags every API command shares, as Consul's
// (each defaults to its CONSUL_* variable).
type tlsFlags struct {
	caFile, caPath, clientCert, clientKey, serverName string
}

func (t *tlsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.caFile, "ca-file", os.Getenv("CONSUL_CACERT"), "CA file to verify the agent's HTTPS certificate (env CONSUL_CACERT)")
	fs.StringVar(&t.caPath, "ca-path", os.Getenv("CONSUL_CAPATH"), "Directory of CA files to verify the agent's HTTPS certificate (env CONSUL_CAPATH)")
	fs.StringVar(&t.clientCert, "client-cert", os.Getenv("CONSUL_CLIENT_CERT"), "Client certificate for an agent with verify_incoming (env CONSUL_CLIENT_CERT)")
	fs.StringVar(&t.clientKey, "client-key", os.Getenv("CONSUL_CLIENT_KEY"), "Client key for an agent with verify_incoming (env CONSUL_CLIENT_KEY)")
	fs.StringVar(&t.serverName, "tls-server-name", os.Getenv("CONSUL_TLS_SERVER_NAME"), "Server name for SNI and the certificate check (env CONSUL_TLS_SERVER_NAME)")
}

// client is an API client for addr with these flags over the environment
// (CONSUL_HTTP_SSL_VERIFY has no flag, as in Consul).
func (t *tlsFlags) client(addr string) (*api.Client, error) {
	env, err := api.TLSFromEnv()
	if err != nil {
		return nil, err
	}
	env.CAFile, env.CAPath, env.CertFile, env.KeyFile, env.ServerName = t.caFile, t.caPath, t.clientCert, t.clientKey, t.serverName
	return api.NewClientTLS(addr, env)
}
