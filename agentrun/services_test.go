package agentrun_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"consulx/internal/testcluster"
)

func passingNodes(t *testing.T, c *consul.Client, service string) ([]string, error) {
	entries, _, err := c.Health().Service(service, "", true, nil)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Node.Node)
	}
	return out, nil
}

func eventuallyPassing(t *testing.T, c *consul.Client, service, want string) {
	t.Helper()
	testcluster.Eventually(t, 10*time.Second, func() error {
		got, err := passingNodes(t, c, service)
		if err != nil {
			return err
		}
		if fmt.Sprint(got) != want {
			return fmt.Errorf("passing %s instances = %v, want %s", service, got, want)
		}
		return nil
	})
}

// TestAgentServicesChecksAndMaintenance: a client registers a service with
// a TTL check through the agent API; anti-entropy carries it into the
// catalog; TTL pass/expiry, node and service maintenance and deregistration
// show up in ?passing.
func TestAgentServicesChecksAndMaintenance(t *testing.T) {
	c := testcluster.StartCluster(t, 1, 1)
	agentC := official(t, c.Clients[0])
	srv := official(t, c.Servers[0])
	err := agentC.Agent().ServiceRegister(&consul.AgentServiceRegistration{ID: "web-1", Name: "web", Tags: []string{"rails"}, Port: 8080,
		Check: &consul.AgentServiceCheck{CheckID: "web-ttl", TTL: "2s"}})
	if err != nil {
		t.Fatal(err)
	}
	// New checks start critical: registered, but not passing.
	testcluster.Eventually(t, 10*time.Second, func() error {
		svcs, _, err := srv.Catalog().Service("web", "rails", nil)
		if err != nil || len(svcs) != 1 || svcs[0].Node != "client-1" || svcs[0].ServicePort != 8080 {
			return fmt.Errorf("catalog web = %+v, %v", svcs, err)
		}
		return nil
	})
	eventuallyPassing(t, srv, "web", "[]")
	if err := agentC.Agent().PassTTL("web-ttl", "all good"); err != nil {
		t.Fatal(err)
	}
	eventuallyPassing(t, srv, "web", "[client-1]")
	checks, _, _ := srv.Health().Checks("web", nil)
	if len(checks) != 1 || checks[0].Output != "all good" {
		t.Fatalf("web checks = %+v", checks)
	}
	// The TTL lapses without a pass: critical again.
	eventuallyPassing(t, srv, "web", "[]")
	if err := agentC.Agent().UpdateTTL("web-ttl", "", "pass"); err != nil {
		t.Fatal(err)
	}
	// Keep it alive while maintenance is exercised.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
				_ = agentC.Agent().PassTTL("web-ttl", "")
			}
		}
	}()
	eventuallyPassing(t, srv, "web", "[client-1]")
	if err := agentC.Agent().EnableNodeMaintenance("kernel upgrade"); err != nil {
		t.Fatal(err)
	}
	eventuallyPassing(t, srv, "web", "[]")
	ac, _ := agentC.Agent().Checks()
	if mc := ac["_node_maintenance"]; mc == nil || mc.Notes != "kernel upgrade" || mc.Status != "critical" || mc.Name != "Node Maintenance Mode" {
		t.Fatalf("maintenance check = %+v", ac["_node_maintenance"])
	}
	if err := agentC.Agent().DisableNodeMaintenance(); err != nil {
		t.Fatal(err)
	}
	eventuallyPassing(t, srv, "web", "[client-1]")
	if err := agentC.Agent().EnableServiceMaintenance("web-1", ""); err != nil {
		t.Fatal(err)
	}
	eventuallyPassing(t, srv, "web", "[]")
	ac, _ = agentC.Agent().Checks()
	if mc := ac["_service_maintenance:web-1"]; mc == nil || !strings.Contains(mc.Notes, "no reason was provided") || mc.ServiceID != "web-1" {
		t.Fatalf("service maintenance check = %+v", mc)
	}
	if err := agentC.Agent().DisableServiceMaintenance("web-1"); err != nil {
		t.Fatal(err)
	}
	eventuallyPassing(t, srv, "web", "[client-1]")
	if err := agentC.Agent().EnableServiceMaintenance("nope", ""); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("maintenance of an unknown service: %v", err)
	}
	if err := agentC.Agent().ServiceDeregister("web-1"); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		svcs, _, err := srv.Catalog().Service("web", "", nil)
		if err != nil || len(svcs) != 0 {
			return fmt.Errorf("web still in the catalog: %+v %v", svcs, err)
		}
		return nil
	})
}

