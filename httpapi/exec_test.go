package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"consulx/exec/remote"
	"consulx/httpapi"
	"consulx/node"
)

// execFake answers Exec with scripted events and records the request.
type execFake struct {
	*fakeAgent
	got       chan *node.ExecRequest
	dc        string
	err       error
	cancelled chan struct{}
}

func (f *execFake) Exec(ctx context.Context, req *node.ExecRequest, dc string, fn func(remote.Event)) error {
	f.dc = dc
	f.got <- req
	if f.err != nil {
		return f.err
	}
	fn(remote.Event{Type: remote.EventStart, Job: "j1", Expected: []string{"a"}})
	fn(remote.Event{Type: remote.EventAck, Node: "a"})
	fn(remote.Event{Type: remote.EventOutput, Node: "a", Data: []byte("hi\n")})
	if req.Spec.Command == "hang" {
		<-ctx.Done() // the client hung up: the job must be cancelled
		close(f.cancelled)
		return nil
	}
	fn(remote.Event{Type: remote.EventExit, Node: "a", Code: 3})
	fn(remote.Event{Type: remote.EventDone, Acks: 1, Exits: 1})
	return nil
}

func TestExecStreamsEventsAsNDJSON(t *testing.T) {
	f := &execFake{fakeAgent: newFake(), got: make(chan *node.ExecRequest, 1), cancelled: make(chan struct{})}
	_, base := serveAgent(t, f)
	req, _ := http.NewRequest(http.MethodPut, base+"/v1/exec?dc=dc1", strings.NewReader(`{"Command":"echo hi","NodeFilter":"^a$","Wait":1000000000,"MaxOutput":100}`))
	req.Header.Set("X-Consul-Token", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var types []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var ev struct {
			Type string
			Data []byte
			Code int
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		types = append(types, ev.Type)
		if ev.Type == "output" && string(ev.Data) != "hi\n" || ev.Type == "exit" && ev.Code != 3 {
			t.Fatalf("event %q", sc.Text())
		}
	}
	if strings.Join(types, ",") != "start,ack,output,exit,done" {
		t.Fatalf("events %v", types)
	}
	got := <-f.got
	want := remote.Spec{Command: "echo hi", Wait: time.Second, MaxOutput: 100, Token: "secret"}
	if !reflect.DeepEqual(got.Spec, want) || got.Filters != (remote.Filters{Node: "^a$"}) || f.dc != "dc1" {
		t.Fatalf("agent got %+v dc %q", got, f.dc)
	}
}

func TestExecBadRequestsRunNothing(t *testing.T) {
	for _, tc := range []struct {
		body string
		err  error
		code int
		want string
	}{
		{`{"Command":`, nil, 400, "Request decode failed"},
		{`{"Command":"` + strings.Repeat("x", 50<<10) + `"}`, nil, 413, "too large"},
		{`{}`, &node.BadRequestError{Msg: "Must specify a command to execute"}, 400, "Must specify a command to execute"},
	} {
		f := &execFake{fakeAgent: newFake(), got: make(chan *node.ExecRequest, 1), err: tc.err}
		_, base := serveAgent(t, f)
		req, _ := http.NewRequest(http.MethodPut, base+"/v1/exec", strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(b.String(), tc.want) {
			t.Errorf("%.40q: %d %q, want %d %q", tc.body, resp.StatusCode, b.String(), tc.code, tc.want)
		}
		if tc.err == nil && len(f.got) != 0 {
			t.Errorf("%.40q reached the agent", tc.body)
		}
	}
}

// The client hanging up mid-job cancels the job's context.
func TestExecClientHangupCancels(t *testing.T) {
	f := &execFake{fakeAgent: newFake(), got: make(chan *node.ExecRequest, 1), cancelled: make(chan struct{})}
	_, base := serveAgent(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, base+"/v1/exec", strings.NewReader(`{"Command":"hang"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// Read up to the output event, then hang up.
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && !strings.Contains(sc.Text(), `"output"`) {
	}
	cancel()
	resp.Body.Close()
	select {
	case <-f.cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the job's context was not cancelled when the client hung up")
	}
}

// serveAgent serves the handler over any agent (serve takes the KV fake).
func serveAgent(t *testing.T, a httpapi.Agent) (*httpapi.Handler, string) {
	t.Helper()
	h := httpapi.New(a, hclog.NewNullLogger(), nil)
	h.SetConnReturner(func(c net.Conn) { c.Close() })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv.URL
}
