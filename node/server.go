package node

import (
	"consulx/exec/remote"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/hashicorp/serf/serf"

	"consulx/store"
)

// Raft timing at raft_multiplier 1. Consul's production floor is a 1 s
// heartbeat; on a LAN a leader that misses 300 ms of heartbeats is gone, so
// failover can finish well within a second.
const (
	baseHeartbeatTimeout = 300 * time.Millisecond
	baseElectionTimeout  = 300 * time.Millisecond
	baseLeaderLease      = 150 * time.Millisecond
)

// server is the Raft half of a server agent: Raft, the state store, the
// server port (Raft + internal RPC), and the leader's duties. It knows the
// agent only through what it is given (serverDeps); nothing here points
// back at the Agent.
type server struct {
	cfg    *Config
	nodeID string
	logger hclog.Logger
	pool   *rpcPool
	hooks  *hooks
	// lan is the LAN gossip pool, given once gossip is up (before start).
	lan memberLister
	// keys are the gossip pools' keyring managers (keyring.go), given
	// with lan.
	keys   poolKeys
	raft   *raft.Raft
	store  *store.Store
	trans  *raft.NetworkTransport
	mux    *muxListener
	rpcSrv *http.Server
	// fireEvent: see serverDeps.
	fireEvent func(*UserEvent) (*UserEvent, error)
	// relay joins remote exec jobs' streams (see exec.go).
	relay *remote.Relay
	// execAddr is the server port's advertised address, the relay's.
	execAddr string
	// closers release the log store and snapshot store on shutdown.
	closers []func() error

	logs   raft.LogStore
	stable raft.StableStore
	snaps  raft.SnapshotStore

	// readyTerm is the term in which this leader applied a barrier (so
	// everything committed before its term); reads are served only while
	// it equals the current term.
	readyTerm    atomic.Uint64
	bootstrapped atomic.Bool
	// everKnewLeader gates local stale reads: a server that never heard a
	// leader has nothing trustworthy to serve.
	everKnewLeader atomic.Bool
	reconcileCh    chan struct{}
	sessionTimers  sessionTimers
	// indexSamples records (time, applied index) on the leader so old
	// tombstones can be told apart by index.
	indexSamples []indexSample
	wg           sync.WaitGroup
	done         chan struct{}
	// repl copies ACLs from the primary datacenter (acl_replication.go).
	repl aclReplicator
}

// memberLister is what the server needs of the gossip pool.
type memberLister interface{ Members() []serf.Member }

// serverDeps is what a server is built from.
type serverDeps struct {
	cfg       *Config
	nodeID    string
	logger    hclog.Logger
	pool      *rpcPool
	dialer    *serverDialer
	hooks     *hooks
	advertise *net.TCPAddr
	// raw are the streaming RPCs (snapshots) served on the server port.
	raw map[string]http.HandlerFunc
	// fireEvent broadcasts a user event into this datacenter's LAN pool
	// (for events fired from another datacenter).
	fireEvent func(*UserEvent) (*UserEvent, error)
	// announceJob announces a remote exec job in this datacenter (for
	// jobs from another datacenter, relayed here).
	announceJob func(ctx context.Context, id, relay, origin string, f remote.Filters) ([]string, error)
}

