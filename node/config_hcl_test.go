package node

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// canonical is fc as comparable data: its JSON with the verbatim keys
// (service, watches...) decoded, so key order and spacing do not count;
// the warnings without their file name, by key.
func canonical(t *testing.T, fc *FileConfig) (any, []ConfigWarning) {
	t.Helper()
	b, err := json.Marshal(fc)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	// An HCL file's keys come out of hcl v1 as a map, so its warnings
	// follow the keys' order, not the file's.
	var warnings []ConfigWarning
	for _, w := range fc.Warnings {
		w.File = ""
		warnings = append(warnings, w)
	}
	sort.Slice(warnings, func(i, j int) bool { return warnings[i].Key < warnings[j].Key })
	return v, warnings
}

func parseHCLOK(t *testing.T, src string) *FileConfig {
	t.Helper()
	fc, err := ParseHCLConfigFile("test.hcl", strings.NewReader(src))
	if err != nil {
		t.Fatalf("ParseHCLConfigFile(%s): %v", src, err)
	}
	return fc
}

func TestHCLEqualsJSON(t *testing.T) {
	cases := []struct{ name, hcl, json string }{
		{
			name: "the seed's acl block",
			hcl: `acl {
  enabled = true
  default_policy = "deny"
  down_policy = "extend-cache"
  enable_token_persistence = true
}`,
			json: `{"acl": {"enabled": true, "default_policy": "deny", "down_policy": "extend-cache",
  "enable_token_persistence": true}}`,
		},
		{
			name: "nested blocks",
			hcl:  `acl { enabled = true tokens { agent = "x" default = "y" } }`,
			json: `{"acl": {"enabled": true, "tokens": {"agent": "x", "default": "y"}}}`,
		},
		{name: "ports", hcl: `ports { http = 8501 }`, json: `{"ports": {"http": 8501}}`},
		{name: "ports as an assignment", hcl: `ports = { http = 8501, dns = -1 }`, json: `{"ports": {"http": 8501, "dns": -1}}`},
		{
			name: "scalars and lists",
			hcl: `
datacenter = "dc2"
node_name = "n1"
server = true
bootstrap_expect = 3
retry_join = ["10.0.0.1", "10.0.0.2"]
retry_interval = "15s"
performance { raft_multiplier = 2 }
limits { kv_max_value_size = 1024 }
disable_remote_exec = false`,
			json: `{"datacenter": "dc2", "node_name": "n1", "server": true, "bootstrap_expect": 3,
  "retry_join": ["10.0.0.1", "10.0.0.2"], "retry_interval": "15s", "performance": {"raft_multiplier": 2},
  "limits": {"kv_max_value_size": 1024}, "disable_remote_exec": false}`,
		},
		{
			name: "a service with its check",
			hcl: `
service {
  name = "web"
  port = 80
  tags = ["v1"]
  meta { version = "1" }
  check {
    id = "web-http"
    http = "http://localhost/health"
    interval = "10s"
  }
}`,
			json: `{"service": {"name": "web", "port": 80, "tags": ["v1"], "meta": {"version": "1"},
  "check": {"id": "web-http", "http": "http://localhost/health", "interval": "10s"}}}`,
		},
		{
			name: "a service's checks: one block is still a list",
			hcl:  `service { name = "web" checks { name = "a" ttl = "30s" } }`,
			json: `{"service": {"name": "web", "checks": [{"name": "a", "ttl": "30s"}]}}`,
		},
		{
			name: "a service's checks: repeated blocks and a list",
			hcl: `
service {
  name = "web"
  checks { name = "a" ttl = "30s" }
  checks { name = "b" ttl = "60s" }
}
services = [{ name = "db" checks = [{ name = "c" tcp = "localhost:5432" interval = "5s" }] }]`,
			json: `{"service": {"name": "web", "checks": [{"name": "a", "ttl": "30s"}, {"name": "b", "ttl": "60s"}]},
  "services": [{"name": "db", "checks": [{"name": "c", "tcp": "localhost:5432", "interval": "5s"}]}]}`,
		},
		{
			name: "services: repeated blocks",
			hcl: `
services { name = "a" port = 1 }
services {
  name = "b"
  check { ttl = "10s" }
}`,
			json: `{"services": [{"name": "a", "port": 1}, {"name": "b", "check": {"ttl": "10s"}}]}`,
		},
		{name: "services: one block", hcl: `services { name = "a" }`, json: `{"services": [{"name": "a"}]}`},
		{
			name: "a check, and checks",
			hcl: `
check { id = "disk" args = ["/bin/check-disk"] interval = "1m" }
checks { id = "mem" ttl = "30s" }
checks { id = "cpu" ttl = "30s" }`,
			json: `{"check": {"id": "disk", "args": ["/bin/check-disk"], "interval": "1m"},
  "checks": [{"id": "mem", "ttl": "30s"}, {"id": "cpu", "ttl": "30s"}]}`,
		},
		{
			name: "watches as a list, with nested handler config",
			hcl: `
watches = [
  { type = "key" key = "app/config" args = ["/bin/reload"] },
  {
    type = "service"
    service = "web"
    handler_type = "http"
    http_handler_config {
      path = "http://localhost:8000/hook"
      header { x-token = ["t"] }
    }
  },
]`,
			json: `{"watches": [{"type": "key", "key": "app/config", "args": ["/bin/reload"]},
  {"type": "service", "service": "web", "handler_type": "http",
   "http_handler_config": {"path": "http://localhost:8000/hook", "header": {"x-token": ["t"]}}}]}`,
		},
		{name: "watches: one block", hcl: `watches { type = "nodes" args = ["/bin/x"] }`,
			json: `{"watches": [{"type": "nodes", "args": ["/bin/x"]}]}`},
		{
			name: "replicate blocks",
			hcl: `
replicate { prefixes = ["ts@dc1"] }
replicate {
  prefixes = ["app/@dc1:copy/"]
  excludes = ["app/private/"]
  wait = "1s:4s"
}`,
			json: `{"replicate": [{"prefixes": ["ts@dc1"]},
  {"prefixes": ["app/@dc1:copy/"], "excludes": ["app/private/"], "wait": "1s:4s"}]}`,
		},
		{
			name: "dns_config, kept verbatim",
			hcl:  `dns_config { allow_stale = true node_ttl = "10s" soa { refresh = 3600 } }`,
			json: `{"dns_config": {"allow_stale": true, "node_ttl": "10s", "soa": {"refresh": 3600}}}`,
		},
		{
			name: "keys that warn",
			hcl: `
encrypt = "abc="
node_meta { rack = "r1" }
telemetry { prometheus_retention_time = "1m" }
tls {
  defaults { ca_file = "/ca.pem" verify_incoming = true }
}
audit { sink "a" { type = "file" path = "/a.log" } }
config_entries {
  bootstrap {
    kind = "proxy-defaults"
    name = "global"
    config { protocol = "http" }
  }
}`,
			json: `{"encrypt": "abc=", "node_meta": {"rack": "r1"}, "telemetry": {"prometheus_retention_time": "1m"},
  "tls": {"defaults": {"ca_file": "/ca.pem", "verify_incoming": true}},
  "audit": {"sink": {"a": {"type": "file", "path": "/a.log"}}},
  "config_entries": {"bootstrap": [{"kind": "proxy-defaults", "name": "global", "config": {"protocol": "http"}}]}}`,
		},
		{name: "empty", hcl: "# nothing here\n", json: `{}`},
		{name: "JSON in a .hcl file", hcl: `{"ports": {"http": 1}}`, json: `{"ports": {"http": 1}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fromHCL := parseHCLOK(t, c.hcl)
			fromJSON := parseOK(t, c.json)
			h, hw := canonical(t, fromHCL)
			j, jw := canonical(t, fromJSON)
			if !reflect.DeepEqual(h, j) {
				t.Errorf("HCL gives\n %v\nJSON gives\n %v", h, j)
			}
			if !reflect.DeepEqual(hw, jw) {
				t.Errorf("HCL warns\n %v\nJSON warns\n %v", hw, jw)
			}
		})
	}
}

// The values reach the agent's config and its consumers as from JSON.
func TestHCLValuesReachConfig(t *testing.T) {
	fc := parseHCLOK(t, `
ports { http = 8501 }
acl { enabled = true default_policy = "deny" }
service {
  name = "web"
  port = 80
  check { http = "http://localhost/health" interval = "10s" }
}`)
	c := DefaultConfig()
	c.Merge(fc)
	if c.Ports.HTTP != 8501 {
		t.Errorf("ports.http %d, want 8501", c.Ports.HTTP)
	}
	if !c.ACL.Enabled || c.ACL.DefaultPolicy != "deny" || len(fc.Warnings) != 0 {
		t.Errorf("acl %+v, warnings %+v: want the acl block honoured, no warning", c.ACL, fc.Warnings)
	}
	var def ServiceDefinition
	if err := DecodeLoose(c.Extra["service"][0], &def); err != nil {
		t.Fatal(err)
	}
	if def.Name != "web" || def.Port != 80 || def.Check == nil || def.Check.HTTP != "http://localhost/health" {
		t.Errorf("service %+v (check %+v)", def, def.Check)
	}
}

func TestHCLErrors(t *testing.T) {
	cases := []struct {
		name, src string
		want      string // the whole error
	}{
		{"syntax error", "datacenter = \"dc1\"\nports {\n  http = \n}\n",
			`config: /etc/c/a.hcl: line 4: Unknown token: 4:1 RBRACE }`},
		{"unclosed block", "acl {\n  enabled = true\n", `config: /etc/c/a.hcl: line 3: object expected closing RBRACE got: EOF`},
		{"service given twice", `service { name = "a" } service { name = "b" }`,
			`config: /etc/c/a.hcl: "service" is given 2 times: it takes one block (for several, use "services" blocks)`},
		{"a service's check given twice", `service { name = "a" check { ttl = "1s" } check { ttl = "2s" } }`,
			`config: /etc/c/a.hcl: "service.check" is given 2 times: it takes one block (for several, use "checks" blocks)`},
		{"acl given twice", `acl { enabled = true } acl { default_policy = "deny" }`,
			`config: /etc/c/a.hcl: "acl" is given 2 times: it takes one block`},
		{"number too large", `bootstrap_expect = 99999999999999999999`,
			`config: /etc/c/a.hcl: strconv.ParseInt: parsing "99999999999999999999": value out of range`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseHCLConfigFile("/etc/c/a.hcl", strings.NewReader(c.src))
			checkConfigErr(t, err)
			if err != nil && err.Error() != c.want {
				t.Errorf("error\n %q\nwant\n %q", err, c.want)
			}
		})
	}
}

// A key the JSON path rejects is rejected in HCL with the same words,
// naming the .hcl file.
func TestHCLErrorsAsJSON(t *testing.T) {
	cases := []struct{ hcl, json string }{
		{`ports { htp = 1 }`, `{"ports": {"htp": 1}}`},
		{`bogus = true`, `{"bogus": true}`},
		{`acl { tokens { agnet = "x" } }`, `{"acl": {"tokens": {"agnet": "x"}}}`},
		{`server = "yes"`, `{"server": "yes"}`},
		{`retry_interval = 30`, `{"retry_interval": 30}`},
		{`ports = 8500`, `{"ports": 8500}`},
		{`bootstrap = true bootstrap_expect = 3`, `{"bootstrap": true, "bootstrap_expect": 3}`},
	}
	for _, c := range cases {
		_, herr := ParseHCLConfigFile("x.hcl", strings.NewReader(c.hcl))
		_, jerr := ParseConfigFile("x.json", strings.NewReader(c.json))
		if herr == nil || jerr == nil {
			t.Errorf("%s: HCL error %v, JSON error %v; want both", c.hcl, herr, jerr)
			continue
		}
		if want := strings.Replace(jerr.Error(), "x.json", "x.hcl", 1); herr.Error() != want {
			t.Errorf("%s:\n HCL error %q\nwant       %q", c.hcl, herr, want)
		}
	}
}

func TestLoadHCLConfigSources(t *testing.T) {
	dir := t.TempDir()
	confDir := filepath.Join(dir, "consul.d")
	writeFile(t, filepath.Join(confDir, "a.json"), `{"retry_join": ["a"], "node_name": "from-a"}`)
	writeFile(t, filepath.Join(confDir, "b.hcl"), "retry_join = [\"b\"]\nnode_name = \"from-b\"\nports { http = 8501 }")
	writeFile(t, filepath.Join(confDir, "c.json"), `{"retry_join": ["c"]}`)
	writeFile(t, filepath.Join(confDir, "d.yaml"), "not: read")
	writeFile(t, filepath.Join(confDir, "e.hcl.bak"), "not read {")
	srcs, err := LoadConfigSources(nil, []string{confDir})
	if err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	for _, s := range srcs {
		c.Merge(s)
	}
	if want := []string{"a", "b", "c"}; !reflect.DeepEqual(c.RetryJoin, want) {
		t.Errorf("retry_join %v, want %v (*.json and *.hcl in lexical order)", c.RetryJoin, want)
	}
	if c.NodeName != "from-b" || c.Ports.HTTP != 8501 {
		t.Errorf("node %q http %d, want from-b 8501", c.NodeName, c.Ports.HTTP)
	}

	srcs, err = LoadConfigSources([]string{filepath.Join(confDir, "b.hcl")}, nil)
	if err != nil || len(srcs) != 1 || *srcs[0].NodeName != "from-b" {
		t.Errorf("-config-file b.hcl: %d sources, %v", len(srcs), err)
	}

	bad := filepath.Join(dir, "bad.hcl")
	writeFile(t, bad, "ports {\n  htp = 1\n}\n")
	_, err = LoadConfigSources([]string{bad}, nil)
	checkConfigErr(t, err, bad, `unknown key "ports.htp"`)

	_, err = LoadConfigSources([]string{filepath.Join(confDir, "d.yaml")}, nil)
	checkConfigErr(t, err, filepath.Join(confDir, "d.yaml"), ".json or .hcl")
}

// FuzzParseHCLConfigFile: hcl v1 panics on some input; an HCL config file
// must give a config or a one-line error naming it, never a crash.
func FuzzParseHCLConfigFile(f *testing.F) {
	for _, s := range []string{
		``, `# c`, `datacenter = "dc1"`, `ports { http = 8501 }`, `acl { enabled = true tokens { agent = "x" } }`,
		`service { name = "web" port = 80 check { http = "http://x" interval = "10s" } }`,
		`services { name = "a" } services { name = "b" }`, `service { name = "a" } service { name = "b" }`,
		`watches = [{ type = "key" key = "k" args = ["a"] }]`, `replicate { prefixes = ["a@dc1"] }`,
		`bootstrap_expect = 99999999999999999999`, "x = <<EOF\nhi\nEOF\n", `a = "${b}"`, `ports {`,
		`config_entries { bootstrap { kind = "k" } }`, `{"ports": {"http": 1}}`, `x = [1, {a = 1}]`,
	} {
		f.Add([]byte(s))
	}
	const name = "fuzz.hcl"
	f.Fuzz(func(t *testing.T, data []byte) {
		fc, err := ParseHCLConfigFile(name, strings.NewReader(string(data)))
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "config: ") || !strings.Contains(msg, name) {
				t.Fatalf("error does not start with \"config: \" and name the file: %q", msg)
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error is not a single line: %q", msg)
			}
			return
		}
		c := DefaultConfig()
		c.Merge(fc)
	})
}
