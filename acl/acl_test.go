package acl

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// seedPolicy is the policy the seed's operators give their agents' tokens.
const seedPolicy = "acl = \"write\"\noperator = \"write\"\nservice_prefix \"\" { policy = \"read\" }"

func TestParseHCLAndJSON(t *testing.T) {
	cases := []struct {
		name      string
		hcl, json string
		want      Rules
	}{
		{
			name: "seed policy",
			hcl:  seedPolicy,
			json: `{"acl": "write", "operator": "write", "service_prefix": {"": {"policy": "read"}}}`,
			want: Rules{
				Rules: []Rule{{Resource: ResService, Name: "", Prefix: true, Access: AccessRead}},
				ACL:   AccessWrite, Operator: AccessWrite,
			},
		},
		{
			name: "empty",
			hcl:  "  # no rules\n",
			json: `{}`,
			want: Rules{},
		},
		{
			name: "every resource, exact and prefix, sorted",
			hcl: `
query "q" { policy = "deny" }
query_prefix "q" { policy = "write" }
agent "a" { policy = "read" }
agent_prefix "" { policy = "write" }
event "e" { policy = "deny" }
event_prefix "" { policy = "read" }
session "s" { policy = "write" }
session_prefix "" { policy = "read" }
service "web" { policy = "write" }
service_prefix "" { policy = "read" }
node "n1" { policy = "write" }
node_prefix "" { policy = "read" }
key "foo/bar" { policy = "list" }
key_prefix "foo/" { policy = "write" }
key_prefix "" { policy = "read" }
keyring = "read"
`,
			json: `{
  "query": {"q": {"policy": "deny"}}, "query_prefix": {"q": {"policy": "write"}},
  "agent": {"a": {"policy": "read"}}, "agent_prefix": {"": {"policy": "write"}},
  "event": {"e": {"policy": "deny"}}, "event_prefix": {"": {"policy": "read"}},
  "session": {"s": {"policy": "write"}}, "session_prefix": {"": {"policy": "read"}},
  "service": {"web": {"policy": "write"}}, "service_prefix": {"": {"policy": "read"}},
  "node": {"n1": {"policy": "write"}}, "node_prefix": {"": {"policy": "read"}},
  "key": {"foo/bar": {"policy": "list"}},
  "key_prefix": {"foo/": {"policy": "write"}, "": {"policy": "read"}},
  "keyring": "read"
}`,
			want: Rules{
				Rules: []Rule{
					{ResKey, "foo/bar", false, AccessList},
					{ResKey, "", true, AccessRead},
					{ResKey, "foo/", true, AccessWrite},
					{ResNode, "n1", false, AccessWrite},
					{ResNode, "", true, AccessRead},
					{ResService, "web", false, AccessWrite},
					{ResService, "", true, AccessRead},
					{ResSession, "s", false, AccessWrite},
					{ResSession, "", true, AccessRead},
					{ResEvent, "e", false, AccessDeny},
					{ResEvent, "", true, AccessRead},
					{ResAgent, "a", false, AccessRead},
					{ResAgent, "", true, AccessWrite},
					{ResQuery, "q", false, AccessDeny},
					{ResQuery, "q", true, AccessWrite},
				},
				Keyring: AccessRead,
			},
		},
		{
			name: "duplicates merge: deny wins, else the most permissive",
			hcl: `
key_prefix "a/" { policy = "read" }
key_prefix "a/" { policy = "write" }
key_prefix "a/" { policy = "list" }
node "n" { policy = "write" }
node "n" { policy = "deny" }
node "n" { policy = "read" }
`,
			json: `{"key_prefix": [{"a/": {"policy": "read"}}, {"a/": {"policy": "write"}}, {"a/": {"policy": "list"}}],
  "node": [{"n": {"policy": "write"}}, {"n": {"policy": "deny"}}, {"n": {"policy": "read"}}]}`,
			want: Rules{Rules: []Rule{{ResKey, "a/", true, AccessWrite}, {ResNode, "n", false, AccessDeny}}},
		},
		{
			name: "ignored parts warn once each",
			hcl: `
mesh = "write"
peering = "read"
service "web" {
  policy     = "write"
  intentions = "read"
}
service_prefix "" {
  policy     = "read"
  intentions = "deny"
}
namespace "ns" {
  key_prefix "" { policy = "write" }
}
partition_prefix "" { anything = "goes" }
identity_prefix "" { policy = "write" }
`,
			json: `{"mesh": "write", "peering": "read",
  "service": {"web": {"policy": "write", "intentions": "read"}},
  "service_prefix": {"": {"policy": "read", "intentions": "deny"}},
  "namespace": {"ns": {"key_prefix": {"": {"policy": "write"}}}},
  "partition_prefix": {"": {"anything": "goes"}},
  "identity_prefix": {"": {"policy": "write"}}}`,
			want: Rules{
				Rules: []Rule{{ResService, "web", false, AccessWrite}, {ResService, "", true, AccessRead}},
				Warnings: []string{
					`"mesh" is ignored: consulx has no service mesh`,
					`"peering" is ignored: consulx has no cluster peering`,
					`"intentions" is ignored: consulx has no service mesh`,
					`"namespace" is ignored: namespaces are a Consul Enterprise feature`,
					`"partition_prefix" is ignored: admin partitions are a Consul Enterprise feature`,
					`"identity_prefix" is ignored: consulx has no workload identities`,
				},
			},
		},
		{
			name: "keywords and policies in any case, as Consul's decoder",
			hcl:  "KEY_PREFIX \"x/\" { Policy = \"WRITE\" }\nAcl = \"Read\"",
			json: `{"Key_Prefix": {"x/": {"POLICY": "Write"}}, "ACL": "read"}`,
			want: Rules{Rules: []Rule{{ResKey, "x/", true, AccessWrite}}, ACL: AccessRead},
		},
		{
			name: "unquoted names",
			hcl:  `node web-1 { policy = "write" }`,
			json: `{"node": {"web-1": {"policy": "write"}}}`,
			want: Rules{Rules: []Rule{{ResNode, "web-1", false, AccessWrite}}},
		},
		{
			name: "names with quotes, escapes and unicode",
			hcl:  `key "a \"b\"\\c/é" { policy = "read" }`,
			json: `{"key": {"a \"b\"\\c/\u00e9": {"policy": "read"}}}`,
			want: Rules{Rules: []Rule{{ResKey, `a "b"\c/é`, false, AccessRead}}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, src := range []string{c.hcl, c.json} {
				got, err := Parse(src)
				if err != nil {
					t.Fatalf("Parse(%q): %v", src, err)
				}
				if !reflect.DeepEqual(*got, c.want) {
					t.Errorf("Parse(%q)\n got %+v\nwant %+v", src, *got, c.want)
				}
			}
		})
	}
}

