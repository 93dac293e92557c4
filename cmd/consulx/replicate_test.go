package main

import (
	"context"
	"regexp"
	"testing"
	"time"

	"consulx/api"
	"consulx/internal/testcluster"
)

// TestReplicateOnce is the seed's consul-replicate run: a key written in
// one datacenter is missing in the other ("Error! No key exists") until
// `consulx replicate -once -prefix ts@dc1` copies it, logging
// consul-replicate's line.
func TestReplicateOnce(t *testing.T) {
	dc1 := testcluster.StartCluster(t, 1, 0)
	dc2 := testcluster.StartClusterIn(t, "dc2", 1, 0)
	if _, err := dc2.Servers[0].Running.Agent.Join([]string{dc1.Servers[0].WANAddr()}, true); err != nil {
		t.Fatal(err)
	}
	a1, a2 := dc1.Servers[0].HTTPAddr(), dc2.Servers[0].HTTPAddr()
	if out, _, code := runCLI(t, a1, "", "kv", "put", "ts/test/sex", "male"); code != 0 {
		t.Fatalf("kv put: %s", out)
	}
	if _, stderr, code := runCLI(t, a2, "", "kv", "get", "ts/test/sex"); code != 1 || stderr != "Error! No key exists at: ts/test/sex\n" {
		t.Fatalf("kv get in dc2 before replication: exit %d, %q", code, stderr)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		_, _, err := dc2.Servers[0].Client().KVList(context.Background(), "ts", &api.QueryOptions{Datacenter: "dc1"})
		return err
	})
	_, stderr, code := runCLI(t, a2, "", "replicate", "-once", "-prefix", "ts@dc1")
	if code != 0 || !regexp.MustCompile(`(?m)^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[INFO\] \(runner\) replicated 1 updates, 0 deletes$`).MatchString(stderr) {
		t.Fatalf("replicate -once: exit %d, stderr:\n%s", code, stderr)
	}
	if out, _, code := runCLI(t, a2, "", "kv", "get", "ts/test/sex"); code != 0 || out != "male\n" {
		t.Fatalf("kv get in dc2 after replication: exit %d, %q", code, out)
	}
	// Nothing changed: a second run copies nothing.
	if _, stderr, code := runCLI(t, a2, "", "replicate", "-once", "-prefix", "ts@dc1"); code != 0 || !regexp.MustCompile(`replicated 0 updates, 0 deletes`).MatchString(stderr) {
		t.Fatalf("second replicate -once: exit %d, stderr:\n%s", code, stderr)
	}
}
