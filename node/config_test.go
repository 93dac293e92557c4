package node

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// parseOK parses src as a config file named "test.json" and fails the test
// on error.
func parseOK(t *testing.T, src string) *FileConfig {
	t.Helper()
	fc, err := ParseConfigFile("test.json", strings.NewReader(src))
	if err != nil {
		t.Fatalf("ParseConfigFile(%s): unexpected error: %v", src, err)
	}
	if fc == nil {
		t.Fatalf("ParseConfigFile(%s): nil config without error", src)
	}
	return fc
}

// resolve mirrors buildConfig: defaults, then each source merged in order,
// then Finalize with leaveSet/skipSet derived from the sources.
func resolve(dev bool, srcs ...*FileConfig) (*Config, error) {
	c := DefaultConfig()
	c.Dev = dev
	leaveSet, skipSet := false, false
	for _, s := range srcs {
		c.Merge(s)
		leaveSet = leaveSet || s.LeaveOnTerminate != nil
		skipSet = skipSet || s.SkipLeaveOnIntr != nil
	}
	return c, c.Finalize(leaveSet, skipSet)
}

// checkConfigErr asserts the error shape every config error must have:
// one line, prefixed "config: ", and containing each of want.
func checkConfigErr(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected an error containing %q, got nil", want)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "config: ") {
		t.Errorf("error %q does not start with \"config: \"", msg)
	}
	if strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error is not a single line: %q", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not mention %q", msg, w)
		}
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	host, _ := os.Hostname()
	checks := []struct {
		name      string
		got, want any
	}{
		{"datacenter", c.Datacenter, "dc1"},
		{"node_name", c.NodeName, host},
		{"data_dir", c.DataDir, ""},
		{"server", c.Server, false},
		{"bootstrap_expect", c.BootstrapExpect, 0},
		{"bind_addr", c.BindAddr, "0.0.0.0"},
		{"client_addr", c.ClientAddr, "127.0.0.1"},
		{"advertise_addr", c.AdvertiseAddr, ""},
		{"ports", c.Ports, Ports{HTTP: 8500, HTTPS: -1, DNS: 8600, SerfLAN: 8301, SerfWAN: 8302, Server: 8300, GRPC: -1, GRPCTLS: -1}},
		{"retry_interval", c.RetryInterval, 30 * time.Second},
		{"log_level", c.LogLevel, "INFO"},
		{"disable_remote_exec", c.DisableRemoteExec, true},
		{"enable_script_checks", c.EnableScriptChecks, false},
		{"disable_update_check", c.DisableUpdateCheck, false},
		{"limits.kv_max_value_size", c.KVMaxValueSize, 512 * 1024},
		{"limits.http_max_conns_per_client", c.HTTPMaxConnsPerClient, 200},
		{"raft_multiplier", c.RaftMultiplier, 1},
		{"rpc_hold_timeout", c.RPCHoldTimeout, 2 * time.Second},
	}
	for _, tc := range checks {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("default %s = %#v, want %#v", tc.name, tc.got, tc.want)
		}
	}
}

