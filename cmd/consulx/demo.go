package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"consulx/agentrun"
	"consulx/api"
	"consulx/internal/freeport"
	"consulx/logstream"
	"consulx/node"
	"consulx/tui"
)

// demoCluster is a small cluster running inside this process.
type demoCluster struct {
	agents  []*agentrun.Running
	loggers []hclog.Logger
	servers int
	dir     string

	// seeded is closed when seeding has ended; seedErr says how.
	seeded  chan struct{}
	seedErr error
	cancel  context.CancelFunc // stops the seeding
}

func (d *demoCluster) stop() {
	if d.cancel != nil {
		d.cancel()
	}
	for _, a := range d.agents {
		a.Shutdown()
	}
	os.RemoveAll(d.dir)
}

func startDemo(servers, clients int) (*demoCluster, error) {
	dir, err := os.MkdirTemp("", "consulx-demo-")
	if err != nil {
		return nil, err
	}
	d := &demoCluster{dir: dir, servers: servers, seeded: make(chan struct{})}
	var firstSerf string
	for i := 0; i < servers+clients; i++ {
		// A port found free can be taken (by another program, or as the
		// source port of an outgoing connection) before the agent binds
		// it; pick new ports and try again rather than fail the demo.
		var r *agentrun.Running
		var logger hclog.Logger
		var cfg *node.Config
		for attempt := 1; ; attempt++ {
			cfg, err = demoAgentConfig(dir, i, servers, firstSerf)
			if err != nil {
				d.stop()
				return nil, err
			}
			logs := logstream.New(1000)
			logger = hclog.New(&hclog.LoggerOptions{Name: cfg.NodeName, Level: hclog.Info, Output: logs})
			r, err = agentrun.Start(cfg, logger, logs)
			if err == nil {
				break
			}
			if attempt == 5 || !strings.Contains(err.Error(), "address already in use") {
				d.stop()
				return nil, fmt.Errorf("start %s: %w", cfg.NodeName, err)
			}
			_ = os.RemoveAll(cfg.DataDir)
		}
		d.agents = append(d.agents, r)
		d.loggers = append(d.loggers, logger)
		if firstSerf == "" {
			firstSerf = fmt.Sprintf("127.0.0.1:%d", cfg.Ports.SerfLAN)
		}
	}
	return d, nil
}

// demoAgentConfig is the configuration of the demo's agent number i (the
// first `servers` are servers) on fresh free ports; agents after the first
// retry-join firstSerf.
func demoAgentConfig(dir string, i, servers int, firstSerf string) (*node.Config, error) {
	ports, err := freeport.Pick(5)
	if err != nil {
		return nil, err
	}
	cfg := node.DefaultConfig()
	isServer := i < servers
	if isServer {
		cfg.NodeName = fmt.Sprintf("server-%d", i+1)
		cfg.Server, cfg.BootstrapExpect = true, servers
	} else {
		cfg.NodeName = fmt.Sprintf("client-%d", i-servers+1)
	}
	cfg.BindAddr, cfg.ClientAddr = "127.0.0.1", "127.0.0.1"
	cfg.DataDir = filepath.Join(dir, cfg.NodeName)
	cfg.Ports = node.Ports{HTTP: ports[0], DNS: ports[1], SerfLAN: ports[2], SerfWAN: ports[3], Server: ports[4], HTTPS: -1, GRPC: -1, GRPCTLS: -1}
	cfg.Timing.FastGossip = true // a dead demo node turns red within a second
	if firstSerf != "" {
		cfg.RetryJoin = []string{firstSerf}
		cfg.RetryInterval = 200 * time.Millisecond
	}
	if err := cfg.Finalize(false, false); err != nil {
		return nil, err
	}
	return cfg, nil
}

