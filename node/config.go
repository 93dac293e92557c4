package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"
)

// Ports are the listeners of an agent; -1 disables one where Consul allows it.
type Ports struct {
	HTTP, HTTPS, DNS, SerfLAN, SerfWAN, Server, GRPC, GRPCTLS int
}

// Config is the agent's resolved configuration: defaults, then config files,
// then flags.
type Config struct {
	Datacenter      string
	NodeName        string
	DataDir         string
	Dev             bool
	Server          bool
	BootstrapExpect int
	BindAddr        string
	AdvertiseAddr   string
	ClientAddr      string
	Ports           Ports
	StartJoin       []string
	RetryJoin       []string
	RetryInterval   time.Duration
	// RetryIntervalWAN, RetryMax and RetryMaxWAN bound the LAN and WAN
	// join retries (0 retries without limit), as Consul's keys.
	RetryIntervalWAN time.Duration
	RetryMax         int
	RetryMaxWAN      int
	RetryJoinWAN     []string
	LogLevel         string
	// LeaveOnTerminate and SkipLeaveOnInterrupt follow Consul: clients leave
	// on SIGTERM and SIGINT, servers keep their Raft seat on both.
	LeaveOnTerminate     bool
	SkipLeaveOnInterrupt bool
	DisableUpdateCheck   bool
	DisableRemoteExec    bool
	// remoteExecSet says a config file set disable_remote_exec, which
	// then wins over -dev's default.
	remoteExecSet      bool
	EnableScriptChecks bool
	RaftMultiplier     int
	// RPCHoldTimeout is how long a write or default read waits for a leader
	// before failing with "No cluster leader".
	RPCHoldTimeout time.Duration
	// DefaultQueryTime and MaxQueryTime bound blocking queries (Consul's
	// default_query_time, 5m, and max_query_time, 10m).
	DefaultQueryTime time.Duration
	MaxQueryTime     time.Duration
	// SessionTTLMin is session_ttl_min: the shortest TTL a session may ask for.
	SessionTTLMin time.Duration
	// KVMaxValueSize is limits.kv_max_value_size.
	KVMaxValueSize int
	// HTTPMaxConnsPerClient is limits.http_max_conns_per_client.
	HTTPMaxConnsPerClient int
	// RPCRate and RPCMaxBurst (limits.rpc_rate, rpc_max_burst) bound the
	// requests per second each client may make (0 or less: no limit).
	RPCRate     float64
	RPCMaxBurst int
	// Extra holds the keys other code decodes (service, services, check,
	// checks, dns_config, domain, recursors, watches), kept verbatim per
	// source.
	Extra map[string][]json.RawMessage
	// Warnings name the keys that were accepted but are not honoured yet;
	// the agent logs them at start.
	Warnings []ConfigWarning
	// EnableDebug (enable_debug) serves Go's /debug/pprof on the HTTP API.
	EnableDebug bool
	// PrimaryDatacenter is authoritative for ACLs (default: ours).
	PrimaryDatacenter string
	// ACL is access control (config_acl.go).
	ACL ACLConfig
	// EncryptKey is encrypt: the base64 gossip key, used on first start
	// (or always, with DisableKeyringFile) for the LAN and WAN pools.
	EncryptKey string
	// EncryptVerifyIncoming and EncryptVerifyOutgoing (default true) refuse
	// unencrypted gossip and send only encrypted gossip; turning them off
	// lets a running cluster be moved to encryption one agent at a time.
	EncryptVerifyIncoming bool
	EncryptVerifyOutgoing bool
	// DisableKeyringFile keeps the keyring in memory only: installed and
	// rotated keys are lost on restart, encrypt is used every time.
	DisableKeyringFile bool
	// TLS is the agent's TLS (config_tls.go), resolved from tls by
	// Finalize.
	TLS TLSConfig
	tls tlsSources
	// Timing tightens gossip and Raft for tests on one machine.
	Timing Timing
}

// Timing holds the protocol timings; the zero value means production LAN.
type Timing struct {
	// FastGossip uses memberlist's loopback profile with short probes so
	// failures are detected within about a second.
	FastGossip bool
	// TombstoneTTL is how long KV tombstones are kept before the leader
	// reaps them (0: the default, 15 minutes, like Consul's GC).
	TombstoneTTL time.Duration
}

