package agentrun_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"consulx/internal/testcluster"
)

// TestCatalogMirrorsGossip: members appear as catalog nodes with a
// serfHealth check, servers carry the consul service, and a failed node's
// check turns critical so ?passing drops it.
func TestCatalogMirrorsGossip(t *testing.T) {
	c := testcluster.StartCluster(t, 3, 2)
	cl := official(t, c.Clients[0])
	testcluster.Eventually(t, 10*time.Second, func() error {
		nodes, _, err := cl.Catalog().Nodes(nil)
		if err != nil {
			return err
		}
		if len(nodes) != 5 {
			return fmt.Errorf("%d catalog nodes, want 5", len(nodes))
		}
		svcs, _, err := cl.Catalog().Service("consul", "", nil)
		if err != nil || len(svcs) != 3 {
			return fmt.Errorf("consul service has %d instances (%v), want 3", len(svcs), err)
		}
		for _, s := range svcs {
			if s.ServicePort != c.Servers[0].Config.Ports.Server && s.Node == "server-1" {
				return fmt.Errorf("server-1 consul port %d", s.ServicePort)
			}
		}
		return nil
	})
	checks, _, err := cl.Health().Node("client-2", nil)
	if err != nil || len(checks) != 1 || checks[0].CheckID != "serfHealth" || checks[0].Status != "passing" || checks[0].Output != "Agent alive and reachable" {
		t.Fatalf("client-2 checks = %+v, %v", checks, err)
	}
	// External services registered through the catalog API.
	for i, tags := range [][]string{{"primary", "v1"}, {"replica", "v1"}} {
		_, err := cl.Catalog().Register(&consul.CatalogRegistration{Node: fmt.Sprintf("db-%d", i), Address: fmt.Sprintf("10.0.0.%d", i+1),
			Service: &consul.AgentService{ID: "db", Service: "db", Tags: tags, Port: 5432},
			Check:   &consul.AgentCheck{CheckID: "db-alive", Name: "db alive", Status: "passing", ServiceID: "db"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	services, _, err := cl.Catalog().Services(nil)
	if err != nil || len(services["db"]) != 3 {
		t.Fatalf("services = %v, %v", services, err)
	}
	prim, _, err := cl.Catalog().Service("db", "primary", nil)
	if err != nil || len(prim) != 1 || prim[0].Node != "db-0" || prim[0].ServiceAddress != "" || prim[0].Address != "10.0.0.1" {
		t.Fatalf("tag filter: %+v %v", prim, err)
	}
	// A failing check removes an instance from ?passing.
	if _, err := cl.Catalog().Register(&consul.CatalogRegistration{Node: "db-1", Address: "10.0.0.2", SkipNodeUpdate: true,
		Check: &consul.AgentCheck{CheckID: "db-alive", Name: "db alive", Status: "critical", ServiceID: "db"}}, nil); err != nil {
		t.Fatal(err)
	}
	entries, _, err := cl.Health().Service("db", "", true, nil)
	if err != nil || len(entries) != 1 || entries[0].Node.Node != "db-0" {
		t.Fatalf("passing db instances = %+v, %v", entries, err)
	}
	// A crashed client turns critical and drops out of ?passing for consul-style health.
	c.Clients[1].Running.Shutdown()
	testcluster.Eventually(t, 10*time.Second, func() error {
		checks, _, err := cl.Health().State("critical", nil)
		if err != nil {
			return err
		}
		var names []string
		for _, ch := range checks {
			names = append(names, ch.Node+"/"+ch.CheckID)
		}
		sort.Strings(names)
		if fmt.Sprint(names) != "[client-2/serfHealth db-1/db-alive]" {
			return fmt.Errorf("critical checks = %v", names)
		}
		return nil
	})
	// Deregistering an external node removes its service.
	if _, err := cl.Catalog().Deregister(&consul.CatalogDeregistration{Node: "db-1"}, nil); err != nil {
		t.Fatal(err)
	}
	all, _, _ := cl.Catalog().Service("db", "", nil)
	if len(all) != 1 {
		t.Fatalf("db instances after deregister = %d", len(all))
	}
	if n, _, err := cl.Catalog().Node("nope", nil); err != nil || n != nil {
		t.Fatalf("unknown node = %+v, %v", n, err)
	}
}

// TestServiceIndexIsPerService: /v1/health/service/<a> reports the index
// of a's last change, so a change to another service leaves its
// X-Consul-Index (and its memoised answer) alone and does not wake a
// blocking query on it; a change to a itself does, at once.
func TestServiceIndexIsPerService(t *testing.T) {
	c := testcluster.StartCluster(t, 1, 0)
	cl := official(t, c.Servers[0])
	reg := func(node, service, status string) {
		t.Helper()
		if _, err := cl.Catalog().Register(&consul.CatalogRegistration{Node: node, Address: "10.5.0.1",
			Service: &consul.AgentService{ID: service, Service: service, Port: 80},
			Check:   &consul.AgentCheck{CheckID: "c-" + service, Name: "c", Status: status, ServiceID: service}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	reg("n-a", "alpha", "passing")
	reg("n-b", "beta", "passing")
	_, meta, err := cl.Health().Service("alpha", "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := meta.LastIndex
	reg("n-b", "beta", "critical")
	if _, meta, _ = cl.Health().Service("alpha", "", false, nil); meta.LastIndex != first {
		t.Fatalf("alpha's index moved from %d to %d with a change to beta", first, meta.LastIndex)
	}
	if _, meta, _ = cl.Health().Service("beta", "", false, nil); meta.LastIndex <= first {
		t.Fatalf("beta's index %d did not move past %d", meta.LastIndex, first)
	}
	// A blocking query on alpha sleeps through beta's changes and wakes
	// for alpha's.
	woke := make(chan uint64, 1)
	go func() {
		_, m, err := cl.Health().Service("alpha", "", false, &consul.QueryOptions{WaitIndex: first, WaitTime: testcluster.Scaled(10 * time.Second)})
		if err != nil {
			woke <- 0
			return
		}
		woke <- m.LastIndex
	}()
	time.Sleep(300 * time.Millisecond)
	reg("n-b", "beta", "passing")
	select {
	case idx := <-woke:
		t.Fatalf("the blocking query on alpha returned (index %d) for a change to beta", idx)
	case <-time.After(500 * time.Millisecond):
	}
	reg("n-a", "alpha", "warning")
	select {
	case idx := <-woke:
		if idx <= first {
			t.Fatalf("woke with index %d, not past %d", idx, first)
		}
	case <-time.After(testcluster.Scaled(5 * time.Second)):
		t.Fatal("the blocking query on alpha did not wake for alpha's change")
	}
}

// TestHealthAnswerFollowsEachInstance: /v1/health/service reuses each
// instance's encoding while it is unchanged; a change to one instance's
// check output, to its node's address, or a new instance shows in the
// very next answer, and the others stay as they were.
func TestHealthAnswerFollowsEachInstance(t *testing.T) {
	c := testcluster.StartCluster(t, 1, 0)
	cl := official(t, c.Servers[0])
	reg := func(node, addr, output string) {
		t.Helper()
		if _, err := cl.Catalog().Register(&consul.CatalogRegistration{Node: node, Address: addr,
			Service: &consul.AgentService{ID: "api", Service: "api", Port: 80},
			Check:   &consul.AgentCheck{CheckID: "up", Name: "up", Status: "passing", Output: output, ServiceID: "api"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	state := func() string {
		t.Helper()
		entries, _, err := cl.Health().Service("api", "", true, nil)
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, e := range entries {
			out := ""
			for _, ch := range e.Checks {
				if ch.CheckID == "up" {
					out = ch.Output
				}
			}
			parts = append(parts, fmt.Sprintf("%s=%s/%s", e.Node.Node, e.Node.Address, out))
		}
		sort.Strings(parts)
		return fmt.Sprint(parts)
	}
	for i := 1; i <= 3; i++ {
		reg(fmt.Sprintf("api-%d", i), fmt.Sprintf("10.6.0.%d", i), "ok")
	}
	for _, step := range []struct {
		do   func()
		want string
	}{
		{func() {}, "[api-1=10.6.0.1/ok api-2=10.6.0.2/ok api-3=10.6.0.3/ok]"},
		{func() { reg("api-2", "10.6.0.2", "slow") }, "[api-1=10.6.0.1/ok api-2=10.6.0.2/slow api-3=10.6.0.3/ok]"},
		{func() { reg("api-3", "10.6.0.33", "ok") }, "[api-1=10.6.0.1/ok api-2=10.6.0.2/slow api-3=10.6.0.33/ok]"},
		{func() { reg("api-4", "10.6.0.4", "new") }, "[api-1=10.6.0.1/ok api-2=10.6.0.2/slow api-3=10.6.0.33/ok api-4=10.6.0.4/new]"},
	} {
		step.do()
		for range 2 { // the second read is answered from the caches
			if got := state(); got != step.want {
				t.Fatalf("got %s, want %s", got, step.want)
			}
		}
	}
}
