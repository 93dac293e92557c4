package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"consulx/api"
	"consulx/internal/testcluster"
)

// The files in testdata/acl are the stdout of a real Consul 1.22.7
// (`consul agent -dev` with ACLs on, initial management token "root"),
// after:
//
//	consul acl policy create -name replication -description "Replication policy" -rules @repl.hcl
//	consul acl policy create -name scoped -rules 'key_prefix "app/" { policy = "write" }' -valid-datacenter dc1 -valid-datacenter dc2
//	consul acl token create -description "replication token" -policy-name replication -policy-name scoped \
//	    -local -expires-ttl 1h -accessor 6a1253d2-1785-4b3e-8f2a-3c1f2b1d0e9a -secret 9d0a3c7e-5b2f-4e61-a8d4-7f3e2c1b0a95
//
// where repl.hcl is aclReplicationRules. NAME.json, NAME.pretty and
// NAME.pretty-meta are the command with -format=json, with nothing, and
// with -meta.
var aclGoldenCommands = map[string]string{
	"token_read":         "consul acl token read -accessor-id 6a1253d2-1785-4b3e-8f2a-3c1f2b1d0e9a",
	"token_anonymous":    "consul acl token read -accessor-id anonymous",
	"token_list":         "consul acl token list",
	"policy_replication": "consul acl policy read -name replication",
	"policy_scoped":      "consul acl policy read -name scoped",
	"policy_list":        "consul acl policy list",
}

// aclReplicationRules is the seed's replication policy.
const aclReplicationRules = `acl = "write"
operator = "write"
service_prefix "" { policy = "read" }
`

func readACLGolden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "acl", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestACLFormatsMatchConsul decodes what Consul's CLI printed with
// -format=json into our api types and checks that our JSON is that text
// again (field order, omitempty, base64 hashes, times) and that our
// pretty formatters print what Consul's printed for the same object.
func TestACLFormatsMatchConsul(t *testing.T) {
	for name, cmd := range aclGoldenCommands {
		t.Run(name, func(t *testing.T) {
			js := readACLGolden(t, name+".json")
			var v any
			var pretty func(meta bool) string
			switch {
			case name == "token_list":
				var ts []*api.ACLTokenListEntry
				v, pretty = &ts, func(meta bool) string { return formatACLTokenList(ts, meta) }
			case name == "policy_list":
				var ps []*api.ACLPolicyListEntry
				v, pretty = &ps, func(meta bool) string { return formatACLPolicyList(ps, meta) }
			case strings.HasPrefix(name, "token_"):
				tok := &api.ACLToken{}
				v, pretty = tok, func(meta bool) string { return formatACLToken(tok, meta) }
			default:
				p := &api.ACLPolicy{}
				v, pretty = p, func(meta bool) string { return formatACLPolicy(p, meta) }
			}
			if err := json.Unmarshal([]byte(js), v); err != nil {
				t.Fatalf("%s -format=json: %v", cmd, err)
			}
			out, err := aclJSON(v)
			if err != nil {
				t.Fatal(err)
			}
			// Consul's UI ends every output with a newline.
			if out+"\n" != js {
				t.Errorf("%s -format=json:\n--- consul\n%s--- consulx\n%s\n", cmd, js, out)
			}
			for _, meta := range []bool{false, true} {
				file, flag := name+".pretty", ""
				if meta {
					file, flag = name+".pretty-meta", " -meta"
				}
				want := readACLGolden(t, file)
				if got := pretty(meta) + "\n"; got != want {
					t.Errorf("%s%s:\n--- consul\n%q\n--- consulx\n%q", cmd, flag, want, got)
				}
			}
		})
	}
}