// DefaultConfig returns Consul's defaults, with our faster Raft timing.
func DefaultConfig() *Config {
	host, _ := os.Hostname()
	return &Config{
		Datacenter:            "dc1",
		NodeName:              host,
		BindAddr:              "0.0.0.0",
		ClientAddr:            "127.0.0.1",
		Ports:                 Ports{HTTP: 8500, HTTPS: -1, DNS: 8600, SerfLAN: 8301, SerfWAN: 8302, Server: 8300, GRPC: -1, GRPCTLS: -1},
		RetryInterval:         30 * time.Second,
		RetryIntervalWAN:      30 * time.Second,
		LogLevel:              "INFO",
		DisableRemoteExec:     true,
		RaftMultiplier:        1,
		RPCHoldTimeout:        2 * time.Second,
		KVMaxValueSize:        512 * 1024,
		SessionTTLMin:         10 * time.Second,
		DefaultQueryTime:      5 * time.Minute,
		MaxQueryTime:          10 * time.Minute,
		HTTPMaxConnsPerClient: 200,
		RPCMaxBurst:           1000,
		EncryptVerifyIncoming: true,
		EncryptVerifyOutgoing: true,
	}
}

// Duration decodes Consul's "30s" strings; like Consul, a bare number
// without a unit is refused.
type Duration time.Duration

// MarshalJSON writes the "30s" form UnmarshalJSON reads back.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	// An UnmarshalTypeError gets the key path filled in by encoding/json,
	// so the operator learns which key is wrong.
	bad := &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[Duration]()}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return bad
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return bad
	}
	*d = Duration(v)
	return nil
}

// FileConfig is one configuration source (a file, or the command line) in
// Consul's JSON key spelling. Nil fields were not set by that source.
type FileConfig struct {
	Datacenter         *string   `json:"datacenter"`
	NodeName           *string   `json:"node_name"`
	DataDir            *string   `json:"data_dir"`
	Server             *bool     `json:"server"`
	BootstrapExpect    *int      `json:"bootstrap_expect"`
	BindAddr           *string   `json:"bind_addr"`
	AdvertiseAddr      *string   `json:"advertise_addr"`
	ClientAddr         *string   `json:"client_addr"`
	LogLevel           *string   `json:"log_level"`
	Ports              *ports    `json:"ports"`
	RetryJoin          []string  `json:"retry_join"`
	RetryJoinWAN       []string  `json:"retry_join_wan"`
	RetryInterval      *Duration `json:"retry_interval"`
	RetryIntervalWAN   *Duration `json:"retry_interval_wan"`
	RetryMax           *int      `json:"retry_max"`
	RetryMaxWAN        *int      `json:"retry_max_wan"`
	StartJoin          []string  `json:"start_join"`
	LeaveOnTerminate   *bool     `json:"leave_on_terminate"`
	SkipLeaveOnIntr    *bool     `json:"skip_leave_on_interrupt"`
	DisableUpdateCheck *bool     `json:"disable_update_check"`
	DisableRemoteExec  *bool     `json:"disable_remote_exec"`
	EnableScriptChecks *bool     `json:"enable_script_checks"`
	EnableDebug        *bool     `json:"enable_debug"`
	Encrypt            *string   `json:"encrypt"`
	EncryptVerifyIn    *bool     `json:"encrypt_verify_incoming"`
	EncryptVerifyOut   *bool     `json:"encrypt_verify_outgoing"`
	DisableKeyringFile *bool     `json:"disable_keyring_file"`
	Performance        *struct {
		RaftMultiplier *int      `json:"raft_multiplier"`
		RPCHoldTimeout *Duration `json:"rpc_hold_timeout"`
	} `json:"performance"`
	Limits *struct {
		KVMaxValueSize        *int     `json:"kv_max_value_size"`
		HTTPMaxConnsPerClient *int     `json:"http_max_conns_per_client"`
		RPCRate               *float64 `json:"rpc_rate"`
		RPCMaxBurst           *int     `json:"rpc_max_burst"`
	} `json:"limits"`
	// Bootstrap is -bootstrap: a single server, bootstrap_expect 1.
	Bootstrap *bool `json:"bootstrap"`
	// StartJoinWAN joins like retry_join_wan, as Consul now treats it.
	StartJoinWAN     []string  `json:"start_join_wan"`
	SessionTTLMin    *Duration `json:"session_ttl_min"`
	DefaultQueryTime *Duration `json:"default_query_time"`
	MaxQueryTime     *Duration `json:"max_query_time"`
	// Keys whose contents other code decodes and checks (the local
	// services and checks, the DNS server): kept verbatim.
	Service   json.RawMessage `json:"service"`
	Services  json.RawMessage `json:"services"`
	Check     json.RawMessage `json:"check"`
	Checks    json.RawMessage `json:"checks"`
	DNSConfig json.RawMessage `json:"dns_config"`
	Recursors json.RawMessage `json:"recursors"`
	Domain    json.RawMessage `json:"domain"`
	// Watches are decoded and checked by package watch when the agent
	// starts (agentrun).
	Watches json.RawMessage `json:"watches"`
	// Replicate holds consulx's built-in KV replication blocks (package
	// replicate; not a Consul key).
	Replicate json.RawMessage `json:"replicate"`
	// PrimaryDatacenter and ACL: config_acl.go.
	PrimaryDatacenter *string  `json:"primary_datacenter"`
	ACL               *aclFile `json:"acl"`
	aclLegacyFile
	// TLS is Consul's tls block; the keys below are its deprecated
	// top-level spellings, which Consul still takes (config_tls.go).
	TLS                  *tlsFile `json:"tls"`
	CAFile               *string  `json:"ca_file"`
	CAPath               *string  `json:"ca_path"`
	CertFile             *string  `json:"cert_file"`
	KeyFile              *string  `json:"key_file"`
	TLSMinVersion        *string  `json:"tls_min_version"`
	TLSCipherSuites      *string  `json:"tls_cipher_suites"`
	VerifyIncoming       *bool    `json:"verify_incoming"`
	VerifyIncomingRPC    *bool    `json:"verify_incoming_rpc"`
	VerifyIncomingHTTPS  *bool    `json:"verify_incoming_https"`
	VerifyOutgoing       *bool    `json:"verify_outgoing"`
	VerifyServerHostname *bool    `json:"verify_server_hostname"`
	// Warnings are the keys of this source that consulx accepts but does
	// not honour yet (see config_keys.go).
	Warnings []ConfigWarning `json:"-"`
}

