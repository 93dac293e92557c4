package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
)

// tags are the gossip metadata other agents route by: role, datacenter,
// build and protocol, and on servers the RPC port and bootstrap_expect.
func (a *Agent) tags() map[string]string {
	t := map[string]string{
		"role":    "node",
		"dc":      a.cfg.Datacenter,
		"build":   Version + ":consulx",
		"vsn":     "2",
		"vsn_min": "2",
		"vsn_max": "3",
		"id":      a.nodeID,
		"segment": "",
	}
	if a.cfg.Server {
		t["role"] = "consul"
		t["port"] = strconv.Itoa(a.cfg.Ports.Server)
		t["raft_vsn"] = "3"
		if a.cfg.BootstrapExpect == 1 {
			t["bootstrap"] = "1"
		} else if a.cfg.BootstrapExpect > 1 {
			t["expect"] = strconv.Itoa(a.cfg.BootstrapExpect)
		}
		if a.cfg.Ports.SerfWAN > 0 {
			t["wan_join_port"] = strconv.Itoa(a.cfg.Ports.SerfWAN)
		}
	}
	return t
}

func (a *Agent) serfConfig(name string, port int, wan bool, events chan serf.Event) (*serf.Config, error) {
	conf := serf.DefaultConfig()
	conf.NodeName = name
	conf.Tags = a.tags()
	conf.EventCh = events
	std := a.logger.Named("serf").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})
	conf.Logger = std
	conf.ReconnectTimeout = 72 * time.Hour
	var ml *memberlist.Config
	switch {
	case a.cfg.Timing.FastGossip:
		ml = memberlist.DefaultLocalConfig()
		ml.ProbeInterval = 200 * time.Millisecond
		ml.ProbeTimeout = 100 * time.Millisecond
		ml.SuspicionMult = 2
		ml.SuspicionMaxTimeoutMult = 2
		ml.GossipInterval = 50 * time.Millisecond
		ml.PushPullInterval = 5 * time.Second
		// Long enough for the leave to reach the others on a loaded
		// machine before the agent stops (300 ms showed it as failed).
		conf.LeavePropagateDelay = time.Second
		conf.ReapInterval = time.Second
		// serf's queries (the keyring's) wait GossipInterval × this mult:
		// 16 would give 800 ms, which a loaded machine misses (a node
		// answered late and the rotation reported 2/3). 40 gives 2 s,
		// under the 3.2 s of Consul's LAN defaults.
		conf.QueryTimeoutMult = 40
	case wan:
		ml = memberlist.DefaultWANConfig()
	default:
		ml = memberlist.DefaultLANConfig()
	}
	ml.Name = name
	ml.BindAddr = a.cfg.BindAddr
	ml.BindPort = port
	ml.AdvertiseAddr = a.advertise.String()
	ml.AdvertisePort = port
	ml.Logger = std
	conf.MemberlistConfig = ml
	conf.UserEventSizeLimit = serfUserEventLimit
	if err := a.setupKeyring(conf, wan); err != nil {
		return nil, err
	}
	if !wan {
		conf.Merge = lanMergeDelegate{dc: a.cfg.Datacenter}

	}
	if !a.cfg.Dev && a.cfg.DataDir != "" {
		file := "local.snapshot"
		if wan {
			file = "remote.snapshot"
		}
		dir := filepath.Join(a.cfg.DataDir, "serf")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create serf dir: %w", err)
		}
		// The snapshot lets a restarted agent find its peers again.
		conf.SnapshotPath = filepath.Join(dir, file)
	}
	return conf, nil
}

func (a *Agent) startGossip() error {
	lanEvents := make(chan serf.Event, 256)
	if a.cfg.Server && a.cfg.Ports.SerfWAN > 0 {
		// Made before the LAN events are handled, which signal it.
		a.lanChanged = make(chan struct{}, 1)
	}
	conf, err := a.serfConfig(a.cfg.NodeName, a.cfg.Ports.SerfLAN, false, lanEvents)
	if err != nil {
		return err
	}
	a.lan, err = a.createSerf(conf)
	if err != nil {
		return fmt.Errorf("start LAN gossip on port %d: %w (set -serf-lan-port)", a.cfg.Ports.SerfLAN, err)
	}
	a.lanPeers = a.startPeerStore(a.lan, conf, "local.peers.json", "LAN")
	a.wg.Add(1)
	go a.handleEvents(lanEvents, "LAN")
	if a.cfg.Server && a.cfg.Ports.SerfWAN > 0 {
		wanEvents := make(chan serf.Event, 256)
		conf, err := a.serfConfig(a.cfg.NodeName+"."+a.cfg.Datacenter, a.cfg.Ports.SerfWAN, true, wanEvents)
		if err != nil {
			return err
		}
		a.wan, err = a.createSerf(conf)
		if err != nil {
			return fmt.Errorf("start WAN gossip on port %d: %w (set -serf-wan-port, or -1 to disable)", a.cfg.Ports.SerfWAN, err)
		}
		a.wanPeers = a.startPeerStore(a.wan, conf, "remote.peers.json", "WAN")
		a.wg.Add(1)
		go a.handleEvents(wanEvents, "WAN")
		// This datacenter's servers follow one another into the WAN pool,
		// and requests for other datacenters go to their servers in it.
		a.wg.Add(1)
		go a.floodLoop(a.lanChanged)
		a.SetDatacenterRouter(wanRouter{a})
	}
	return nil
}

