package agentrun_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"consulx/api"
	"consulx/internal/testcluster"
	"consulx/node"
	"consulx/replicate"
)

// replicationRules is the seed's replication policy.
const replicationRules = `acl = "write"
operator = "write"
service_prefix "" { policy = "read" }`

// secondaryOf starts a one-server datacenter dc whose ACLs come from dc1,
// and joins it to dc1 over the WAN.
func secondaryOf(t *testing.T, primary *testcluster.Agent, dc string, edit func(*node.Config)) *testcluster.Cluster {
	t.Helper()
	c := testcluster.StartClusterWith(t, dc, 1, 0, func(cfg *node.Config) {
		cfg.ACL.Enabled = true
		cfg.ACL.DefaultPolicy = "deny"
		cfg.PrimaryDatacenter = "dc1"
		if edit != nil {
			edit(cfg)
		}
	})
	if _, err := c.Servers[0].Running.Agent.Join([]string{primary.WANAddr()}, true); err != nil {
		t.Fatalf("join -wan: %v", err)
	}
	return c
}

// TestACLReplicationToSecondary is the seed's walk-through with the Go
// client: in the primary, the replication policy and its token; in the
// secondary (token replication on), set-agent-token replication; then
// policies and global tokens appear in the secondary's own state, a token
// created in the primary works there within seconds, its deletion too,
// local tokens stay local, and /v1/acl/replication reports it.
func TestACLReplicationToSecondary(t *testing.T) {
	dc1 := aclCluster(t, "dc1", nil)
	p := dc1.Servers[0]
	root := tokenClient(t, p, rootToken)
	pol, _, err := root.ACL().PolicyCreate(&consul.ACLPolicy{Name: "replication", Rules: replicationRules}, nil)
	if err != nil {
		t.Fatal(err)
	}
	repl, _, err := root.ACL().TokenCreate(&consul.ACLToken{Description: "replication token",
		Policies: []*consul.ACLTokenPolicyLink{{Name: "replication"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(repl.Policies) != 1 || repl.Policies[0].ID != pol.ID {
		t.Fatalf("token policies %+v", repl.Policies)
	}
	dc2 := secondaryOf(t, p, "dc2", func(c *node.Config) { c.ACL.EnableTokenReplication = true })
	s2 := dc2.Servers[0]
	root2 := tokenClient(t, s2, rootToken)
	// Before replication the secondary asks the primary about tokens, so
	// the operator can set the replication token with a primary token.
	testcluster.Eventually(t, 15*time.Second, func() error {
		_, err := root2.Agent().UpdateReplicationACLToken(repl.SecretID, nil)
		return err
	})
	testcluster.Eventually(t, 15*time.Second, func() error {
		st, _, err := root2.ACL().Replication(nil)
		if err != nil {
			return err
		}
		if !st.Enabled || !st.Running || st.SourceDatacenter != "dc1" || st.ReplicationType != "tokens" ||
			st.ReplicatedIndex == 0 || st.ReplicatedTokenIndex == 0 || st.LastSuccess.IsZero() {
			return fmt.Errorf("replication status %+v", st)
		}
		return nil
	})
	// A token created in the primary, read from the secondary's own
	// state (a plain read is answered by dc2's leader).
	kv, _, err := root.ACL().PolicyCreate(&consul.ACLPolicy{Name: "app", Rules: `key_prefix "app/" { policy = "write" }`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	app, _, err := root.ACL().TokenCreate(&consul.ACLToken{Description: "app", Policies: []*consul.ACLTokenPolicyLink{{ID: kv.ID}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		toks, _, err := root2.ACL().TokenList(nil)
		if err != nil {
			return err
		}
		for _, tk := range toks {
			if tk.AccessorID == app.AccessorID {
				return nil
			}
		}
		return fmt.Errorf("app token not in dc2 yet (%d tokens)", len(toks))
	})
	t.Logf("token usable from dc2's own state %v after its creation in dc1", time.Since(created).Round(time.Millisecond))
	appc := tokenClient(t, s2, app.SecretID)
	if _, err := appc.KV().Put(&consul.KVPair{Key: "app/x", Value: []byte("1")}, nil); err != nil {
		t.Fatalf("app token writing app/x in dc2: %v", err)
	}
	if _, err := appc.KV().Put(&consul.KVPair{Key: "other", Value: []byte("1")}, nil); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("app token writing other in dc2: %v, want 403", err)
	}
	// Policies replicated too, with the primary's IDs.
	if got, _, err := root2.ACL().PolicyReadByName("app", nil); err != nil || got.ID != kv.ID {
		t.Fatalf("app policy in dc2: %+v %v", got, err)
	}
	// A local token of dc2 stays there.
	local, _, err := root2.ACL().TokenCreate(&consul.ACLToken{Description: "dc2 only", Local: true}, nil)
	if err != nil {
		t.Fatalf("local token in dc2: %v", err)
	}
	if _, _, err := root.ACL().TokenRead(local.AccessorID, nil); err == nil {
		t.Fatal("dc2's local token is readable in dc1")
	}
	// KV replication (consulx replicate) with a token: reads dc1 through
	// dc2's agent and writes dc2 with the same token; without key read on
	// the source it fails and copies nothing.
	if _, err := root.KV().Put(&consul.KVPair{Key: "cfg/a", Value: []byte("1")}, nil); err != nil {
		t.Fatal(err)
	}
	rp, _, err := root.ACL().PolicyCreate(&consul.ACLPolicy{Name: "replicator", Rules: `key_prefix "cfg/" { policy = "write" }
key_prefix "service/consulx-replicate/" { policy = "write" }
session_prefix "" { policy = "write" }
agent_prefix "" { policy = "read" }`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rt, _, err := root.ACL().TokenCreate(&consul.ACLToken{Description: "replicator", Policies: []*consul.ACLTokenPolicyLink{{ID: rp.ID}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	runReplicate := func(token string) error {
		c := api.NewClient(s2.HTTPAddr())
		c.Token = token
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		p, _ := replicate.ParsePrefix("cfg@dc1")
		return replicate.New(c, replicate.Config{Prefixes: []replicate.Prefix{p}, Once: true, Retry: 100 * time.Millisecond}).Run(ctx)
	}
	if err := runReplicate(app.SecretID); err == nil {
		t.Fatal("replicate with a token that may not read cfg/ succeeded")
	}
	if kvp, _, _ := root2.KV().Get("cfg/a", nil); kvp != nil {
		t.Fatal("cfg/a copied by a token that may not read it")
	}
	testcluster.Eventually(t, 10*time.Second, func() error { return runReplicate(rt.SecretID) })
	if kvp, _, err := root2.KV().Get("cfg/a", nil); err != nil || kvp == nil || string(kvp.Value) != "1" {
		t.Fatalf("cfg/a in dc2 after replicate: %+v %v", kvp, err)
	}
	// A global token deleted in the primary stops working in dc2.
	if _, err := root.ACL().TokenDelete(app.AccessorID, nil); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		_, err := appc.KV().Put(&consul.KVPair{Key: "app/y", Value: []byte("1")}, nil)
		if err == nil {
			return errors.New("deleted token still writes in dc2")
		}
		if !strings.Contains(err.Error(), "403") {
			return err
		}
		return nil
	})
	// (app/y may have been written while the deletion travelled.)
	if _, err := appc.KV().Put(&consul.KVPair{Key: "app/z", Value: []byte("1")}, nil); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("deleted token writing app/z: %v, want 403", err)
	}
	if kvp, _, err := root2.KV().Get("app/z", nil); err != nil || kvp != nil {
		t.Fatalf("app/z in dc2: %+v %v", kvp, err)
	}
}

// TestACLDownPolicies: secondaries without token replication resolve
// tokens through the primary and cache them for token_ttl; with the
// primary gone, down_policy decides: extend-cache and async-cache keep
// the cached token working (an unknown token gets the default policy,
// deny), deny refuses everything, allow allows everything.
func TestACLDownPolicies(t *testing.T) {
	dc1 := aclCluster(t, "dc1", nil)
	p := dc1.Servers[0]
	root := tokenClient(t, p, rootToken)
	pol, _, err := root.ACL().PolicyCreate(&consul.ACLPolicy{Name: "app", Rules: `key_prefix "app/" { policy = "write" }`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	app, _, err := root.ACL().TokenCreate(&consul.ACLToken{Description: "app", Policies: []*consul.ACLTokenPolicyLink{{ID: pol.ID}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	policies := []string{"extend-cache", "async-cache", "deny", "allow"}
	secondaries := map[string]*testcluster.Agent{}
	for i, dp := range policies {
		dc := fmt.Sprintf("dc%d", i+2)
		c := secondaryOf(t, p, dc, func(c *node.Config) {
			c.ACL.DownPolicy = dp
			c.ACL.TokenTTL = 500 * time.Millisecond
		})
		secondaries[dp] = c.Servers[0]
	}
	put := func(a *testcluster.Agent, token, key string) error {
		_, err := tokenClient(t, a, token).KV().Put(&consul.KVPair{Key: key, Value: []byte("v")}, nil)
		return err
	}
	for dp, s := range secondaries {
		testcluster.Eventually(t, 20*time.Second, func() error {
			if err := put(s, app.SecretID, "app/up"); err != nil {
				return fmt.Errorf("%s: app token while dc1 is up: %v", dp, err)
			}
			return nil
		})
		if err := put(s, app.SecretID, "other"); err == nil || !strings.Contains(err.Error(), "403") {
			t.Fatalf("%s: app token on other: %v, want 403", dp, err)
		}
	}
	// A local token of a secondary without token replication resolves
	// there, from its own state (the primary has never heard of it).
	s2 := secondaries["extend-cache"]
	var local *consul.ACLToken
	testcluster.Eventually(t, 10*time.Second, func() error {
		var err error
		local, _, err = tokenClient(t, s2, rootToken).ACL().TokenCreate(&consul.ACLToken{Description: "dc2 local", Local: true}, nil)
		return err
	})
	if self, _, err := tokenClient(t, s2, local.SecretID).ACL().TokenReadSelf(nil); err != nil || self.AccessorID != local.AccessorID {
		t.Fatalf("local token reading itself in its datacenter: %+v %v", self, err)
	}
	p.Running.Shutdown()
	time.Sleep(time.Second) // past token_ttl: every cached entry is stale
	for _, dp := range policies {
		s := secondaries[dp]
		cached := put(s, app.SecretID, "app/down")
		unknown := put(s, "3f0b8d0e-0000-4000-8000-000000000000", "app/down")
		switch dp {
		case "extend-cache", "async-cache":
			if cached != nil {
				t.Errorf("%s: cached token with dc1 down: %v, want allowed", dp, cached)
			}
			if unknown == nil || !strings.Contains(unknown.Error(), "403") {
				t.Errorf("%s: unknown token with dc1 down: %v, want 403 (default deny)", dp, unknown)
			}
		case "deny":
			if cached == nil || unknown == nil {
				t.Errorf("deny: with dc1 down: cached %v, unknown %v, want both refused", cached, unknown)
			}
		case "allow":
			if cached != nil || unknown != nil {
				t.Errorf("allow: with dc1 down: cached %v, unknown %v, want both allowed", cached, unknown)
			}
		}
	}
}
