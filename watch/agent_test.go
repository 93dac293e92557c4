package watch

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// fakeKV serves GET /v1/kv/<key> like an agent: 404 while unset, the
// entry list once set, X-Consul-Index, and blocking on ?index.
type fakeKV struct {
	mu      sync.Mutex
	index   uint64
	value   string
	changed chan struct{}
}

func newFakeKV(t *testing.T) (*fakeKV, string) {
	f := &fakeKV{index: 1, changed: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want, _ := strconv.ParseUint(r.URL.Query().Get("index"), 10, 64)
		f.mu.Lock()
		for want >= f.index {
			ch := f.changed
			f.mu.Unlock()
			select {
			case <-ch:
			case <-r.Context().Done():
				return
			}
			f.mu.Lock()
		}
		idx, v := f.index, f.value
		f.mu.Unlock()
		w.Header().Set("X-Consul-Index", strconv.FormatUint(idx, 10))
		if v == "" {
			w.WriteHeader(404)
			return
		}
		fmt.Fprintf(w, `[{"Key":%q,"Value":%q,"ModifyIndex":%d}]`, strings.TrimPrefix(r.URL.Path, "/v1/kv/"), base64.StdEncoding.EncodeToString([]byte(v)), idx)
	}))
	t.Cleanup(srv.Close)
	return f, strings.TrimPrefix(srv.URL, "http://")
}

func (f *fakeKV) set(v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	f.value = v
	close(f.changed)
	f.changed = make(chan struct{})
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lines(path string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), "\n")
}

// TestWatchGroupLogsFailuresAndStops: in the agent a failing handler is
// logged with its output and the watch goes on (Consul's agent does not
// stop a watch for it); Stop kills a handler in flight and returns
// promptly.
func TestWatchGroupLogsFailuresAndStops(t *testing.T) {
	kv, addr := newFakeKV(t)
	dir := t.TempDir()
	failing, slow := filepath.Join(dir, "failing"), filepath.Join(dir, "slow")
	defs, err := ParseConfig(raws(`[
		{"type": "key", "key": "a", "args": ["sh", "-c", "echo run >> ` + failing + `; echo broken; exit 2"]},
		{"type": "key", "key": "a", "handler": "echo run >> ` + slow + `; [ \"$CONSUL_INDEX\" = 1 ] || sleep 30"}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	var log lockedBuf
	g := Start(defs, addr, hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: &log}))
	stopped := false
	defer func() {
		if !stopped {
			g.Stop()
		}
	}()
	waitFor(t, "the first runs", func() bool { return lines(failing) >= 1 && lines(slow) >= 1 })
	kv.set("v1")
	waitFor(t, "the runs after a change", func() bool { return lines(failing) >= 2 && lines(slow) >= 2 })
	l := log.String()
	if !strings.Contains(l, "watch handler failed") || !strings.Contains(l, "broken") || !strings.Contains(l, "exit status 2") {
		t.Errorf("the failure is not logged with its output:\n%s", l)
	}
	if !strings.Contains(l, "'handler' field of watches is deprecated") {
		t.Errorf("the deprecated handler field is not warned about:\n%s", l)
	}
	// The slow handler is now sleeping: Stop kills it.
	start := time.Now()
	g.Stop()
	stopped = true
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Stop took %s", took)
	}
	if l := log.String(); strings.Contains(l, "still running") {
		t.Errorf("watches outlived Stop:\n%s", l)
	}
	n1, n2 := lines(failing), lines(slow)
	kv.set("v2")
	time.Sleep(300 * time.Millisecond)
	if lines(failing) != n1 || lines(slow) != n2 {
		t.Error("a handler ran after Stop")
	}
}
