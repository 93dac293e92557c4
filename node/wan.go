package node

// The WAN side of a server: the pool holding every datacenter's servers
// (members named node.dc), the flood join that puts all of a
// datacenter's servers in it once one of them has joined, and the router
// the endpoint table's datacenter hop asks for a server of another
// datacenter.

import (
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/hashicorp/serf/serf"
)

// floodInterval is how often a server makes sure every server of its
// datacenter is in the WAN pool (besides on every LAN membership change).
const floodInterval = 30 * time.Second

// wanRouter finds servers of a datacenter in the WAN pool, nearest first
// by the pool's network coordinates.
type wanRouter struct{ a *Agent }

// ServersIn returns the live servers of dc, nearest first.
func (r wanRouter) ServersIn(dc string) ([]string, error) {
	type cand struct {
		addr string
		rtt  time.Duration
	}
	var cands []cand
	known := false
	for _, m := range r.a.wan.Members() {
		info, ok := parseServer(dc, m)
		if !ok {
			continue
		}
		known = known || m.Status != serf.StatusLeft
		if m.Status != serf.StatusAlive {
			continue
		}
		cands = append(cands, cand{info.addr, r.rtt(m.Name)})
	}
	if len(cands) == 0 {
		if known {
			return nil, ErrNoDCServers
		}
		return nil, ErrNoPathToDatacenter
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].rtt < cands[j].rtt })
	out := make([]string, len(cands))
	for i, c := range cands {
		out[i] = c.addr
	}
	return out, nil
}

// rtt estimates the round trip to a WAN member (a large value when there
// is no coordinate for it yet, so it sorts last).
func (r wanRouter) rtt(name string) time.Duration {
	own, err := r.a.wan.GetCoordinate()
	other, ok := r.a.wan.GetCachedCoordinate(name)
	if err != nil || !ok || own == nil || other == nil || !own.IsCompatibleWith(other) {
		return time.Hour
	}
	return own.DistanceTo(other)
}

// Datacenters lists every datacenter with a server in the WAN pool, ours
// first, then by the median round trip to its servers (name breaks ties),
// as Consul's /v1/catalog/datacenters does.
func (r wanRouter) Datacenters() []string {
	rtts := map[string][]time.Duration{}
	for _, m := range r.a.wan.Members() {
		dc := m.Tags["dc"]
		if m.Tags["role"] != "consul" || dc == "" || m.Status == serf.StatusLeft {
			continue
		}
		rtts[dc] = append(rtts[dc], r.rtt(m.Name))
	}
	rtts[r.a.cfg.Datacenter] = []time.Duration{0}
	median := map[string]time.Duration{}
	var out []string
	for dc, ds := range rtts {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		median[dc] = ds[len(ds)/2]
		out = append(out, dc)
	}
	sort.Slice(out, func(i, j int) bool {
		if median[out[i]] != median[out[j]] {
			return median[out[i]] < median[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}

// floodWAN joins to the WAN pool every server of our datacenter that the
// LAN pool knows and the WAN pool does not, through the WAN port it
// advertises (as Consul's flood joiner does): one `join -wan` of one
// server brings its whole datacenter along.
func (a *Agent) floodWAN() {
	if a.wan == nil {
		return
	}
	inWAN := map[string]bool{}
	for _, m := range a.wan.Members() {
		if m.Status == serf.StatusAlive || m.Status == serf.StatusLeaving {
			inWAN[m.Name] = true
		}
	}
	var addrs []string
	for _, m := range a.lan.Members() {
		if m.Status != serf.StatusAlive {
			continue
		}
		if _, ok := a.parseServer(m); !ok || inWAN[m.Name+"."+a.cfg.Datacenter] {
			continue
		}
		port, err := strconv.Atoi(m.Tags["wan_join_port"])
		if err != nil || port <= 0 {
			continue
		}
		addrs = append(addrs, net.JoinHostPort(m.Addr.String(), strconv.Itoa(port)))
	}
	if len(addrs) == 0 {
		return
	}
	if n, err := a.wan.Join(addrs, true); err != nil {
		a.logger.Warn("(WAN) flood join of this datacenter's servers failed", "addrs", addrs, "joined", n, "error", joinError(err))
	} else {
		a.logger.Info("(WAN) joined this datacenter's servers", "number_of_nodes", n)
	}
}

// floodLoop runs floodWAN whenever the LAN pool changes and every
// floodInterval.
func (a *Agent) floodLoop(changed <-chan struct{}) {
	defer a.wg.Done()
	t := time.NewTicker(floodInterval)
	defer t.Stop()
	for {
		select {
		case <-a.shutdownCh:
			return
		case <-changed:
		case <-t.C:
		}
		a.floodWAN()
	}
}
