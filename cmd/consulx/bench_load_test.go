package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"consulx/api"
	"consulx/internal/testcluster"
)

// TestBenchLoadThenSeededReads: `bench load` fills keys in two steps
// (-from continues where the last load stopped), `bench kv-get -seeded`
// reads them back without writing, and `bench snapshot -keys 0` saves
// and restores what is there.
func TestBenchLoadThenSeededReads(t *testing.T) {
	c := testcluster.StartCluster(t, 1, 0)
	addr := c.Servers[0].HTTPAddr()
	for _, args := range [][]string{
		{"bench", "load", "-http-addr", addr, "-prefix", "curve/", "-keys", "100", "-size", "10"},
		{"bench", "load", "-http-addr", addr, "-prefix", "curve/", "-from", "100", "-keys", "300", "-size", "10"},
	} {
		out, stderr, code := runCLI(t, "", "", args...)
		if code != 0 || !strings.HasPrefix(out, "loaded keys ") {
			t.Fatalf("%v: exit %d %q %q", args, code, out, stderr)
		}
	}
	cl := api.NewClient(addr)
	keys, _, err := cl.KVKeys(context.Background(), "curve/", "", nil)
	if err != nil || len(keys) != 300 {
		t.Fatalf("%d keys loaded (%v), want 300", len(keys), err)
	}
	before, _, _ := cl.KVGet(context.Background(), "curve/299", nil)
	out, stderr, code := runCLI(t, "", "", "bench", "kv-get", "-seeded", "-http-addr", addr, "-prefix", "curve/", "-keys", "300", "-total", "500")
	if code != 0 || !regexp.MustCompile(`kv-get: 500 ops, 0 errors`).MatchString(out) {
		t.Fatalf("kv-get -seeded: exit %d %q %q", code, out, stderr)
	}
	after, _, _ := cl.KVGet(context.Background(), "curve/299", nil)
	if before == nil || after == nil || after.ModifyIndex != before.ModifyIndex {
		t.Fatalf("kv-get -seeded wrote the keys: %+v then %+v", before, after)
	}
	out, stderr, code = runCLI(t, "", "", "bench", "snapshot", "-http-addr", addr, "-keys", "0")
	if code != 0 || strings.Contains(out, "loaded") || !strings.Contains(out, "snapshot restore: ") {
		t.Fatalf("snapshot -keys 0: exit %d %q %q", code, out, stderr)
	}
	if _, stderr, code := runCLI(t, "", "", "bench", "load", "-from", "5", "-keys", "3"); code != 1 || !strings.Contains(stderr, "-from <= -keys") {
		t.Fatalf("bench load -from past -keys: exit %d %q", code, stderr)
	}
}
