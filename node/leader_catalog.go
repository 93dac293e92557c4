package node

import (
	"context"
	"errors"

	"github.com/hashicorp/raft"
	"github.com/hashicorp/serf/serf"

	"consulx/store"
)

// serfHealth outputs, as Consul writes them.
const (
	serfHealthName     = "Serf Health Status"
	serfAliveOutput    = "Agent alive and reachable"
	serfCriticalOutput = "Agent not live or unreachable"
)

// reconcileCatalog (leader) mirrors gossip into the catalog: every alive
// member is a node with a passing serfHealth check, a failed member's
// check turns critical, members that left are deregistered, and servers
// carry the "consul" service. Only differences are written.
func (s *server) reconcileCatalog() {
	if s.raft.State() != raft.Leader {
		return
	}
	ctx := context.Background()
	members := s.lan.Members()
	known := map[string]bool{}
	for _, m := range members {
		if m.Tags["dc"] != s.cfg.Datacenter {
			continue
		}
		known[m.Name] = true
		if m.Status == serf.StatusLeft {
			if n, _, _, _ := s.store.GetNode(m.Name); n != nil {
				s.writeCatalog(ctx, &CatalogWriteRequest{Deregister: &store.DeregisterRequest{Node: m.Name}}, "deregister left node")
			}
			continue
		}
		status, output := store.HealthPassing, serfAliveOutput
		if m.Status != serf.StatusAlive {
			status, output = store.HealthCritical, serfCriticalOutput
		}
		if s.catalogMatches(m, status) {
			continue
		}
		reg := &store.RegisterRequest{Node: m.Name, ID: m.Tags["id"], Address: m.Addr.String(), Datacenter: s.cfg.Datacenter,
			TaggedAddresses: map[string]string{"lan": m.Addr.String()},
			Checks:          []*store.HealthCheck{{CheckID: serfHealthCheck, Name: serfHealthName, Status: status, Output: output}}}
		if info, ok := parseServer(s.cfg.Datacenter, m); ok && m.Status == serf.StatusAlive {
			reg.Service = &store.NodeService{ID: "consul", Service: "consul", Port: info.port, Tags: []string{}}
		}
		s.writeCatalog(ctx, &CatalogWriteRequest{Register: reg}, "register member")
	}
	// Nodes that are no longer members at all (reaped) leave the catalog
	// too, unless something registered them directly with an address no
	// member has (external services stay).
	// From the in-memory mirror: this runs every two seconds, and a
	// catalog of thousands of externally registered nodes must not be
	// decoded each time.
	for _, n := range s.store.NodeNames() {
		if known[n] {
			continue
		}
		if _, ok := s.store.NodeCheck(n, serfHealthCheck); ok {
			s.writeCatalog(ctx, &CatalogWriteRequest{Deregister: &store.DeregisterRequest{Node: n}}, "deregister reaped node")
		}
	}
}

// catalogMatches reports whether the catalog already shows member m with
// the given serfHealth status (and the consul service for servers).
func (s *server) catalogMatches(m serf.Member, status string) bool {
	n, svcs, _, err := s.store.GetNode(m.Name)
	if err != nil || n == nil || n.Address != m.Addr.String() {
		return false
	}
	if c, ok := s.store.NodeCheck(m.Name, serfHealthCheck); !ok || c.Status != status {
		return false
	}
	if _, isServer := parseServer(s.cfg.Datacenter, m); isServer && status == store.HealthPassing {
		for _, sv := range svcs {
			if sv.ID == "consul" {
				return true
			}
		}
		return false
	}
	return true
}

func (s *server) writeCatalog(ctx context.Context, req *CatalogWriteRequest, what string) {
	// The server's own bookkeeping: not subject to the authorizer.
	if _, err := catalogApplyEndpoint.leader(s, ctx, req); err != nil && !errors.Is(err, ErrNoLeader) {
		s.logger.Warn("catalog reconcile failed", "action", what, "error", err)
	}
}
