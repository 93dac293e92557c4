package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mattn/go-isatty"

	"consulx/agentrun"
	"consulx/api"
	"consulx/logstream"
	"consulx/node"
	"consulx/tui"
)

// agentFlags maps Consul's agent flags onto a FileConfig overlay, so flags
// merge over config files with the same code.
func agentFlags(fs *flag.FlagSet, fc *node.FileConfig, files, dirs *stringList, dev, headless *bool) func() {
	var (
		server, bootstrap, ui                                    bool
		expect, httpPort, dnsPort, lanPort, wanPort, srvPort     int
		httpsPort                                                int
		dc, dataDir, nodeName, bind, advertise, client, logLevel string
		encrypt                                                  string
		disableKeyringFile                                       bool
		retryInterval, retryIntervalWAN                          time.Duration
		retryMax, retryMaxWAN                                    int
		join, retryJoin, joinWAN, retryJoinWAN                   stringList
	)
	fs.BoolVar(dev, "dev", false, "Development mode: a single in-memory server on 127.0.0.1")
	fs.BoolVar(headless, "headless", false, "Log to stderr instead of opening the console")
	fs.BoolVar(&server, "server", false, "Run in server mode (Raft)")
	fs.BoolVar(&bootstrap, "bootstrap", false, "Bootstrap a single server (same as -bootstrap-expect 1)")
	fs.BoolVar(&ui, "ui", false, "Accepted for compatibility; consulx has a terminal console instead")
	fs.IntVar(&expect, "bootstrap-expect", 0, "Servers to wait for before bootstrapping Raft")
	fs.StringVar(&dc, "datacenter", "", "Datacenter of the agent (default dc1)")
	fs.StringVar(&dataDir, "data-dir", "", "Directory for Raft data, the node ID and gossip snapshots")
	fs.StringVar(&nodeName, "node", "", "Name of this node (default hostname)")
	fs.StringVar(&bind, "bind", "", "Address to bind gossip and server RPC to (default 0.0.0.0)")
	fs.StringVar(&advertise, "advertise", "", "Address to advertise to other agents")
	fs.StringVar(&client, "client", "", "Address for HTTP and DNS (default 127.0.0.1)")
	fs.StringVar(&logLevel, "log-level", "", "Log level: trace, debug, info, warn, err")
	fs.DurationVar(&retryInterval, "retry-interval", 0, "Time between -retry-join attempts (default 30s)")
	fs.DurationVar(&retryIntervalWAN, "retry-interval-wan", 0, "Time between -retry-join-wan attempts (default 30s)")
	fs.IntVar(&retryMax, "retry-max", 0, "Attempts of -retry-join before giving up (default 0: no limit)")
	fs.IntVar(&retryMaxWAN, "retry-max-wan", 0, "Attempts of -retry-join-wan before giving up (default 0: no limit)")
	fs.Var(&join, "join", "Address to join at start (repeatable)")
	fs.Var(&retryJoin, "retry-join", "Address to join, retrying until it succeeds (repeatable)")
	fs.Var(&joinWAN, "join-wan", "WAN address to join at start (repeatable, servers)")
	fs.Var(&retryJoinWAN, "retry-join-wan", "WAN address to join with retries (repeatable, servers)")
	fs.StringVar(&encrypt, "encrypt", "", "Gossip encryption `key`, base64 (consulx keygen makes one)")
	fs.BoolVar(&disableKeyringFile, "disable-keyring-file", false, "Keep the gossip keyring in memory only (no data_dir/serf/*.keyring)")
	fs.Var(files, "config-file", "Config file, .json or .hcl (repeatable)")
	fs.Var(dirs, "config-dir", "Directory of *.json and *.hcl config files, read in lexical order (repeatable)")
	fs.IntVar(&httpPort, "http-port", 0, "HTTP API port (default 8500)")
	fs.IntVar(&httpsPort, "https-port", 0, "HTTPS API port (default -1: off; needs a certificate, see tls)")
	fs.IntVar(&dnsPort, "dns-port", 0, "DNS port (default 8600)")
	fs.IntVar(&lanPort, "serf-lan-port", 0, "LAN gossip port (default 8301)")
	fs.IntVar(&wanPort, "serf-wan-port", 0, "WAN gossip port (default 8302)")
	fs.IntVar(&srvPort, "server-port", 0, "Server RPC and Raft port (default 8300)")
	// The returned func copies the flags the user actually set into fc.
	return func() {
		ports := &struct{ http, https, dns, lan, wan, srv *int }{}
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "server":
				fc.Server = &server
			case "bootstrap":
				if bootstrap {
					one := 1
					fc.BootstrapExpect = &one
				}
			case "bootstrap-expect":
				fc.BootstrapExpect = &expect
			case "datacenter":
				fc.Datacenter = &dc
			case "data-dir":
				fc.DataDir = &dataDir
			case "node":
				fc.NodeName = &nodeName
			case "bind":
				fc.BindAddr = &bind
			case "advertise":
				fc.AdvertiseAddr = &advertise
			case "client":
				fc.ClientAddr = &client
			case "log-level":
				fc.LogLevel = &logLevel
			case "encrypt":
				fc.Encrypt = &encrypt
			case "disable-keyring-file":
				fc.DisableKeyringFile = &disableKeyringFile
			case "http-port":
				ports.http = &httpPort
			case "https-port":
				ports.https = &httpsPort
			case "dns-port":
				ports.dns = &dnsPort
			case "serf-lan-port":
				ports.lan = &lanPort
			case "serf-wan-port":
				ports.wan = &wanPort
			case "server-port":
				ports.srv = &srvPort
			case "retry-max":
				fc.RetryMax = &retryMax
			case "retry-max-wan":
				fc.RetryMaxWAN = &retryMaxWAN
			}
		})
		fc.StartJoin = join
		fc.RetryJoin = retryJoin
		fc.RetryJoinWAN = append(joinWAN, retryJoinWAN...)
		if retryInterval > 0 {
			d := node.Duration(retryInterval)
			fc.RetryInterval = &d
		}
		if retryIntervalWAN > 0 {
			d := node.Duration(retryIntervalWAN)
			fc.RetryIntervalWAN = &d
		}
		fc.SetPorts(ports.http, ports.dns, ports.lan, ports.wan, ports.srv)
		fc.SetHTTPSPort(ports.https)
	}
}