func TestHTTPAndTCPChecksAndScriptsOff(t *testing.T) {
	c := testcluster.StartCluster(t, 1, 0)
	a := official(t, c.Servers[0])
	var healthy atomic.Bool
	healthy.Store(true)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
		fmt.Fprint(w, "hello")
	}))
	defer hs.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	if err := a.Agent().ServiceRegister(&consul.AgentServiceRegistration{Name: "api", Port: 1,
		Check: &consul.AgentServiceCheck{HTTP: hs.URL, Interval: "200ms"}}); err != nil {
		t.Fatal(err)
	}
	if err := a.Agent().ServiceRegister(&consul.AgentServiceRegistration{Name: "db", Port: 2,
		Check: &consul.AgentServiceCheck{TCP: ln.Addr().String(), Interval: "200ms"}}); err != nil {
		t.Fatal(err)
	}
	eventuallyPassing(t, a, "api", "[server-1]")
	eventuallyPassing(t, a, "db", "[server-1]")
	healthy.Store(false)
	ln.Close()
	eventuallyPassing(t, a, "api", "[]")
	eventuallyPassing(t, a, "db", "[]")
	checks, _ := a.Agent().Checks()
	if ch := checks["service:api"]; ch == nil || !strings.Contains(ch.Output, "500") {
		t.Fatalf("http check output = %+v", ch)
	}
	err = a.Agent().CheckRegister(&consul.AgentCheckRegistration{Name: "script", AgentServiceCheck: consul.AgentServiceCheck{Args: []string{"true"}, Interval: "1s"}})
	if err == nil || !strings.Contains(err.Error(), "enable_script_checks") {
		t.Fatalf("script check without enable_script_checks: %v", err)
	}
}

func TestMaintenanceSurvivesRestart(t *testing.T) {
	c := testcluster.StartCluster(t, 1, 1)
	cl := c.Clients[0]
	if err := official(t, cl).Agent().EnableNodeMaintenance("baking an image"); err != nil {
		t.Fatal(err)
	}
	cl.Running.Shutdown()
	cl.Restart()
	checks, err := official(t, cl).Agent().Checks()
	if err != nil {
		t.Fatal(err)
	}
	if mc := checks["_node_maintenance"]; mc == nil || mc.Notes != "baking an image" {
		t.Fatalf("maintenance after restart = %+v", mc)
	}
}

// TestMaintenanceOfAnotherNode: an operator on one agent puts another node
// in maintenance (consulx maint -node), reached over gossip.
func TestMaintenanceOfAnotherNode(t *testing.T) {
	c := testcluster.StartCluster(t, 1, 1)
	srvClient := c.Servers[0].Client()
	if err := srvClient.NodeMaintenanceOn(boundedCtx(t), "client-1", true, "remote reason"); err != nil {
		t.Fatal(err)
	}
	checks, err := official(t, c.Clients[0]).Agent().Checks()
	if err != nil {
		t.Fatal(err)
	}
	if mc := checks["_node_maintenance"]; mc == nil || mc.Notes != "remote reason" {
		t.Fatalf("client-1 checks after remote maintenance: %+v", checks)
	}
	if err := srvClient.NodeMaintenanceOn(boundedCtx(t), "client-1", false, ""); err != nil {
		t.Fatal(err)
	}
	checks, _ = official(t, c.Clients[0]).Agent().Checks()
	if checks["_node_maintenance"] != nil {
		t.Fatal("remote disable did not remove the maintenance check")
	}
	if err := srvClient.ServiceMaintenanceOn(boundedCtx(t), "client-1", "nope", true, ""); err == nil || !strings.Contains(err.Error(), "No service registered") {
		t.Fatalf("remote maintenance of an unknown service: %v", err)
	}
	if err := srvClient.NodeMaintenanceOn(boundedCtx(t), "ghost", true, ""); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("maintenance of an unknown node: %v", err)
	}
}

func TestScriptChecksAndCriticalReaping(t *testing.T) {
	cfg := testcluster.Config(t, "scripts", true, 1)
	cfg.EnableScriptChecks = true
	a := testcluster.Start(t, cfg)
	testcluster.Of(t, []*testcluster.Agent{a}, nil).WaitLeader(10 * time.Second)
	cl := official(t, a)
	code := t.TempDir() + "/code"
	setCode := func(c string) {
		if err := os.WriteFile(code, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	setCode("1")
	if err := cl.Agent().ServiceRegister(&consul.AgentServiceRegistration{Name: "job", Port: 1,
		Check: &consul.AgentServiceCheck{Args: []string{"sh", "-c", "echo out; exit $(cat " + code + ")"}, Interval: "200ms"}}); err != nil {
		t.Fatal(err)
	}
	status := func() string {
		checks, _ := cl.Agent().Checks()
		if c := checks["service:job"]; c != nil {
			return c.Status + ":" + strings.TrimSpace(c.Output)
		}
		return "missing"
	}
	for _, step := range []struct{ code, want string }{{"1", "warning:out"}, {"0", "passing:out"}, {"2", "critical:out"}} {
		setCode(step.code)
		testcluster.Eventually(t, 5*time.Second, func() error {
			if got := status(); got != step.want {
				return fmt.Errorf("script exit %s: check = %s, want %s", step.code, got, step.want)
			}
			return nil
		})
	}
	// A service whose check stays critical past DeregisterCriticalServiceAfter goes away.
	if err := cl.Agent().ServiceRegister(&consul.AgentServiceRegistration{Name: "flaky", Port: 2,
		Check: &consul.AgentServiceCheck{TTL: "10s", DeregisterCriticalServiceAfter: "1s"}}); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		svcs, _ := cl.Agent().Services()
		if _, ok := svcs["flaky"]; ok {
			return fmt.Errorf("flaky still registered")
		}
		return nil
	})
}
