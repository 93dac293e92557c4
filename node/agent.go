package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	sockaddr "github.com/hashicorp/go-sockaddr"
	"github.com/hashicorp/go-uuid"
	"github.com/hashicorp/serf/serf"
)

// Version is the consulx build version shown in members' Build column.
const Version = "0.1.0"

// Agent is one consulx agent, client or server.
type Agent struct {
	cfg       *Config
	logger    hclog.Logger
	nodeID    string
	advertise net.IP
	lan       *serf.Serf
	wan       *serf.Serf // servers only
	srv       *server    // nil on client agents
	pool      *rpcPool
	dialer    *serverDialer // every connection to a server's port
	hooks     hooks         // the server's authorizer and datacenter router
	// tokens are the agent's own ACL tokens (node/acl.go).
	tokens  *agentTokens
	events  userEvents
	reads   Reads
	local   *localState
	dirLock *dataDirLock // nil for -dev and agents without a data_dir
	// lanPeers and wanPeers record the gossip peers for a rejoin after a
	// crash (peers.go); nil without a data_dir.
	lanPeers, wanPeers *peerStore

	reloadMu sync.Mutex
	reloader func() (*Config, error)

	started    time.Time
	shutdownCh chan struct{}
	// execJobs counts the remote exec jobs this agent runs now; execSeen
	// remembers the ones it took.
	execJobs atomic.Int32
	execSeen recentJobs
	// lanChanged wakes the WAN flood join (servers only).
	lanChanged   chan struct{}
	shutdownOnce sync.Once
	leaveOnce    sync.Once
	wg           sync.WaitGroup
}

// New starts an agent: gossip, and on servers Raft and the RPC port. The
// caller adds the HTTP and DNS listeners (package agentrun does).
func New(cfg *Config, logger hclog.Logger) (_ *Agent, err error) {
	dialer := newServerDialer(cfg)
	a := &Agent{cfg: cfg, logger: logger.Named("agent"), dialer: dialer, pool: newRPCPool(cfg.MaxQueryTime, dialer), shutdownCh: make(chan struct{}), started: time.Now()}
	a.reads = bindReads(a)
	a.tokens = &agentTokens{t: cfg.ACL.Tokens}
	a.hooks.acl = newACLResolver(cfg, a.tokens)
	a.hooks.acl.remote = func(ctx context.Context, secret string) (*ResolveTokenResponse, error) {
		return aclResolveEndpoint.call(ctx, a, &ResolveTokenRequest{QueryOptions: QueryOptions{Token: secret}})
	}
	// The data_dir lock comes before anything opens files there (gossip
	// snapshots, raft-wal), and before the deferred Shutdown below, so a
	// refused agent prints its one error line and nothing else.
	if !cfg.Dev && cfg.DataDir != "" {
		if a.dirLock, err = lockDataDir(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err != nil {
			a.Shutdown()
		}
	}()
	if a.nodeID, err = loadNodeID(cfg); err != nil {
		return nil, err
	}
	if a.advertise, err = advertiseIP(cfg); err != nil {
		return nil, err
	}
	if cfg.Server {
		a.srv, err = newServer(serverDeps{cfg: cfg, nodeID: a.nodeID, logger: a.logger, pool: a.pool, dialer: dialer, hooks: &a.hooks,
			advertise: &net.TCPAddr{IP: a.advertise, Port: cfg.Ports.Server}, raw: a.rawHandlers(), fireEvent: a.fireLocalEvent, announceJob: a.announceJob})
		if err != nil {
			return nil, err
		}
		a.hooks.acl.local = a.srv.store
		srv := a.srv
		a.hooks.acl.tokensReplicated = func() bool {
			srv.repl.mu.Lock()
			defer srv.repl.mu.Unlock()
			return srv.repl.status.ReplicatedTokenIndex > 0
		}
	}
	if err := a.loadPersistedTokens(); err != nil {
		return nil, err
	}
	// Before gossip starts: user events are matched against local services.
	a.local = newLocalState(localDepsOf(a, cfg))
	if err := a.startGossip(); err != nil {
		return nil, err
	}
	if a.srv != nil {
		a.srv.lan = a.lan
		a.srv.keys = a.poolKeys()
		a.srv.start()
	}
	if err := a.local.load(); err != nil {
		return nil, err
	}
	if err := a.local.loadConfig(cfg.Extra); err != nil {
		return nil, err
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.local.syncLoop()
	}()
	if len(cfg.StartJoin) > 0 {
		n, err := a.lan.Join(cfg.StartJoin, true)
		if err = joinError(err); err != nil && n == 0 {
			return nil, fmt.Errorf("start_join: %w", err)
		}
		a.logger.Info("(LAN) joined", "number_of_nodes", n)
	}
	if len(cfg.RetryJoin) > 0 {
		a.wg.Add(1)
		go a.retryJoin(cfg.RetryJoin, false)
	}
	if len(cfg.RetryJoinWAN) > 0 && a.wan != nil {
		a.wg.Add(1)
		go a.retryJoin(cfg.RetryJoinWAN, true)
	}
	a.logger.Info("consulx agent running", "node", cfg.NodeName, "datacenter", cfg.Datacenter, "server", cfg.Server, "node_id", a.nodeID)
	return a, nil
}

func loadNodeID(cfg *Config) (string, error) {
	if cfg.Dev || cfg.DataDir == "" {
		return uuid.GenerateUUID()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", fmt.Errorf("create data_dir: %w", err)
	}
	path := filepath.Join(cfg.DataDir, "node-id")
	if b, err := os.ReadFile(path); err == nil {
		id := strings.TrimSpace(string(b))
		if _, err := uuid.ParseUUID(id); err != nil {
			return "", fmt.Errorf("node ID in %s is not a UUID: %v", path, err)
		}
		return id, nil
	}
	id, err := uuid.GenerateUUID()
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(id), 0o600); err != nil {
		return "", fmt.Errorf("persist node ID: %w", err)
	}
	return id, nil
}