// buildConfig resolves defaults < config files < flags.
func buildConfig(args []string, env *cliEnv) (cfg *node.Config, headless bool, code int, ok bool) {
	fs := newFlagSet("agent", env)
	var flagCfg node.FileConfig
	var files, dirs stringList
	var dev bool
	collect := agentFlags(fs, &flagCfg, &files, &dirs, &dev, &headless)
	if ok, code := parseFlags(fs, args); !ok {
		return nil, false, code, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.stderr, "agent: unexpected argument %q (flags start with -)\n", fs.Arg(0))
		return nil, false, 1, false
	}
	collect()
	sources, err := node.LoadConfigSources(files, dirs)
	if err != nil {
		fmt.Fprintln(env.stderr, err)
		return nil, false, 1, false
	}
	sources = append(sources, &flagCfg)
	cfg = node.DefaultConfig()
	cfg.Dev = dev
	leaveSet, skipSet := false, false
	for _, s := range sources {
		cfg.Merge(s)
		leaveSet = leaveSet || s.LeaveOnTerminate != nil
		skipSet = skipSet || s.SkipLeaveOnIntr != nil
	}
	if err := cfg.Finalize(leaveSet, skipSet); err != nil {
		fmt.Fprintln(env.stderr, err)
		return nil, false, 1, false
	}
	return cfg, headless, 0, true
}

// wantConsole: the console opens in the agent's own process when stdout
// is a terminal, -headless was not given and the agent is in the
// terminal's foreground process group (not started with `&`).
func wantConsole(headless bool, env *cliEnv) bool {
	f, ok := env.stdout.(*os.File)
	return !headless && ok && isatty.IsTerminal(f.Fd()) && inForegroundGroup(int(f.Fd()))
}

