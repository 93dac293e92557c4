package watch

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func raws(srcs ...string) []json.RawMessage {
	var out []json.RawMessage
	for _, s := range srcs {
		out = append(out, json.RawMessage(s))
	}
	return out
}

// TestParseConfigWatches: Consul's fields decode, with Consul's defaults
// (script handler, POST, 10s), tag and header values as a string or a
// list, and watches numbered across the configuration sources.
func TestParseConfigWatches(t *testing.T) {
	defs, err := ParseConfig(raws(
		`[{"type": "key", "key": "app/x", "args": ["/bin/echo", "hi"], "datacenter": "dc2", "token": "t", "stale": true},
		  {"type": "service", "service": "web", "tag": "v1", "passingonly": true, "handler": "echo hi"}]`,
		`{"type": "checks", "state": "critical", "handler_type": "http",
		  "http_handler_config": {"path": "https://hooks.example/h", "method": "PUT", "timeout": "3s",
		  "tls_skip_verify": true, "header": {"X-A": ["1", "2"], "X-B": "3"}}}`,
		`[{"type": "service", "service": "db", "tag": ["a", "b"], "handler_type": "http", "http_handler_config": {"path": "http://127.0.0.1:1/x"}}]`,
		`null`,
	))
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) != 4 {
		t.Fatalf("%d watches, want 4", len(defs))
	}
	k := defs[0]
	if k.Type != "key" || k.Key != "app/x" || !reflect.DeepEqual(k.Args, []string{"/bin/echo", "hi"}) ||
		k.Datacenter != "dc2" || k.Token != "t" || !k.Stale || k.HTTP != nil || k.plan.path != "/v1/kv/app/x" {
		t.Errorf("key watch %+v", k)
	}
	s := defs[1]
	if !reflect.DeepEqual(s.Tags, []string{"v1"}) || !s.PassingOnly || s.Handler != "echo hi" || s.Describe() != "echo hi" {
		t.Errorf("service watch %+v", s)
	}
	h := defs[2].HTTP
	want := &HTTPConfig{Path: "https://hooks.example/h", Method: "PUT", Timeout: 3 * time.Second, TLSSkipVerify: true,
		Header: map[string][]string{"X-A": {"1", "2"}, "X-B": {"3"}}}
	if !reflect.DeepEqual(h, want) || defs[2].plan.path != "/v1/health/state/critical" {
		t.Errorf("http config %+v, want %+v", h, want)
	}
	d := defs[3]
	if !reflect.DeepEqual(d.Tags, []string{"a", "b"}) || d.HTTP.Method != "POST" || d.HTTP.Timeout != 10*time.Second ||
		d.Describe() != "POST http://127.0.0.1:1/x" {
		t.Errorf("defaults %+v %+v", d, d.HTTP)
	}
	if defs, err := ParseConfig(nil); err != nil || len(defs) != 0 {
		t.Errorf("no watches: %v %v", defs, err)
	}
}

