package agentrun

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"consulx/api"
	"consulx/dns"
	"consulx/httpapi"
	"consulx/logstream"
	"consulx/node"
	"consulx/replicate"
	"consulx/watch"
)

// Running is an agent with its listeners.
type Running struct {
	Agent    *node.Agent
	HTTPAddr string
	// HTTPSAddr is the HTTPS listener's address ("" when ports.https is
	// off); it serves the same handler as HTTP.
	HTTPSAddr string
	logger    hclog.Logger
	httpSrv   *http.Server
	httpsSrv  *http.Server
	handler   *httpapi.Handler
	dns       *dns.Server
	// DNSAddr is the DNS listener's address ("" when disabled).
	DNSAddr string
	watches *watch.Group
	// stopReplication ends the configured KV replication.
	stopReplication func()
	done            chan struct{}
	stopOnce        sync.Once
}

// DNSServer is the DNS interface (nil when disabled).
func (r *Running) DNSServer() *dns.Server { return r.dns }

// Start starts the agent and its HTTP API. logs, when not nil, receives
// the agent's log output and feeds /v1/agent/monitor.
func Start(cfg *node.Config, logger hclog.Logger, logs *logstream.Broadcaster) (*Running, error) {
	// The configured watches are checked before anything starts.
	watches, err := watch.ParseConfig(cfg.Extra["watches"])
	if err != nil {
		return nil, err
	}
	if len(watches) > 0 && cfg.Ports.HTTP < 0 {
		return nil, errors.New("config: watches need the HTTP API, and ports.http is -1")
	}
	replications, err := replicate.ParseConfig(cfg.Extra["replicate"])
	if err != nil {
		return nil, err
	}
	if len(replications) > 0 && cfg.Ports.HTTP < 0 {
		return nil, errors.New("config: replicate needs the HTTP API, and ports.http is -1")
	}
	a, err := node.New(cfg, logger)
	if err != nil {
		return nil, err
	}
	r := &Running{Agent: a, logger: logger, done: make(chan struct{})}
	go trimFreeHeap(r.done, 5*time.Second, 32<<20)
	if cfg.Ports.DNS >= 0 {
		dcfg := dns.DefaultConfig()
		dcfg.Datacenter, dcfg.NodeName = cfg.Datacenter, cfg.NodeName
		if err := dcfg.Apply(cfg.Extra["dns_config"], cfg.Extra["domain"], cfg.Extra["recursors"]); err != nil {
			a.Shutdown()
			return nil, err
		}
		ds, err := dns.Start(net.JoinHostPort(cfg.ClientAddr, strconv.Itoa(cfg.Ports.DNS)), dcfg, a, logger)
		if err != nil {
			a.Shutdown()
			return nil, err
		}
		r.dns = ds
		r.DNSAddr = ds.Addr
	}
	if cfg.Ports.HTTP < 0 && cfg.Ports.HTTPS <= 0 {
		return r, nil
	}
	h := httpapi.New(a, logger, func() { r.Shutdown() })
	r.handler = h
	h.SetLogStream(logs)
	// listen opens one API listener (capped per client IP); wrap, for
	// HTTPS, goes between the cap and the injector, so a parked query's
	// connection comes back already inside TLS.
	listen := func(proto string, port int, flag string, wrap func(net.Listener) net.Listener) (*injectListener, *http.Server, error) {
		addr := net.JoinHostPort(cfg.ClientAddr, strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listen for %s on %s: %w (is another agent running? set %s)", proto, addr, err, flag)
		}
		inj := newInjectListener(wrap(newLimitListener(ln, cfg.HTTPMaxConnsPerClient)))
		// net/http's own complaints (a failed TLS handshake, once per
		// connection) go to the agent's log, not bare to stderr.
		errLog := logger.Named("agent").Named("http").StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Warn})
		srv := &http.Server{Handler: newRateLimiter(h, cfg.RPCRate, cfg.RPCMaxBurst), ReadHeaderTimeout: 30 * time.Second, ErrorLog: errLog}
		go func() {
			if err := srv.Serve(inj); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error(proto+" server stopped", "error", err)
			}
		}()
		logger.Named("agent").Info("started "+proto+" server", "address", ln.Addr().String())
		return inj, srv, nil
	}
	var httpInj, httpsInj *injectListener
	if cfg.Ports.HTTP >= 0 {
		if httpInj, r.httpSrv, err = listen("HTTP", cfg.Ports.HTTP, "-http-port", func(l net.Listener) net.Listener { return l }); err != nil {
			r.Shutdown()
			return nil, err
		}
		r.HTTPAddr = httpInj.Addr().String()
	}
	if cfg.Ports.HTTPS > 0 {
		conf := cfg.TLS.Web.ServerConfig()
		// HTTP/1.1 only: a parked blocking query hijacks its connection,
		// which HTTP/2 does not allow.
		conf.NextProtos = []string{"http/1.1"}
		if httpsInj, r.httpsSrv, err = listen("HTTPS", cfg.Ports.HTTPS, "-https-port", func(l net.Listener) net.Listener { return tls.NewListener(l, conf) }); err != nil {
			r.Shutdown()
			return nil, err
		}
		r.HTTPSAddr = httpsInj.Addr().String()
	}
	// A parked query's connection goes back to the server it came from
	// (any of them could serve it, but one may be off).
	h.SetConnReturner(func(c net.Conn) {
		if _, isTLS := c.(*tls.Conn); (isTLS && httpsInj != nil) || httpInj == nil {
			httpsInj.Inject(c)
			return
		}
		httpInj.Inject(c)
	})
	if r.HTTPAddr != "" {
		// Watches read through the agent's own HTTP API, as Consul's do.
		self := "http://" + selfAddr(r.HTTPAddr)
		r.watches = watch.Start(watches, self, logger.Named("agent").Named("watch"))
		r.stopReplication = startReplication(replications, self, logger.Named("agent").Named("replicate"))
	}
	return r, nil
}

