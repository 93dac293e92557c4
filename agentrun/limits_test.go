package agentrun_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"consulx/internal/testcluster"
	"consulx/node"
)

// TestEveryRouteBoundsItsBody sends each route of the HTTP API (from its
// route table) a request declaring a body one byte over the route's
// limit: each answers 413 before reading it. A chunked body over the limit
// (no length declared) is cut off too, and nothing is stored.
func TestEveryRouteBoundsItsBody(t *testing.T) {
	c := testcluster.StartClusterWith(t, "dc1", 1, 0, func(cfg *node.Config) { cfg.EnableDebug = true })
	a := c.Servers[0]
	routes := a.Running.Routes()
	if len(routes) < 50 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, rt := range routes {
		if rt.MaxBody <= 0 {
			t.Errorf("route %s has no body limit", rt.Pattern)
			continue
		}
		path := rt.Pattern
		if strings.HasSuffix(path, "/") {
			path += "x"
		}
		for _, m := range rt.Methods {
			status := declaredOversize(t, a.HTTPAddr(), m, path, rt.MaxBody+1)
			if status != "413" {
				t.Errorf("%s %s with a %d-byte body declared (limit %d): status %s, want 413", m, path, rt.MaxBody+1, rt.MaxBody, status)
			}
		}
	}
	// With ACLs off the ACL routes answer Consul's 401.
	if resp, err := rawHTTP().Get("http://" + a.HTTPAddr() + "/v1/acl/policies"); err != nil {
		t.Fatal(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || strings.TrimSpace(string(body)) != "ACL support disabled" {
			t.Errorf("ACL route with ACLs off: %d %q, want 401 ACL support disabled", resp.StatusCode, body)
		}
	}
	// Chunked: no length to refuse up front; the reader stops at the limit.
	big := strings.Repeat("x", int(a.Config.KVMaxValueSize)+10)
	req, _ := http.NewRequest("PUT", "http://"+a.HTTPAddr()+"/v1/kv/chunked", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	resp, err := rawHTTP().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked KV put over the limit: %d, want 413", resp.StatusCode)
	}
	reg := `{"Name":"big","Meta":{"m":"` + strings.Repeat("y", 1<<20) + `"}}`
	req, _ = http.NewRequest("PUT", "http://"+a.HTTPAddr()+"/v1/agent/service/register", io.MultiReader(strings.NewReader(reg)))
	req.ContentLength = -1
	resp, err = rawHTTP().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked service definition over 1 MiB: %d, want 413", resp.StatusCode)
	}
	if kv, _, err := official(t, a).KV().Get("chunked", nil); err != nil || kv != nil {
		t.Errorf("chunked key stored: %+v %v", kv, err)
	}
	if svcs, err := official(t, a).Agent().Services(); err != nil || svcs["big"] != nil {
		t.Errorf("big service registered: %v", err)
	}
}

// declaredOversize writes a request whose Content-Length is n: a server
// that honours its limit answers 413. Bodies up to a few MiB are sent
// (net/http reads a small unread body before answering); larger ones
// are only declared, and must be refused without being read.
func declaredOversize(t *testing.T, addr, method, path string, n int64) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(testcluster.Scaled(10 * time.Second)))
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", method, path, addr, n)
	if n <= 4<<20 {
		go func() { _, _ = conn.Write(make([]byte, n)) }()
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "no answer: " + err.Error()
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return line
	}
	return f[1]
}

// TestRateLimitPerClient: with limits.rpc_rate 5 and rpc_max_burst 5, a
// client's quick burst of 30 requests gets 429s (with Retry-After) after
// its first few, and it is served again once its bucket refills.
func TestRateLimitPerClient(t *testing.T) {
	c := testcluster.StartClusterWith(t, "dc1", 1, 0, func(cfg *node.Config) {
		cfg.RPCRate = 5
		cfg.RPCMaxBurst = 5
	})
	a := c.Servers[0]
	time.Sleep(1500 * time.Millisecond) // the start-up's own polling drained some of the bucket
	ok, limited := 0, 0
	for i := 0; i < 30; i++ {
		resp, err := rawHTTP().Get("http://" + a.HTTPAddr() + "/v1/status/leader")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case 200:
			ok++
		case 429:
			limited++
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "rate limit") {
				t.Errorf("429 without Retry-After or reason: %q", body)
			}
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if ok < 5 || limited == 0 {
		t.Fatalf("%d served, %d limited: want the burst of 5 served and the rest limited", ok, limited)
	}
	time.Sleep(time.Second)
	resp, err := rawHTTP().Get("http://" + a.HTTPAddr() + "/v1/status/leader")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after a second's pause: %d, want 200", resp.StatusCode)
	}
}