// TestParseConfigRefusesBadWatches: a watch the agent could not run is a
// one-line error naming its index (counted across sources) and the fault.
func TestParseConfigRefusesBadWatches(t *testing.T) {
	const ok = `{"type": "key", "key": "k", "args": ["true"]}`
	for _, tc := range []struct {
		name string
		srcs []string
		want string
	}{
		{"no type", []string{`[{"key": "k", "args": ["true"]}]`}, `watches[0]: Watch type must be specified`},
		{"unknown type", []string{`[` + ok + `, {"type": "bogus", "args": ["true"]}]`}, `watches[1]: Unsupported watch type: "bogus"`},
		{"index across sources", []string{`[` + ok + `]`, `[{"type": "key", "args": ["true"]}]`}, `watches[1]: Must specify a single key to watch`},
		{"service without service", []string{`[{"type": "service", "args": ["true"]}]`}, `watches[0]: Must specify a single service to watch`},
		{"checks service and state", []string{`[{"type": "checks", "service": "a", "state": "passing", "args": ["true"]}]`}, `Cannot specify service and state`},
		{"field of another type", []string{`[{"type": "key", "key": "k", "prefix": "p", "args": ["true"]}]`}, `watches[0]: "prefix" does not apply to a key watch`},
		{"unknown field", []string{`[{"type": "key", "key": "k", "args": ["true"], "hadnler": "x"}]`}, `watches[0]: unknown field "hadnler"`},
		{"args and handler", []string{`[{"type": "key", "key": "k", "args": ["true"], "handler": "true"}]`}, `watches[0]: Cannot define both watch handler and args`},
		{"no handler", []string{`[{"type": "key", "key": "k"}]`}, `watches[0]: a script watch needs "args"`},
		{"empty args", []string{`[{"type": "key", "key": "k", "args": []}]`}, `"args" must name the program to run`},
		{"args not strings", []string{`[{"type": "key", "key": "k", "args": "true"}]`}, `"args" must be a list of strings`},
		{"key not a string", []string{`[{"type": "key", "key": 1, "args": ["true"]}]`}, `"key" must be a string, got 1`},
		{"passingonly not a bool", []string{`[{"type": "service", "service": "s", "passingonly": "yes", "args": ["true"]}]`}, `"passingonly" must be true or false`},
		{"tag not strings", []string{`[{"type": "service", "service": "s", "tag": [1], "args": ["true"]}]`}, `"tag" must be a string or a list of strings`},
		{"unknown handler type", []string{`[{"type": "key", "key": "k", "handler_type": "htpp"}]`}, `Unsupported handler type "htpp" (script, http)`},
		{"http without config", []string{`[{"type": "key", "key": "k", "handler_type": "http"}]`}, `Handler type 'http' requires 'http_handler_config' to be set`},
		{"http without path", []string{`[{"type": "key", "key": "k", "handler_type": "http", "http_handler_config": {"method": "PUT"}}]`}, `watches[0]: http_handler_config requires "path"`},
		{"http path not a URL", []string{`[{"type": "key", "key": "k", "handler_type": "http", "http_handler_config": {"path": "/hook"}}]`}, `http_handler_config.path "/hook": want an http:// or https:// URL`},
		{"bad timeout", []string{`[{"type": "key", "key": "k", "handler_type": "http", "http_handler_config": {"path": "http://h/", "timeout": "10"}}]`}, `watches[0]: http_handler_config.timeout "10": want a positive duration`},
		{"negative timeout", []string{`[{"type": "key", "key": "k", "handler_type": "http", "http_handler_config": {"path": "http://h/", "timeout": "-1s"}}]`}, `http_handler_config.timeout "-1s"`},
		{"timeout not a string", []string{`[{"type": "key", "key": "k", "handler_type": "http", "http_handler_config": {"path": "http://h/", "timeout": 10}}]`}, `"http_handler_config.timeout" must be a string`},
		{"unknown http field", []string{`[{"type": "key", "key": "k", "handler_type": "http", "http_handler_config": {"path": "http://h/", "headers": {}}}]`}, `unknown field "headers" in http_handler_config`},
		{"bad header", []string{`[{"type": "key", "key": "k", "handler_type": "http", "http_handler_config": {"path": "http://h/", "header": {"X": 1}}}]`}, `"http_handler_config.header.X" must be a string or a list of strings`},
		{"http with args", []string{`[{"type": "key", "key": "k", "handler_type": "http", "args": ["true"], "http_handler_config": {"path": "http://h/"}}]`}, `"args" and "handler" are for script handlers`},
		{"http config on a script", []string{`[{"type": "key", "key": "k", "args": ["true"], "http_handler_config": {"path": "http://h/"}}]`}, `"http_handler_config" needs "handler_type": "http"`},
		{"not an object", []string{`["key"]`}, `watches[0]: a watch must be an object, got "key"`},
		{"not a list", []string{`"key"`}, `config: watches: want a list of watch objects`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defs, err := ParseConfig(raws(tc.srcs...))
			if err == nil {
				t.Fatalf("accepted: %+v", defs)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "config: watches") || !strings.Contains(msg, tc.want) || strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error %q, want one line starting config: watches and containing %q", msg, tc.want)
			}
		})
	}
}

// TestReadmeWatchesExampleParses: the README's `watches` example is a
// configuration the agent accepts.
func TestReadmeWatchesExampleParses(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n## Watches\n")
	if i < 0 {
		t.Fatal("README.md has no Watches section")
	}
	s = s[i:]
	start := strings.Index(s, "\n```json\n")
	end := strings.Index(s[start+1:], "\n```\n")
	if start < 0 || end < 0 {
		t.Fatal("no json block in the README's Watches section")
	}
	var doc struct{ Watches json.RawMessage }
	if err := json.Unmarshal([]byte(s[start+len("\n```json\n"):start+1+end]), &doc); err != nil {
		t.Fatalf("README example: %v", err)
	}
	defs, err := ParseConfig(raws(string(doc.Watches)))
	if err != nil || len(defs) != 2 || defs[1].HTTP == nil || defs[1].HTTP.Method != "PUT" {
		t.Fatalf("README example: %+v %v", defs, err)
	}
}
