package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// seen is one request as the fake agent received it.
type seen struct {
	method, path, query, token, body string
}

// fakeAgent answers "METHOD /path" from routes (404 with an empty body
// otherwise) and records every request.
func fakeAgent(t *testing.T, routes map[string]string) (*Client, func() []seen) {
	t.Helper()
	var mu sync.Mutex
	var log []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		log = append(log, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("X-Consul-Token"), string(b)})
		mu.Unlock()
		body, ok := routes[r.Method+" "+r.URL.EscapedPath()]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if code, rest, found := strings.Cut(body, "|"); found && len(code) == 3 {
			w.WriteHeader(map[string]int{"403": 403, "500": 500}[code])
			body = rest
		}
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c := NewClient(srv.Listener.Addr().String())
	c.Token = "tok"
	return c, func() []seen {
		mu.Lock()
		defer mu.Unlock()
		return append([]seen(nil), log...)
	}
}

// TestACLClientRequests checks each method's method, path, query, token
// and body against the documented HTTP API, and how it reads the answer.
func TestACLClientRequests(t *testing.T) {
	ctx := context.Background()
	const tokJSON = `{"AccessorID":"a1","SecretID":"s1","Policies":[{"ID":"p1","Name":"replication"}],"CreateTime":"2026-11-28T12:50:37Z","Hash":"AQI="}`
	c, requests := fakeAgent(t, map[string]string{
		"PUT /v1/acl/bootstrap":                            tokJSON,
		"PUT /v1/acl/policy":                               `{"ID":"p1","Name":"replication","Rules":"acl = \"write\""}`,
		"PUT /v1/acl/policy/p1":                            `{"ID":"p1","Name":"renamed"}`,
		"GET /v1/acl/policy/p1":                            `{"ID":"p1","Name":"replication","Datacenters":["dc1"]}`,
		"GET /v1/acl/policy/name/builtin/global-read-only": `{"ID":"00000000-0000-0000-0000-000000000002","Name":"builtin/global-read-only"}`,
		"DELETE /v1/acl/policy/p1":                         `true`,
		"GET /v1/acl/policies":                             `[{"ID":"p1","Name":"replication"}]`,
		"PUT /v1/acl/token":                                tokJSON,
		"PUT /v1/acl/token/a1":                             tokJSON,
		"GET /v1/acl/token/a1":                             tokJSON,
		"GET /v1/acl/token/self":                           tokJSON,
		"GET /v1/acl/token/gone":                           `403|token does not exist: ACL not found`,
		"PUT /v1/acl/token/a1/clone":                       tokJSON,
		"DELETE /v1/acl/token/a1":                          `true`,
		"GET /v1/acl/tokens":                               `[` + tokJSON + `]`,
		"GET /v1/acl/replication":                          `{"Enabled":true,"Running":true,"SourceDatacenter":"dc1","ReplicationType":"tokens","ReplicatedIndex":7,"LastSuccess":"2026-11-28T12:00:00Z"}`,
		"PUT /v1/agent/token/replication":                  ``,
	})
	w := &WriteOptions{Datacenter: "dc2"}
	q := &QueryOptions{Datacenter: "dc2", Stale: true}
	check := func(what string, err error, want seen) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		log := requests()
		got := log[len(log)-1]
		if got != want {
			t.Errorf("%s sent\n %+v\nwant\n %+v", what, got, want)
		}
	}

	tok, err := c.ACLBootstrap(ctx, "")
	check("ACLBootstrap", err, seen{"PUT", "/v1/acl/bootstrap", "", "tok", ""})
	if tok.AccessorID != "a1" || tok.Policies[0] != (ACLLink{ID: "p1", Name: "replication"}) || string(tok.Hash) != "\x01\x02" {
		t.Errorf("ACLBootstrap: %+v", tok)
	}
	_, err = c.ACLBootstrap(ctx, "my-secret")
	check("ACLBootstrap(secret)", err, seen{"PUT", "/v1/acl/bootstrap", "", "tok", `{"BootstrapSecret":"my-secret"}`})

	p, err := c.ACLPolicyCreate(ctx, &ACLPolicy{Name: "replication", Rules: `acl = "write"`}, w)
	check("ACLPolicyCreate", err, seen{"PUT", "/v1/acl/policy", "dc=dc2", "tok",
		`{"ID":"","Name":"replication","Description":"","Rules":"acl = \"write\"","Datacenters":null,"Hash":null,"CreateIndex":0,"ModifyIndex":0}`})
	if p.ID != "p1" {
		t.Errorf("ACLPolicyCreate: %+v", p)
	}
	if _, err := c.ACLPolicyCreate(ctx, &ACLPolicy{ID: "x", Name: "n"}, nil); err == nil {
		t.Error("ACLPolicyCreate with an ID: no error")
	}
	p, err = c.ACLPolicyUpdate(ctx, &ACLPolicy{ID: "p1", Name: "renamed"}, nil)
	check("ACLPolicyUpdate", err, seen{"PUT", "/v1/acl/policy/p1", "", "tok",
		`{"ID":"p1","Name":"renamed","Description":"","Rules":"","Datacenters":null,"Hash":null,"CreateIndex":0,"ModifyIndex":0}`})
	if p.Name != "renamed" {
		t.Errorf("ACLPolicyUpdate: %+v", p)
	}
	if _, err := c.ACLPolicyUpdate(ctx, &ACLPolicy{Name: "n"}, nil); err == nil {
		t.Error("ACLPolicyUpdate without an ID: no error")
	}
	p, _, err = c.ACLPolicyRead(ctx, "p1", q)
	check("ACLPolicyRead", err, seen{"GET", "/v1/acl/policy/p1", "dc=dc2&stale", "tok", ""})
	if p.Datacenters[0] != "dc1" {
		t.Errorf("ACLPolicyRead: %+v", p)
	}
	if _, _, err := c.ACLPolicyRead(ctx, "nope", nil); !IsNotFound(err) {
		t.Errorf("ACLPolicyRead of an unknown ID: %v, want the 404", err)
	}
	p, _, err = c.ACLPolicyReadByName(ctx, "builtin/global-read-only", nil)
	check("ACLPolicyReadByName", err, seen{"GET", "/v1/acl/policy/name/builtin/global-read-only", "", "tok", ""})
	if p == nil || p.ID != "00000000-0000-0000-0000-000000000002" {
		t.Errorf("ACLPolicyReadByName: %+v", p)
	}
	if p, _, err := c.ACLPolicyReadByName(ctx, "no such", nil); p != nil || err != nil {
		t.Errorf("ACLPolicyReadByName of an unknown name: %+v, %v; want nil, nil", p, err)
	}
	if got := requests(); got[len(got)-1].path != "/v1/acl/policy/name/no%20such" {
		t.Errorf("name not escaped: %s", got[len(got)-1].path)
	}
	err = c.ACLPolicyDelete(ctx, "p1", w)
	check("ACLPolicyDelete", err, seen{"DELETE", "/v1/acl/policy/p1", "dc=dc2", "tok", ""})
	ps, _, err := c.ACLPolicyList(ctx, nil)
	check("ACLPolicyList", err, seen{"GET", "/v1/acl/policies", "", "tok", ""})
	if len(ps) != 1 || ps[0].Name != "replication" {
		t.Errorf("ACLPolicyList: %+v", ps)
	}

	_, err = c.ACLTokenCreate(ctx, &ACLToken{Description: "d", Policies: []ACLLink{{Name: "replication"}}, Local: true, ExpirationTTL: time.Hour}, w)
	check("ACLTokenCreate", err, seen{"PUT", "/v1/acl/token", "dc=dc2", "tok",
		`{"CreateIndex":0,"ModifyIndex":0,"Name":"","AccessorID":"","SecretID":"","Description":"d","Policies":[{"ID":"","Name":"replication"}],"Local":true,"CreateTime":"0001-01-01T00:00:00Z","ExpirationTTL":"1h0m0s"}`})
	_, err = c.ACLTokenUpdate(ctx, &ACLToken{AccessorID: "a1", Description: "e"}, nil)
	check("ACLTokenUpdate", err, seen{"PUT", "/v1/acl/token/a1", "", "tok",
		`{"CreateIndex":0,"ModifyIndex":0,"Name":"","AccessorID":"a1","SecretID":"","Description":"e","Local":false,"CreateTime":"0001-01-01T00:00:00Z"}`})
	if _, err := c.ACLTokenUpdate(ctx, &ACLToken{}, nil); err == nil {
		t.Error("ACLTokenUpdate without an AccessorID: no error")
	}
	tok, _, err = c.ACLTokenRead(ctx, "a1", q)
	check("ACLTokenRead", err, seen{"GET", "/v1/acl/token/a1", "dc=dc2&stale", "tok", ""})
	if tok.SecretID != "s1" || !tok.CreateTime.Equal(time.Date(2026, 11, 28, 12, 50, 37, 0, time.UTC)) {
		t.Errorf("ACLTokenRead: %+v", tok)
	}
	var se *StatusError
	if _, _, err := c.ACLTokenRead(ctx, "gone", nil); err == nil || err.Error() != "Unexpected response code: 403 (token does not exist: ACL not found)" {
		t.Errorf("ACLTokenRead of an unknown accessor: %v", err)
	} else if !errors.As(err, &se) || se.Code != 403 {
		t.Errorf("ACLTokenRead of an unknown accessor: %T", err)
	}
	_, _, err = c.ACLTokenReadSelf(ctx, nil)
	check("ACLTokenReadSelf", err, seen{"GET", "/v1/acl/token/self", "", "tok", ""})
	_, err = c.ACLTokenClone(ctx, "a1", "copy", nil)
	check("ACLTokenClone", err, seen{"PUT", "/v1/acl/token/a1/clone", "", "tok", `{"Description":"copy"}`})
	err = c.ACLTokenDelete(ctx, "a1", w)
	check("ACLTokenDelete", err, seen{"DELETE", "/v1/acl/token/a1", "dc=dc2", "tok", ""})
	ts, _, err := c.ACLTokenList(ctx, nil)
	check("ACLTokenList", err, seen{"GET", "/v1/acl/tokens", "", "tok", ""})
	if len(ts) != 1 || ts[0].SecretID != "s1" || ts[0].Policies[0].Name != "replication" {
		t.Errorf("ACLTokenList: %+v", ts)
	}
	rs, _, err := c.ACLReplication(ctx, nil)
	check("ACLReplication", err, seen{"GET", "/v1/acl/replication", "", "tok", ""})
	if !rs.Enabled || rs.ReplicationType != "tokens" || rs.ReplicatedIndex != 7 || rs.LastSuccess.Year() != 2026 {
		t.Errorf("ACLReplication: %+v", rs)
	}
	err = c.AgentSetToken(ctx, AgentTokenReplication, "s1")
	check("AgentSetToken", err, seen{"PUT", "/v1/agent/token/replication", "", "tok", `{"Token":"s1"}`})
	if err := c.AgentSetToken(ctx, "bogus", "s1"); !IsNotFound(err) {
		t.Errorf("AgentSetToken of an unknown kind: %v, want the agent's 404", err)
	}
}

