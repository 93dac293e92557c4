package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hashicorp/serf/serf"

	"consulx/store"
)

// CatalogWriteRequest registers or deregisters catalog entries.
type CatalogWriteRequest struct {
	Register   *store.RegisterRequest
	Deregister *store.DeregisterRequest
}

// CatalogWriteResponse carries the write's index.
type CatalogWriteResponse struct{ Index uint64 }

// CatalogReadRequest names one catalog or health query.
type CatalogReadRequest struct {
	// Kind: nodes, services, service, node, health-node, health-checks,
	// health-service, health-state.
	Kind string
	Name string
	QueryOptions
}

// CatalogReadResponse holds whichever result the kind asks for.
type CatalogReadResponse struct {
	Nodes     []store.Node
	Node      *store.Node
	Services  map[string][]string
	Instances []store.ServiceInstance
	NodeSvcs  []store.NodeService
	Checks    []store.HealthCheck
	QueryMeta
}

func (s *server) catalogApply(ctx context.Context, req *CatalogWriteRequest) (*CatalogWriteResponse, error) {
	var out CatalogWriteResponse
	err := s.onLeader(ctx, "Catalog.Apply", req, &out, true, func() error {
		var res store.ApplyResult
		var idx uint64
		var err error
		switch {
		case req.Register != nil:
			res, idx, err = s.apply(store.RegisterCommand, req.Register)
		case req.Deregister != nil:
			res, idx, err = s.apply(store.DeregisterCommand, req.Deregister)
		default:
			return &BadRequestError{Msg: "empty catalog write"}
		}
		if err != nil {
			return err
		}
		if res.Err != "" {
			return &BadRequestError{Msg: res.Err}
		}
		out.Index = idx
		return nil
	})
	return &out, err
}

func (s *server) catalogRead(ctx context.Context, req *CatalogReadRequest) (*CatalogReadResponse, error) {
	var out CatalogReadResponse
	err := s.read(ctx, "Catalog.Read", req.QueryOptions, req, &out, func() error {
		return s.blocking(ctx, req.QueryOptions, func() (uint64, <-chan struct{}, func(), error) {
			ch, stop := s.store.Watches().WatchCatalog()
			out = CatalogReadResponse{}
			var idx uint64
			var err error
			st := s.store
			switch req.Kind {
			case "nodes":
				out.Nodes, idx, err = st.Nodes()
			case "services":
				out.Services, idx, err = st.Services()
			case "service", "health-service":
				out.Instances, idx, err = st.ServiceInstances(req.Name)
			case "node":
				out.Node, out.NodeSvcs, idx, err = st.GetNode(req.Name)
			case "health-node":
				out.Checks, idx, err = st.Checks(req.Name, "", "")
			case "health-checks":
				out.Checks, idx, err = st.Checks("", req.Name, "")
			case "health-state":
				out.Checks, idx, err = st.Checks("", "", req.Name)
			default:
				err = &BadRequestError{Msg: fmt.Sprintf("unknown catalog query %q", req.Kind)}
			}
			out.QueryMeta = s.meta(idx)
			return idx, ch, stop, err
		})
	})
	return &out, err
}

// CatalogApply writes to the catalog.
func (a *Agent) CatalogApply(ctx context.Context, req *CatalogWriteRequest) (*CatalogWriteResponse, error) {
	return callServer(ctx, a, "Catalog.Apply", req, func(s *server) func(context.Context, *CatalogWriteRequest) (*CatalogWriteResponse, error) {
		return s.catalogApply
	})
}