// demoKV is the tree a demo starts with: a few apps' configuration (JSON,
// which the console pretty-prints), a feature-flag folder, a long one-line
// text (it wraps) and a binary value (shown as a hex dump).
var demoKV = []struct {
	key   string
	value []byte
}{
	{"app/api/config.json", []byte(`{"replicas":2,"port":9090,"db":{"host":"db.service.consul","port":5432,"pool":20},"timeout":"5s"}`)},
	{"app/billing/config.json", []byte(`{"currency":"EUR","retry":{"max":5,"backoff":"250ms"},"webhook":"https://billing.example.com/hooks/payments"}`)},
	{"app/web/config.json", []byte(`{"replicas":3,"port":8080,"log_level":"info","upstreams":["api","billing"]}`)},
	{"app/web/motd", []byte("Scheduled maintenance window on Saturday from 02:00 to 04:00 UTC: checkout may be slow while the payment provider migrates; the status page at https://status.example.com is updated every fifteen minutes.")},
	{"assets/logo.png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x20\x00\x00\x00\x20\x08\x06\x00\x00\x00\x73\x7a\x7a\xf4")},
	{"features/dark-mode", []byte("false")},
	{"features/new-checkout", []byte("true")},
	{"features/rate-limit-rps", []byte("250")},
}

// demoService is one service instance a demo registers, on agent index
// agent (modulo the cluster's size).
type demoService struct {
	agent int
	def   node.ServiceDefinition
}

// demoServices are the services a demo starts with, spread over the
// agents: web on both clients, api and redis on servers, and billing,
// whose health check fails (nothing listens on its port).
func (d *demoCluster) demoServices() ([]demoService, error) {
	free, err := freeport.Pick(1) // nothing listens here: the billing check fails
	if err != nil {
		return nil, err
	}
	dead := free[0]
	httpCheck := func(i int, path string) *node.CheckBody {
		a := d.agents[i%len(d.agents)]
		return &node.CheckBody{Name: "HTTP " + path, HTTP: "http://" + a.HTTPAddr + path, Interval: node.Duration(5 * time.Second), Timeout: node.Duration(2 * time.Second)}
	}
	client := func(n int) int { return d.servers + n } // the nth client (wraps to a server when there are few)
	svc := func(agent int, id, name string, port int, tags []string, check *node.CheckBody) demoService {
		return demoService{agent: agent, def: node.ServiceDefinition{ID: id, Name: name, Port: port, Tags: tags, Check: check}}
	}
	return []demoService{
		svc(client(0), "web-1", "web", 8080, []string{"v2", "primary"}, httpCheck(client(0), "/v1/status/leader")),
		svc(client(1), "web-2", "web", 8081, []string{"v2", "canary"}, httpCheck(client(1), "/v1/status/leader")),
		svc(1, "api-1", "api", 9090, []string{"v1", "grpc"}, httpCheck(1, "/v1/status/leader")),
		svc(2, "redis-1", "redis", 6379, []string{"cache", "primary"},
			&node.CheckBody{Name: "TCP " + d.agents[2%len(d.agents)].HTTPAddr, TCP: d.agents[2%len(d.agents)].HTTPAddr, Interval: node.Duration(5 * time.Second)}),
		svc(client(0), "billing-1", "billing", 7070, []string{"v1"},
			&node.CheckBody{Name: "HTTP /health", HTTP: fmt.Sprintf("http://127.0.0.1:%d/health", dead), Interval: node.Duration(5 * time.Second), Timeout: node.Duration(time.Second)}),
	}, nil
}

// seed fills a new demo cluster so that the console's first screens show
// what it can do. Services are registered on their agents at once (each
// agent syncs them to the catalog when a leader exists); the KV writes wait
// for the first leader. Keys are created only (check-and-set on index 0),
// so nothing an operator wrote meanwhile is overwritten.
func (d *demoCluster) seed(ctx context.Context) error {
	svcs, err := d.demoServices()
	if err != nil {
		return err
	}
	for _, s := range svcs {
		a := d.agents[s.agent%len(d.agents)]
		def := s.def
		if err := a.Agent.RegisterService(&def); err != nil {
			return fmt.Errorf("register %s on %s: %w", def.ID, a.Agent.Config().NodeName, err)
		}
	}
	c := api.NewClient("http://" + d.agents[0].HTTPAddr)
	for _, kv := range demoKV {
		for {
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := c.KVPut(wctx, &api.KVPair{Key: kv.key, Value: kv.value}, &api.WriteOptions{CAS: true})
			cancel()
			if err == nil {
				break // written, or it existed already
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("write %s: %w (no leader yet?)", kv.key, err)
			case <-time.After(200 * time.Millisecond): // no leader yet
			}
		}
	}
	return nil
}