// newServer opens the state, the Raft log and the server port, and
// starts Raft (not yet the leader duties: see start).
func newServer(d serverDeps) (_ *server, err error) {
	cfg := d.cfg
	s := &server{cfg: cfg, nodeID: d.nodeID, logger: d.logger.Named("server"), pool: d.pool, hooks: d.hooks, fireEvent: d.fireEvent,
		reconcileCh: make(chan struct{}, 1), done: make(chan struct{})}
	st, err := store.New()
	if err != nil {
		return nil, err
	}
	s.store = st

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.BindAddr, fmt.Sprint(cfg.Ports.Server)))
	if err != nil {
		return nil, fmt.Errorf("listen on server port %d: %w (is another agent running? set -server-port)", cfg.Ports.Server, err)
	}
	s.mux = newMuxListener(ln, d.advertise, newIncomingTLS(cfg, s.logger.Named("rpc")))
	s.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:                &raftLayer{chanListener{m: s.mux, ch: s.mux.raftCh}, d.dialer},
		MaxPool:               3,
		Timeout:               5 * time.Second,
		Logger:                d.logger.Named("raft-net"),
		MaxRPCsInFlight:       64,
		ServerAddressProvider: nil,
	})

	if cfg.Dev {
		mem := raft.NewInmemStore()
		s.logs, s.stable, s.snaps = mem, mem, raft.NewInmemSnapshotStore()
	} else {
		dir := filepath.Join(cfg.DataDir, "raft")
		if err := os.MkdirAll(filepath.Join(dir, "wal"), 0o700); err != nil {
			return nil, fmt.Errorf("create raft dir: %w", err)
		}
		w, closeLog, err := openRaftLog(filepath.Join(dir, "wal"), d.logger.Named("wal"), 0)
		if err != nil {
			return nil, fmt.Errorf("open raft log in %s: %w", dir, err)
		}
		s.closers = append(s.closers, closeLog)
		snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, d.logger.Named("snapshot"))
		if err != nil {
			return nil, fmt.Errorf("open raft snapshots: %w", err)
		}
		// The cache keeps the newest entries in memory, so replicating them
		// to followers does not read them back from the WAL.
		cached, err := raft.NewLogCache(1024, w)
		if err != nil {
			return nil, fmt.Errorf("raft log cache: %w", err)
		}
		s.logs, s.stable, s.snaps = cached, w, snaps
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(d.nodeID)
	rc.Logger = d.logger.Named("raft")
	m := time.Duration(cfg.RaftMultiplier)
	rc.HeartbeatTimeout = baseHeartbeatTimeout * m
	rc.ElectionTimeout = baseElectionTimeout * m
	rc.LeaderLeaseTimeout = baseLeaderLease * m
	rc.CommitTimeout = 5 * time.Millisecond
	rc.MaxAppendEntries = 256
	rc.BatchApplyCh = true
	rc.SnapshotThreshold = 16384
	rc.SnapshotInterval = 30 * time.Second
	rc.TrailingLogs = 10240
	r, err := raft.NewRaft(rc, st.FSM(), s.logs, s.stable, s.snaps, s.trans)
	if err != nil {
		return nil, fmt.Errorf("start raft: %w", err)
	}
	s.raft = r
	if idx := r.LastIndex(); idx > 0 {
		s.bootstrapped.Store(true)
		s.logger.Info("raft state restored from data_dir", "last_index", idx)
	}

	s.rpcSrv = serveRPC(&chanListener{m: s.mux, ch: s.mux.rpcCh}, rpcHandlers(s), d.raw)
	s.execAddr = d.advertise.String()
	s.relay = newRelay(d.hooks, d.dialer, cfg.Datacenter, func() memberLister { return s.lan }, func(job string, f remote.Filters) ([]string, error) {
		if d.announceJob == nil {
			return nil, errors.New("this server cannot announce jobs")
		}
		return d.announceJob(context.Background(), job, s.execAddr, "", f)
	})
	go serveRelay(&chanListener{m: s.mux, ch: s.mux.execCh}, s.relay)
	return s, nil
}

// start runs the leader duties; it needs the gossip pool, so it is called
// once gossip is up.
func (s *server) start() {
	if s.cfg.Dev || s.cfg.BootstrapExpect == 1 {
		s.bootstrapSelf()
	}
	s.wg.Add(2)
	go s.leaderLoop()
	go s.observeLeader()
}