// CatalogRead runs a catalog or health query.
func (a *Agent) CatalogRead(ctx context.Context, req *CatalogReadRequest) (*CatalogReadResponse, error) {
	return callServer(ctx, a, "Catalog.Read", req, func(s *server) func(context.Context, *CatalogReadRequest) (*CatalogReadResponse, error) {
		return s.catalogRead
	})
}

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
	members := s.a.lan.Members()
	known := map[string]bool{}
	for _, m := range members {
		if m.Tags["dc"] != s.a.cfg.Datacenter {
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
		reg := &store.RegisterRequest{Node: m.Name, ID: m.Tags["id"], Address: m.Addr.String(), Datacenter: s.a.cfg.Datacenter,
			TaggedAddresses: map[string]string{"lan": m.Addr.String()},
			Checks:          []*store.HealthCheck{{CheckID: serfHealthCheck, Name: serfHealthName, Status: status, Output: output}}}
		if info, ok := s.a.parseServer(m); ok && m.Status == serf.StatusAlive {
			reg.Service = &store.NodeService{ID: "consul", Service: "consul", Port: info.port, Tags: []string{}}
		}
		s.writeCatalog(ctx, &CatalogWriteRequest{Register: reg}, "register member")
	}
	// Nodes that are no longer members at all (reaped) leave the catalog
	// too, unless something registered them directly with an address no
	// member has (external services stay).
	nodes, _, _ := s.store.Nodes()
	for _, n := range nodes {
		if known[n.Node] {
			continue
		}
		if checks, _, _ := s.store.Checks(n.Node, "", ""); hasCheck(checks, serfHealthCheck) {
			s.writeCatalog(ctx, &CatalogWriteRequest{Deregister: &store.DeregisterRequest{Node: n.Node}}, "deregister reaped node")
		}
	}
}

func hasCheck(checks []store.HealthCheck, id string) bool {
	for _, c := range checks {
		if c.CheckID == id {
			return true
		}
	}
	return false
}

// catalogMatches reports whether the catalog already shows member m with
// the given serfHealth status (and the consul service for servers).
func (s *server) catalogMatches(m serf.Member, status string) bool {
	n, svcs, _, err := s.store.GetNode(m.Name)
	if err != nil || n == nil || n.Address != m.Addr.String() {
		return false
	}
	checks, _, _ := s.store.Checks(m.Name, "", "")
	ok := false
	for _, c := range checks {
		if c.CheckID == serfHealthCheck {
			ok = c.Status == status
		}
	}
	if !ok {
		return false
	}
	if _, isServer := s.a.parseServer(m); isServer && status == store.HealthPassing {
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
	if _, err := s.catalogApply(ctx, req); err != nil && !errors.Is(err, ErrNoLeader) {
		s.logger.Warn("catalog reconcile failed", "action", what, "error", err)
	}
}

func dnsMode(stale bool) QueryOptions {
	if stale {
		return QueryOptions{Consistency: ModeStale}
	}
	return QueryOptions{}
}

// dnsRead runs a catalog read for DNS: stale when allowed, redone in the
// default (leader) mode when the stale answer's server last heard from the
// leader longer ago than maxStale (dns_config.max_stale).
func (a *Agent) dnsRead(ctx context.Context, kind, name string, stale bool, maxStale time.Duration) (*CatalogReadResponse, error) {
	out, err := a.CatalogRead(ctx, &CatalogReadRequest{Kind: kind, Name: name, QueryOptions: dnsMode(stale)})
	if err == nil && stale && maxStale > 0 && out.LastContact > maxStale {
		return a.CatalogRead(ctx, &CatalogReadRequest{Kind: kind, Name: name})
	}
	return out, err
}

// DNSNode looks a catalog node up for the DNS interface (nil if unknown).
func (a *Agent) DNSNode(ctx context.Context, name string, stale bool, maxStale time.Duration) (*store.Node, error) {
	out, err := a.dnsRead(ctx, "node", name, stale, maxStale)
	if err != nil {
		return nil, err
	}
	return out.Node, nil
}

// DNSService returns a service's instances with their checks for DNS.
func (a *Agent) DNSService(ctx context.Context, name string, stale bool, maxStale time.Duration) ([]store.ServiceInstance, error) {
	out, err := a.dnsRead(ctx, "health-service", name, stale, maxStale)
	if err != nil {
		return nil, err
	}
	return out.Instances, nil
}
