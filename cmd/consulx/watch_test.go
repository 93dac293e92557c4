package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"consulx/api"
	"consulx/internal/testcluster"
)

// TestWatchFiresOncePerRealChange: with no handler, watch prints the data
// once; with one, it runs at once and then once per change of the data —
// not for a write that leaves the data as it was, not for another key —
// with the JSON on stdin and CONSUL_INDEX set; a failing handler ends it.
func TestWatchFiresOncePerRealChange(t *testing.T) {
	c := testcluster.StartCluster(t, 1, 0)
	addr := c.Servers[0].HTTPAddr()
	client := c.Servers[0].Client()
	put := func(k, v string) {
		t.Helper()
		if ok, err := client.KVPut(t.Context(), &api.KVPair{Key: k, Value: []byte(v)}, nil); !ok || err != nil {
			t.Fatalf("put %s: %v %v", k, ok, err)
		}
	}
	if out, _, code := runCLI(t, addr, "", "watch", "-type", "key", "-key", "app/x"); code != 0 || out != "null\n" {
		t.Fatalf("watch of a missing key without a handler: %d %q", code, out)
	}
	if _, stderr, code := runCLI(t, addr, "", "watch", "-type", "bogus"); code != 1 || !strings.Contains(stderr, "Unsupported watch type") {
		t.Fatalf("bad type: %d %q", code, stderr)
	}

	dir := t.TempDir()
	log := filepath.Join(dir, "fired")
	// The handler records each run's value and index; "stop" fails it,
	// which ends the watch.
	handler := `v=$(cat); printf '%s %s\n' "$CONSUL_INDEX" "$v" >> ` + log + `; case "$v" in *` +
		base64.StdEncoding.EncodeToString([]byte("stop")) + `*) exit 3;; esac`
	type result struct {
		stderr string
		code   int
	}
	done := make(chan result, 1)
	go func() {
		_, stderr, code := runCLI(t, addr, "", "watch", "-type", "key", "-key", "app/x", handler)
		done <- result{stderr, code}
	}()
	lines := func() []string {
		b, _ := os.ReadFile(log)
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	waitLines := func(n int) {
		t.Helper()
		testcluster.Eventually(t, 10*time.Second, func() error {
			if got := lines(); len(got) < n || got[0] == "" {
				return os.ErrNotExist
			}
			return nil
		})
	}
	waitLines(1) // fired at once, with the current (missing) key
	put("app/x", "v1")
	waitLines(2)
	put("app/x", "v1")    // the same value: a new index, no change
	put("app/other", "z") // another key
	put("app/x", "v2")
	waitLines(3)
	put("app/x", "stop")
	select {
	case r := <-done:
		if r.code != 1 || !strings.Contains(r.stderr, "Error executing handler: exit status 3") {
			t.Fatalf("watch ended with %d %q, want 1 and the handler's failure", r.code, r.stderr)
		}
	case <-time.After(testcluster.Scaled(10 * time.Second)):
		t.Fatal("the watch did not end when its handler failed")
	}
	got := lines()
	want := []string{"null", "v1", "v2", "stop"}
	if len(got) != len(want) {
		t.Fatalf("handler runs:\n%s\nwant one per value %v", strings.Join(got, "\n"), want)
	}
	for i, w := range want {
		idx, data, _ := strings.Cut(got[i], " ")
		if idx == "" || idx == "0" {
			t.Errorf("run %d: CONSUL_INDEX %q", i, idx)
		}
		if w == "null" {
			if data != "null" {
				t.Errorf("run %d: stdin %q, want null", i, data)
			}
			continue
		}
		if !strings.Contains(data, base64.StdEncoding.EncodeToString([]byte(w))) {
			t.Errorf("run %d: stdin %q, want the entry with value %q", i, data, w)
		}
	}
}