// TestACLTokenJSONTTL: ExpirationTTL goes out as the duration string the
// API documents and comes back in either form Consul accepts.
func TestACLTokenJSONTTL(t *testing.T) {
	b, err := json.Marshal(&api.ACLToken{ExpirationTTL: 90 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"ExpirationTTL":"1h30m0s"`)) {
		t.Errorf("marshalled: %s", b)
	}
	for _, in := range []string{`{"ExpirationTTL":"1h30m"}`, `{"ExpirationTTL":5400000000000}`} {
		var tok api.ACLToken
		if err := json.Unmarshal([]byte(in), &tok); err != nil || tok.ExpirationTTL != 90*time.Minute {
			t.Errorf("%s: %v, %v", in, tok.ExpirationTTL, err)
		}
	}
	var tok api.ACLToken
	if err := json.Unmarshal([]byte(`{"ExpirationTTL":"soon"}`), &tok); err == nil {
		t.Error("a bad duration string decoded")
	}
}

// aclRequest is one request a fake agent saw.
type aclRequest struct {
	Method, Path, Query, Token string
	Body                       string
}

// fakeACLAgent answers from a table keyed by "METHOD path" (404 for the
// rest) and records every request.
type fakeACLAgent struct {
	mu     sync.Mutex
	seen   []aclRequest
	routes map[string]func(w http.ResponseWriter)
}

func newFakeACLAgent(t *testing.T, routes map[string]func(w http.ResponseWriter)) (*fakeACLAgent, string) {
	f := &fakeACLAgent{routes: routes}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.seen = append(f.seen, aclRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("X-Consul-Token"), string(body)})
		f.mu.Unlock()
		if h, ok := f.routes[r.Method+" "+r.URL.Path]; ok {
			h(w)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	return f, srv.Listener.Addr().String()
}

func (f *fakeACLAgent) requests() []aclRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]aclRequest(nil), f.seen...)
}

func answer(code int, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// runACLCmd runs `consulx acl ARGS...` in-process with stdin.
func runACLCmd(stdin string, args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	env := &cliEnv{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}
	code = run(append([]string{"acl"}, args...), env)
	return out.String(), errb.String(), code
}

// clearTokenEnv leaves the test's environment without any token
// variable (the developer's shell may set them).
func clearTokenEnv(t *testing.T) {
	for _, k := range []string{"CONSUL_HTTP_TOKEN", "CONSULX_HTTP_TOKEN", "CONSUL_HTTP_TOKEN_FILE", "CONSULX_HTTP_TOKEN_FILE"} {
		t.Setenv(k, "")
	}
}

// TestACLTokenPrecedence checks which token goes out as X-Consul-Token
// when several are given. The order is what Consul 1.22.7's CLI does
// (tried against it, and written in its api.NewClient): -token-file,
// then -token, then CONSUL_HTTP_TOKEN_FILE, then CONSUL_HTTP_TOKEN. A
// token file that is empty counts as not given.
func TestACLTokenPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flagFile := file("flag-token", "from-flag-file\n")
	envFile := file("env-token", "  from-env-file\n")
	xEnvFile := file("x-env-token", "from-consulx-env-file")
	empty := file("empty", "\n")

	cases := []struct {
		name  string
		env   map[string]string
		flags []string
		want  string
	}{
		{"all four", map[string]string{"CONSUL_HTTP_TOKEN": "from-env", "CONSUL_HTTP_TOKEN_FILE": envFile},
			[]string{"-token", "from-flag", "-token-file", flagFile}, "from-flag-file"},
		{"-token over the environment", map[string]string{"CONSUL_HTTP_TOKEN": "from-env", "CONSUL_HTTP_TOKEN_FILE": envFile},
			[]string{"-token", "from-flag"}, "from-flag"},
		{"env file over env token", map[string]string{"CONSUL_HTTP_TOKEN": "from-env", "CONSUL_HTTP_TOKEN_FILE": envFile},
			nil, "from-env-file"},
		{"env token", map[string]string{"CONSUL_HTTP_TOKEN": "from-env"}, nil, "from-env"},
		{"CONSULX_ file over CONSUL_ file", map[string]string{"CONSUL_HTTP_TOKEN_FILE": envFile, "CONSULX_HTTP_TOKEN_FILE": xEnvFile},
			nil, "from-consulx-env-file"},
		{"CONSULX_ token over CONSUL_ token", map[string]string{"CONSUL_HTTP_TOKEN": "from-env", "CONSULX_HTTP_TOKEN": "from-consulx-env"},
			nil, "from-consulx-env"},
		{"empty -token-file", map[string]string{"CONSUL_HTTP_TOKEN": "from-env"},
			[]string{"-token", "from-flag", "-token-file", empty}, "from-flag"},
		{"empty env file", map[string]string{"CONSUL_HTTP_TOKEN": "from-env", "CONSUL_HTTP_TOKEN_FILE": empty}, nil, "from-env"},
		{"none", nil, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clearTokenEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			f, addr := newFakeACLAgent(t, map[string]func(w http.ResponseWriter){
				"GET /v1/acl/policies": answer(200, "[]"),
			})
			args := append([]string{"policy", "list", "-http-addr", addr}, c.flags...)
			if _, stderr, code := runACLCmd("", args...); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			reqs := f.requests()
			if len(reqs) != 1 || reqs[0].Token != c.want {
				t.Fatalf("want one request with token %q, got %+v", c.want, reqs)
			}
		})
	}

	t.Run("unreadable token files", func(t *testing.T) {
		for _, c := range []struct {
			env   map[string]string
			flags []string
		}{
			{nil, []string{"-token-file", filepath.Join(dir, "missing")}},
			{map[string]string{"CONSUL_HTTP_TOKEN_FILE": filepath.Join(dir, "missing"), "CONSUL_HTTP_TOKEN": "from-env"}, nil},
		} {
			clearTokenEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			f, addr := newFakeACLAgent(t, nil)
			_, stderr, code := runACLCmd("", append([]string{"token", "list", "-http-addr", addr}, c.flags...)...)
			want := "Error loading token file: open " + filepath.Join(dir, "missing") + ": no such file or directory\n"
			if code != 1 || stderr != want || len(f.requests()) != 0 {
				t.Errorf("%v %v: exit %d, stderr %q, %d requests; want exit 1, %q, none", c.env, c.flags, code, stderr, len(f.requests()), want)
			}
		}
	})
}

// TestACLCommandErrors: bad input is one line and no request; the
// agent's refusals are printed as Consul prints them (texts from
// Consul 1.22.7: the agent's answer and the CLI's line around it).
func TestACLCommandErrors(t *testing.T) {
	clearTokenEnv(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.hcl")
	policyJSON := `{"ID":"c59207ae-7247-246d-777c-e68d6ba5d127","Name":"replication"}`
	f, addr := newFakeACLAgent(t, map[string]func(w http.ResponseWriter){
		// `consul acl token create -policy-name nope` against Consul.
		"PUT /v1/acl/token": answer(500, `No such ACL policy with name "nope"`),
		// ... and with no token at all.
		"PUT /v1/acl/policy":   answer(403, "Permission denied: anonymous token lacks permission 'acl:write'. The anonymous token is used implicitly when a request does not specify a token."),
		"GET /v1/acl/policies": answer(200, `[`+policyJSON+`,{"ID":"c5aaaaaa-0000-0000-0000-000000000000","Name":"other"}]`),
		"GET /v1/acl/tokens":   answer(200, `[]`),
	})
	cases := []struct {
		args         []string
		stderr       string
		makesRequest bool
	}{
		{[]string{"token", "create", "-policy-name", "nope"},
			"Failed to create new token: Unexpected response code: 500 (No such ACL policy with name \"nope\")\n", true},
		{[]string{"policy", "create", "-name", "p", "-rules", "acl = \"read\""},
			"Failed to create new policy: Unexpected response code: 403 (Permission denied: anonymous token lacks permission 'acl:write'. The anonymous token is used implicitly when a request does not specify a token.)\n", true},
		{[]string{"policy", "create", "-name", "p", "-rules", "@" + missing},
			"Error loading rules: Failed to read file: open " + missing + ": no such file or directory\n", false},
		{[]string{"policy", "update", "-id", "c59207ae-7247-246d-777c-e68d6ba5d127", "-rules", "@" + missing},
			"Error loading data source: Failed to read file: open " + missing + ": no such file or directory\n", false},
		{[]string{"policy", "create", "-rules", "acl = \"read\""}, "Missing required '-name' flag\n", false},
		{[]string{"policy", "read"}, "Must specify either the -id or -name parameters\n", false},
		{[]string{"policy", "read", "replication"}, "Must specify either the -id or -name parameters\n", false},
		{[]string{"policy", "read", "-name", "replication", "extra"}, "Too many arguments (expected 0, got 1): \"extra\"\n", false},
		{[]string{"policy", "delete"}, "Must specify either the -id or -name parameters\n", false},
		{[]string{"policy", "read", "-id", "c5"}, "Error determining policy ID: Partial policy ID is not unique\n", true},
		{[]string{"policy", "read", "-id", "zz"}, "Error determining policy ID: No such policy ID with prefix: zz\n", true},
		{[]string{"token", "create", "-description", "x"}, "Cannot create a token without specifying -policy-name or -policy-id at least once\n", false},
		{[]string{"token", "create", "-policy-name", "p", "-expires-ttl", "-1h"}, "Invalid -expires-ttl -1h0m0s: must be positive\n", false},
		{[]string{"token", "create", "-policy-id", "zz"}, "Error resolving policy ID zz: No such policy ID with prefix: zz\n", true},
		{[]string{"token", "read"}, "Must specify the -accessor-id parameter\n", false},
		{[]string{"token", "read", "-accessor-id", "ab"}, "Error determining token ID: No such token ID with prefix: ab\n", true},
		{[]string{"token", "update", "-description", "x"}, "Cannot update a token without specifying the -accessor-id parameter\n", false},
		{[]string{"token", "delete"}, "Must specify the -accessor-id parameter\n", false},
		{[]string{"token", "clone"}, "Cannot update a token without specifying the -accessor-id parameter\n", false},
		{[]string{"set-agent-token"}, "Error! Missing TYPE and TOKEN arguments\n", false},
		{[]string{"set-agent-token", "agent"}, "Error! Missing TOKEN argument\n", false},
		{[]string{"set-agent-token", "foo"}, "Error! MISSING TYPE argument\n", false},
		{[]string{"set-agent-token", "a", "b", "c"}, "Error! Too many arguments: expected 2 got 3\n", false},
		{[]string{"set-agent-token", "bogus", "x"}, "Unknown token type\n", false},
		{[]string{"set-agent-token", "agent", "@" + missing}, "Error! Failed to read file: open " + missing + ": no such file or directory\n", false},
		{[]string{"bootstrap", "a", "b"}, "This command takes up to one argument\n", false},
		{[]string{"bootstrap", missing}, "Error reading provided token: Failed to read file: open " + missing + ": no such file or directory\n", false},
	}
	for _, c := range cases {
		before := len(f.requests())
		// Flags after the subcommand words, -http-addr first.
		words := 2
		if c.args[0] == "set-agent-token" || c.args[0] == "bootstrap" {
			words = 1
		}
		args := append(append(append([]string{}, c.args[:words]...), "-http-addr", addr), c.args[words:]...)
		stdout, stderr, code := runACLCmd("", args...)
		if code != 1 || stderr != c.stderr || stdout != "" {
			t.Errorf("acl %s: exit %d, stdout %q, stderr %q; want exit 1 and %q", strings.Join(c.args, " "), code, stdout, stderr, c.stderr)
		}
		if made := len(f.requests()) > before; made != c.makesRequest {
			t.Errorf("acl %s: made a request: %v, want %v", strings.Join(c.args, " "), made, c.makesRequest)
		}
	}
}

// TestACLTokenCreateRequest: what token create sends, names as links
// the agent resolves, ID prefixes resolved first, -datacenter as ?dc=.
func TestACLTokenCreateRequest(t *testing.T) {
	clearTokenEnv(t)
	f, addr := newFakeACLAgent(t, map[string]func(w http.ResponseWriter){
		"GET /v1/acl/policies": answer(200, `[{"ID":"c59207ae-7247-246d-777c-e68d6ba5d127","Name":"replication"}]`),
		"PUT /v1/acl/token":    answer(200, `{"AccessorID":"6a1253d2-1785-4b3e-8f2a-3c1f2b1d0e9a","SecretID":"s","Local":true,"CreateTime":"2026-11-28T12:50:37.109920602Z"}`),
	})
	stdout, stderr, code := runACLCmd("", "token", "create", "-http-addr", addr, "-token", "root", "-datacenter", "dc2",
		"-policy-name", "scoped", "-policy-id", "c592", "-local", "-expires-ttl", "2h", "-description", "d",
		"-accessor", "6a1253d2-1785-4b3e-8f2a-3c1f2b1d0e9a", "-secret", "9d0a3c7e-5b2f-4e61-a8d4-7f3e2c1b0a95")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := "Name:             \nAccessorID:       6a1253d2-1785-4b3e-8f2a-3c1f2b1d0e9a\nSecretID:         s\nDescription:      \nLocal:            true\nCreate Time:      2026-11-28 12:50:37.109920602 +0000 UTC\n\n"
	if stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	reqs := f.requests()
	if len(reqs) != 2 || reqs[1].Method != "PUT" || reqs[1].Query != "dc=dc2" || reqs[1].Token != "root" {
		t.Fatalf("requests: %+v", reqs)
	}
	var sent map[string]any
	if err := json.Unmarshal([]byte(reqs[1].Body), &sent); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%v %v %v %v %v %v", sent["AccessorID"], sent["SecretID"], sent["Description"], sent["Local"], sent["ExpirationTTL"], sent["Policies"])
	if w := "6a1253d2-1785-4b3e-8f2a-3c1f2b1d0e9a 9d0a3c7e-5b2f-4e61-a8d4-7f3e2c1b0a95 d true 2h0m0s [map[ID: Name:scoped] map[ID:c59207ae-7247-246d-777c-e68d6ba5d127 Name:]]"; got != w {
		t.Errorf("sent %s\nwant %s", got, w)
	}
}

// TestACLTokenUpdatePolicies: update keeps the token's policies unless
// -policy-* replaces them; -append-policy-* adds; -merge-policies (still
// in Consul 1.22, deprecated) adds the ones not there yet, with Consul's
// warning.
func TestACLTokenUpdatePolicies(t *testing.T) {
	clearTokenEnv(t)
	const acc = "6a1253d2-1785-4b3e-8f2a-3c1f2b1d0e9a"
	current := `{"AccessorID":"` + acc + `","SecretID":"s","Description":"old","Policies":[{"ID":"p1","Name":"one"}]}`
	for _, c := range []struct {
		flags    []string
		policies string
		desc     string
		warning  string
	}{
		{[]string{"-description", "new"}, `[{"ID":"p1","Name":"one"}]`, "new", ""},
		{[]string{"-policy-name", "two"}, `[{"ID":"","Name":"two"}]`, "old", ""},
		{[]string{"-append-policy-name", "two"}, `[{"ID":"p1","Name":"one"},{"ID":"","Name":"two"}]`, "old", ""},
		{[]string{"-merge-policies", "-policy-name", "one", "-policy-name", "two"}, `[{"ID":"p1","Name":"one"},{"ID":"","Name":"two"}]`, "old",
			"merge-policies is deprecated and will be removed in a future Consul version. Use `append-policy-name` or `append-policy-id` instead.\n"},
	} {
		f, addr := newFakeACLAgent(t, map[string]func(w http.ResponseWriter){
			"GET /v1/acl/token/" + acc: answer(200, current),
			"PUT /v1/acl/token/" + acc: answer(200, current),
		})
		_, stderr, code := runACLCmd("", append([]string{"token", "update", "-http-addr", addr, "-accessor-id", acc}, c.flags...)...)
		if code != 0 || stderr != c.warning {
			t.Fatalf("%v: exit %d, stderr %q", c.flags, code, stderr)
		}
		reqs := f.requests()
		var sent struct {
			Description string
			Policies    json.RawMessage
		}
		if err := json.Unmarshal([]byte(reqs[len(reqs)-1].Body), &sent); err != nil {
			t.Fatal(err)
		}
		if string(sent.Policies) != c.policies || sent.Description != c.desc {
			t.Errorf("%v: sent policies %s description %q, want %s %q", c.flags, sent.Policies, sent.Description, c.policies, c.desc)
		}
	}
}

// TestACLPolicyRulesSources: -rules @file, -rules - (stdin) and inline
// rules all arrive verbatim.
func TestACLPolicyRulesSources(t *testing.T) {
	clearTokenEnv(t)
	path := filepath.Join(t.TempDir(), "repl.hcl")
	if err := os.WriteFile(path, []byte(aclReplicationRules), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ rules, stdin string }{
		{"@" + path, ""},
		{"-", aclReplicationRules},
		{aclReplicationRules, ""},
	} {
		f, addr := newFakeACLAgent(t, map[string]func(w http.ResponseWriter){
			"PUT /v1/acl/policy": answer(200, `{"ID":"x","Name":"replication"}`),
		})
		if _, stderr, code := runACLCmd(c.stdin, "policy", "create", "-http-addr", addr, "-name", "replication", "-rules", c.rules); code != 0 {
			t.Fatalf("-rules %q: exit %d: %s", c.rules, code, stderr)
		}
		var sent api.ACLPolicy
		reqs := f.requests()
		if err := json.Unmarshal([]byte(reqs[0].Body), &sent); err != nil {
			t.Fatal(err)
		}
		if sent.Rules != aclReplicationRules || sent.Name != "replication" {
			t.Errorf("-rules %q: sent %+v", c.rules, sent)
		}
	}
}

// consulRefBinary is the real Consul the end-to-end test drives
// (CONSULX_REF_CONSUL overrides the default place).
func consulRefBinary() string {
	if p := os.Getenv("CONSULX_REF_CONSUL"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "consul-ref", "bin", "consul")
}

// TestACLCLIAgainstRealConsul runs the built consulx binary against a
// real Consul agent (-dev, ACLs on, default deny): the CLI must drive it
// unchanged. Later the same steps will run against consulx's own agent.
func TestACLCLIAgainstRealConsul(t *testing.T) {
	consulBin := consulRefBinary()
	if _, err := os.Stat(consulBin); err != nil {
		t.Skipf("no Consul binary at %s (set CONSULX_REF_CONSUL): %v", consulBin, err)
	}
	bin := consulxBinary(t)
	dir := t.TempDir()
	// No initial management token: bootstrap must hand one out.
	cfg := filepath.Join(dir, "acl.hcl")
	if err := os.WriteFile(cfg, []byte(`acl { enabled = true default_policy = "deny" }`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ports := testcluster.FreePorts(t, 5)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	logPath := filepath.Join(dir, "consul.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	agent := exec.Command(consulBin, "agent", "-dev", "-config-file", cfg, "-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-http-port", fmt.Sprint(ports[0]), "-dns-port", fmt.Sprint(ports[1]), "-serf-lan-port", fmt.Sprint(ports[2]),
		"-serf-wan-port", fmt.Sprint(ports[3]), "-server-port", fmt.Sprint(ports[4]), "-grpc-port", "-1", "-grpc-tls-port", "-1")
	agent.Stdout, agent.Stderr = logf, logf
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = agent.Process.Kill()
		_ = agent.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			lines := strings.Split(string(b), "\n")
			t.Logf("consul log tail:\n%s", strings.Join(lines[max(0, len(lines)-30):], "\n"))
		}
	})

	// consulx runs with nothing of the developer's environment that
	// would pick an agent or a token.
	var baseEnv []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONSUL_HTTP_") && !strings.HasPrefix(kv, "CONSULX_HTTP_") {
			baseEnv = append(baseEnv, kv)
		}
	}
	baseEnv = append(baseEnv, "CONSUL_HTTP_ADDR="+httpAddr)
	token := ""
	consulx := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"acl"}, args...)...)
		cmd.Env = baseEnv
		if token != "" {
			cmd.Env = append(cmd.Env, "CONSUL_HTTP_TOKEN="+token)
		}
		return runCmd(t, cmd)
	}
	field := func(block, label string) string {
		for _, l := range strings.Split(block, "\n") {
			if v, ok := strings.CutPrefix(l, label); ok {
				return strings.TrimSpace(v)
			}
		}
		t.Fatalf("no %q in:\n%s", label, block)
		return ""
	}

	// Bootstrap: the first one succeeds (once the agent has a leader and
	// its ACLs are up), a second one is refused.
	var boot string
	testcluster.Eventually(t, 30*time.Second, func() error {
		out, stderr, code := consulx("bootstrap")
		if code != 0 {
			return fmt.Errorf("bootstrap: exit %d: %s", code, stderr)
		}
		boot = out
		return nil
	})
	token = field(boot, "SecretID:")
	if !strings.Contains(boot, "Description:      Bootstrap Token (Global Management)\n") ||
		!strings.HasSuffix(boot, "Policies:\n   00000000-0000-0000-0000-000000000001 - global-management\n\n") {
		t.Errorf("bootstrap printed:\n%s", boot)
	}
	if _, stderr, code := consulx("bootstrap"); code != 1 || !strings.HasPrefix(stderr,
		"Failed ACL bootstrapping: Unexpected response code: 403 (Permission denied: ACL bootstrap no longer allowed") {
		t.Errorf("second bootstrap: exit %d, %q", code, stderr)
	}

	// The seed's replication policy, from a file.
	rules := filepath.Join(dir, "repl.hcl")
	if err := os.WriteFile(rules, []byte(aclReplicationRules), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := consulx("policy", "create", "-name", "replication", "-description", "Replication policy", "-rules", "@"+rules)
	if code != 0 {
		t.Fatalf("policy create: exit %d: %s", code, stderr)
	}
	policyID := field(out, "ID:")
	if want := "Name:         replication\nDescription:  Replication policy\nDatacenters:  \nRules:\n" + aclReplicationRules + "\n"; !strings.HasSuffix(out, want) {
		t.Errorf("policy create printed:\n%s\nwant it to end with:\n%s", out, want)
	}

	out, stderr, code = consulx("token", "create", "-description", "replication token", "-policy-name", "replication", "-format=json")
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, stderr)
	}
	var tok api.ACLToken
	if err := json.Unmarshal([]byte(out), &tok); err != nil {
		t.Fatalf("token create -format=json: %v\n%s", err, out)
	}
	if len(tok.Policies) != 1 || tok.Policies[0] != (api.ACLLink{ID: policyID, Name: "replication"}) || tok.Description != "replication token" {
		t.Errorf("token create: %+v", tok)
	}

	// Read by a prefix of the accessor, as operators type it.
	out, stderr, code = consulx("token", "read", "-accessor-id", tok.AccessorID[:8])
	if code != 0 {
		t.Fatalf("token read: exit %d: %s", code, stderr)
	}
	if want := formatACLToken(&tok, false) + "\n"; out != want {
		t.Errorf("token read printed:\n%s\nwant:\n%s", out, want)
	}

	out, stderr, code = consulx("token", "list")
	if code != 0 {
		t.Fatalf("token list: exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"AccessorID:       " + tok.AccessorID + "\nSecretID:         " + tok.SecretID + "\nDescription:      replication token\n",
		"SecretID:         " + token + "\n",
		"AccessorID:       00000000-0000-0000-0000-000000000002\nSecretID:         anonymous\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("token list lacks %q:\n%s", want, out)
		}
	}

	out, stderr, code = consulx("policy", "list")
	if code != 0 {
		t.Fatalf("policy list: exit %d: %s", code, stderr)
	}
	if want := "replication:\n   ID:           " + policyID + "\n   Description:  Replication policy\n   Datacenters:  \n"; !strings.Contains(out, want) {
		t.Errorf("policy list lacks %q:\n%s", want, out)
	}

	out, stderr, code = consulx("set-agent-token", "replication", tok.SecretID)
	if code != 0 || out != "ACL token \"replication\" set successfully\n" {
		t.Errorf("set-agent-token: exit %d, %q %q", code, out, stderr)
	}

	// -token-file wins over CONSUL_HTTP_TOKEN (the management token).
	tokFile := filepath.Join(dir, "repl.token")
	if err := os.WriteFile(tokFile, []byte(tok.SecretID+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = consulx("token", "read", "-self", "-token-file", tokFile)
	if code != 0 || field(out, "AccessorID:") != tok.AccessorID {
		t.Errorf("token read -self -token-file: exit %d, %s%s", code, out, stderr)
	}

	out, stderr, code = consulx("token", "delete", "-accessor-id", tok.AccessorID)
	if code != 0 || out != fmt.Sprintf("Token %q deleted successfully\n", tok.AccessorID) {
		t.Errorf("token delete: exit %d, %q %q", code, out, stderr)
	}
	if _, stderr, code := consulx("token", "read", "-accessor-id", tok.AccessorID); code != 1 ||
		!strings.HasPrefix(stderr, fmt.Sprintf("Error reading token %q: Unexpected response code: ", tok.AccessorID)) {
		t.Errorf("read of a deleted token: exit %d, %q", code, stderr)
	}
	// The deleted secret no longer authorises anything.
	if _, stderr, code := consulx("token", "create", "-policy-name", "replication", "-token", tok.SecretID); code != 1 ||
		!strings.HasPrefix(stderr, "Failed to create new token: Unexpected response code: 403 (") {
		t.Errorf("create with a deleted token: exit %d, %q", code, stderr)
	}
}