// handleEvents logs membership changes and lets the server half react.
func (a *Agent) handleEvents(ch chan serf.Event, pool string) {
	defer a.wg.Done()
	for {
		select {
		case <-a.shutdownCh:
			return
		case ev := <-ch:
			if q, ok := ev.(*serf.Query); ok {
				if pool == "LAN" {
					go a.handleQuery(q)
				}
				continue
			}
			if ue, ok := ev.(serf.UserEvent); ok {
				if pool == "LAN" {
					a.handleUserEvent(ue)
				}
				continue
			}
			me, ok := ev.(serf.MemberEvent)
			if !ok {
				continue
			}
			for _, m := range me.Members {
				switch me.Type {
				case serf.EventMemberJoin:
					a.logger.Info(fmt.Sprintf("(%s) member joined, marking health alive", pool), "member", m.Name, "addr", m.Addr.String())
				case serf.EventMemberFailed:
					a.logger.Warn(fmt.Sprintf("(%s) member failed, marking health critical", pool), "member", m.Name)
				case serf.EventMemberLeave:
					a.logger.Info(fmt.Sprintf("(%s) member left", pool), "member", m.Name)
				case serf.EventMemberReap:
					a.logger.Info(fmt.Sprintf("(%s) member reaped", pool), "member", m.Name)
				}
			}
			if ps := a.peerStore(pool); ps != nil {
				ps.changed()
			}
			if pool == "LAN" && a.lanChanged != nil {
				select {
				case a.lanChanged <- struct{}{}:
				default:
				}
			}
			if pool == "LAN" && a.srv != nil {
				a.srv.triggerReconcile()
			}
		}
	}
}

// createSerf starts a serf pool. Serf refuses to start when it cannot read
// its snapshot; the snapshot only speeds up rejoining, so a damaged one is
// moved aside with a warning and the pool starts without it.
func (a *Agent) createSerf(conf *serf.Config) (*serf.Serf, error) {
	s, err := serf.Create(conf)
	if err == nil || conf.SnapshotPath == "" || !strings.Contains(err.Error(), "snapshot") {
		return s, err
	}
	aside := conf.SnapshotPath + ".damaged"
	a.logger.Warn("gossip snapshot cannot be read; moving it aside and starting without it", "path", conf.SnapshotPath, "moved_to", aside, "error", err)
	if rerr := os.Rename(conf.SnapshotPath, aside); rerr != nil {
		_ = os.RemoveAll(conf.SnapshotPath)
	}
	return serf.Create(conf)
}

// startPeerStore starts recording pool's peers next to serf's snapshot and
// rejoins the peers recorded by the previous run (see peers.go). Agents
// without a data_dir (and -dev agents) record nothing.
func (a *Agent) startPeerStore(pool *serf.Serf, conf *serf.Config, file, name string) *peerStore {
	if conf.SnapshotPath == "" {
		return nil
	}
	ps := newPeerStore(filepath.Join(filepath.Dir(conf.SnapshotPath), file), conf.NodeName)
	known, err := ps.load()
	if err != nil {
		a.logger.Warn(fmt.Sprintf("(%s) ignoring the recorded gossip peers", name), "error", err)
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		ps.run(pool, a.shutdownCh, func(err error) { a.logger.Warn(fmt.Sprintf("(%s) %v", name, err)) })
	}()
	ps.changed()
	if len(known) > 0 {
		addrs := make([]string, len(known))
		for i, kp := range known {
			addrs[i] = kp.Addr
		}
		// In the background, and not waited for by Shutdown: a peer that
		// drops packets costs memberlist's TCP timeout (10 s LAN, 30 s
		// WAN) per address, and a Join on a pool that has shut down just
		// fails.
		go func() {
			n, err := pool.Join(addrs, true)
			if n > 0 {
				a.logger.Info(fmt.Sprintf("(%s) rejoined known peers", name), "number_of_nodes", n, "known", len(addrs))
			} else {
				a.logger.Warn(fmt.Sprintf("(%s) could not rejoin any known peer", name), "known", len(addrs), "error", joinError(err))
			}
		}()
	}
	return ps
}

// peerStore returns the peer recorder of a pool ("LAN" or "WAN"), or nil.
func (a *Agent) peerStore(pool string) *peerStore {
	if pool == "WAN" {
		return a.wanPeers
	}
	return a.lanPeers
}

// lanMergeDelegate refuses to merge with a LAN pool of another datacenter,
// as Consul's does: a recorded peer (or a retry_join address) that now
// belongs to another cluster must not fuse the two.
type lanMergeDelegate struct{ dc string }

func (d lanMergeDelegate) NotifyMerge(members []*serf.Member) error {
	for _, m := range members {
		if dc, ok := m.Tags["dc"]; ok && dc != d.dc {
			return fmt.Errorf("member %q is in datacenter %q, not %q", m.Name, dc, d.dc)
		}
	}
	return nil
}