// The other shapes hcl v1 gives the same rules.
func TestParseBlockShapes(t *testing.T) {
	want := Rules{Rules: []Rule{{ResKey, "a/", true, AccessRead}, {ResKey, "b/", true, AccessWrite}}}
	for _, src := range []string{
		`key_prefix "a/" { policy = "read" } key_prefix "b/" { policy = "write" }`,
		`key_prefix = { "a/" = { policy = "read" } "b/" = { policy = "write" } }`,
		`key_prefix { "a/" { policy = "read" } "b/" { policy = "write" } }`,
		`key_prefix = [ { "a/" = { policy = "read" } }, { "b/" = { policy = "write" } } ]`,
		`{"key_prefix": [{"a/": {"policy": "read"}, "b/": {"policy": "write"}}]}`,
	} {
		got, err := Parse(src)
		if err != nil {
			t.Errorf("Parse(%q): %v", src, err)
			continue
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("Parse(%q)\n got %+v\nwant %+v", src, *got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{"key_prefix \"foo/\" {\n  policy = \"read\"\n}\nkey_prefix \"bar/\" {\n  policy = \"wrte\"\n}",
			`acl: line 5: invalid policy "wrte" for key_prefix "bar/": want read, write, list or deny`},
		{`{"key_prefix": {"foo/": {"policy": "wrte"}}}`,
			`acl: line 1: invalid policy "wrte" for key_prefix "foo/": want read, write, list or deny`},
		{`service "web" { policy = "list" }`,
			`acl: line 1: invalid policy "list" for service "web": want read, write or deny`},
		{`node_prefix "" { policy = "list" }`,
			`acl: line 1: invalid policy "list" for node_prefix "": want read, write or deny`},
		{`acl = "list"`, `acl: line 1: invalid policy "list" for acl: want read, write or deny`},
		{`operator = "admin"`, `acl: line 1: invalid policy "admin" for operator: want read, write or deny`},
		{`mesh = "wrote"`, `acl: line 1: invalid policy "wrote" for mesh: want read, write or deny`},
		{`service "web" { policy = "read" intentions = "list" }`,
			`acl: line 1: invalid intentions "list" for service "web": want read, write or deny`},
		{`{"key": {"k": {"policy": null}}}`, `acl: line 1: invalid policy "" for key "k": want read, write, list or deny`},
		{"\n\nkye_prefix \"a\" { policy = \"read\" }",
			`acl: line 3: unknown rule "kye_prefix": want key_prefix, key, node_prefix, node, service_prefix, service, ` +
				`session_prefix, session, event_prefix, event, agent_prefix, agent, query_prefix, query, acl, operator or keyring`},
		{"key_prefix \"a\" {\n  polcy = \"read\"\n}", `acl: line 2: unknown key "polcy" in key_prefix "a": want policy`},
		{`key "a" { policy = "read" intentions = "read" }`, `acl: line 1: unknown key "intentions" in key "a": want policy`},
		{`service "a" { policy = "read" tags = "x" }`, `acl: line 1: unknown key "tags" in service "a": want policy or intentions`},
		{"key_prefix \"a\" {\n}", `acl: line 1: key_prefix "a" has no policy: key_prefix "a" { policy = "read" }`},
		{`service "web" { intentions = "read" }`, `acl: line 1: service "web" has no policy: service "web" { policy = "read" }`},
		{"key_prefix {\n  policy = \"read\"\n}", `acl: line 2: key_prefix needs a name: key_prefix "<name>" { policy = "read" }`},
		{`key_prefix = "read"`, `acl: line 1: key_prefix wants blocks: key_prefix "<name>" { policy = "read" }`},
		{`key_prefix = ["read"]`, `acl: line 1: key_prefix wants blocks: key_prefix "<name>" { policy = "read" }`},
		{`{"key_prefix": {"a/": {"policy": "read"}, "b/": "write"}}`,
			`acl: line 1: key_prefix "b/" wants a block: key_prefix "<name>" { policy = "read" }`},
		{`key_prefix "a" "b" { policy = "read" }`, `acl: line 1: key_prefix "a": unexpected "b": key_prefix "<name>" { policy = "read" }`},
		{`acl { policy = "write" }`, `acl: line 1: acl wants a policy string: acl = "read"`},
		{`keyring = 1`, `acl: line 1: keyring wants a policy string: keyring = "read"`},
		{"acl = \"read\"\nacl = \"write\"", `acl: line 2: acl is set twice`},
		{`{"operator": "read", "operator": "write"}`, `acl: line 1: operator is set twice`},
		{`key "k" { policy = "read" policy = "write" }`, `acl: line 1: policy of key "k" is set twice`},
		{`key "k" { policy = true }`, `acl: line 1: policy of key "k" wants a policy string: policy = "read"`},
		{"key_prefix \"a\" {\n  policy = \"read\"\n", `acl: line 3: object expected closing RBRACE got: EOF`},
		{"acl = write", `acl: line 1: Unknown token: 1:7 IDENT write`},
		{"{\n  \"acl\": \"write\",\n}", `acl: line 3: invalid JSON: invalid character '}' looking for beginning of object key string`},
		{`{"acl": "write"} {}`, `acl: line 1: trailing data after the JSON object`},
		{`{"key": {"a\/b": {"policy": "read"}}}`, `acl: line 1: illegal char escape`},
	}
	for _, c := range cases {
		r, err := Parse(c.src)
		if err == nil {
			t.Errorf("Parse(%q) = %+v, want error %q", c.src, r, c.want)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("Parse(%q)\n got error %q\nwant error %q", c.src, err, c.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%q): error is not one line: %q", c.src, err)
		}
	}
}

func TestParseAccess(t *testing.T) {
	for _, a := range []Access{AccessDeny, AccessRead, AccessList, AccessWrite} {
		for _, s := range []string{a.String(), strings.ToUpper(a.String())} {
			got, err := ParseAccess(s)
			if err != nil || got != a {
				t.Errorf("ParseAccess(%q) = %v, %v; want %v", s, got, err, a)
			}
		}
	}
	for _, s := range []string{"", "unset", "none", "readwrite", " read"} {
		if _, err := ParseAccess(s); err == nil {
			t.Errorf("ParseAccess(%q) accepted", s)
		}
	}
	if got := AccessUnset.String(); got != "unset" {
		t.Errorf("AccessUnset.String() = %q", got)
	}
}

// check is one question to an authorizer and the answer wanted.
type check struct {
	ask  string // for the failure message
	fn   func(Authorizer) bool
	want bool
}

func yes(ask string, fn func(Authorizer) bool) check { return check{ask, fn, true} }
func no(ask string, fn func(Authorizer) bool) check  { return check{ask, fn, false} }

func keyRead(k string) (string, func(Authorizer) bool) {
	return "KeyRead " + k, func(a Authorizer) bool { return a.KeyRead(k) }
}
func keyList(k string) (string, func(Authorizer) bool) {
	return "KeyList " + k, func(a Authorizer) bool { return a.KeyList(k) }
}
func keyWrite(k string) (string, func(Authorizer) bool) {
	return "KeyWrite " + k, func(a Authorizer) bool { return a.KeyWrite(k) }
}
func keyWritePrefix(k string) (string, func(Authorizer) bool) {
	return "KeyWritePrefix " + k, func(a Authorizer) bool { return a.KeyWritePrefix(k) }
}

func mustParse(t testing.TB, src string) *Rules {
	t.Helper()
	r, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return r
}

func TestEvaluation(t *testing.T) {
	cases := []struct {
		name         string
		defaultAllow bool
		policies     []string
		checks       []check
	}{
		{
			name:     "an exact rule beats any prefix rule, for its name only",
			policies: []string{`key_prefix "foo/" { policy = "write" }  key "foo/bar" { policy = "deny" }`},
			checks: []check{
				no(keyRead("foo/bar")), no(keyWrite("foo/bar")),
				yes(keyWrite("foo/baz")), yes(keyWrite("foo/bar/x")), yes(keyWrite("foo/ba")),
				no(keyRead("fo")),
			},
		},
		{
			name: "the longest matching prefix wins",
			policies: []string{`
key_prefix "" { policy = "read" }
key_prefix "foo/" { policy = "write" }
key_prefix "foo/private/" { policy = "deny" }`},
			checks: []check{
				yes(keyRead("other")), no(keyWrite("other")),
				yes(keyWrite("foo/x")), yes(keyWrite("foo/private")),
				no(keyRead("foo/private/x")), no(keyRead("foo/private/")),
			},
		},
		{
			name: "a deny in another policy wins among equals",
			policies: []string{
				`key_prefix "a/" { policy = "write" }  service "web" { policy = "write" }`,
				`key_prefix "a/" { policy = "deny" }   service "web" { policy = "deny" }`,
			},
			defaultAllow: true,
			checks: []check{
				no(keyRead("a/x")),
				no("ServiceRead web", func(a Authorizer) bool { return a.ServiceRead("web") }),
				yes("ServiceRead webx", func(a Authorizer) bool { return a.ServiceRead("webx") }),
			},
		},
		{
			name: "else the most permissive among equals",
			policies: []string{
				`key_prefix "a/" { policy = "read" }  node "n" { policy = "read" }`,
				`key_prefix "a/" { policy = "write" } node "n" { policy = "write" }`,
				`key_prefix "a/" { policy = "list" }`,
			},
			checks: []check{
				yes(keyWrite("a/x")),
				yes("NodeWrite n", func(a Authorizer) bool { return a.NodeWrite("n") }),
			},
		},
		{
			name: "standing is by exactness and length, not by policy",
			policies: []string{
				`key_prefix "" { policy = "deny" }  key_prefix "app/" { policy = "deny" }`,
				`key_prefix "app/" { policy = "read" }  key "app/cfg" { policy = "write" }  key_prefix "app/db/" { policy = "read" }`,
			},
			defaultAllow: true,
			checks: []check{
				no(keyRead("x")), no(keyRead("app/x")),
				yes(keyWrite("app/cfg")), yes(keyRead("app/db/x")),
			},
		},
		{
			name:         "no rule: default allow",
			defaultAllow: true,
			policies:     []string{`key_prefix "secret/" { policy = "deny" }`},
			checks: []check{
				yes(keyWrite("x")), yes(keyList("")), no(keyRead("secret/x")),
				yes("NodeWrite n", func(a Authorizer) bool { return a.NodeWrite("n") }),
				yes("OperatorWrite", Authorizer.OperatorWrite),
				yes("KeyringWrite", Authorizer.KeyringWrite),
				// ACL management is never the default (Consul's
				// allow-all authorizer denies it too).
				no("ACLRead", Authorizer.ACLRead), no("ACLWrite", Authorizer.ACLWrite),
			},
		},
		{
			name:     "no rule: default deny",
			policies: []string{`key_prefix "pub/" { policy = "write" }`},
			checks: []check{
				no(keyRead("x")), yes(keyRead("pub/x")),
				no("NodeRead n", func(a Authorizer) bool { return a.NodeRead("n") }),
				no("OperatorRead", Authorizer.OperatorRead),
				no("KeyringRead", Authorizer.KeyringRead),
				no("ACLRead", Authorizer.ACLRead),
			},
		},
		{
			name: "list grants listing (and reading, as Consul); read does not grant listing",
			policies: []string{`
key_prefix "zap/" { policy = "list" }
key_prefix "zip/" { policy = "read" }
key_prefix "wr/" { policy = "write" }
key "zip/one" { policy = "list" }`},
			checks: []check{
				yes(keyList("zap/")), yes(keyList("zap/sub/")), yes(keyRead("zap/x")), no(keyWrite("zap/x")),
				no(keyList("zip/")), yes(keyRead("zip/x")), no(keyWrite("zip/x")),
				yes(keyList("zip/one")), no(keyList("zip/one/")),
				yes(keyList("wr/")), yes(keyRead("wr/x")),
				no(keyList("")),
			},
		},
		{
			name: "KeyWritePrefix needs write on the prefix and every rule below it",
			policies: []string{`
key_prefix "foo/" { policy = "write" }
key_prefix "foo/priv/" { policy = "deny" }
key "foo/bar/secret" { policy = "read" }
key "foo/baz/" { policy = "read" }
key_prefix "ro/" { policy = "read" }
key "wr/x" { policy = "write" }`},
			defaultAllow: true,
			checks: []check{
				no(keyWritePrefix("foo/")), no(keyWritePrefix("foo/priv/")), no(keyWritePrefix("foo/bar/")),
				no(keyWritePrefix("foo/baz/")), no(keyWritePrefix("")),
				yes(keyWritePrefix("foo/other/")), yes(keyWritePrefix("foo/bar/secret2")),
				yes(keyWrite("foo/bar/x")), yes(keyWrite("foo/baz/x")),
				no(keyWritePrefix("ro/")), no(keyWritePrefix("ro/x/")),
				// no prefix rule on the way: the default decides,
				// unless a rule below denies.
				yes(keyWritePrefix("wr/")), yes(keyWritePrefix("other/")),
			},
		},
		{
			name:     "KeyWritePrefix under default deny",
			policies: []string{`key "wr/x" { policy = "write" }  key_prefix "all/" { policy = "write" }`},
			checks:   []check{no(keyWritePrefix("wr/")), yes(keyWritePrefix("all/")), yes(keyWritePrefix("all/x/"))},
		},
		{
			name:         "scalars: write implies read",
			policies:     []string{`acl = "read"  operator = "write"  keyring = "deny"`},
			defaultAllow: true,
			checks: []check{
				yes("ACLRead", Authorizer.ACLRead), no("ACLWrite", Authorizer.ACLWrite),
				yes("OperatorRead", Authorizer.OperatorRead), yes("OperatorWrite", Authorizer.OperatorWrite),
				no("KeyringRead", Authorizer.KeyringRead), no("KeyringWrite", Authorizer.KeyringWrite),
				no("IsManagement", Authorizer.IsManagement),
			},
		},
		{
			name:     "scalars merge across policies",
			policies: []string{`acl = "read"  operator = "write"`, `acl = "write"  operator = "deny"`},
			checks: []check{
				yes("ACLWrite", Authorizer.ACLWrite), no("OperatorRead", Authorizer.OperatorRead),
			},
		},
		{
			name:     "the seed policy",
			policies: []string{seedPolicy},
			checks: []check{
				yes("ACLWrite", Authorizer.ACLWrite), yes("OperatorWrite", Authorizer.OperatorWrite),
				yes("ServiceRead web", func(a Authorizer) bool { return a.ServiceRead("web") }),
				no("ServiceWrite web", func(a Authorizer) bool { return a.ServiceWrite("web") }),
				no(keyRead("x")), no("KeyringRead", Authorizer.KeyringRead),
				no("IsManagement", Authorizer.IsManagement),
			},
		},
		{
			// Each family answers from its own rules (a mix-up between
			// tables would show here).
			name: "every resource has its own rules",
			policies: []string{`
node "n" { policy = "write" }  service "s" { policy = "write" }  session "se" { policy = "write" }
event "e" { policy = "write" }  agent "a" { policy = "write" }  query "q" { policy = "write" }
node_prefix "r" { policy = "read" }  service_prefix "r" { policy = "read" }  session_prefix "r" { policy = "read" }
event_prefix "r" { policy = "read" }  agent_prefix "r" { policy = "read" }  query_prefix "r" { policy = "read" }`},
			checks: []check{
				yes("NodeWrite n", func(a Authorizer) bool { return a.NodeWrite("n") }),
				no("NodeWrite s", func(a Authorizer) bool { return a.NodeWrite("s") }),
				yes("NodeRead rx", func(a Authorizer) bool { return a.NodeRead("rx") }),
				no("NodeWrite rx", func(a Authorizer) bool { return a.NodeWrite("rx") }),
				yes("ServiceWrite s", func(a Authorizer) bool { return a.ServiceWrite("s") }),
				no("ServiceWrite n", func(a Authorizer) bool { return a.ServiceWrite("n") }),
				yes("ServiceRead rx", func(a Authorizer) bool { return a.ServiceRead("rx") }),
				yes("SessionWrite se", func(a Authorizer) bool { return a.SessionWrite("se") }),
				no("SessionWrite s", func(a Authorizer) bool { return a.SessionWrite("s") }),
				yes("SessionRead rx", func(a Authorizer) bool { return a.SessionRead("rx") }),
				yes("EventWrite e", func(a Authorizer) bool { return a.EventWrite("e") }),
				no("EventWrite a", func(a Authorizer) bool { return a.EventWrite("a") }),
				yes("EventRead rx", func(a Authorizer) bool { return a.EventRead("rx") }),
				yes("AgentWrite a", func(a Authorizer) bool { return a.AgentWrite("a") }),
				no("AgentWrite q", func(a Authorizer) bool { return a.AgentWrite("q") }),
				yes("AgentRead rx", func(a Authorizer) bool { return a.AgentRead("rx") }),
				yes("QueryWrite q", func(a Authorizer) bool { return a.QueryWrite("q") }),
				no("QueryWrite e", func(a Authorizer) bool { return a.QueryWrite("e") }),
				yes("QueryRead rx", func(a Authorizer) bool { return a.QueryRead("rx") }),
				no(keyRead("n")),
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var rules []*Rules
			for _, p := range c.policies {
				rules = append(rules, mustParse(t, p))
			}
			a := New(c.defaultAllow, rules...)
			for _, ch := range c.checks {
				if got := ch.fn(a); got != ch.want {
					t.Errorf("%s = %v, want %v", ch.ask, got, ch.want)
				}
			}
		})
	}
}

// askAll asks every question of the interface about one name.
func askAll(a Authorizer, name string) []bool {
	return []bool{
		a.KeyRead(name), a.KeyList(name), a.KeyWrite(name), a.KeyWritePrefix(name),
		a.NodeRead(name), a.NodeWrite(name), a.ServiceRead(name), a.ServiceWrite(name),
		a.SessionRead(name), a.SessionWrite(name), a.EventRead(name), a.EventWrite(name),
		a.AgentRead(name), a.AgentWrite(name), a.QueryRead(name), a.QueryWrite(name),
		a.OperatorRead(), a.OperatorWrite(), a.KeyringRead(), a.KeyringWrite(),
	}
}

func TestStaticAuthorizers(t *testing.T) {
	cases := []struct {
		name                string
		a                   Authorizer
		rest, acl, snapshot bool
	}{
		{"Manage", Manage(), true, true, true},
		{"AllowAll", AllowAll(), true, false, false},
		{"DenyAll", DenyAll(), false, false, false},
	}
	for _, c := range cases {
		for i, got := range askAll(c.a, "any/name") {
			if got != c.rest {
				t.Errorf("%s: question %d = %v, want %v", c.name, i, got, c.rest)
			}
		}
		if c.a.ACLRead() != c.acl || c.a.ACLWrite() != c.acl || c.a.IsManagement() != c.acl {
			t.Errorf("%s: ACLRead %v ACLWrite %v IsManagement %v, want %v", c.name,
				c.a.ACLRead(), c.a.ACLWrite(), c.a.IsManagement(), c.acl)
		}
		if got := AllowSnapshot(c.a); got != c.snapshot {
			t.Errorf("AllowSnapshot(%s) = %v, want %v", c.name, got, c.snapshot)
		}
	}
	if !AllowSnapshot(New(false, mustParse(t, `acl = "write"`))) || AllowSnapshot(New(true, mustParse(t, `acl = "read"`))) {
		t.Error("AllowSnapshot of a policy: want acl = \"write\"")
	}
}

// New takes Rules built by hand too: nil policies, unknown resources and
// unset rules are ignored.
func TestNewIgnoresWhatItCannotUse(t *testing.T) {
	a := New(false, nil, &Rules{Rules: []Rule{
		{Resource: "bogus", Name: "", Prefix: true, Access: AccessWrite},
		{Resource: ResKey, Name: "", Prefix: true, Access: AccessUnset},
		{Resource: ResKey, Name: "k", Access: AccessRead},
	}})
	if !a.KeyRead("k") || a.KeyRead("other") || a.KeyWrite("k") {
		t.Errorf("KeyRead k %v, KeyRead other %v, KeyWrite k %v; want true false false",
			a.KeyRead("k"), a.KeyRead("other"), a.KeyWrite("k"))
	}
	for i, got := range askAll(New(false), "x") {
		if got {
			t.Errorf("New(false) with no policy: question %d allowed", i)
		}
	}
	for i, got := range askAll(New(true), "x") {
		if !got {
			t.Errorf("New(true) with no policy: question %d denied", i)
		}
	}
}

// renderJSON writes rules back as a JSON policy (warned-about parts are
// not kept in Rules, so they are not written).
func renderJSON(r *Rules) string {
	doc := map[string]any{}
	for _, rule := range r.Rules {
		word := string(rule.Resource)
		if rule.Prefix {
			word += "_prefix"
		}
		m, _ := doc[word].(map[string]any)
		if m == nil {
			m = map[string]any{}
			doc[word] = m
		}
		m[rule.Name] = map[string]string{"policy": rule.Access.String()}
	}
	for word, a := range map[string]Access{"acl": r.ACL, "operator": r.Operator, "keyring": r.Keyring} {
		if a != AccessUnset {
			doc[word] = a.String()
		}
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

// FuzzParse: Parse never panics; what it accepts compiles into an
// authorizer that never panics, in which each rule decides its own name;
// and the rules written back as JSON parse to the same rules.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		seedPolicy, "", "{}", `{"key_prefix": {"a/": {"policy": "list"}}, "acl": "read"}`,
		`key_prefix "" { policy = "read" } key "a" { policy = "deny" } key_prefix "a" { policy = "write" }`,
		`service "web" { policy = "write" intentions = "read" } mesh = "write" namespace "x" { y = 1 }`,
		`key_prefix = [ { "a/" = { policy = "read" } } ]`, "key_prefix {\n policy = \"read\"\n}",
		`{"key": {"a\/b": {"policy": "read"}}}`, "x = 99999999999999999999999", "a = <<EOF\nb\nEOF\n",
		`node_prefix "" { policy = "READ" } acl = "deny" operator = "list"`, `key "${x}" { policy = "read" }`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		r, err := Parse(src)
		if err != nil {
			if r != nil {
				t.Fatalf("Parse returned rules and an error: %v", err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "acl: ") || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error is not one line starting with \"acl: \": %q", msg)
			}
			return
		}
		exact := map[ruleKey]bool{}
		for _, rule := range r.Rules {
			if !rule.Prefix {
				exact[ruleKey{rule.Resource, false, rule.Name}] = true
			}
		}
		for _, def := range []bool{false, true} {
			a := New(def, r)
			askAll(a, "")
			a.ACLRead()
			a.ACLWrite()
			for _, rule := range r.Rules {
				askAll(a, rule.Name)
				if rule.Prefix && exact[ruleKey{rule.Resource, false, rule.Name}] {
					continue
				}
				pa := a.(*policyAuthz)
				if got, want := pa.check(rule.Resource, rule.Name, AccessRead), rule.Access != AccessDeny; got != want {
					t.Fatalf("%+v: read of its own name = %v, want %v", rule, got, want)
				}
				if got, want := pa.check(rule.Resource, rule.Name, AccessWrite), rule.Access == AccessWrite; got != want {
					t.Fatalf("%+v: write of its own name = %v, want %v", rule, got, want)
				}
			}
		}
		for _, rule := range r.Rules {
			if !utf8.ValidString(rule.Name) {
				return // JSON cannot carry the name as it is
			}
		}
		back := renderJSON(r)
		r2, err := Parse(back)
		if err != nil {
			t.Fatalf("the rules written back as %s do not parse: %v", back, err)
		}
		r.Warnings, r2.Warnings = nil, nil
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("written back as %s\n got %+v\nwant %+v", back, r2, r)
		}
	})
}

// BenchmarkKeyRead asks one policy of 20 rules, as every KV read does.
func BenchmarkKeyRead(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("key_prefix \"\" { policy = \"read\" }\n")
	for _, app := range []string{"web", "api", "db", "cache", "queue", "auth", "billing", "search", "mail"} {
		sb.WriteString("key_prefix \"config/" + app + "/\" { policy = \"write\" }\n")
		sb.WriteString("key \"config/" + app + "/secret\" { policy = \"deny\" }\n")
	}
	sb.WriteString("key_prefix \"vault/\" { policy = \"deny\" }\n")
	r := mustParse(b, sb.String())
	if len(r.Rules) != 20 {
		b.Fatalf("%d rules, want 20", len(r.Rules))
	}
	a := New(false, r)
	keys := []string{"config/web/app.json", "config/billing/secret", "vault/x", "other/deep/key/name", "config/search/"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		a.KeyRead(keys[i%len(keys)])
	}
}