func (s *server) bootstrapSelf() {
	if s.bootstrapped.Load() {
		return
	}
	conf := raft.Configuration{Servers: []raft.Server{{ID: raft.ServerID(s.nodeID), Address: s.trans.LocalAddr()}}}
	if err := s.raft.BootstrapCluster(conf).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		s.logger.Error("bootstrap failed", "error", err)
		return
	}
	s.bootstrapped.Store(true)
}

// maybeBootstrap implements bootstrap_expect: once N servers of this
// datacenter see each other, all of them bootstrap with the same
// configuration. It never runs on a server that has Raft state, nor when any
// peer already has some (that peer's leader will add us instead).
func (s *server) maybeBootstrap() {
	expect := s.cfg.BootstrapExpect
	if expect < 2 || s.bootstrapped.Load() {
		return
	}
	var servers []serverInfo
	for _, m := range s.lan.Members() {
		info, ok := parseServer(s.cfg.Datacenter, m)
		if !ok || m.Status != serf.StatusAlive {
			continue
		}
		if info.expect != 0 && info.expect != expect {
			s.logger.Error("member has a conflicting bootstrap_expect value; all servers should agree", "member", m.Name, "expect", info.expect)
			return
		}
		servers = append(servers, info)
	}
	if len(servers) < expect {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, srv := range servers {
		if srv.id == s.nodeID {
			continue
		}
		var st RaftStateResponse
		if err := s.pool.call(ctx, srv.addr, "Status.RaftState", &StatusRequest{}, &st); err != nil {
			s.logger.Debug("cannot ask peer for raft state yet; will retry", "peer", srv.name, "error", err)
			return
		}
		if st.LastIndex > 0 {
			s.logger.Info("existing raft peers found; not bootstrapping, the leader will add this server", "peer", srv.name)
			s.bootstrapped.Store(true)
			return
		}
	}
	var conf raft.Configuration
	var addrs []string
	for _, srv := range servers {
		conf.Servers = append(conf.Servers, raft.Server{ID: raft.ServerID(srv.id), Address: raft.ServerAddress(srv.addr)})
		addrs = append(addrs, srv.addr)
	}
	s.logger.Info("found expected number of peers, attempting bootstrap", "peers", strings.Join(addrs, ","))
	if err := s.raft.BootstrapCluster(conf).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		s.logger.Error("bootstrap failed", "error", err)
		return
	}
	s.bootstrapped.Store(true)
}

type indexSample struct {
	at    time.Time
	index uint64
}

const defaultTombstoneTTL = 15 * time.Minute

// reapTombstones (leader) removes tombstones older than the TTL: the index
// recorded at least TTL ago bounds what is old enough.
func (s *server) reapTombstones() {
	ttl := s.cfg.Timing.TombstoneTTL
	if ttl <= 0 {
		ttl = defaultTombstoneTTL
	}
	now := time.Now()
	s.indexSamples = append(s.indexSamples, indexSample{at: now, index: s.raft.AppliedIndex()})
	var upTo uint64
	keep := s.indexSamples[:0]
	for _, smp := range s.indexSamples {
		if now.Sub(smp.at) >= ttl {
			upTo = smp.index
			continue
		}
		keep = append(keep, smp)
	}
	s.indexSamples = keep
	if upTo == 0 || s.store.TombstoneCount(1) == 0 {
		return
	}
	if _, _, err := s.raftApply(store.TombstoneReapCommand, &store.TombstoneReapRequest{Index: upTo}); err != nil {
		s.logger.Warn("tombstone reap failed", "error", err)
	}
}

// establishLeadership applies a barrier for the current term so reads
// see every write committed before it; it reports success.
func (s *server) establishLeadership() bool {
	term := s.raft.CurrentTerm()
	if err := s.raft.Barrier(10 * time.Second).Error(); err != nil {
		s.logger.Error("barrier after election failed; will retry", "error", err)
		return false
	}
	s.readyTerm.Store(term)
	return true
}