type ports struct {
	HTTP    *int `json:"http"`
	HTTPS   *int `json:"https"`
	DNS     *int `json:"dns"`
	SerfLAN *int `json:"serf_lan"`
	SerfWAN *int `json:"serf_wan"`
	Server  *int `json:"server"`
	GRPC    *int `json:"grpc"`
	GRPCTLS *int `json:"grpc_tls"`
}

// SetPorts sets the ports given on the command line (nil: not given).
func (fc *FileConfig) SetPorts(http, dns, serfLAN, serfWAN, server *int) {
	if http == nil && dns == nil && serfLAN == nil && serfWAN == nil && server == nil {
		return
	}
	if fc.Ports == nil {
		fc.Ports = &ports{}
	}
	fc.Ports.HTTP, fc.Ports.DNS, fc.Ports.SerfLAN, fc.Ports.SerfWAN, fc.Ports.Server = http, dns, serfLAN, serfWAN, server
}

// SetHTTPSPort sets -https-port (nil: not given).
func (fc *FileConfig) SetHTTPSPort(https *int) {
	if https == nil {
		return
	}
	if fc.Ports == nil {
		fc.Ports = &ports{}
	}
	fc.Ports.HTTPS = https
}

// ParseConfigFile decodes one JSON config source. Every key of Consul's
// agent configuration is accepted: honoured, or recorded in Warnings when
// consulx does not support it yet. Unknown keys and values of the wrong
// type are one-line errors naming the source and the key.
func ParseConfigFile(name string, r io.Reader) (*FileConfig, error) {
	dec := json.NewDecoder(r)
	var doc json.RawMessage
	if err := dec.Decode(&doc); err != nil {
		return nil, configError(name, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("config: %s: trailing data after the JSON object", name)
	}
	if doc[0] != '{' && string(doc) != "null" {
		return nil, fmt.Errorf("config: %s: want a JSON object of config keys", name)
	}
	known, warnings, err := checkKeys(name, doc)
	if err != nil {
		return nil, err
	}
	strict := json.NewDecoder(bytes.NewReader(known))
	strict.DisallowUnknownFields()
	var fc FileConfig
	if err := strict.Decode(&fc); err != nil {
		return nil, configError(name, err)
	}
	if fc.Bootstrap != nil && *fc.Bootstrap && fc.BootstrapExpect != nil && *fc.BootstrapExpect > 0 {
		return nil, fmt.Errorf("config: %s: \"bootstrap\" and \"bootstrap_expect\" are mutually exclusive: set one", name)
	}
	if err := checkTLSFile(&fc); err != nil {
		return nil, fmt.Errorf("config: %s: %v", name, err)
	}
	fc.Warnings = warnings
	return &fc, nil
}

func configError(name string, err error) error {
	var typeErr *json.UnmarshalTypeError
	var synErr *json.SyntaxError
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "json: unknown field "):
		return fmt.Errorf("config: %s: unknown key %s", name, strings.TrimPrefix(msg, "json: unknown field "))
	case errors.As(err, &typeErr) && typeErr.Type == reflect.TypeFor[Duration]():
		return fmt.Errorf("config: %s: bad value for %q: want a duration string such as \"30s\", got %s", name, typeErr.Field, typeErr.Value)
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return fmt.Errorf("config: %s: want a JSON object of config keys", name)
	case errors.As(err, &typeErr):
		return fmt.Errorf("config: %s: bad value for %q: want %s", name, typeErr.Field, typeErr.Type)
	case errors.As(err, &synErr):
		return fmt.Errorf("config: %s: invalid JSON at byte %d: %v", name, synErr.Offset, synErr)
	case err == io.EOF:
		return fmt.Errorf("config: %s: empty file, want a JSON object", name)
	}
	return fmt.Errorf("config: %s: %v", name, strings.TrimPrefix(msg, "json: "))
}