// Done is closed when the agent has stopped, including after an API leave.
func (r *Running) Done() <-chan struct{} { return r.done }

// Routes lists the HTTP API's routes with their access control.
func (r *Running) Routes() []httpapi.Route { return r.handler.Routes() }

// ParkedQueries is the number of blocking queries the HTTP API holds
// parked (connection hijacked, no goroutine stack) right now.
func (r *Running) ParkedQueries() int {
	if r.handler == nil {
		return 0
	}
	return r.handler.Parked()
}

// Leave leaves gracefully, then shuts down.
func (r *Running) Leave() error {
	err := r.Agent.Leave()
	r.Shutdown()
	return err
}

// Shutdown stops listeners and the agent without leaving.
func (r *Running) Shutdown() {
	r.stopOnce.Do(func() {
		r.watches.Stop()
		if r.stopReplication != nil {
			r.stopReplication()
		}
		for _, srv := range []*http.Server{r.httpSrv, r.httpsSrv} {
			if srv == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = srv.Shutdown(ctx)
			cancel()
			_ = srv.Close()
		}
		if r.handler != nil {
			r.handler.CloseParked()
		}
		if r.dns != nil {
			r.dns.Shutdown()
		}
		r.Agent.Shutdown()
		close(r.done)
	})
}

// selfAddr is the address the agent's own clients dial for a listener on
// addr: loopback when it listens on every address (Go's "::" listener is
// dual-stack).
func selfAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err == nil && ip != nil && ip.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// startReplication runs the configured replication blocks against the
// agent's own HTTP API (as consul-replicate would run beside it) and
// returns what stops them.
func startReplication(blocks []replicate.Block, addr string, logger hclog.Logger) func() {
	if len(blocks) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, b := range blocks {
		c := api.NewClient(addr)
		c.Token = b.Token
		cfg := b.Config
		cfg.Logf = func(format string, args ...any) {
			line := fmt.Sprintf(format, args...)
			if strings.HasPrefix(line, "[WARN]") {
				logger.Warn(strings.TrimSpace(strings.TrimPrefix(line, "[WARN]")))
				return
			}
			logger.Info(strings.TrimSpace(strings.TrimPrefix(line, "[INFO]")))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = replicate.New(c, cfg).Run(ctx)
		}()
	}
	return func() {
		cancel()
		wg.Wait()
	}
}