// isReady reports whether this server may serve leader reads now.
func (s *server) isReady() bool {
	t := s.readyTerm.Load()
	return t != 0 && t == s.raft.CurrentTerm() && s.raft.State() == raft.Leader
}

// triggerReconcile asks the leader loop to compare gossip and Raft membership.
func (s *server) triggerReconcile() {
	select {
	case s.reconcileCh <- struct{}{}:
	default:
	}
}

// leaderLoop runs leader duties: establish readiness, then keep Raft
// membership in line with gossip.
func (s *server) leaderLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	leaderCh := s.raft.LeaderCh()
	isLeader := false
	for {
		select {
		case <-s.done:
			return
		case l := <-leaderCh:
			isLeader = l
			if !l {
				s.readyTerm.Store(0)
				s.indexSamples = nil
				s.sessionTimers.clearAll()
				s.stopACLReplication()
				s.logger.Info("cluster leadership lost")
				continue
			}
			if !s.establishLeadership() {
				continue
			}
			s.logger.Info("cluster leadership acquired")
			s.startSessionTimers()
			s.initACLs()
			s.startACLReplication()
			s.reconcile()
		case <-s.reconcileCh:
			if !isLeader {
				s.maybeBootstrap()
				continue
			}
			s.reconcile()
		case <-tick.C:
			if isLeader && !s.isReady() && s.establishLeadership() {
				// A failed barrier is retried while we stay leader.
				s.logger.Info("cluster leadership acquired")
				s.startSessionTimers()
				s.initACLs()
				s.startACLReplication()
			}
			if isLeader {
				s.reconcile()
				s.reapTombstones()
			} else {
				s.maybeBootstrap()
			}
		}
	}
}

// reconcile adds alive servers that are missing from Raft as voters and
// removes servers that left gracefully. Failed servers keep their seat: they
// may come back, and removing them would shrink the quorum under us.
func (s *server) reconcile() {
	if s.raft.State() != raft.Leader {
		return
	}
	s.invalidateSessionsOfDeadNodes()
	s.reconcileCatalog()
	fut := s.raft.GetConfiguration()
	if err := fut.Error(); err != nil {
		return
	}
	inRaft := map[raft.ServerID]raft.ServerAddress{}
	for _, srv := range fut.Configuration().Servers {
		inRaft[srv.ID] = srv.Address
	}
	for _, m := range s.lan.Members() {
		info, ok := parseServer(s.cfg.Datacenter, m)
		if !ok {
			continue
		}
		id := raft.ServerID(info.id)
		addr, present := inRaft[id]
		switch m.Status {
		case serf.StatusAlive:
			if present && addr == raft.ServerAddress(info.addr) {
				continue
			}
			if !s.removeStaleAtAddress(id, raft.ServerAddress(info.addr), m.Name) {
				continue // retried on the next reconcile
			}
			s.logger.Info("adding server", "node", m.Name, "addr", info.addr)
			if err := s.raft.AddVoter(id, raft.ServerAddress(info.addr), 0, 5*time.Second).Error(); err != nil {
				s.logger.Error("failed to add raft peer", "node", m.Name, "error", err)
			}
		case serf.StatusLeft:
			if !present || info.id == s.nodeID {
				continue
			}
			s.logger.Info("removing server that left", "node", m.Name, "addr", info.addr)
			if err := s.raft.RemoveServer(id, 0, 5*time.Second).Error(); err != nil {
				s.logger.Error("failed to remove raft peer", "node", m.Name, "error", err)
			}
		}
	}
}