// LoadConfigSources reads -config-file and -config-dir sources in order:
// each dir contributes its *.json and *.hcl files in lexical order (other
// files are skipped, as Consul skips them).
func LoadConfigSources(files, dirs []string) ([]*FileConfig, error) {
	var paths []string
	paths = append(paths, files...)
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			return nil, fmt.Errorf("config: read dir %s: %w", d, err)
		}
		var names []string
		for _, e := range entries {
			if !e.IsDir() && (strings.HasSuffix(e.Name(), ".json") || strings.HasSuffix(e.Name(), ".hcl")) {
				names = append(names, filepath.Join(d, e.Name()))
			}
		}
		sort.Strings(names)
		paths = append(paths, names...)
	}
	var out []*FileConfig
	for _, p := range paths {
		parse := ParseConfigFile
		switch {
		case strings.HasSuffix(p, ".hcl"):
			parse = ParseHCLConfigFile
		case !strings.HasSuffix(p, ".json"):
			return nil, fmt.Errorf("config: %s: unknown extension: config files must end in .json or .hcl", p)
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		fc, err := parse(p, f)
		f.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, fc)
	}
	return out, nil
}

func setStr(dst *string, src *string) {
	if src != nil {
		*dst = *src
	}
}

func setInt(dst *int, src *int) {
	if src != nil {
		*dst = *src
	}
}

func setBool(dst *bool, src *bool) {
	if src != nil {
		*dst = *src
	}
}

