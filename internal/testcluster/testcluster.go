package testcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"consulx/agentrun"
	"consulx/api"
	"consulx/internal/freeport"
	"consulx/logstream"
	"consulx/node"
)

// FreePorts returns n ports free for both TCP and UDP on 127.0.0.1
// (gossip needs both on the same number), from below the ephemeral range
// (see package freeport).
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	ports, err := freeport.Pick(n)
	if err != nil {
		t.Fatal(err)
	}
	return ports
}

// Agent is one running test agent.
type Agent struct {
	Name    string
	Config  *node.Config
	Running *agentrun.Running
	LogPath string
	// Logs receives the agent's log lines (as /v1/agent/monitor serves them).
	Logs *logstream.Broadcaster
	t    testing.TB

	clientMu   sync.Mutex
	client     *api.Client
	clientAddr string
}

// HTTPAddr is the agent's HTTP API address.
func (a *Agent) HTTPAddr() string { return a.Running.HTTPAddr }

// Client is a consulx API client for the agent, reused across calls so
// polling does not pile up idle connections.
func (a *Agent) Client() *api.Client {
	a.clientMu.Lock()
	defer a.clientMu.Unlock()
	if a.client == nil || a.clientAddr != a.HTTPAddr() {
		a.client, a.clientAddr = api.NewClient("http://"+a.HTTPAddr()), a.HTTPAddr()
	}
	return a.client
}

// WANAddr is the agent's WAN gossip address (servers).
func (a *Agent) WANAddr() string { return fmt.Sprintf("127.0.0.1:%d", a.Config.Ports.SerfWAN) }

// SerfAddr is the LAN gossip address others join.
func (a *Agent) SerfAddr() string { return fmt.Sprintf("127.0.0.1:%d", a.Config.Ports.SerfLAN) }

// Stopped reports whether the agent has been shut down.
func (a *Agent) Stopped() bool {
	select {
	case <-a.Running.Done():
		return true
	default:
		return false
	}
}