func TestParseSupportedKeys(t *testing.T) {
	defPorts := DefaultConfig().Ports
	withPorts := func(f func(p *Ports)) Ports {
		p := defPorts
		f(&p)
		return p
	}
	tests := []struct {
		name string
		src  string
		get  func(c *Config) any
		want any
	}{
		{"datacenter", `{"datacenter": "east-1"}`, func(c *Config) any { return c.Datacenter }, "east-1"},
		{"node_name", `{"node_name": "web-1"}`, func(c *Config) any { return c.NodeName }, "web-1"},
		{"data_dir", `{"data_dir": "/var/lib/consulx"}`, func(c *Config) any { return c.DataDir }, "/var/lib/consulx"},
		{"server true", `{"server": true}`, func(c *Config) any { return c.Server }, true},
		{"server false", `{"server": false}`, func(c *Config) any { return c.Server }, false},
		{"bootstrap_expect", `{"bootstrap_expect": 3}`, func(c *Config) any { return c.BootstrapExpect }, 3},
		{"bind_addr", `{"bind_addr": "10.0.0.5"}`, func(c *Config) any { return c.BindAddr }, "10.0.0.5"},
		{"client_addr", `{"client_addr": "0.0.0.0"}`, func(c *Config) any { return c.ClientAddr }, "0.0.0.0"},
		{"advertise_addr", `{"advertise_addr": "192.168.1.7"}`, func(c *Config) any { return c.AdvertiseAddr }, "192.168.1.7"},
		{"log_level", `{"log_level": "debug"}`, func(c *Config) any { return c.LogLevel }, "debug"},
		{"ports.http", `{"ports": {"http": 18500}}`, func(c *Config) any { return c.Ports }, withPorts(func(p *Ports) { p.HTTP = 18500 })},
		{"ports.dns", `{"ports": {"dns": 18600}}`, func(c *Config) any { return c.Ports }, withPorts(func(p *Ports) { p.DNS = 18600 })},
		{"ports.serf_lan", `{"ports": {"serf_lan": 18301}}`, func(c *Config) any { return c.Ports }, withPorts(func(p *Ports) { p.SerfLAN = 18301 })},
		{"ports.serf_wan", `{"ports": {"serf_wan": 18302}}`, func(c *Config) any { return c.Ports }, withPorts(func(p *Ports) { p.SerfWAN = 18302 })},
		{"ports.server", `{"ports": {"server": 18300}}`, func(c *Config) any { return c.Ports }, withPorts(func(p *Ports) { p.Server = 18300 })},
		{"ports.grpc", `{"ports": {"grpc": 8502}}`, func(c *Config) any { return c.Ports }, withPorts(func(p *Ports) { p.GRPC = 8502 })},
		{"ports.grpc -1", `{"ports": {"grpc": -1}}`, func(c *Config) any { return c.Ports.GRPC }, -1},
		{"ports.grpc_tls", `{"ports": {"grpc_tls": 8503}}`, func(c *Config) any { return c.Ports }, withPorts(func(p *Ports) { p.GRPCTLS = 8503 })},
		{"ports.grpc_tls -1", `{"ports": {"grpc_tls": -1}}`, func(c *Config) any { return c.Ports.GRPCTLS }, -1},
		{"ports.https", `{"ports": {"https": 8501}}`, func(c *Config) any { return c.Ports }, withPorts(func(p *Ports) { p.HTTPS = 8501 })},
		{"ports.https -1", `{"ports": {"https": -1}}`, func(c *Config) any { return c.Ports.HTTPS }, -1},
		{"ports all", `{"ports": {"http": 1, "dns": 2, "serf_lan": 3, "serf_wan": 4, "server": 5, "grpc": 6, "grpc_tls": 7, "https": 8}}`,
			func(c *Config) any { return c.Ports }, Ports{HTTP: 1, DNS: 2, SerfLAN: 3, SerfWAN: 4, Server: 5, GRPC: 6, GRPCTLS: 7, HTTPS: 8}},
		{"ports empty object", `{"ports": {}}`, func(c *Config) any { return c.Ports }, defPorts},
		{"retry_join", `{"retry_join": ["10.0.0.1", "10.0.0.2"]}`, func(c *Config) any { return c.RetryJoin }, []string{"10.0.0.1", "10.0.0.2"}},
		{"retry_join_wan", `{"retry_join_wan": ["1.2.3.4"]}`, func(c *Config) any { return c.RetryJoinWAN }, []string{"1.2.3.4"}},
		{"retry_interval", `{"retry_interval": "5s"}`, func(c *Config) any { return c.RetryInterval }, 5 * time.Second},
		{"retry_interval compound", `{"retry_interval": "1m30s"}`, func(c *Config) any { return c.RetryInterval }, 90 * time.Second},
		{"start_join", `{"start_join": ["a", "b"]}`, func(c *Config) any { return c.StartJoin }, []string{"a", "b"}},
		{"leave_on_terminate", `{"leave_on_terminate": true}`, func(c *Config) any { return c.LeaveOnTerminate }, true},
		{"skip_leave_on_interrupt", `{"skip_leave_on_interrupt": true}`, func(c *Config) any { return c.SkipLeaveOnInterrupt }, true},
		{"disable_update_check", `{"disable_update_check": true}`, func(c *Config) any { return c.DisableUpdateCheck }, true},
		{"disable_remote_exec false", `{"disable_remote_exec": false}`, func(c *Config) any { return c.DisableRemoteExec }, false},
		{"enable_script_checks", `{"enable_script_checks": true}`, func(c *Config) any { return c.EnableScriptChecks }, true},
		{"performance.raft_multiplier", `{"performance": {"raft_multiplier": 5}}`, func(c *Config) any { return c.RaftMultiplier }, 5},
		{"performance.rpc_hold_timeout", `{"performance": {"rpc_hold_timeout": "7s"}}`, func(c *Config) any { return c.RPCHoldTimeout }, 7 * time.Second},
		{"performance.leave_drain_time accepted", `{"performance": {"leave_drain_time": "5s"}}`, func(c *Config) any { return c.RaftMultiplier }, 1},
		{"limits.kv_max_value_size", `{"limits": {"kv_max_value_size": 1048576}}`, func(c *Config) any { return c.KVMaxValueSize }, 1048576},
		{"limits.http_max_conns_per_client", `{"limits": {"http_max_conns_per_client": 50}}`, func(c *Config) any { return c.HTTPMaxConnsPerClient }, 50},
		{"empty object", `{}`, func(c *Config) any { return c.Datacenter }, "dc1"},
		{"null value leaves default", `{"datacenter": null}`, func(c *Config) any { return c.Datacenter }, "dc1"},
		{"surrounding whitespace", "\n\t {\"node_name\": \"ws\"} \n\n", func(c *Config) any { return c.NodeName }, "ws"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fc := parseOK(t, tc.src)
			c := DefaultConfig()
			c.Merge(fc)
			if got := tc.get(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
			if len(c.Extra) != 0 {
				t.Errorf("supported key leaked into Extra: %v", c.Extra)
			}
		})
	}
}

