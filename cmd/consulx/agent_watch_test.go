package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
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

	"consulx/agentrun"
	"consulx/api"
	"consulx/internal/testcluster"
	"consulx/logstream"
	"consulx/node"
)

// watchAgentConfig resolves `consulx agent -dev -config-file conf` with
// free ports on 127.0.0.1, through the command's own config path.
func watchAgentConfig(t *testing.T, conf string) *node.Config {
	t.Helper()
	p := testcluster.FreePorts(t, 5)
	var stderr strings.Builder
	cfg, _, _, ok := buildConfig([]string{"-dev", "-node", "watcher", "-config-file", conf,
		"-http-port", strconv.Itoa(p[0]), "-dns-port", strconv.Itoa(p[1]), "-serf-lan-port", strconv.Itoa(p[2]),
		"-serf-wan-port", strconv.Itoa(p[3]), "-server-port", strconv.Itoa(p[4])},
		&cliEnv{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr})
	if !ok {
		t.Fatalf("config: %s", stderr.String())
	}
	return cfg
}

func writeConf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "watches.json")
	if err := os.WriteFile(conf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

type hookCall struct {
	method string
	header http.Header
	body   string
}

// TestAgentConfigWatchesFireOncePerRealChange: the watches of the agent's
// config file run against its own HTTP API once it is up. A script
// handler (args, no shell) and an HTTP handler each fire at once, then
// once per real change of the key: not for a write of the same value, not
// for another key. The script gets the JSON on stdin and CONSUL_INDEX, and
// its output goes to the agent's log; the HTTP handler gets the method,
// headers, X-Consul-Index and the JSON body.
func TestAgentConfigWatchesFireOncePerRealChange(t *testing.T) {
	dir := t.TempDir()
	fired := filepath.Join(dir, "fired")
	var mu sync.Mutex
	var calls []hookCall
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, hookCall{r.Method, r.Header.Clone(), string(b)})
		mu.Unlock()
	}))
	defer hook.Close()
	conf := writeConf(t, map[string]any{"watches": []any{
		map[string]any{"type": "key", "key": "app/x", "args": []string{"sh", "-c",
			`v=$(cat); printf '%s %s\n' "$CONSUL_INDEX" "$v" >> "$0"; echo "handler ran at $CONSUL_INDEX"`, fired}},
		map[string]any{"type": "key", "key": "app/x", "handler_type": "http", "http_handler_config": map[string]any{
			"path": hook.URL + "/hook", "method": "PUT", "header": map[string]any{"X-Watch": []string{"a", "b"}}, "timeout": "5s"}},
	}})
	cfg := watchAgentConfig(t, conf)
	var log syncBuffer
	r, err := agentrun.Start(cfg, hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: &log}), logstream.New(100))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Shutdown()
		if t.Failed() {
			t.Logf("agent log:\n%s", log.String())
		}
	})
	client := api.NewClient(r.HTTPAddr)

	scriptRuns := func() []string {
		b, _ := os.ReadFile(fired)
		if s := strings.TrimSpace(string(b)); s != "" {
			return strings.Split(s, "\n")
		}
		return nil
	}
	hookCalls := func() []hookCall {
		mu.Lock()
		defer mu.Unlock()
		return append([]hookCall(nil), calls...)
	}
	waitRuns := func(n int) {
		t.Helper()
		testcluster.Eventually(t, 20*time.Second, func() error {
			if s, h := len(scriptRuns()), len(hookCalls()); s < n || h < n {
				return fmt.Errorf("script ran %d times, hook called %d times, want %d", s, h, n)
			}
			return nil
		})
	}
	put := func(k, v string) {
		t.Helper()
		testcluster.Eventually(t, 20*time.Second, func() error { // the first put may wait for the leader
			ok, err := client.KVPut(t.Context(), &api.KVPair{Key: k, Value: []byte(v)}, nil)
			if err == nil && !ok {
				err = fmt.Errorf("put %s refused", k)
			}
			return err
		})
	}

	waitRuns(1) // fired at once, with the missing key
	put("app/x", "v1")
	waitRuns(2)
	put("app/x", "v1")    // the same value: a new index, no change
	put("app/other", "z") // another key
	put("app/x", "v2")
	waitRuns(3)
	// A run for the no-op writes would have come before the one for v2
	// (runs of a watch are in order); give a late one a moment anyway.
	time.Sleep(300 * time.Millisecond)

	want := []string{"null", "v1", "v2"}
	runs, hooks := scriptRuns(), hookCalls()
	if len(runs) != len(want) || len(hooks) != len(want) {
		t.Fatalf("script runs:\n%s\nhook calls: %d\nwant one each per value %v", strings.Join(runs, "\n"), len(hooks), want)
	}
	for i, w := range want {
		idx, data, _ := strings.Cut(runs[i], " ")
		if n, err := strconv.ParseUint(idx, 10, 64); err != nil || n == 0 {
			t.Errorf("script run %d: CONSUL_INDEX %q", i, idx)
		}
		h := hooks[i]
		if h.method != "PUT" || strings.Join(h.header.Values("X-Watch"), ",") != "a,b" ||
			h.header.Get("Content-Type") != "application/json" || h.header.Get("X-Consul-Index") == "" || h.header.Get("X-Consul-Index") == "0" {
			t.Errorf("hook call %d: %s %v", i, h.method, h.header)
		}
		for name, body := range map[string]string{"script stdin": data, "hook body": h.body} {
			if w == "null" {
				if body != "null" {
					t.Errorf("%s %d: %q, want null", name, i, body)
				}
				continue
			}
			var kv struct{ Key, Value string }
			if err := json.Unmarshal([]byte(body), &kv); err != nil || kv.Key != "app/x" || kv.Value != base64.StdEncoding.EncodeToString([]byte(w)) {
				t.Errorf("%s %d: %q, want the KV entry of app/x with value %q", name, i, body, w)
			}
		}
	}
	// The script's output is in the agent's log, attributed to its watch.
	if l := log.String(); !strings.Contains(l, "agent.watch: watch handler output") || !strings.Contains(l, "handler ran at") {
		t.Errorf("the handler's output is not in the agent log:\n%s", l)
	}
}