// TestEnvTokenFile: NewClient takes the token from a token file named in
// the environment (trimmed, winning over the token variable, as Consul),
// and a token file it cannot read fails requests, before anything is
// sent, instead of sending them as anonymous.
func TestEnvTokenFile(t *testing.T) {
	for _, k := range []string{"CONSUL_HTTP_TOKEN", "CONSULX_HTTP_TOKEN", "CONSUL_HTTP_TOKEN_FILE", "CONSULX_HTTP_TOKEN_FILE"} {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "token")
	if err := os.WriteFile(f, []byte("\n from-file \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("X-Consul-Token"))
		mu.Unlock()
		io.WriteString(w, `"127.0.0.1:8300"`)
	}))
	defer srv.Close()
	ctx := context.Background()

	t.Setenv("CONSUL_HTTP_TOKEN", "from-env")
	t.Setenv("CONSUL_HTTP_TOKEN_FILE", f)
	if _, err := NewClient(srv.URL).Leader(ctx); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONSUL_HTTP_TOKEN_FILE", filepath.Join(dir, "missing"))
	c := NewClient(srv.URL)
	if _, err := c.Leader(ctx); err == nil || !strings.Contains(err.Error(), "loading token file: open "+filepath.Join(dir, "missing")) {
		t.Errorf("unreadable token file: %v", err)
	}
	c.Token = "explicit"
	if _, err := c.Leader(ctx); err != nil {
		t.Errorf("with Token set: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != "from-file,explicit" {
		t.Errorf("tokens sent: %q, want from-file then explicit (nothing for the unreadable file)", got)
	}
}