// TestParseAllKeysTogether parses one file using every supported key and
// checks the whole resolved Config.
func TestParseAllKeysTogether(t *testing.T) {
	src := `{
		"datacenter": "dc-west",
		"node_name": "n1",
		"data_dir": "/data",
		"server": true,
		"bootstrap_expect": 3,
		"bind_addr": "10.1.1.1",
		"client_addr": "0.0.0.0",
		"advertise_addr": "10.1.1.2",
		"log_level": "warn",
		"ports": {"http": 1, "https": -1, "dns": 2, "serf_lan": 3, "serf_wan": 4, "server": 5, "grpc": -1, "grpc_tls": -1},
		"retry_join": ["r1"],
		"retry_join_wan": ["w1"],
		"retry_interval": "10s",
		"retry_interval_wan": "20s",
		"retry_max": 3,
		"retry_max_wan": 4,
		"start_join": ["s1"],
		"leave_on_terminate": true,
		"skip_leave_on_interrupt": false,
		"disable_update_check": true,
		"disable_remote_exec": false,
		"enable_script_checks": true,
		"performance": {"raft_multiplier": 2, "rpc_hold_timeout": "3s"},
		"limits": {"kv_max_value_size": 1024, "http_max_conns_per_client": 10},
		"start_join_wan": ["w2"],
		"encrypt": "HMzPnmnx4aXEXzpX6Ee0Rw==",
		"encrypt_verify_incoming": false,
		"encrypt_verify_outgoing": true,
		"disable_keyring_file": true
	}`
	c, err := resolve(false, parseOK(t, src))
	if err != nil {
		t.Fatalf("Finalize: %v", err)
	}
	want := &Config{
		Datacenter: "dc-west", NodeName: "n1", DataDir: "/data", Server: true, BootstrapExpect: 3,
		BindAddr: "10.1.1.1", AdvertiseAddr: "10.1.1.2", ClientAddr: "0.0.0.0",
		Ports:     Ports{HTTP: 1, HTTPS: -1, DNS: 2, SerfLAN: 3, SerfWAN: 4, Server: 5, GRPC: -1, GRPCTLS: -1},
		StartJoin: []string{"s1"}, RetryJoin: []string{"r1"}, RetryJoinWAN: []string{"w1", "w2"},
		RetryInterval: 10 * time.Second, RetryIntervalWAN: 20 * time.Second, RetryMax: 3, RetryMaxWAN: 4, LogLevel: "warn",
		LeaveOnTerminate: true, SkipLeaveOnInterrupt: false,
		DisableUpdateCheck: true, DisableRemoteExec: false, remoteExecSet: true, EnableScriptChecks: true,
		RaftMultiplier: 2, RPCHoldTimeout: 3 * time.Second,
		KVMaxValueSize: 1024, HTTPMaxConnsPerClient: 10, RPCMaxBurst: 1000, SessionTTLMin: 10 * time.Second, DefaultQueryTime: 5 * time.Minute, MaxQueryTime: 10 * time.Minute,
		PrimaryDatacenter: "dc-west", ACL: ACLConfig{DefaultPolicy: "allow", DownPolicy: "extend-cache", TokenTTL: 30 * time.Second},
		EncryptKey: "HMzPnmnx4aXEXzpX6Ee0Rw==", EncryptVerifyIncoming: false, EncryptVerifyOutgoing: true, DisableKeyringFile: true,
	}
	// No TLS is set here (config_tls_test.go covers it); its loaded
	// material holds pointers, so it is checked apart.
	if c.TLS.RPC == nil || c.TLS.RPC.HasCert() || c.TLS.Web == nil || c.TLS.Domain != "consul" {
		t.Errorf("TLS %+v", c.TLS)
	}
	c.TLS = TLSConfig{}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("resolved config:\n got %+v\nwant %+v", c, want)
	}
}

