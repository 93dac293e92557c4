package agentrun_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"
	mdns "github.com/miekg/dns"

	"consulx/api"
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
		"/v1/operator/keyring": {{"GET", "/v1/operator/keyring", "", "deny"},
			{"POST", "/v1/operator/keyring", `{"Key":"HMzPnmnx4aXEXzpX6Ee0Rw=="}`, "deny"},
			{"PUT", "/v1/operator/keyring", `{"Key":"HMzPnmnx4aXEXzpX6Ee0Rw=="}`, "deny"},
			{"DELETE", "/v1/operator/keyring", `{"Key":"HMzPnmnx4aXEXzpX6Ee0Rw=="}`, "deny"}},
		"/v1/session/create":   {{"PUT", "/v1/session/create", `{"Name":"x"}`, "deny"}},
		"/v1/session/destroy/": {{"PUT", "/v1/session/destroy/" + sess, "", "deny"}},
		"/v1/session/renew/":   {{"PUT", "/v1/session/renew/" + sess, "", "deny"}},
		"/v1/session/info/":    {{"GET", "/v1/session/info/" + sess, "", "filtered"}},
		"/v1/session/node/":    {{"GET", "/v1/session/node/" + cn, "", "filtered"}},
		"/v1/session/list":     {{"GET", "/v1/session/list", "", "filtered"}},
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
		"/v1/exec": {{"PUT", "/v1/exec", `{"Command":"echo owned","Wait":2000000000}`, "deny"},
			{"POST", "/v1/exec", `{"Command":"echo owned","Wait":2000000000}`, "deny"}},
		"/v1/acl/bootstrap": {{"PUT", "/v1/acl/bootstrap", "", "deny"}, {"POST", "/v1/acl/bootstrap", "", "deny"}},
		"/v1/acl/policy":    {{"PUT", "/v1/acl/policy", `{"Name":"evil","Rules":"acl = \"write\""}`, "deny"}},
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
		probed := map[string]bool{}
		for _, p := range ps {
			probed[p.method] = true
		}
		for _, m := range rt.Methods {
			if !probed[m] {
				t.Errorf("route %s takes %s, which no probe here tries: add one", rt.Pattern, m)
			}
		}
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