// removeStaleAtAddress removes from Raft any other server ID that holds
// addr. A server whose data_dir was wiped comes back at the same address
// with a new node ID; Raft refuses to add it ("found duplicate address in
// configuration") and the old ID stays a ghost voter that counts against
// the quorum. As Consul does, the old entry goes and the new one is added.
// Our own entry is never removed this way. The configuration is read
// afresh (earlier changes in the same reconcile pass may have moved
// servers); it reports whether adding the new ID may go ahead.
func (s *server) removeStaleAtAddress(id raft.ServerID, addr raft.ServerAddress, name string) bool {
	fut := s.raft.GetConfiguration()
	if err := fut.Error(); err != nil {
		return false
	}
	for _, srv := range fut.Configuration().Servers {
		if srv.Address != addr || srv.ID == id {
			continue
		}
		if srv.ID == raft.ServerID(s.nodeID) {
			s.logger.Error("a server claims the leader's own address; not adding it", "node", name, "addr", addr, "id", id)
			return false
		}
		s.logger.Info("removing stale server with the same address", "node", name, "addr", addr, "old_id", srv.ID, "new_id", id)
		if err := s.raft.RemoveServer(srv.ID, 0, 5*time.Second).Error(); err != nil {
			s.logger.Error("failed to remove stale raft peer", "node", name, "old_id", srv.ID, "error", err)
			return false
		}
	}
	return true
}

// observeLeader logs leader changes the way Consul operators grep for them.
func (s *server) observeLeader() {
	defer s.wg.Done()
	ch := make(chan raft.Observation, 16)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	s.raft.RegisterObserver(obs)
	defer s.raft.DeregisterObserver(obs)
	for {
		select {
		case <-s.done:
			return
		case o := <-ch:
			lo := o.Data.(raft.LeaderObservation)
			if lo.LeaderID == "" {
				continue
			}
			s.everKnewLeader.Store(true)
			s.logger.Info("New leader elected", "payload", s.nodeNameByID(string(lo.LeaderID)))
		}
	}
}

// leave removes this server from Raft before it leaves gossip, so the
// remaining servers keep a quorum that matches the live set. It reports
// whether the caller must wait for the leader to remove us (a follower).
func (s *server) leave() (waitForRemoval bool) {
	fut := s.raft.GetConfiguration()
	if err := fut.Error(); err != nil {
		return false
	}
	if len(fut.Configuration().Servers) <= 1 {
		return false
	}
	if s.raft.State() == raft.Leader {
		if err := s.raft.RemoveServer(raft.ServerID(s.nodeID), 0, 5*time.Second).Error(); err != nil {
			s.logger.Error("failed to remove ourself as raft peer", "error", err)
		}
		return false
	}
	return true
}

// waitRemoved waits (bounded) until the leader has dropped us from Raft
// after our gossip leave.
func (s *server) waitRemoved(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		fut := s.raft.GetConfiguration()
		if fut.Error() != nil {
			return
		}
		found := false
		for _, srv := range fut.Configuration().Servers {
			if srv.ID == raft.ServerID(s.nodeID) {
				found = true
			}
		}
		if !found {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.logger.Warn("timed out waiting to be removed from the raft configuration")
}

func (s *server) shutdown() {
	close(s.done)
	s.stopACLReplication()
	s.wg.Wait()
	s.sessionTimers.clearAll()
	if err := s.raft.Shutdown().Error(); err != nil {
		s.logger.Error("raft shutdown", "error", err)
	}
	// Closing the mux first ends the channel listeners' Accept, which
	// http.Server.Close waits for.
	_ = s.mux.Close()
	_ = s.trans.Close()
	_ = s.rpcSrv.Close()
	s.relay.Close()
	for _, c := range s.closers {
		_ = c()
	}
	_ = s.store.Close()
}

// nodeNameByID names the member with the given node ID.
func (s *server) nodeNameByID(id string) string {
	if id == s.nodeID {
		return s.cfg.NodeName
	}
	for _, m := range s.lan.Members() {
		if m.Tags["id"] == id {
			return m.Name
		}
	}
	return "(unknown)"
}

// stats are the server's sections of `consul info`.
func (s *server) stats() (raftStats map[string]string, tombstones int) {
	return s.raft.Stats(), s.store.TombstoneCount(1 << 30)
}