// Config returns a configuration for a test agent named name with its own
// ports and data dir under the test's temp dir.
func Config(t testing.TB, name string, server bool, expect int) *node.Config {
	p := FreePorts(t, 5)
	cfg := node.DefaultConfig()
	cfg.NodeName = name
	cfg.Server = server
	cfg.BootstrapExpect = expect
	cfg.BindAddr = "127.0.0.1"
	cfg.ClientAddr = "127.0.0.1"
	cfg.DataDir = filepath.Join(t.TempDir(), name)
	cfg.Ports = node.Ports{HTTP: p[0], DNS: p[1], SerfLAN: p[2], SerfWAN: p[3], Server: p[4], HTTPS: -1, GRPC: -1, GRPCTLS: -1}
	cfg.RetryInterval = 200 * time.Millisecond
	cfg.Timing.FastGossip = true
	// Every test agent is on loopback: remote exec is on, as for -dev.
	cfg.DisableRemoteExec = false
	if err := cfg.Finalize(false, false); err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// Start starts an agent from cfg; it is shut down when the test ends.
func Start(t testing.TB, cfg *node.Config) *Agent {
	t.Helper()
	a := &Agent{Name: cfg.NodeName, Config: cfg, t: t}
	a.start()
	t.Cleanup(func() {
		a.Running.Shutdown()
		if t.Failed() {
			dumpLog(t, a)
		}
	})
	return a
}

func (a *Agent) start() {
	a.t.Helper()
	if err := os.MkdirAll(filepath.Dir(a.Config.DataDir), 0o700); err != nil {
		a.t.Fatal(err)
	}
	a.LogPath = a.Config.DataDir + ".log"
	f, err := os.OpenFile(a.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		a.t.Fatal(err)
	}
	a.t.Cleanup(func() { f.Close() })
	a.Logs = logstream.New(200)
	logger := hclog.New(&hclog.LoggerOptions{Name: a.Name, Level: hclog.Debug, Output: io.MultiWriter(f, a.Logs)})
	r, err := agentrun.Start(a.Config, logger, a.Logs)
	if err != nil {
		a.t.Fatalf("start agent %s: %v", a.Name, err)
	}
	a.Running = r
}

// Restart starts a stopped agent again with the same config and data dir.
func (a *Agent) Restart() {
	a.t.Helper()
	if !a.Stopped() {
		a.Running.Shutdown()
	}
	a.start()
}

func dumpLog(t testing.TB, a *Agent) {
	b, err := os.ReadFile(a.LogPath)
	if err != nil {
		return
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	t.Logf("last log lines of %s:\n%s", a.Name, strings.Join(lines, "\n"))
}

// Cluster is a set of agents joined into one LAN pool.
type Cluster struct {
	t       testing.TB
	Servers []*Agent
	Clients []*Agent
}

// StartCluster starts servers (bootstrap_expect = servers) and clients,
// joins them and waits for a leader that every server agrees on.
func StartCluster(t testing.TB, servers, clients int) *Cluster {
	t.Helper()
	return StartClusterIn(t, "dc1", servers, clients)
}

// StartClusterIn is StartCluster for datacenter dc; outside dc1 the
// agents are named after it (dc2-server-1, dc2-client-1).
func StartClusterIn(t testing.TB, dc string, servers, clients int) *Cluster {
	t.Helper()
	return StartClusterWith(t, dc, servers, clients, nil)
}

// StartClusterWith is StartClusterIn with every agent's config passed
// through edit first (ACLs, TLS...; nil: none). Finalize runs again after.
func StartClusterWith(t testing.TB, dc string, servers, clients int, edit func(*node.Config)) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	prefix := ""
	if dc != "dc1" {
		prefix = dc + "-"
	}
	config := func(name string, server bool, expect int) *node.Config {
		cfg := Config(t, prefix+name, server, expect)
		cfg.Datacenter = dc
		if edit != nil {
			edit(cfg)
		}
		if err := cfg.Finalize(false, false); err != nil {
			t.Fatalf("config: %v", err)
		}
		return cfg
	}
	for i := 0; i < servers; i++ {
		c.Servers = append(c.Servers, Start(t, config(fmt.Sprintf("server-%d", i+1), true, servers)))
	}
	for i := 0; i < clients; i++ {
		c.Clients = append(c.Clients, Start(t, config(fmt.Sprintf("client-%d", i+1), false, 0)))
	}
	first := c.Servers[0]
	for _, a := range c.All()[1:] {
		if _, err := a.Running.Agent.Join([]string{first.SerfAddr()}, false); err != nil {
			t.Fatalf("join %s: %v", a.Name, err)
		}
	}
	c.WaitLeader(15 * time.Second)
	return c
}

// Of wraps already started agents as a cluster (for WaitLeader and friends).
func Of(t testing.TB, servers, clients []*Agent) *Cluster {
	return &Cluster{t: t, Servers: servers, Clients: clients}
}

// All returns servers then clients.
func (c *Cluster) All() []*Agent { return append(append([]*Agent{}, c.Servers...), c.Clients...) }

// Leader waits until the running servers agree on one leader and returns it.
func (c *Cluster) WaitLeader(timeout time.Duration) *Agent {
	c.t.Helper()
	var leader *Agent
	Eventually(c.t, timeout, func() error {
		leader = nil
		var addr string
		for _, s := range c.Servers {
			if s.Stopped() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			l, err := s.Client().Leader(ctx)
			cancel()
			if err != nil {
				return err
			}
			if l == "" {
				return fmt.Errorf("%s knows no leader", s.Name)
			}
			if addr != "" && l != addr {
				return fmt.Errorf("servers disagree on the leader: %s vs %s", addr, l)
			}
			addr = l
		}
		for _, s := range c.Servers {
			if !s.Stopped() && fmt.Sprintf("127.0.0.1:%d", s.Config.Ports.Server) == addr {
				leader = s
			}
		}
		if leader == nil {
			return fmt.Errorf("leader %s is not a running server", addr)
		}
		return nil
	})
	return leader
}

// WaitScaleEnv names the one knob that stretches every wait in the tests:
// a float multiplier (default 3) applied by Scaled and Eventually, so a
// loaded 2-core machine gets generous bounds without touching each test.
// Waits return as soon as their condition holds, so a big scale costs
// nothing when the machine is fast.
const WaitScaleEnv = "CONSULX_TEST_WAIT_SCALE"

// WaitScale is the multiplier read from CONSULX_TEST_WAIT_SCALE (default 3).
func WaitScale() float64 {
	if v := os.Getenv(WaitScaleEnv); v != "" {
		var f float64
		if _, err := fmt.Sscanf(v, "%g", &f); err == nil && f > 0 {
			return f
		}
	}
	return 3
}

// Scaled stretches a test wait by WaitScale; use it for every bound a test
// waits on (deadlines, context timeouts), never for what a test asserts
// about the system's own timing.
func Scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * WaitScale())
}

// Eventually retries fn every 25 ms until it returns nil or timeout
// (stretched by WaitScale) passes.
func Eventually(t testing.TB, timeout time.Duration, fn func() error) {
	t.Helper()
	timeout = Scaled(timeout)
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = fn(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("condition not met within %s: %v", timeout, err)
}

// ErrNotYet is a convenience for Eventually conditions.
var ErrNotYet = errors.New("not yet")