func advertiseIP(cfg *Config) (net.IP, error) {
	addr := cfg.AdvertiseAddr
	if addr == "" && cfg.BindAddr != "0.0.0.0" && cfg.BindAddr != "::" {
		addr = cfg.BindAddr
	}
	if addr == "" {
		ip, err := sockaddr.GetPrivateIP()
		if err != nil || ip == "" {
			return nil, fmt.Errorf("no private IP address found to advertise; set -bind or -advertise")
		}
		addr = ip
	}
	ip := net.ParseIP(addr)
	if ip == nil {
		return nil, fmt.Errorf("advertise address %q is not an IP address", addr)
	}
	return ip, nil
}

// NodeID returns the persisted node UUID.
func (a *Agent) NodeID() string { return a.nodeID }

// Config returns the agent's configuration (read only).
func (a *Agent) Config() *Config { return a.cfg }

// IsServer reports whether this agent runs Raft.
func (a *Agent) IsServer() bool { return a.srv != nil }

// ShutdownCh is closed once the agent has stopped.
func (a *Agent) ShutdownCh() <-chan struct{} { return a.shutdownCh }

// joinedEnough says a retry join has done its job: the LAN pool has
// another live member; the WAN pool has a live server of another
// datacenter (our own servers come into it by the flood join anyway).
func joinedEnough(pool *serf.Serf, self string, wan bool, dc string) bool {
	if !wan {
		return seesOthers(pool, self)
	}
	for _, m := range pool.Members() {
		if m.Status == serf.StatusAlive && m.Tags["dc"] != "" && m.Tags["dc"] != dc {
			return true
		}
	}
	return false
}