// TestACLTokenMatrix checks a few tokens against what they may do, with
// the official client: a KV prefix token (write inside, 403 outside,
// listings filtered with the header), a read-only service token (the
// catalog filtered to its service), remote exec where the token may
// write to one agent only (that node runs the command, the other is
// refused with the reason), snapshots for management only, and set-agent-
// token persisted across a restart with enable_token_persistence.
func TestACLTokenMatrix(t *testing.T) {
	c := aclCluster(t, "dc1", func(cfg *node.Config) { cfg.ACL.EnableTokenPersistence = true })
	srv, cli := c.Servers[0], c.Clients[0]
	root := tokenClient(t, cli, rootToken)
	mk := func(name, rules string) string {
		t.Helper()
		p, _, err := root.ACL().PolicyCreate(&consul.ACLPolicy{Name: name, Rules: rules}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := root.ACL().TokenCreate(&consul.ACLToken{Description: name, Policies: []*consul.ACLTokenPolicyLink{{ID: p.ID}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return tok.SecretID
	}
	for _, k := range []string{"app/a", "app/b", "ops/x"} {
		if _, err := root.KV().Put(&consul.KVPair{Key: k, Value: []byte("v")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	app := tokenClient(t, cli, mk("app", `key_prefix "app/" { policy = "write" }`))
	if _, err := app.KV().Put(&consul.KVPair{Key: "app/c", Value: []byte("v")}, nil); err != nil {
		t.Fatalf("app token inside its prefix: %v", err)
	}
	// Consul's refusal text names the token and what it lacks.
	if _, err := app.KV().Put(&consul.KVPair{Key: "ops/x", Value: []byte("owned")}, nil); err == nil ||
		!regexp.MustCompile(`403 \(Permission denied: token with AccessorID '[0-9a-f-]{36}' lacks permission 'key:write' on "ops/x"\)`).MatchString(err.Error()) {
		t.Fatalf("app token outside its prefix: %v", err)
	}
	if _, err := tokenClient(t, cli, "").KV().Put(&consul.KVPair{Key: "ops/x", Value: []byte("owned")}, nil); err == nil ||
		!strings.Contains(err.Error(), "Permission denied: anonymous token lacks permission 'key:write' on \"ops/x\". The anonymous token is used implicitly") {
		t.Fatalf("no token: %v", err)
	}
	pairs, meta, err := app.KV().List("", nil)
	if err != nil || len(pairs) != 3 || !meta.ResultsFilteredByACLs {
		t.Fatalf("app token listing everything: %d pairs, filtered %v, %v", len(pairs), meta != nil && meta.ResultsFilteredByACLs, err)
	}
	if _, err := app.KV().DeleteTree("", nil); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("app token deleting the whole tree: %v", err)
	}
	if kv, _, _ := root.KV().Get("ops/x", nil); kv == nil || string(kv.Value) != "v" {
		t.Fatalf("ops/x changed: %+v", kv)
	}
	// A transaction with one refused operation applies nothing.
	ok, resp, _, err := app.Txn().Txn(consul.TxnOps{
		{KV: &consul.KVTxnOp{Verb: consul.KVSet, Key: "app/t", Value: []byte("1")}},
		{KV: &consul.KVTxnOp{Verb: consul.KVSet, Key: "ops/t", Value: []byte("1")}},
	}, nil)
	if err != nil || ok || len(resp.Errors) != 1 || resp.Errors[0].OpIndex != 1 || resp.Errors[0].What != "Permission denied" {
		t.Fatalf("mixed txn: ok %v resp %+v err %v", ok, resp, err)
	}
	if kv, _, _ := root.KV().Get("app/t", nil); kv != nil {
		t.Fatal("the refused transaction applied its allowed operation")
	}
	// get-tree in a transaction returns only what the token may read.
	if _, err := root.KV().Put(&consul.KVPair{Key: "app/secret/x", Value: []byte("hidden")}, nil); err != nil {
		t.Fatal(err)
	}
	reader := tokenClient(t, cli, mk("app-reader", `key_prefix "app/" { policy = "read" }
key_prefix "app/secret/" { policy = "deny" }`))
	ok, resp, _, err = reader.Txn().Txn(consul.TxnOps{{KV: &consul.KVTxnOp{Verb: consul.KVGetTree, Key: "app/"}}}, nil)
	if err != nil || !ok {
		t.Fatalf("get-tree txn: %v %v", ok, err)
	}
	for _, r := range resp.Results {
		if strings.HasPrefix(r.KV.Key, "app/secret/") {
			t.Fatalf("get-tree returned %s, which the token may not read", r.KV.Key)
		}
	}
	if len(resp.Results) != 3 {
		t.Fatalf("get-tree returned %d entries, want app/a, app/b, app/c", len(resp.Results))
	}
	// Service read on web only.
	if err := root.Agent().ServiceRegister(&consul.AgentServiceRegistration{Name: "web", Port: 80}); err != nil {
		t.Fatal(err)
	}
	if err := root.Agent().ServiceRegister(&consul.AgentServiceRegistration{Name: "db", Port: 5432}); err != nil {
		t.Fatal(err)
	}
	web := tokenClient(t, cli, mk("web-read", `service "web" { policy = "read" }`+"\n"+`node_prefix "" { policy = "read" }`))
	testcluster.Eventually(t, 10*time.Second, func() error {
		svcs, meta, err := web.Catalog().Services(nil)
		if err != nil {
			return err
		}
		if _, ok := svcs["web"]; !ok || len(svcs) != 1 || !meta.ResultsFilteredByACLs {
			return fmt.Errorf("web token sees %v (filtered %v)", svcs, meta.ResultsFilteredByACLs)
		}
		return nil
	})
	if entries, _, err := web.Health().Service("db", "", false, nil); err != nil || len(entries) != 0 {
		t.Fatalf("web token reading db's health: %v %v", entries, err)
	}
	// A token that may write one service cannot take over another's
	// registration by reusing its ID, in the catalog or on the agent,
	// nor replace a node's check, nor create a node.
	evil := tokenClient(t, cli, mk("evil", `service "evil" { policy = "write" }`))
	for _, reg := range []*consul.CatalogRegistration{
		{Node: cli.Name, SkipNodeUpdate: true, Service: &consul.AgentService{ID: "db", Service: "evil"}},
		{Node: cli.Name, SkipNodeUpdate: true, Service: &consul.AgentService{ID: "evil1", Service: "evil"},
			Checks: consul.HealthChecks{{Node: cli.Name, CheckID: "serfHealth", ServiceID: "evil1", Status: "passing"}}},
		{Node: "newnode", Address: "10.0.0.9", SkipNodeUpdate: true, Service: &consul.AgentService{ID: "evil1", Service: "evil"}},
	} {
		if _, err := evil.Catalog().Register(reg, nil); err == nil || !strings.Contains(err.Error(), "403") {
			t.Fatalf("catalog register %+v with a token for service evil only: %v, want 403", reg, err)
		}
	}
	if err := evil.Agent().ServiceRegister(&consul.AgentServiceRegistration{ID: "db", Name: "evil", Port: 1}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("agent register over db's ID with a token for evil only: %v, want 403", err)
	}
	if svcs, err := root.Agent().Services(); err != nil || svcs["db"] == nil || svcs["db"].Service != "db" {
		t.Fatalf("db after the attempts: %+v %v", svcs["db"], err)
	}
	// Exec: agent write on the client only.
	ex := api.NewClient(cli.HTTPAddr())
	ex.Token = mk("exec-client", `agent "`+cli.Name+`" { policy = "write" }`+"\n"+`event "_rexec" { policy = "write" }`)
	got := map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = ex.Exec(ctx, &api.ExecRequest{Command: "echo hi", Wait: 2 * time.Second}, "", func(e api.ExecEvent) {
		switch e.Type {
		case "exit":
			got[e.Node] = fmt.Sprintf("exit %d", e.Code)
		case "refused":
			got[e.Node] = "refused: " + e.Reason
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got[cli.Name] != "exit 0" || !strings.Contains(got[srv.Name], "Permission denied") {
		t.Fatalf("exec with agent:write on %s only: %v", cli.Name, got)
	}
	// Snapshots: management only.
	if _, _, err := app.Snapshot().Save(nil); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("snapshot with the app token: %v", err)
	}
	snap, _, err := root.Snapshot().Save(nil)
	if err != nil {
		t.Fatalf("snapshot with management: %v", err)
	}
	snap.Close()
	// Straight to the server port's internal snapshot call, with no
	// token: the server that would take it refuses.
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", srv.Config.Ports.Server), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(testcluster.Scaled(10 * time.Second)))
	fmt.Fprintf(conn, "\x02POST /raw/snapshot-save HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
	raw, _ := io.ReadAll(io.LimitReader(conn, 4096))
	conn.Close()
	if strings.HasPrefix(string(raw), "HTTP/1.1 200") || !strings.Contains(string(raw), "Permission denied") {
		t.Fatalf("raw snapshot-save without a token answered %q", truncate(string(raw), 300))
	}
	// DNS answers with the agent's default token: none (anonymous) sees
	// nothing under default deny; a default token that may read sees web.
	dnsAsk := func() *mdns.Msg {
		m := new(mdns.Msg)
		m.SetQuestion("web.service.consul.", mdns.TypeA)
		r, err := mdns.Exchange(m, cli.Running.DNSAddr)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := dnsAsk(); r.Rcode != mdns.RcodeNameError || len(r.Answer) != 0 {
		t.Fatalf("DNS with no default token: rcode %d, %d answers", r.Rcode, len(r.Answer))
	}
	// set-agent-token default, persisted: after a restart the agent still
	// uses it for requests without a token.
	if _, err := root.Agent().UpdateDefaultACLToken(rootToken, nil); err != nil {
		t.Fatal(err)
	}
	if r := dnsAsk(); r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("DNS with a default token that reads web: rcode %d, %d answers", r.Rcode, len(r.Answer))
	}
	anon := tokenClient(t, cli, "")
	if _, err := anon.KV().Put(&consul.KVPair{Key: "ops/y", Value: []byte("v")}, nil); err != nil {
		t.Fatalf("no token, default token management: %v", err)
	}
	cli.Running.Shutdown()
	cli.Restart()
	testcluster.Eventually(t, 20*time.Second, func() error {
		_, err := tokenClient(t, cli, "").KV().Put(&consul.KVPair{Key: "ops/z", Value: []byte("v")}, nil)
		return err
	})
}

// TestCachedDNSFollowsACLs: on a server, DNS answers come from the answer
// cache; a change of the default token or of a policy it holds shows in
// the very next query, as without the cache.
func TestCachedDNSFollowsACLs(t *testing.T) {
	c := aclCluster(t, "dc1", nil)
	srv := c.Servers[0]
	root := tokenClient(t, srv, rootToken)
	if _, err := root.Catalog().Register(&consul.CatalogRegistration{Node: "db-1", Address: "10.4.0.1",
		Service: &consul.AgentService{ID: "db", Service: "db", Port: 5432}}, nil); err != nil {
		t.Fatal(err)
	}
	pol, _, err := root.ACL().PolicyCreate(&consul.ACLPolicy{Name: "dns", Rules: `service_prefix "" { policy = "read" }
node_prefix "" { policy = "read" }`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := root.ACL().TokenCreate(&consul.ACLToken{Description: "dns", Policies: []*consul.ACLTokenPolicyLink{{ID: pol.ID}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ask := func(name string) int {
		t.Helper()
		m := new(mdns.Msg)
		m.SetQuestion(name, mdns.TypeA)
		r, err := mdns.Exchange(m, srv.Running.DNSAddr)
		if err != nil {
			t.Fatal(err)
		}
		return len(r.Answer)
	}
	askAll := func(want int, why string) {
		t.Helper()
		for range 5 {
			if n := ask("db.service.consul."); n != want {
				t.Fatalf("%s: service answer has %d records, want %d", why, n, want)
			}
			if n := ask("db-1.node.consul."); n != want {
				t.Fatalf("%s: node answer has %d records, want %d", why, n, want)
			}
		}
	}
	askAll(0, "anonymous default token")
	if _, err := root.Agent().UpdateDefaultACLToken(tok.SecretID, nil); err != nil {
		t.Fatal(err)
	}
	hits := srv.Running.DNSServer().CacheHits()
	askAll(1, "default token that reads everything")
	if srv.Running.DNSServer().CacheHits() == hits {
		t.Fatal("no query was answered from the cache")
	}
	if _, err := root.Agent().UpdateDefaultACLToken("", nil); err != nil {
		t.Fatal(err)
	}
	askAll(0, "default token cleared")
	if _, err := root.Agent().UpdateDefaultACLToken(tok.SecretID, nil); err != nil {
		t.Fatal(err)
	}
	askAll(1, "default token set again")
	pol.Rules = `service_prefix "" { policy = "read" }`
	if _, _, err := root.ACL().PolicyUpdate(pol, nil); err != nil {
		t.Fatal(err)
	}
	// Without node:read, the node and its instances go (Consul filters
	// a service's instances by node:read too).
	askAll(0, "node read taken away")

	// A default token that expires: its answers stop when it does, with
	// no write in between (nothing is cached for it).
	all, _, err := root.ACL().PolicyCreate(&consul.ACLPolicy{Name: "dns-all", Rules: `service_prefix "" { policy = "read" }
node_prefix "" { policy = "read" }`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	short, _, err := root.ACL().TokenCreate(&consul.ACLToken{Description: "short", ExpirationTTL: 2 * time.Second,
		Policies: []*consul.ACLTokenPolicyLink{{ID: all.ID}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.Agent().UpdateDefaultACLToken(short.SecretID, nil); err != nil {
		t.Fatal(err)
	}
	askAll(1, "default token that expires in 2 s")
	time.Sleep(time.Until(*short.ExpirationTime) + 200*time.Millisecond)
	askAll(0, "default token expired")
}