// startSeeding seeds d in the background, logging the outcome to the
// first agent's log (the console's Log pane shows it).
func (d *demoCluster) startSeeding() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	d.cancel = cancel
	go func() {
		defer close(d.seeded)
		d.seedErr = d.seed(ctx)
		if d.seedErr != nil && !errors.Is(d.seedErr, context.Canceled) {
			d.loggers[0].Error("demo: seeding the cluster failed", "error", d.seedErr)
			return
		}
		d.loggers[0].Info("demo: seeded the KV store and the services", "keys", len(demoKV))
	}()
}

// demoFlags are consulx demo's flags.
type demoFlags struct {
	servers, clients int
	headless         bool
	failAfter        time.Duration
}

// parseDemoFlags parses consulx demo's arguments (ok false: exit with code).
func parseDemoFlags(args []string, env *cliEnv) (f demoFlags, ok bool, code int) {
	fs := newFlagSet("demo", env)
	fs.IntVar(&f.servers, "servers", 3, "Server agents")
	fs.IntVar(&f.clients, "clients", 2, "Client agents")
	fs.BoolVar(&f.headless, "headless", false, "Print the agents' HTTP addresses and wait for a signal instead of opening the console")
	fs.DurationVar(&f.failAfter, "fail-after", 0, "Crash the last agent after this long (no leave), to watch failure detection")
	if ok, code := parseFlags(fs, args); !ok {
		return f, false, code
	}
	if f.servers < 1 || f.clients < 0 || f.servers+f.clients > 50 {
		fmt.Fprintln(env.stderr, "demo: want at least 1 server and at most 50 agents")
		return f, false, 1
	}
	return f, true, 0
}

// launchDemo starts the cluster of f, seeds it in the background and arms
// -fail-after: everything consulx demo does before the console opens.
func launchDemo(f demoFlags) (*demoCluster, error) {
	d, err := startDemo(f.servers, f.clients)
	if err != nil {
		return nil, err
	}
	d.startSeeding()
	if f.failAfter > 0 && len(d.agents) > 1 {
		victim := d.agents[len(d.agents)-1]
		time.AfterFunc(f.failAfter, victim.Shutdown)
	}
	return d, nil
}

// console is what the demo's console runs against, and how: the first
// agent's HTTP API. Quitting it needs no confirmation: the cluster is a
// throwaway that lives only as long as the console.
func (d *demoCluster) console() (tui.Source, tui.Options) {
	addr := d.agents[0].HTTPAddr
	return api.NewClient("http://" + addr), tui.Options{Addr: addr}
}

// runDemo starts a small cluster on 127.0.0.1 in this process and opens
// the console on it: a new user sees a real cluster within seconds.
func runDemo(args []string, env *cliEnv) int {
	f, ok, code := parseDemoFlags(args, env)
	if !ok {
		return code
	}
	d, err := launchDemo(f)
	if err != nil {
		fmt.Fprintf(env.stderr, "demo: %v\n", err)
		return 1
	}
	defer d.stop()
	// Like an agent, a demo started with `&` (or with stdout not on a
	// terminal) runs headless instead of stopping on SIGTTOU.
	if f.headless || !wantConsole(false, env) {
		for _, a := range d.agents {
			fmt.Fprintf(env.stdout, "%s http=%s\n", a.Agent.Config().NodeName, a.HTTPAddr)
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		return 0
	}
	src, opts := d.console()
	if err := tui.Run(src, opts); err != nil {
		fmt.Fprintf(env.stderr, "console: %v\n", err)
		return 1
	}
	return 0
}