// retryJoin joins the LAN (or WAN) pool through addrs and keeps retrying,
// every retry_interval, until the pool has an alive member besides this
// agent. A join that reached only ourselves (every server's -retry-join
// pointing at the first server, which is restarting) does not count: that
// server would otherwise sit alone until the others found it.
func (a *Agent) retryJoin(addrs []string, wan bool) {
	defer a.wg.Done()
	pool, name, interval, maxAttempts := a.lan, "LAN", a.cfg.RetryInterval, a.cfg.RetryMax
	if wan {
		pool, name, interval, maxAttempts = a.wan, "WAN", a.cfg.RetryIntervalWAN, a.cfg.RetryMaxWAN
	}
	self := pool.LocalMember().Name
	for attempt := 1; ; attempt++ {
		n, err := pool.Join(addrs, true)
		err = joinError(err)
		switch {
		case joinedEnough(pool, self, wan, a.cfg.Datacenter):
			a.logger.Info(fmt.Sprintf("(%s) joined", name), "number_of_nodes", n)
			return
		case n > 0:
			// Log the first time only: a lone server whose retry_join
			// lists just itself retries quietly until others appear.
			if attempt == 1 {
				a.logger.Info(fmt.Sprintf("(%s) retry_join reached no other member yet; retrying", name), "retry_interval", interval)
			}
		default:
			a.logger.Warn(fmt.Sprintf("(%s) join failed, retrying", name), "attempt", attempt, "error", err, "retry_interval", interval)
		}
		if maxAttempts > 0 && attempt >= maxAttempts {
			a.logger.Error(fmt.Sprintf("(%s) giving up joining after %d attempts (retry_max)", name, attempt))
			return
		}
		select {
		case <-a.shutdownCh:
			return
		case <-time.After(interval):
		}
	}
}

// Join joins the LAN pool (or WAN, on servers) through the given addresses.
func (a *Agent) Join(addrs []string, wan bool) (int, error) {
	pool := a.lan
	if wan {
		if a.wan == nil {
			return 0, &BadRequestError{Msg: "WAN join is only possible on a server agent"}
		}
		pool = a.wan
	}
	n, err := pool.Join(addrs, true)
	err = joinError(err)
	if n > 0 {
		a.logger.Info("joined", "wan", wan, "number_of_nodes", n)
	} else if err != nil {
		a.logger.Warn("couldn't join", "wan", wan, "addrs", addrs, "error", err)
	}
	return n, err
}

// ForceLeave moves a failed member to left (or removes it with prune).
func (a *Agent) ForceLeave(node string, prune, wan bool) error {
	pool := a.lan
	if wan {
		if a.wan == nil {
			return &BadRequestError{Msg: "WAN force-leave is only possible on a server agent"}
		}
		pool = a.wan
	}
	found := false
	for _, m := range pool.Members() {
		if m.Name == node {
			found = true
		}
	}
	if !found {
		return &BadRequestError{Msg: fmt.Sprintf("agent: No node found with name '%s'", node)}
	}
	if prune {
		return pool.RemoveFailedNodePrune(node)
	}
	return pool.RemoveFailedNode(node)
}

// Leave leaves the cluster gracefully: a server gives up its Raft seat,
// then the agent announces its departure over gossip. Shutdown follows.
func (a *Agent) Leave() error {
	var err error
	a.leaveOnce.Do(func() {
		a.logger.Info("requesting graceful leave")
		waitRemoval := a.srv != nil && a.srv.leave()
		if a.wan != nil {
			if e := a.wan.Leave(); e != nil {
				a.logger.Warn("WAN leave failed", "error", e)
			}
		}
		// Forget the recorded peers first: an agent that left must not
		// rejoin by itself when it is started again.
		for _, ps := range []*peerStore{a.lanPeers, a.wanPeers} {
			if ps != nil {
				if e := ps.clear(); e != nil {
					a.logger.Warn("could not clear recorded gossip peers", "error", e)
				}
			}
		}
		if err = a.lan.Leave(); err != nil {
			a.logger.Error("LAN leave failed", "error", err)
		}
		if waitRemoval {
			a.srv.waitRemoved(5 * time.Second)
		}
		a.logger.Info("graceful leave complete")
	})
	return err
}

// Shutdown stops the agent without leaving: peers will see it as failed.
func (a *Agent) Shutdown() {
	a.shutdownOnce.Do(func() {
		a.logger.Info("shutting down")
		close(a.shutdownCh)
		if a.lan != nil {
			_ = a.lan.Shutdown()
		}
		if a.wan != nil {
			_ = a.wan.Shutdown()
		}
		if a.srv != nil {
			a.srv.shutdown()
		}
		a.wg.Wait()
		a.pool.close()
		// Last, once Raft and the snapshots are closed, so an agent
		// restarted in this process on the same data_dir can take it.
		a.dirLock.release()
	})
}

// serverInfo is what gossip tells about a server of our datacenter.
type serverInfo struct {
	name, id, addr string
	port, expect   int
}

func (a *Agent) parseServer(m serf.Member) (serverInfo, bool) {
	return parseServer(a.cfg.Datacenter, m)
}