// TestAgentConfigWatchesRefuseBadDefinitions: a watch the agent could not
// run stops it at start, before anything listens, with one line naming the
// watch's index and the fault.
func TestAgentConfigWatchesRefuseBadDefinitions(t *testing.T) {
	good := map[string]any{"type": "key", "key": "k", "args": []string{"true"}}
	for _, tc := range []struct {
		name    string
		watches []any
		want    string
	}{
		{"unknown type", []any{good, map[string]any{"type": "kye", "key": "k", "args": []string{"true"}}}, `config: watches[1]: Unsupported watch type: "kye"`},
		{"key without key", []any{map[string]any{"type": "key", "args": []string{"true"}}}, `config: watches[0]: Must specify a single key to watch`},
		{"args and handler", []any{map[string]any{"type": "key", "key": "k", "args": []string{"true"}, "handler": "true"}}, `config: watches[0]: Cannot define both watch handler and args`},
		{"http without path", []any{good, good, map[string]any{"type": "key", "key": "k", "handler_type": "http", "http_handler_config": map[string]any{"method": "POST"}}}, `config: watches[2]: http_handler_config requires "path"`},
		{"bad timeout", []any{map[string]any{"type": "key", "key": "k", "handler_type": "http", "http_handler_config": map[string]any{"path": "http://127.0.0.1:1/", "timeout": "soon"}}}, `config: watches[0]: http_handler_config.timeout "soon"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := watchAgentConfig(t, writeConf(t, map[string]any{"watches": tc.watches}))
			r, err := agentrun.Start(cfg, hclog.NewNullLogger(), logstream.New(10))
			if err == nil {
				r.Shutdown()
				t.Fatalf("the agent started with a bad watch, want %q", tc.want)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, tc.want) || strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error %q, want one line starting %q", msg, tc.want)
			}
			// Nothing was started: the HTTP port is still free.
			addr := fmt.Sprintf("127.0.0.1:%d", cfg.Ports.HTTP)
			if c, err := (&http.Client{Timeout: time.Second}).Get("http://" + addr + "/v1/status/leader"); err == nil {
				c.Body.Close()
				t.Errorf("something answers on %s after a refused start", addr)
			}
		})
	}
	t.Run("no HTTP API", func(t *testing.T) {
		cfg := watchAgentConfig(t, writeConf(t, map[string]any{"watches": []any{good}}))
		cfg.Ports.HTTP = -1 // ports.http -1 (the test's -http-port flag would win over the file)
		r, err := agentrun.Start(cfg, hclog.NewNullLogger(), logstream.New(10))
		if err == nil {
			r.Shutdown()
			t.Fatal("the agent started watches without an HTTP API")
		}
		if !strings.Contains(err.Error(), "watches need the HTTP API") {
			t.Errorf("error %q", err)
		}
	})
}