// TestParseRawKeysKeptInExtra: the keys that other code decodes (local
// services and checks, the DNS server) reach it verbatim.
func TestParseRawKeysKeptInExtra(t *testing.T) {
	tests := []struct {
		key, value string
	}{
		{"service", `{"name":"web","port":80}`},
		{"services", `[{"name":"web"},{"name":"db"}]`},
		{"check", `{"id":"c1","ttl":"30s"}`},
		{"checks", `[{"id":"c1"}]`},
		{"dns_config", `{"allow_stale":true,"max_stale":"87600h"}`},
		{"recursors", `["8.8.8.8"]`},
		{"domain", `"consul."`},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			fc := parseOK(t, `{"`+tc.key+`": `+tc.value+`, "datacenter": "dcx"}`)
			c := DefaultConfig()
			c.Merge(fc)
			if c.Datacenter != "dcx" {
				t.Errorf("supported key next to %s not applied: datacenter %q", tc.key, c.Datacenter)
			}
			got := c.Extra[tc.key]
			if len(got) != 1 || string(got[0]) != tc.value {
				t.Errorf("Extra[%q] = %q, want [%s]", tc.key, got, tc.value)
			}
			if len(c.Extra) != 1 {
				t.Errorf("Extra has %d keys, want 1: %v", len(c.Extra), c.Extra)
			}
			if len(c.Warnings) != 0 {
				t.Errorf("warnings for a supported key: %v", c.Warnings)
			}
		})
	}

	// Unsupported dns_config keys warn and are dropped, so the DNS server
	// (which refuses keys it does not know) still starts.
	t.Run("unsupported dns_config keys dropped", func(t *testing.T) {
		c := DefaultConfig()
		c.Merge(parseOK(t, `{"dns_config": {"allow_stale": false, "disable_compression": true, "soa": {"min_ttl": 5}}}`))
		if got := c.Extra["dns_config"]; len(got) != 1 || string(got[0]) != `{"allow_stale":false}` {
			t.Errorf("Extra[dns_config] = %q, want only allow_stale", got)
		}
		if len(c.Warnings) != 2 || c.Warnings[0].Key != "dns_config.disable_compression" || c.Warnings[1].Key != "dns_config.soa" {
			t.Errorf("warnings = %+v, want disable_compression and soa", c.Warnings)
		}
	})

	// Each source contributes its own raw value, in order.
	t.Run("appended across files", func(t *testing.T) {
		c := DefaultConfig()
		c.Merge(parseOK(t, `{"service": {"name":"a"}}`))
		c.Merge(parseOK(t, `{}`))
		c.Merge(parseOK(t, `{"service": {"name":"b"}}`))
		got := c.Extra["service"]
		if len(got) != 2 || string(got[0]) != `{"name":"a"}` || string(got[1]) != `{"name":"b"}` {
			t.Errorf("Extra[service] = %q, want both files' values in order", got)
		}
	})
	t.Run("absent keys leave Extra nil", func(t *testing.T) {
		c := DefaultConfig()
		c.Merge(parseOK(t, `{"datacenter":"dc2"}`))
		if c.Extra != nil {
			t.Errorf("Extra = %v, want nil", c.Extra)
		}
	})
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // substrings besides the file name
		skip string
	}{
		// Unknown keys.
		{name: "unknown top-level key", src: `{"datacenter": "dc1", "bogus_key": 1}`, want: []string{"unknown key", "bogus_key"}},
		{name: "misspelt top-level key", src: `{"node": "x"}`, want: []string{"unknown key", `"node"`}},
		{name: "unknown nested ports key", src: `{"ports": {"htp": 8500}}`, want: []string{"unknown key", "htp"}},
		{name: "unknown nested performance key", src: `{"performance": {"raft_multipler": 1}}`, want: []string{"unknown key", "raft_multipler"}},
		{name: "unknown nested limits key", src: `{"limits": {"kv_max": 1}}`, want: []string{"unknown key", "kv_max"}},

		// Wrong value types.
		{name: "server string", src: `{"server": "yes"}`, want: []string{`"server"`, "bool"}},
		{name: "server number", src: `{"server": 1}`, want: []string{`"server"`, "bool"}},
		{name: "bootstrap_expect string", src: `{"bootstrap_expect": "3"}`, want: []string{`"bootstrap_expect"`, "int"}},
		{name: "bootstrap_expect float", src: `{"bootstrap_expect": 1.5}`, want: []string{`"bootstrap_expect"`, "int"}},
		{name: "datacenter number", src: `{"datacenter": 1}`, want: []string{`"datacenter"`, "string"}},
		{name: "leave_on_terminate string", src: `{"leave_on_terminate": "true"}`, want: []string{`"leave_on_terminate"`}},
		{name: "retry_join string", src: `{"retry_join": "10.0.0.1"}`, want: []string{`"retry_join"`}},
		{name: "start_join numbers", src: `{"start_join": [1]}`, want: []string{"start_join"}},
		{name: "ports not an object", src: `{"ports": 8500}`, want: []string{`"ports"`}},
		{name: "ports.http string", src: `{"ports": {"http": "8500"}}`, want: []string{"ports.http", "int"}},
		{name: "ports.grpc bool", src: `{"ports": {"grpc": false}}`, want: []string{"ports.grpc", "int"}},
		{name: "raft_multiplier string", src: `{"performance": {"raft_multiplier": "5"}}`, want: []string{"performance.raft_multiplier", "int"}},
		{name: "kv_max_value_size string", src: `{"limits": {"kv_max_value_size": "1"}}`, want: []string{"limits.kv_max_value_size", "int"}},
		{name: "bootstrap_expect overflow", src: `{"bootstrap_expect": 1e400}`, want: []string{"bootstrap_expect"}},
		{name: "retry_interval number", src: `{"retry_interval": 30}`, want: []string{"retry_interval", "duration"}},
		{name: "retry_interval without unit", src: `{"retry_interval": "30"}`, want: []string{"retry_interval", `"30"`}},
		{name: "rpc_hold_timeout number", src: `{"performance": {"rpc_hold_timeout": 7}}`, want: []string{"rpc_hold_timeout"}},
		{name: "retry_interval bad unit", src: `{"retry_interval": "30 parsecs"}`, want: []string{"30 parsecs"}},

		// Malformed documents.
		{name: "empty file", src: ``, want: []string{"empty"}},
		{name: "whitespace only", src: " \n\t\n", want: []string{"empty"}},
		{name: "syntax error", src: `{"datacenter": }`, want: []string{"invalid JSON"}},
		{name: "missing comma", src: `{"datacenter": "a" "node_name": "b"}`, want: []string{"invalid JSON"}},
		{name: "single quotes", src: `{'datacenter': 'a'}`, want: []string{"invalid JSON"}},
		{name: "trailing comma", src: `{"datacenter": "a",}`, want: []string{"invalid JSON"}},
		{name: "newline inside string", src: "{\"datacenter\": \"a\nb\"}", want: []string{"invalid JSON"}},
		{name: "truncated object", src: `{"datacenter": "a"`},
		{name: "truncated nested", src: `{"ports": {"http": 1`},
		{name: "top-level array", src: `[{"datacenter": "a"}]`},
		{name: "top-level string", src: `"dc1"`},
		{name: "top-level number", src: `42`},
		{name: "HCL instead of JSON", src: `datacenter = "dc1"`, want: []string{"invalid JSON"}},

		// Trailing data after the object.
		{name: "trailing word", src: `{"datacenter": "a"} extra`, want: []string{"trailing"}},
		{name: "second object", src: `{"datacenter": "a"}{"node_name": "b"}`, want: []string{"trailing"}},
		{name: "second object after newline", src: "{}\n{}\n", want: []string{"trailing"}},
		{name: "trailing number", src: `{} 1`, want: []string{"trailing"}},
		{name: "trailing close brace", src: `{"datacenter": "a"}}`, want: []string{"trailing"}},
		{name: "trailing close bracket", src: `{"datacenter": "a"}]`, want: []string{"trailing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			const name = "/etc/consulx.d/my-conf.json"
			fc, err := ParseConfigFile(name, strings.NewReader(tc.src))
			if fc != nil {
				t.Errorf("got a config alongside the error")
			}
			checkConfigErr(t, err, append([]string{name}, tc.want...)...)
		})
	}
}