func runAgent(args []string, env *cliEnv) int {
	cfg, headless, code, ok := buildConfig(args, env)
	if !ok {
		return code
	}
	console := wantConsole(headless, env)
	if console {
		// Before anything starts: a console without the token asked for
		// would act as someone else.
		if _, err := api.EnvToken(); err != nil {
			fmt.Fprintf(env.stderr, "==> Error opening the console: %v (or use -headless)\n", err)
			return 1
		}
	}
	logs := logstream.New(2000)
	// With the console on screen, logs go to its log pane only.
	var logOut io.Writer = io.MultiWriter(env.stderr, logs)
	if console {
		logOut = logs
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Level:  hclog.LevelFromString(strings.ToLower(cfg.LogLevel)),
		Output: logOut,
	})
	if cfg.Dev {
		logger.Warn("dev mode: a single in-memory server; nothing is persisted")
	}
	// Consul keys that consulx accepts but does not honour yet (acl,
	// tls...): the operator must hear it before trusting the agent.
	for _, w := range cfg.Warnings {
		logger.Named("config").Warn(w.Text, "file", w.File)
	}
	r, err := agentrun.Start(cfg, logger, logs)
	if err != nil {
		fmt.Fprintf(env.stderr, "==> Error starting agent: %v\n", err)
		return 1
	}
	r.Agent.SetReloader(func() (*node.Config, error) {
		quiet := &cliEnv{stdin: env.stdin, stdout: io.Discard, stderr: io.Discard}
		cfg, _, _, ok := buildConfig(args, quiet)
		if !ok {
			// Re-run to capture the one-line reason.
			var b strings.Builder
			buildConfig(args, &cliEnv{stdin: env.stdin, stdout: io.Discard, stderr: &b})
			return nil, fmt.Errorf("%s", strings.TrimSpace(b.String()))
		}
		return cfg, nil
	})
	hupCh := make(chan os.Signal, 1)
	signal.Notify(hupCh, syscall.SIGHUP)
	defer signal.Stop(hupCh)
	go func() {
		for range hupCh {
			if err := r.Agent.Reload(); err != nil {
				logger.Error("reload failed; the previous configuration stays", "error", err)
			}
		}
	}()
	sigCh := make(chan os.Signal, 2)
	signal.Notify(sigCh, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigCh)
	consoleDone := make(chan error, 1)
	stopConsole := make(chan struct{})
	if console {
		if r.HTTPAddr == "" {
			fmt.Fprintln(env.stderr, "==> The console needs the HTTP API (ports.http is -1); use -headless")
			r.Shutdown()
			return 1
		}
		c, err := consoleClient("http://" + r.HTTPAddr)
		if err != nil {
			fmt.Fprintf(env.stderr, "==> Error opening the console: %v\n", err)
			r.Shutdown()
			return 1
		}
		go func() {
			consoleDone <- tui.Run(c, tui.Options{Embedded: true, Addr: r.HTTPAddr, Stop: stopConsole})
		}()
	}
	// releaseTerminal quits the console and waits (bounded) until it has
	// restored the terminal.
	releaseTerminal := func() {
		if console {
			close(stopConsole)
			select {
			case <-consoleDone:
			case <-time.After(2 * time.Second):
			}
		}
	}
	select {
	case <-r.Done():
		releaseTerminal()
		return 0
	case err := <-consoleDone:
		// The console asked before quitting: leave gracefully.
		if err != nil {
			fmt.Fprintf(env.stderr, "console: %v\n", err)
		}
		_ = r.Leave()
		return 0
	case sig := <-sigCh:
		releaseTerminal()
		leave := (sig == syscall.SIGTERM && cfg.LeaveOnTerminate) || (sig == os.Interrupt && !cfg.SkipLeaveOnInterrupt)
		logger.Info("caught signal", "signal", sig.String(), "graceful_leave", leave)
		done := make(chan struct{})
		go func() {
			if leave {
				_ = r.Leave()
			} else {
				r.Shutdown()
			}
			close(done)
		}()
		select {
		case <-done:
			return 0
		case <-sigCh:
			logger.Warn("second signal: exiting without a graceful leave")
			return 1
		}
	}
}
