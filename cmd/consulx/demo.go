package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"consulx/agentrun"
	"consulx/api"
	"consulx/logstream"
	"consulx/node"
	"consulx/tui"
)

// freePort asks the kernel for a port free for both TCP and UDP on
// 127.0.0.1 (gossip uses both).
func freePort() (int, error) {
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free port on 127.0.0.1")
}

// demoCluster is a small cluster running inside this process.
type demoCluster struct {
	agents []*agentrun.Running
	dir    string
}

func (d *demoCluster) stop() {
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
	d := &demoCluster{dir: dir}
	var firstSerf string
	for i := 0; i < servers+clients; i++ {
		var ports [5]int
		for j := range ports {
			if ports[j], err = freePort(); err != nil {
				d.stop()
				return nil, err
			}
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
			d.stop()
			return nil, err
		}
		logs := logstream.New(1000)
		logger := hclog.New(&hclog.LoggerOptions{Name: cfg.NodeName, Level: hclog.Info, Output: logs})
		r, err := agentrun.Start(cfg, logger, logs)
		if err != nil {
			d.stop()
			return nil, fmt.Errorf("start %s: %w", cfg.NodeName, err)
		}
		d.agents = append(d.agents, r)
		if firstSerf == "" {
			firstSerf = fmt.Sprintf("127.0.0.1:%d", cfg.Ports.SerfLAN)
		}
	}
	return d, nil
}

// runDemo starts a small cluster on 127.0.0.1 in this process and opens
// the console on it: a new user sees a real cluster within seconds.
func runDemo(args []string, env *cliEnv) int {
	fs := newFlagSet("demo", env)
	servers := fs.Int("servers", 3, "Server agents")
	clients := fs.Int("clients", 2, "Client agents")
	headless := fs.Bool("headless", false, "Print the agents' HTTP addresses and wait for a signal instead of opening the console")
	failAfter := fs.Duration("fail-after", 0, "Crash the last agent after this long (no leave), to watch failure detection")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if *servers < 1 || *clients < 0 || *servers+*clients > 50 {
		fmt.Fprintln(env.stderr, "demo: want at least 1 server and at most 50 agents")
		return 1
	}
	d, err := startDemo(*servers, *clients)
	if err != nil {
		fmt.Fprintf(env.stderr, "demo: %v\n", err)
		return 1
	}
	defer d.stop()
	addr := d.agents[0].HTTPAddr
	if *failAfter > 0 && len(d.agents) > 1 {
		victim := d.agents[len(d.agents)-1]
		time.AfterFunc(*failAfter, victim.Shutdown)
	}
	if *headless {
		for _, a := range d.agents {
			fmt.Fprintf(env.stdout, "%s http=%s\n", a.Agent.Config().NodeName, a.HTTPAddr)
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		return 0
	}
	if err := tui.Run(api.NewClient(addr), tui.Options{Addr: addr}); err != nil {
		fmt.Fprintf(env.stderr, "console: %v\n", err)
		return 1
	}
	return 0
}