// Merge applies one source over c. Lists such as retry_join append, as in
// Consul; scalars override.
func (c *Config) Merge(fc *FileConfig) {
	setStr(&c.Datacenter, fc.Datacenter)
	setStr(&c.NodeName, fc.NodeName)
	setStr(&c.DataDir, fc.DataDir)
	setBool(&c.Server, fc.Server)
	setInt(&c.BootstrapExpect, fc.BootstrapExpect)
	setStr(&c.BindAddr, fc.BindAddr)
	setStr(&c.AdvertiseAddr, fc.AdvertiseAddr)
	setStr(&c.ClientAddr, fc.ClientAddr)
	setStr(&c.LogLevel, fc.LogLevel)
	if p := fc.Ports; p != nil {
		setInt(&c.Ports.HTTP, p.HTTP)
		setInt(&c.Ports.HTTPS, p.HTTPS)
		setInt(&c.Ports.DNS, p.DNS)
		setInt(&c.Ports.SerfLAN, p.SerfLAN)
		setInt(&c.Ports.SerfWAN, p.SerfWAN)
		setInt(&c.Ports.Server, p.Server)
		setInt(&c.Ports.GRPC, p.GRPC)
		setInt(&c.Ports.GRPCTLS, p.GRPCTLS)
	}
	c.RetryJoin = append(c.RetryJoin, fc.RetryJoin...)
	c.RetryJoinWAN = append(c.RetryJoinWAN, fc.RetryJoinWAN...)
	c.StartJoin = append(c.StartJoin, fc.StartJoin...)
	if fc.RetryInterval != nil {
		c.RetryInterval = time.Duration(*fc.RetryInterval)
	}
	if fc.RetryIntervalWAN != nil {
		c.RetryIntervalWAN = time.Duration(*fc.RetryIntervalWAN)
	}
	setInt(&c.RetryMax, fc.RetryMax)
	setInt(&c.RetryMaxWAN, fc.RetryMaxWAN)
	setBool(&c.LeaveOnTerminate, fc.LeaveOnTerminate)
	setBool(&c.SkipLeaveOnInterrupt, fc.SkipLeaveOnIntr)
	setBool(&c.DisableUpdateCheck, fc.DisableUpdateCheck)
	setBool(&c.DisableRemoteExec, fc.DisableRemoteExec)
	c.remoteExecSet = c.remoteExecSet || fc.DisableRemoteExec != nil
	setBool(&c.EnableScriptChecks, fc.EnableScriptChecks)
	setBool(&c.EnableDebug, fc.EnableDebug)
	setStr(&c.EncryptKey, fc.Encrypt)
	setBool(&c.EncryptVerifyIncoming, fc.EncryptVerifyIn)
	setBool(&c.EncryptVerifyOutgoing, fc.EncryptVerifyOut)
	setBool(&c.DisableKeyringFile, fc.DisableKeyringFile)
	if p := fc.Performance; p != nil {
		setInt(&c.RaftMultiplier, p.RaftMultiplier)
		if p.RPCHoldTimeout != nil {
			c.RPCHoldTimeout = time.Duration(*p.RPCHoldTimeout)
		}
	}
	if fc.SessionTTLMin != nil {
		c.SessionTTLMin = time.Duration(*fc.SessionTTLMin)
	}
	if fc.DefaultQueryTime != nil {
		c.DefaultQueryTime = time.Duration(*fc.DefaultQueryTime)
	}
	if fc.MaxQueryTime != nil {
		c.MaxQueryTime = time.Duration(*fc.MaxQueryTime)
	}
	if l := fc.Limits; l != nil {
		setInt(&c.KVMaxValueSize, l.KVMaxValueSize)
		setInt(&c.HTTPMaxConnsPerClient, l.HTTPMaxConnsPerClient)
		if l.RPCRate != nil {
			c.RPCRate = *l.RPCRate
		}
		setInt(&c.RPCMaxBurst, l.RPCMaxBurst)
	}
	if fc.Bootstrap != nil && *fc.Bootstrap {
		c.BootstrapExpect = 1
	}
	c.RetryJoinWAN = append(c.RetryJoinWAN, fc.StartJoinWAN...)
	c.mergeACL(fc)
	c.tls.merge(fc)
	c.Warnings = append(c.Warnings, fc.Warnings...)
	extra := map[string]json.RawMessage{
		"service": fc.Service, "services": fc.Services, "check": fc.Check, "checks": fc.Checks,
		"dns_config": fc.DNSConfig, "recursors": fc.Recursors, "domain": fc.Domain,
		"watches": fc.Watches, "replicate": fc.Replicate,
	}
	for k, v := range extra {
		if len(v) == 0 {
			continue
		}
		if c.Extra == nil {
			c.Extra = map[string][]json.RawMessage{}
		}
		c.Extra[k] = append(c.Extra[k], v)
	}
}

