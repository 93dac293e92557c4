package agentrun_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"consulx/internal/testcluster"
	"consulx/node"
)

const rootToken = "6d2c0fa4-1f1c-4a55-9d38-9c6b1d0a1b5e"

// aclCluster starts a server and a client with ACLs on under default
// deny, rootToken as the initial management token, and enable_debug (so
// the pprof routes are walked too).
func aclCluster(t *testing.T, dc string, edit func(*node.Config)) *testcluster.Cluster {
	t.Helper()
	c := testcluster.StartClusterWith(t, dc, 1, 1, func(cfg *node.Config) {
		cfg.ACL.Enabled = true
		cfg.ACL.DefaultPolicy = "deny"
		cfg.ACL.Tokens.InitialManagement = rootToken
		// The agent's own writes (anti-entropy) need a token, as in Consul.
		cfg.ACL.Tokens.Agent = rootToken
		cfg.PrimaryDatacenter = dc
		cfg.EnableDebug = true
		if edit != nil {
			edit(cfg)
		}
	})
	root := tokenClient(t, c.Servers[0], rootToken)
	testcluster.Eventually(t, 15*time.Second, func() error {
		_, _, err := root.ACL().TokenReadSelf(nil)
		return err
	})
	return c
}

// tokenClient is the official client with a token.
func tokenClient(t *testing.T, a *testcluster.Agent, token string) *consul.Client {
	t.Helper()
	cfg := consul.DefaultConfig()
	cfg.Address = a.HTTPAddr()
	cfg.Token = token
	cfg.HttpClient = &http.Client{Transport: &http.Transport{}, Timeout: httpTimeout()}
	c, err := consul.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// routeProbe is one request at a route and what anonymous must get.
type routeProbe struct {
	method, path, body string
	// want: "deny" (403), "filtered" (the header, and nothing seeded in
	// the body), "public" (200), "txn-denied" (409 naming the denial),
	// "exec-denied" (every node refused with Permission denied).
	want string
}

// TestEveryRouteDeniesAnonymous walks every route the HTTP API registers
// (from its own route table, so a route added later without a probe here
// fails this test) with no token under default deny: each answers 403,
// or filters its answer down to nothing seeded, or is one of Consul's
// public endpoints; and nothing was written.
func TestEveryRouteDeniesAnonymous(t *testing.T) {
	c := aclCluster(t, "dc1", nil)
	srv, cli := c.Servers[0], c.Clients[0]
	root := tokenClient(t, cli, rootToken)
	// Seed what anonymous must not see or change.
	if _, err := root.KV().Put(&consul.KVPair{Key: "secret/k", Value: []byte("hidden")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := root.Agent().ServiceRegister(&consul.AgentServiceRegistration{Name: "web", ID: "web1", Port: 80,
		Check: &consul.AgentServiceCheck{TTL: "1m", CheckID: "webttl"}}); err != nil {
		t.Fatal(err)
	}
	sess, _, err := root.Session().Create(&consul.SessionEntry{Name: "s", Behavior: "delete", TTL: "60s"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := root.Event().Fire(&consul.UserEvent{Name: "deploy"}, nil); err != nil {
		t.Fatal(err)
	}
	pol, _, err := root.ACL().PolicyCreate(&consul.ACLPolicy{Name: "p1", Rules: `key_prefix "" { policy = "read" }`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := root.ACL().TokenCreate(&consul.ACLToken{Description: "t1", Policies: []*consul.ACLTokenPolicyLink{{ID: pol.ID}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		svcs, _, err := root.Catalog().Service("web", "", nil)
		if err != nil || len(svcs) == 0 {
			return fmt.Errorf("web not in the catalog yet: %v", err)
		}
		return nil
	})
	cn := cli.Name
	probes := map[string][]routeProbe{
		"/v1/status/leader":               {{"GET", "/v1/status/leader", "", "public"}},
		"/v1/status/peers":                {{"GET", "/v1/status/peers", "", "public"}},
		"/v1/catalog/datacenters":         {{"GET", "/v1/catalog/datacenters", "", "public"}},
		"/v1/acl/replication":             {{"GET", "/v1/acl/replication", "", "public"}},
		"/v1/agent/self":                  {{"GET", "/v1/agent/self", "", "deny"}},
		"/v1/agent/members":               {{"GET", "/v1/agent/members", "", "filtered"}},
		"/v1/agent/join/":                 {{"PUT", "/v1/agent/join/127.0.0.1:1", "", "deny"}},
		"/v1/agent/leave":                 {{"PUT", "/v1/agent/leave", "", "deny"}},
		"/v1/agent/force-leave/":          {{"PUT", "/v1/agent/force-leave/" + srv.Name, "", "deny"}},
		"/v1/agent/reload":                {{"PUT", "/v1/agent/reload", "", "deny"}},
		"/v1/agent/services":              {{"GET", "/v1/agent/services", "", "filtered"}},
		"/v1/agent/checks":                {{"GET", "/v1/agent/checks", "", "filtered"}},
		"/v1/agent/service/register":      {{"PUT", "/v1/agent/service/register", `{"Name":"evil","Port":1}`, "deny"}},
		"/v1/agent/service/deregister/":   {{"PUT", "/v1/agent/service/deregister/web1", "", "deny"}},
		"/v1/agent/service/maintenance/":  {{"PUT", "/v1/agent/service/maintenance/web1?enable=true", "", "deny"}},
		"/v1/agent/maintenance":           {{"PUT", "/v1/agent/maintenance?enable=true", "", "deny"}},
		"/v1/agent/check/register":        {{"PUT", "/v1/agent/check/register", `{"Name":"c","TTL":"10s"}`, "deny"}},
		"/v1/agent/check/deregister/":     {{"PUT", "/v1/agent/check/deregister/webttl", "", "deny"}},
		"/v1/agent/check/pass/":           {{"PUT", "/v1/agent/check/pass/webttl", "", "deny"}},
		"/v1/agent/check/warn/":           {{"PUT", "/v1/agent/check/warn/webttl", "", "deny"}},
		"/v1/agent/check/fail/":           {{"PUT", "/v1/agent/check/fail/webttl", "", "deny"}},
		"/v1/agent/check/update/":         {{"PUT", "/v1/agent/check/update/webttl", `{"Status":"critical"}`, "deny"}},
		"/v1/agent/token/":                {{"PUT", "/v1/agent/token/default", `{"Token":"` + rootToken + `"}`, "deny"}},
		"/v1/agent/monitor":               {{"GET", "/v1/agent/monitor", "", "deny"}},
		"/v1/operator/raft/configuration": {{"GET", "/v1/operator/raft/configuration", "", "deny"}},
		"/v1/session/create":              {{"PUT", "/v1/session/create", `{"Name":"x"}`, "deny"}},
		"/v1/session/destroy/":            {{"PUT", "/v1/session/destroy/" + sess, "", "deny"}},
		"/v1/session/renew/":              {{"PUT", "/v1/session/renew/" + sess, "", "deny"}},
		"/v1/session/info/":               {{"GET", "/v1/session/info/" + sess, "", "filtered"}},
		"/v1/session/node/":               {{"GET", "/v1/session/node/" + cn, "", "filtered"}},
		"/v1/session/list":                {{"GET", "/v1/session/list", "", "filtered"}},
		"/v1/txn": {{"PUT", "/v1/txn", `[{"KV":{"Verb":"get","Key":"secret/k"}}]`, "txn-denied"},
			{"PUT", "/v1/txn", `[{"KV":{"Verb":"set","Key":"secret/k","Value":"b3duZWQ="}}]`, "txn-denied"}},
		"/v1/catalog/nodes":      {{"GET", "/v1/catalog/nodes", "", "filtered"}},
		"/v1/catalog/services":   {{"GET", "/v1/catalog/services", "", "filtered"}},
		"/v1/catalog/service/":   {{"GET", "/v1/catalog/service/web", "", "filtered"}},
		"/v1/catalog/node/":      {{"GET", "/v1/catalog/node/" + cn, "", "filtered"}},
		"/v1/catalog/register":   {{"PUT", "/v1/catalog/register", `{"Node":"evil","Address":"10.0.0.9"}`, "deny"}},
		"/v1/catalog/deregister": {{"PUT", "/v1/catalog/deregister", `{"Node":"` + cn + `"}`, "deny"}},
		"/v1/health/node/":       {{"GET", "/v1/health/node/" + cn, "", "filtered"}},
		"/v1/health/checks/":     {{"GET", "/v1/health/checks/web", "", "filtered"}},
		"/v1/health/service/":    {{"GET", "/v1/health/service/web", "", "filtered"}},
		"/v1/health/state/":      {{"GET", "/v1/health/state/any", "", "filtered"}},
		"/v1/event/fire/":        {{"PUT", "/v1/event/fire/deploy", "", "deny"}},
		"/v1/event/list":         {{"GET", "/v1/event/list", "", "filtered"}},
		"/v1/exec":               {{"PUT", "/v1/exec", `{"Command":"echo owned","Wait":2000000000}`, "exec-denied"}},
		"/v1/acl/bootstrap":      {{"PUT", "/v1/acl/bootstrap", "", "deny"}},
		"/v1/acl/policy":         {{"PUT", "/v1/acl/policy", `{"Name":"evil","Rules":"acl = \"write\""}`, "deny"}},
		"/v1/acl/policy/": {{"GET", "/v1/acl/policy/" + pol.ID, "", "deny"}, {"GET", "/v1/acl/policy/name/p1", "", "deny"},
			{"PUT", "/v1/acl/policy/" + pol.ID, `{"Name":"p1","Rules":"acl = \"write\""}`, "deny"},
			{"DELETE", "/v1/acl/policy/" + pol.ID, "", "deny"}},
		"/v1/acl/policies": {{"GET", "/v1/acl/policies", "", "deny"}},
		"/v1/acl/token":    {{"PUT", "/v1/acl/token", `{"Description":"evil","Policies":[{"Name":"global-management"}]}`, "deny"}},
		"/v1/acl/token/": {{"GET", "/v1/acl/token/" + tok.AccessorID, "", "deny"},
			{"PUT", "/v1/acl/token/" + tok.AccessorID, `{"Description":"evil"}`, "deny"},
			{"PUT", "/v1/acl/token/" + tok.AccessorID + "/clone", "", "deny"},
			{"DELETE", "/v1/acl/token/" + tok.AccessorID, "", "deny"}},
		"/v1/acl/tokens": {{"GET", "/v1/acl/tokens", "", "deny"}},
		"/v1/snapshot":   {{"GET", "/v1/snapshot", "", "deny"}, {"PUT", "/v1/snapshot", "not a snapshot", "deny"}},
		"/v1/kv/": {{"GET", "/v1/kv/secret/k", "", "deny"}, {"GET", "/v1/kv/secret/?recurse", "", "filtered"},
			{"GET", "/v1/kv/?keys", "", "filtered"}, {"PUT", "/v1/kv/secret/k", "owned", "deny"},
			{"DELETE", "/v1/kv/secret/?recurse", "", "deny"}},
		"/debug/pprof/":        {{"GET", "/debug/pprof/", "", "deny"}},
		"/debug/pprof/profile": {{"GET", "/debug/pprof/profile?seconds=1", "", "deny"}},
		"/debug/pprof/trace":   {{"GET", "/debug/pprof/trace?seconds=1", "", "deny"}},
	}
	routes := cli.Running.Routes()
	if len(routes) < 50 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	for _, rt := range routes {
		ps, ok := probes[rt.Pattern]
		if !ok {
			t.Errorf("route %s (%s, %s) has no probe here: add one", rt.Pattern, rt.Access, rt.Why)
			continue
		}
		delete(probes, rt.Pattern)
		for _, p := range ps {
			for _, a := range []*testcluster.Agent{cli, srv} {
				probeAnonymous(t, a, p)
			}
		}
	}
	for pattern := range probes {
		t.Errorf("probe for %s, which is not a route", pattern)
	}
	// Nothing anonymous tried took effect.
	if kv, _, err := root.KV().Get("secret/k", nil); err != nil || kv == nil || string(kv.Value) != "hidden" {
		t.Errorf("secret/k after the walk: %+v %v", kv, err)
	}
	if svcs, err := root.Agent().Services(); err != nil || len(svcs) != 1 || svcs["web1"] == nil {
		t.Errorf("agent services after the walk: %v %v", svcs, err)
	}
	if chk, _, err := root.Agent().AgentHealthServiceByID("web1"); err != nil || chk != "critical" {
		// The TTL check starts critical and nobody passed it.
		t.Errorf("web1 health after the walk: %q %v", chk, err)
	}
	if s, _, err := root.Session().Info(sess, nil); err != nil || s == nil {
		t.Errorf("session after the walk: %v %v", s, err)
	}
	if p, _, err := root.ACL().PolicyRead(pol.ID, nil); err != nil || p.Rules != `key_prefix "" { policy = "read" }` {
		t.Errorf("policy after the walk: %+v %v", p, err)
	}
	if toks, _, err := root.ACL().TokenList(nil); err != nil || len(toks) != 3 {
		// anonymous, the initial management token, t1: no clone, no new one.
		t.Errorf("tokens after the walk: %d %v", len(toks), err)
	}
	if nodes, _, err := root.Catalog().Nodes(nil); err != nil || len(nodes) != 2 {
		t.Errorf("catalog nodes after the walk: %v %v", nodes, err)
	}
	if ms, err := root.Agent().Members(false); err != nil || len(ms) != 2 {
		t.Errorf("members after the walk: %d %v", len(ms), err)
	}
}

func probeAnonymous(t *testing.T, a *testcluster.Agent, p routeProbe) {
	t.Helper()
	req, err := http.NewRequest(p.method, "http://"+a.HTTPAddr()+p.path, strings.NewReader(p.body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rawHTTP().Do(req)
	if err != nil {
		t.Errorf("%s %s on %s: %v", p.method, p.path, a.Name, err)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	what := fmt.Sprintf("%s %s on %s: %d %q", p.method, p.path, a.Name, resp.StatusCode, truncate(string(body), 300))
	switch p.want {
	case "public":
		if resp.StatusCode != 200 {
			t.Errorf("%s: want 200 (public)", what)
		}
	case "deny":
		if resp.StatusCode != 403 || !(strings.Contains(string(body), "Permission denied") || strings.Contains(string(body), "ACL not found")) {
			t.Errorf("%s: want 403 Permission denied", what)
		}
	case "filtered":
		// An answer with nothing to filter (this agent has no services)
		// is empty and needs no header.
		empty := strings.TrimSpace(string(body))
		if resp.Header.Get("X-Consul-Results-Filtered-By-ACLs") != "true" && empty != "{}" && empty != "[]" && empty != "null" {
			t.Errorf("%s: want X-Consul-Results-Filtered-By-ACLs: true", what)
		}
		for _, seeded := range []string{"hidden", "secret", "web", "deploy", a.Name, "server-1", "client-1"} {
			if bytes.Contains(body, []byte(seeded)) {
				t.Errorf("%s: the filtered answer shows %q", what, seeded)
			}
		}
	case "txn-denied":
		var out struct{ Errors []struct{ What string } }
		_ = json.Unmarshal(body, &out)
		if resp.StatusCode != 409 || len(out.Errors) == 0 || out.Errors[0].What != "Permission denied" {
			t.Errorf("%s: want 409 with a Permission denied error", what)
		}
	case "exec-denied":
		if !strings.Contains(string(body), "Permission denied") || strings.Contains(string(body), "owned") {
			t.Errorf("%s: want every node to refuse with Permission denied", what)
		}
	default:
		t.Fatalf("probe %+v: unknown want", p)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