func TestMergeOrder(t *testing.T) {
	first := parseOK(t, `{
		"datacenter": "dc2", "node_name": "a", "data_dir": "/d1", "log_level": "debug",
		"server": true, "bootstrap_expect": 3,
		"ports": {"http": 9000, "dns": 9001},
		"retry_join": ["j1", "j2"], "start_join": ["s1"], "retry_join_wan": ["w1"],
		"retry_interval": "5s", "performance": {"raft_multiplier": 3},
		"limits": {"kv_max_value_size": 100}
	}`)
	second := parseOK(t, `{
		"node_name": "b", "server": false, "bootstrap_expect": 0,
		"ports": {"dns": 9501},
		"retry_join": ["j3"], "start_join": ["s2"], "retry_join_wan": ["w2"],
		"retry_interval": "7s", "performance": {"rpc_hold_timeout": "4s"}
	}`)
	c := DefaultConfig()
	c.Merge(first)
	c.Merge(second)
	checks := []struct {
		name      string
		got, want any
	}{
		{"datacenter kept from first", c.Datacenter, "dc2"},
		{"node_name overridden", c.NodeName, "b"},
		{"data_dir kept", c.DataDir, "/d1"},
		{"log_level kept", c.LogLevel, "debug"},
		{"server overridden with false", c.Server, false},
		{"bootstrap_expect overridden with 0", c.BootstrapExpect, 0},
		{"ports.http kept", c.Ports.HTTP, 9000},
		{"ports.dns overridden", c.Ports.DNS, 9501},
		{"ports.server default", c.Ports.Server, 8300},
		{"retry_join appended", c.RetryJoin, []string{"j1", "j2", "j3"}},
		{"start_join appended", c.StartJoin, []string{"s1", "s2"}},
		{"retry_join_wan appended", c.RetryJoinWAN, []string{"w1", "w2"}},
		{"retry_interval overridden", c.RetryInterval, 7 * time.Second},
		{"raft_multiplier kept", c.RaftMultiplier, 3},
		{"rpc_hold_timeout overridden", c.RPCHoldTimeout, 4 * time.Second},
		{"kv_max_value_size kept", c.KVMaxValueSize, 100},
	}
	for _, tc := range checks {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %#v, want %#v", tc.name, tc.got, tc.want)
		}
	}

	// Order matters: swapping the sources swaps which scalar wins.
	c2 := DefaultConfig()
	c2.Merge(second)
	c2.Merge(first)
	if c2.NodeName != "a" || !c2.Server || c2.RetryInterval != 5*time.Second {
		t.Errorf("reversed order: node %q server %v retry_interval %v; want a true 5s", c2.NodeName, c2.Server, c2.RetryInterval)
	}
	if want := []string{"j3", "j1", "j2"}; !reflect.DeepEqual(c2.RetryJoin, want) {
		t.Errorf("reversed order: retry_join %v, want %v", c2.RetryJoin, want)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadConfigSources(t *testing.T) {
	dir := t.TempDir()
	confDir := filepath.Join(dir, "consul.d")
	writeFile(t, filepath.Join(confDir, "b.json"), `{"node_name": "from-b", "retry_join": ["b"]}`)
	writeFile(t, filepath.Join(confDir, "a.json"), `{"node_name": "from-a", "datacenter": "dca", "retry_join": ["a"]}`)
	writeFile(t, filepath.Join(confDir, "10-late.json"), `{"retry_join": ["10"]}`)
	writeFile(t, filepath.Join(confDir, "9-early.json"), `{"retry_join": ["9"]}`)
	// Files that must be ignored: they would fail to parse if read.
	writeFile(t, filepath.Join(confDir, "README.md"), "not json")
	writeFile(t, filepath.Join(confDir, "c.json.bak"), "{bad")
	writeFile(t, filepath.Join(confDir, "d.yaml"), `datacenter: x`)
	writeFile(t, filepath.Join(confDir, "e.hcl.bak"), `datacenter = "x"`)
	writeFile(t, filepath.Join(confDir, "noext"), "{bad")
	writeFile(t, filepath.Join(confDir, "sub.json", "z.json"), `{"node_name": "from-subdir"}`)
	base := filepath.Join(dir, "base.json")
	writeFile(t, base, `{"node_name": "from-base", "data_dir": "/base", "retry_join": ["base"]}`)

	t.Run("dir lexical order", func(t *testing.T) {
		srcs, err := LoadConfigSources(nil, []string{confDir})
		if err != nil {
			t.Fatal(err)
		}
		if len(srcs) != 4 {
			t.Fatalf("got %d sources, want 4 (only *.json and *.hcl files, no subdirectories)", len(srcs))
		}
		c := DefaultConfig()
		for _, s := range srcs {
			c.Merge(s)
		}
		// Lexical: "10-late" < "9-early" < "a" < "b".
		if want := []string{"10", "9", "a", "b"}; !reflect.DeepEqual(c.RetryJoin, want) {
			t.Errorf("retry_join %v, want %v", c.RetryJoin, want)
		}
		if c.NodeName != "from-b" || c.Datacenter != "dca" {
			t.Errorf("node %q dc %q, want from-b dca", c.NodeName, c.Datacenter)
		}
	})

	t.Run("files before dirs", func(t *testing.T) {
		srcs, err := LoadConfigSources([]string{base}, []string{confDir})
		if err != nil {
			t.Fatal(err)
		}
		c := DefaultConfig()
		for _, s := range srcs {
			c.Merge(s)
		}
		if c.NodeName != "from-b" || c.DataDir != "/base" {
			t.Errorf("node %q data_dir %q, want from-b /base", c.NodeName, c.DataDir)
		}
		if want := []string{"base", "10", "9", "a", "b"}; !reflect.DeepEqual(c.RetryJoin, want) {
			t.Errorf("retry_join %v, want %v", c.RetryJoin, want)
		}
	})

	t.Run("several files in order", func(t *testing.T) {
		srcs, err := LoadConfigSources([]string{filepath.Join(confDir, "b.json"), base, filepath.Join(confDir, "a.json")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		c := DefaultConfig()
		for _, s := range srcs {
			c.Merge(s)
		}
		if c.NodeName != "from-a" {
			t.Errorf("node %q, want from-a (last file given)", c.NodeName)
		}
		if want := []string{"b", "base", "a"}; !reflect.DeepEqual(c.RetryJoin, want) {
			t.Errorf("retry_join %v, want %v", c.RetryJoin, want)
		}
	})

	t.Run("empty dir", func(t *testing.T) {
		srcs, err := LoadConfigSources(nil, []string{t.TempDir()})
		if err != nil || len(srcs) != 0 {
			t.Errorf("got %d sources, err %v; want none", len(srcs), err)
		}
	})

	t.Run("no sources", func(t *testing.T) {
		srcs, err := LoadConfigSources(nil, nil)
		if err != nil || len(srcs) != 0 {
			t.Errorf("got %d sources, err %v; want none", len(srcs), err)
		}
	})

	badDir := filepath.Join(dir, "bad.d")
	writeFile(t, filepath.Join(badDir, "a.json"), `{"datacenter": "ok"}`)
	writeFile(t, filepath.Join(badDir, "b.json"), `{"datacenter": "ok", "ports": {"htp": 1}}`)
	errTests := []struct {
		name         string
		files, dirs  []string
		wantInErrors []string
	}{
		{"missing file", []string{filepath.Join(dir, "missing.json")}, nil, []string{filepath.Join(dir, "missing.json")}},
		{"missing dir", nil, []string{filepath.Join(dir, "nope.d")}, []string{filepath.Join(dir, "nope.d")}},
		{"neither json nor hcl", []string{filepath.Join(confDir, "d.yaml")}, nil, []string{filepath.Join(confDir, "d.yaml"), ".json or .hcl"}},
		{"bad file in dir", nil, []string{badDir}, []string{filepath.Join(badDir, "b.json"), "htp"}},
		{"bad explicit file", []string{filepath.Join(badDir, "b.json")}, nil, []string{filepath.Join(badDir, "b.json"), "htp"}},
		{"config-file is a directory", []string{filepath.Join(confDir, "sub.json")}, nil, []string{filepath.Join(confDir, "sub.json")}},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			srcs, err := LoadConfigSources(tc.files, tc.dirs)
			if srcs != nil {
				t.Errorf("got sources alongside the error")
			}
			checkConfigErr(t, err, tc.wantInErrors...)
		})
	}
}

func TestFinalizeErrors(t *testing.T) {
	tests := []struct {
		name   string
		dev    bool
		mutate func(c *Config)
		want   string
	}{
		{"no data_dir", false, func(c *Config) { c.DataDir = "" }, "data_dir is required"},
		{"bootstrap_expect without server", false, func(c *Config) { c.BootstrapExpect = 3 }, "bootstrap_expect requires server mode"},
		{"negative bootstrap_expect", false, func(c *Config) { c.Server = true; c.BootstrapExpect = -1 }, "bootstrap_expect cannot be negative"},
		{"upper-case datacenter", false, func(c *Config) { c.Datacenter = "DC1" }, `datacenter "DC1"`},
		{"datacenter with space", false, func(c *Config) { c.Datacenter = "dc 1" }, `datacenter "dc 1"`},
		{"datacenter with dot", false, func(c *Config) { c.Datacenter = "dc.1" }, `datacenter "dc.1"`},
		{"datacenter with newline", false, func(c *Config) { c.Datacenter = "dc\n1" }, `datacenter "dc\n1"`},
		{"empty datacenter", false, func(c *Config) { c.Datacenter = "" }, "datacenter is empty"},
		{"empty node name", false, func(c *Config) { c.NodeName = "" }, "node name is empty"},
		{"raft_multiplier 0", false, func(c *Config) { c.RaftMultiplier = 0 }, "raft_multiplier must be between 1 and 10, got 0"},
		{"raft_multiplier 11", false, func(c *Config) { c.RaftMultiplier = 11 }, "raft_multiplier must be between 1 and 10, got 11"},
		{"raft_multiplier negative", false, func(c *Config) { c.RaftMultiplier = -1 }, "raft_multiplier"},
		{"bad log level", false, func(c *Config) { c.LogLevel = "verbose" }, `log_level "verbose"`},
		{"empty log level", false, func(c *Config) { c.LogLevel = "" }, `log_level ""`},
		{"kv_max_value_size 0", false, func(c *Config) { c.KVMaxValueSize = 0 }, "kv_max_value_size must be positive"},
		{"serf_lan -1", false, func(c *Config) { c.Ports.SerfLAN = -1 }, "ports.serf_lan: invalid port -1"},
		{"server port -1", false, func(c *Config) { c.Ports.Server = -1 }, "ports.server: invalid port -1"},
		{"http port too big", false, func(c *Config) { c.Ports.HTTP = 70000 }, "ports.http: invalid port 70000"},
		{"dns port -2", false, func(c *Config) { c.Ports.DNS = -2 }, "ports.dns: invalid port -2"},
		{"dev still checks datacenter", true, func(c *Config) { c.DataDir = ""; c.Datacenter = "Bad" }, `datacenter "Bad"`},
		{"dev still checks log level", true, func(c *Config) { c.LogLevel = "loud" }, `log_level "loud"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.NodeName = "n1"
			c.DataDir = "/data"
			c.Dev = tc.dev
			tc.mutate(c)
			checkConfigErr(t, c.Finalize(false, false), tc.want)
		})
	}

	t.Run("several errors on one line", func(t *testing.T) {
		c := DefaultConfig()
		c.NodeName = "n1"
		c.DataDir = ""
		c.BootstrapExpect = 2
		c.LogLevel = "nope"
		c.RaftMultiplier = 0
		err := c.Finalize(false, false)
		checkConfigErr(t, err, "data_dir", "bootstrap_expect", "log_level", "raft_multiplier")
		if err != nil && strings.Count(err.Error(), "; ") != 3 {
			t.Errorf("want four problems joined by \"; \": %q", err)
		}
	})
}

func TestFinalizeAccepts(t *testing.T) {
	tests := []struct {
		name   string
		dev    bool
		mutate func(c *Config)
	}{
		{"minimal client", false, func(c *Config) {}},
		{"dev without data_dir", true, func(c *Config) { c.DataDir = "" }},
		{"datacenter with digits dash underscore", false, func(c *Config) { c.Datacenter = "us-east_1" }},
		{"raft_multiplier 1", false, func(c *Config) { c.RaftMultiplier = 1 }},
		{"raft_multiplier 10", false, func(c *Config) { c.RaftMultiplier = 10 }},
		{"server bootstrap_expect 3", false, func(c *Config) { c.Server = true; c.BootstrapExpect = 3 }},
		{"http, dns and serf_wan disabled", false, func(c *Config) { c.Ports.HTTP, c.Ports.DNS, c.Ports.SerfWAN = -1, -1, -1 }},
		{"port 0 and 65535", false, func(c *Config) { c.Ports.HTTP, c.Ports.DNS = 0, 65535 }},
	}
	for _, lvl := range []string{"trace", "debug", "info", "warn", "err", "error", "TRACE", "DEBUG", "INFO", "WARN", "ERR", "ERROR", "Info"} {
		tests = append(tests, struct {
			name   string
			dev    bool
			mutate func(c *Config)
		}{"log level " + lvl, false, func(c *Config) { c.LogLevel = lvl }})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.NodeName = "n1"
			c.DataDir = "/data"
			c.Dev = tc.dev
			tc.mutate(c)
			if err := c.Finalize(false, false); err != nil {
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
}

func TestFinalizeDefaults(t *testing.T) {
	type want struct {
		server          bool
		bootstrapExpect int
		bindAddr        string
		leave, skip     bool
	}
	tests := []struct {
		name string
		dev  bool
		srcs []string
		want want
	}{
		{"client", false, []string{`{"data_dir":"/d"}`}, want{false, 0, "0.0.0.0", true, false}},
		{"server", false, []string{`{"data_dir":"/d","server":true}`}, want{true, 0, "0.0.0.0", false, true}},
		{"server with expect", false, []string{`{"data_dir":"/d","server":true,"bootstrap_expect":3}`}, want{true, 3, "0.0.0.0", false, true}},
		{"dev", true, nil, want{true, 1, "127.0.0.1", false, true}},
		{"dev keeps explicit bind", true, []string{`{"bind_addr":"10.0.0.9"}`}, want{true, 1, "10.0.0.9", false, true}},
		{"dev keeps explicit expect", true, []string{`{"bootstrap_expect":3}`}, want{true, 3, "127.0.0.1", false, true}},
		{"dev forces server", true, []string{`{"server":false}`}, want{true, 1, "127.0.0.1", false, true}},
		{"client sets leave false", false, []string{`{"data_dir":"/d","leave_on_terminate":false}`}, want{false, 0, "0.0.0.0", false, false}},
		{"server sets leave true", false, []string{`{"data_dir":"/d","server":true,"leave_on_terminate":true}`}, want{true, 0, "0.0.0.0", true, true}},
		{"server sets skip false", false, []string{`{"data_dir":"/d","server":true,"skip_leave_on_interrupt":false}`}, want{true, 0, "0.0.0.0", false, false}},
		{"client sets skip true", false, []string{`{"data_dir":"/d","skip_leave_on_interrupt":true}`}, want{false, 0, "0.0.0.0", true, true}},
		// The role can come from a later source than the leave setting: an
		// explicit setting in any source still wins over the role default.
		{"leave set in earlier file, server in later", false, []string{`{"data_dir":"/d","leave_on_terminate":true}`, `{"server":true}`}, want{true, 0, "0.0.0.0", true, true}},
		{"server then client in later file", false, []string{`{"data_dir":"/d","server":true}`, `{"server":false}`}, want{false, 0, "0.0.0.0", true, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var srcs []*FileConfig
			for _, s := range tc.srcs {
				srcs = append(srcs, parseOK(t, s))
			}
			c, err := resolve(tc.dev, srcs...)
			if err != nil {
				t.Fatalf("Finalize: %v", err)
			}
			got := want{c.Server, c.BootstrapExpect, c.BindAddr, c.LeaveOnTerminate, c.SkipLeaveOnInterrupt}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzParseConfigFile(f *testing.F) {
	seeds := []string{
		``, `{}`, `null`, `[]`, `"x"`, `1`, `{`, `}`, `{}}`, `{} x`, `{}{}`,
		`{"datacenter":"dc1","node_name":"n","data_dir":"/d","server":true,"bootstrap_expect":3}`,
		`{"ports":{"http":1,"https":-1,"dns":2,"serf_lan":3,"serf_wan":4,"server":5,"grpc":-1,"grpc_tls":-1}}`,
		`{"ports":{"htp":1}}`, `{"bogus":1}`, `{"server":"yes"}`, `{"bootstrap_expect":"3"}`,
		`{"retry_interval":30}`, `{"retry_interval":"30"}`, `{"retry_interval":"1m"}`,
		`{"retry_join":["a","b"],"start_join":["c"],"retry_join_wan":["d"]}`,
		`{"performance":{"raft_multiplier":5,"rpc_hold_timeout":"7s","leave_drain_time":"5s"}}`,
		`{"limits":{"kv_max_value_size":1,"http_max_conns_per_client":2}}`,
		`{"service":{"name":"web"},"acl":{"enabled":true},"encrypt":"k","dns_config":{}}`,
		"{\"datacenter\":\"a\nb\"}", "{\"\n\":1}", `{"bootstrap_expect":1e400}`, "\xff\xfe{}",
		`{"ports":{"http":99999999999999999999}}`, `{"datacenter":"\u0000"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	const name = "fuzz.json"
	f.Fuzz(func(t *testing.T, data []byte) {
		fc, err := ParseConfigFile(name, bytes.NewReader(data))
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "config: ") {
				t.Fatalf("error does not start with \"config: \": %q", msg)
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error is not a single line: %q", msg)
			}
			if !strings.Contains(msg, name) {
				t.Fatalf("error does not name the file: %q", msg)
			}
			if fc != nil {
				t.Fatalf("config returned alongside error %q", msg)
			}
			return
		}
		if fc == nil {
			t.Fatal("nil config without error")
		}
		// Whatever parses must merge and finalize without panicking.
		c := DefaultConfig()
		c.Merge(fc)
		if err := c.Finalize(false, false); err != nil && strings.ContainsAny(err.Error(), "\r\n") {
			t.Fatalf("Finalize error is not a single line: %q", err)
		}
		for k, vs := range c.Extra {
			for _, v := range vs {
				if !json.Valid(v) {
					t.Fatalf("Extra[%q] holds invalid JSON %q", k, v)
				}
			}
		}
	})
}

func TestQueryTimesAndLimitsValidated(t *testing.T) {
	fc, err := ParseConfigFile("q.json", strings.NewReader(`{"default_query_time": "1m", "max_query_time": "2m", "data_dir": "/d"}`))
	if err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.Merge(fc)
	if err := c.Finalize(false, false); err != nil || c.DefaultQueryTime != time.Minute || c.MaxQueryTime != 2*time.Minute {
		t.Fatalf("query times: %v %v %v", c.DefaultQueryTime, c.MaxQueryTime, err)
	}
	for _, src := range []string{
		`{"default_query_time": "3m", "max_query_time": "2m", "data_dir": "/d"}`,
		`{"performance": {"rpc_hold_timeout": "0s"}, "data_dir": "/d"}`,
		`{"session_ttl_min": "-1s", "data_dir": "/d"}`,
	} {
		fc, err := ParseConfigFile("bad.json", strings.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		c := DefaultConfig()
		c.Merge(fc)
		if err := c.Finalize(false, false); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: want a one-line error, got %v", src, err)
		}
	}
}

// -dev turns remote exec on only on loopback, and an explicit
// disable_remote_exec wins over it.
func TestDevRemoteExec(t *testing.T) {
	for _, tc := range []struct {
		name     string
		dev      bool
		srcs     []string
		disabled bool
	}{
		{"default off", false, []string{`{"data_dir":"/d"}`}, true},
		{"config turns it on", false, []string{`{"data_dir":"/d","disable_remote_exec":false}`}, false},
		{"dev on loopback", true, nil, false},
		{"dev on a routable address", true, []string{`{"bind_addr":"10.0.0.9"}`}, true},
		{"dev with it explicitly off", true, []string{`{"disable_remote_exec":true}`}, true},
		{"dev with the HTTP API on every interface", true, []string{`{"client_addr":"0.0.0.0"}`}, true},
		{"dev with the HTTP API on loopback and a LAN address", true, []string{`{"client_addr":"127.0.0.1 10.0.0.9"}`}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var srcs []*FileConfig
			for _, s := range tc.srcs {
				srcs = append(srcs, parseOK(t, s))
			}
			c, err := resolve(tc.dev, srcs...)
			if err != nil {
				t.Fatal(err)
			}
			if c.DisableRemoteExec != tc.disabled {
				t.Fatalf("DisableRemoteExec = %v, want %v", c.DisableRemoteExec, tc.disabled)
			}
		})
	}
}