// loopbackOnly says every address in addrs (space-separated, as
// client_addr may be) is a loopback address.
func loopbackOnly(addrs string) bool {
	fields := strings.Fields(addrs)
	for _, a := range fields {
		if ip := net.ParseIP(a); ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return len(fields) > 0
}

// Finalize fills derived defaults and checks the whole configuration.
// leaveSet/skipSet tell whether a source set those keys, since their
// defaults depend on the server role.
func (c *Config) Finalize(leaveSet, skipSet bool) error {
	if c.Dev {
		c.Server = true
		if c.BootstrapExpect == 0 {
			c.BootstrapExpect = 1
		}
		if c.BindAddr == "0.0.0.0" {
			c.BindAddr = "127.0.0.1"
		}
		// A dev agent runs remote exec, but only where nobody else can
		// reach it (loopback), and never against an explicit setting.
		if !c.remoteExecSet && loopbackOnly(c.BindAddr) && loopbackOnly(c.ClientAddr) {
			c.DisableRemoteExec = false
		}
	}
	if !leaveSet {
		c.LeaveOnTerminate = !c.Server
	}
	if !skipSet {
		c.SkipLeaveOnInterrupt = c.Server
	}
	var errs []string
	if c.NodeName == "" {
		errs = append(errs, "node name is empty: set -node or node_name")
	}
	if c.Datacenter == "" {
		errs = append(errs, "datacenter is empty")
	}
	for _, r := range c.Datacenter {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			errs = append(errs, fmt.Sprintf("datacenter %q: use lower-case letters, digits, '-' and '_'", c.Datacenter))
			break
		}
	}
	if c.DataDir == "" && !c.Dev {
		errs = append(errs, "data_dir is required: set -data-dir (or use -dev)")
	}
	if err := c.finalizeACL(); err != nil {
		errs = append(errs, strings.TrimPrefix(err.Error(), "config: "))
	}
	if c.BootstrapExpect < 0 {
		errs = append(errs, "bootstrap_expect cannot be negative")
	}
	if c.BootstrapExpect > 0 && !c.Server {
		errs = append(errs, "bootstrap_expect requires server mode (-server)")
	}
	if c.RaftMultiplier < 1 || c.RaftMultiplier > 10 {
		errs = append(errs, fmt.Sprintf("performance.raft_multiplier must be between 1 and 10, got %d", c.RaftMultiplier))
	}
	if c.KVMaxValueSize <= 0 {
		errs = append(errs, "limits.kv_max_value_size must be positive")
	}
	if c.RPCHoldTimeout <= 0 {
		errs = append(errs, "performance.rpc_hold_timeout must be positive")
	}
	if c.SessionTTLMin <= 0 {
		errs = append(errs, "session_ttl_min must be positive")
	}
	if c.DefaultQueryTime <= 0 || c.MaxQueryTime <= 0 || c.DefaultQueryTime > c.MaxQueryTime {
		errs = append(errs, "default_query_time and max_query_time must be positive, default not above max")
	}
	for name, p := range map[string]int{"http": c.Ports.HTTP, "https": c.Ports.HTTPS, "dns": c.Ports.DNS, "serf_lan": c.Ports.SerfLAN, "serf_wan": c.Ports.SerfWAN, "server": c.Ports.Server} {
		if p < -1 || p > 65535 || (p == -1 && (name == "serf_lan" || name == "server")) {
			errs = append(errs, fmt.Sprintf("ports.%s: invalid port %d", name, p))
		}
	}
	if c.EncryptKey != "" {
		if _, err := DecodeGossipKey(c.EncryptKey); err != nil {
			errs = append(errs, "encrypt has invalid key: "+err.Error())
		}
	}
	switch strings.ToUpper(c.LogLevel) {
	case "TRACE", "DEBUG", "INFO", "WARN", "ERR", "ERROR":
	default:
		errs = append(errs, fmt.Sprintf("log_level %q: use trace, debug, info, warn or err", c.LogLevel))
	}
	errs = append(errs, c.finalizeTLS()...)
	sort.Strings(errs)
	if len(errs) > 0 {
		return fmt.Errorf("config: %s", strings.Join(errs, "; "))
	}
	return nil
}
