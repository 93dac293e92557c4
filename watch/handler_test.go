package watch

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"consulx/exec"
)

// TestWatchScriptHandler: the data on stdin, CONSUL_INDEX set, the output
// captured; a failure, a timeout and a shell command line are reported.
func TestWatchScriptHandler(t *testing.T) {
	r := RunScript(t.Context(), []string{"sh", "-c", `printf '%s ' "$CONSUL_INDEX"; cat; echo oops >&2`}, 42, []byte(`{"a":1}`), 10*time.Second, 1<<10)
	if err := ScriptError(r); err != nil || string(r.Output) != "42 {\"a\":1}oops\n" {
		t.Errorf("run: %v %q", err, r.Output)
	}
	r = RunScript(t.Context(), exec.Shell(`exit 3`), 1, nil, 10*time.Second, 0)
	if err := ScriptError(r); err == nil || err.Error() != "exit status 3" {
		t.Errorf("failure: %v", err)
	}
	start := time.Now()
	r = RunScript(t.Context(), []string{"sleep", "30"}, 1, nil, 200*time.Millisecond, 0)
	if err := ScriptError(r); err == nil || !strings.Contains(err.Error(), "timed out") || time.Since(start) > 10*time.Second {
		t.Errorf("timeout: %v after %s", err, time.Since(start))
	}
	r = RunScript(t.Context(), []string{"/nonexistent/handler"}, 1, nil, 0, 0)
	if ScriptError(r) == nil {
		t.Error("a missing program did not fail")
	}
}

type seen struct {
	method string
	header http.Header
	body   string
}

func recorder(t *testing.T, status int, hold time.Duration) (*httptest.Server, chan seen) {
	got := make(chan seen, 10)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.Header.Clone(), string(b)}
		if hold > 0 {
			select {
			case <-time.After(hold):
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "answer")
	}))
	return srv, got
}

// TestWatchHTTPHandler: the JSON as the body, the configured method and
// headers, Content-Type and X-Consul-Index; POST by default; a non-2xx
// answer, a timeout and an unverified certificate are errors unless
// tls_skip_verify.
func TestWatchHTTPHandler(t *testing.T) {
	srv, got := recorder(t, 200, 0)
	srv.Start()
	defer srv.Close()
	c := NewHTTPCaller(HTTPConfig{Path: srv.URL + "/hook", Method: "PUT", Header: map[string][]string{"X-A": {"1", "2"}}})
	res, err := c.Call(t.Context(), 7, []byte(`{"k":"v"}`))
	if err != nil || res.Status != 200 || string(res.Body) != "answer" {
		t.Fatalf("call: %v %+v", err, res)
	}
	s := <-got
	if s.method != "PUT" || s.body != `{"k":"v"}` || s.header.Get("X-Consul-Index") != "7" ||
		s.header.Get("Content-Type") != "application/json" || strings.Join(s.header.Values("X-A"), ",") != "1,2" {
		t.Errorf("request %+v", s)
	}
	if _, err := NewHTTPCaller(HTTPConfig{Path: srv.URL}).Call(t.Context(), 1, nil); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s.method != "POST" {
		t.Errorf("default method %q", s.method)
	}

	bad, _ := recorder(t, 500, 0)
	bad.Start()
	defer bad.Close()
	if res, err := NewHTTPCaller(HTTPConfig{Path: bad.URL}).Call(t.Context(), 1, nil); err == nil || res.Status != 500 {
		t.Errorf("500: %v %+v", err, res)
	}

	slow, _ := recorder(t, 200, 30*time.Second)
	slow.Start()
	defer slow.Close()
	start := time.Now()
	if _, err := NewHTTPCaller(HTTPConfig{Path: slow.URL, Timeout: 200 * time.Millisecond}).Call(context.Background(), 1, nil); err == nil || time.Since(start) > 10*time.Second {
		t.Errorf("timeout: %v after %s", err, time.Since(start))
	}

	tlsSrv, _ := recorder(t, 200, 0)
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	if _, err := NewHTTPCaller(HTTPConfig{Path: tlsSrv.URL}).Call(t.Context(), 1, nil); err == nil {
		t.Error("an unknown certificate was accepted without tls_skip_verify")
	}
	if _, err := NewHTTPCaller(HTTPConfig{Path: tlsSrv.URL, TLSSkipVerify: true}).Call(t.Context(), 1, nil); err != nil {
		t.Errorf("tls_skip_verify: %v", err)
	}
}