// parseServer reads a server of datacenter dc from its member tags.
func parseServer(dc string, m serf.Member) (serverInfo, bool) {
	if m.Tags["role"] != "consul" || m.Tags["dc"] != dc {
		return serverInfo{}, false
	}
	port, err := strconv.Atoi(m.Tags["port"])
	if err != nil {
		return serverInfo{}, false
	}
	expect, _ := strconv.Atoi(m.Tags["expect"])
	return serverInfo{name: m.Name, id: m.Tags["id"], addr: net.JoinHostPort(m.Addr.String(), strconv.Itoa(port)), port: port, expect: expect}, true
}

// pickServer returns a random alive server of our datacenter not yet tried.
func (a *Agent) pickServer(tried map[string]bool) string {
	var cands []string
	for _, m := range a.lan.Members() {
		if m.Status != serf.StatusAlive {
			continue
		}
		if info, ok := a.parseServer(m); ok && !tried[info.addr] {
			cands = append(cands, info.addr)
		}
	}
	if len(cands) == 0 {
		return ""
	}
	return cands[rand.IntN(len(cands))]
}

// Member is a gossip member in Consul's /v1/agent/members shape.
type Member struct {
	Name        string
	Addr        string
	Port        uint16
	Tags        map[string]string
	Status      int
	ProtocolMin uint8
	ProtocolMax uint8
	ProtocolCur uint8
	DelegateMin uint8
	DelegateMax uint8
	DelegateCur uint8
}

func toMember(m serf.Member) Member {
	return Member{Name: m.Name, Addr: m.Addr.String(), Port: m.Port, Tags: m.Tags, Status: int(m.Status),
		ProtocolMin: m.ProtocolMin, ProtocolMax: m.ProtocolMax, ProtocolCur: m.ProtocolCur,
		DelegateMin: m.DelegateMin, DelegateMax: m.DelegateMax, DelegateCur: m.DelegateCur}
}

// Members lists the LAN pool, or the WAN pool (nil on a client agent).
func (a *Agent) Members(wan bool) []Member {
	pool := a.lan
	if wan {
		if a.wan == nil {
			return nil
		}
		pool = a.wan
	}
	ms := pool.Members()
	out := make([]Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, toMember(m))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LocalMember is this agent in the LAN pool.
func (a *Agent) LocalMember() Member { return toMember(a.lan.LocalMember()) }

// Stats returns `consul info` sections: section → key → value.
func (a *Agent) Stats(ctx context.Context) map[string]map[string]string {
	leaderAddr := ""
	if addr, err := a.StatusLeader(ctx, ""); err == nil {
		leaderAddr = addr
	}
	out := map[string]map[string]string{
		"agent": {"check_monitors": "0", "check_ttls": "0", "checks": "0", "services": "0"},
		"build": {"version": Version, "revision": "", "prerelease": ""},
		"consul": {
			"server":        strconv.FormatBool(a.srv != nil),
			"known_servers": strconv.Itoa(a.countServers()),
			"leader_addr":   leaderAddr,
		},
		"runtime": {
			"arch": runtime.GOARCH, "os": runtime.GOOS, "version": runtime.Version(),
			"goroutines": strconv.Itoa(runtime.NumGoroutine()), "max_procs": strconv.Itoa(runtime.GOMAXPROCS(0)),
			"cpu_count": strconv.Itoa(runtime.NumCPU()),
		},
		"serf_lan": a.lan.Stats(),
	}
	if a.srv != nil {
		st, tombstones := a.srv.stats()
		out["raft"] = st
		out["consul"]["leader"] = strconv.FormatBool(st["state"] == "Leader")
		out["consul"]["bootstrap"] = strconv.FormatBool(a.cfg.BootstrapExpect == 1)
		out["consul"]["known_datacenters"] = "1"
		out["consul"]["kv_tombstones"] = strconv.Itoa(tombstones)
		delete(out["consul"], "known_servers")
	}
	if a.wan != nil {
		out["serf_wan"] = a.wan.Stats()
	}
	return out
}

func (a *Agent) countServers() int {
	n := 0
	for _, m := range a.lan.Members() {
		if _, ok := a.parseServer(m); ok && m.Status == serf.StatusAlive {
			n++
		}
	}
	return n
}
