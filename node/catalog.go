package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"consulx/acl"
	"consulx/store"

	"github.com/hashicorp/raft"
)

var catalogApplyEndpoint = &endpoint[CatalogWriteRequest, CatalogWriteResponse]{
	name: "Catalog.Apply", kind: writeEndpoint,
	authorize: authorizeCatalogWrite,
	leader: func(s *server, _ context.Context, req *CatalogWriteRequest) (*CatalogWriteResponse, error) {
		var idx uint64
		var err error
		switch {
		case req.Register != nil:
			_, idx, err = s.raftApply(store.RegisterCommand, req.Register)
		case req.Deregister != nil:
			_, idx, err = s.raftApply(store.DeregisterCommand, req.Deregister)
		default:
			return nil, &BadRequestError{Msg: "empty catalog write"}
		}
		if err != nil {
			return nil, err
		}
		return &CatalogWriteResponse{Index: idx}, nil
	},
}

// catalogListing declares a read of the whole catalog (any catalog change
// may change its result).
func catalogListing[A, R any](name string, list func(*store.Store) (*R, uint64, error),
	filter func(acl.Authorizer, *A, *R) (bool, error)) *endpoint[A, R] {
	return &endpoint[A, R]{name: name, kind: readEndpoint, filter: filter,
		read: func(s *server, _ *A, arm *watchArm) (*R, uint64, error) {
			arm.Catalog()
			return list(s.store)
		}}
}

var catalogNodesEndpoint = catalogListing[NodesRequest]("Catalog.ListNodes", func(st *store.Store) (*NodesResponse, uint64, error) {
	nodes, idx, err := st.Nodes()
	return &NodesResponse{Nodes: nodes}, idx, err
}, func(z acl.Authorizer, _ *NodesRequest, resp *NodesResponse) (bool, error) {
	return filterSlice(&resp.Nodes, func(n *store.Node) bool { return z.NodeRead(n.Node) }), nil
})

var catalogServicesEndpoint = catalogListing[ServicesRequest]("Catalog.ListServices", func(st *store.Store) (*ServicesResponse, uint64, error) {
	svcs, idx, err := st.Services()
	return &ServicesResponse{Services: svcs}, idx, err
}, func(z acl.Authorizer, _ *ServicesRequest, resp *ServicesResponse) (bool, error) {
	var out map[string][]string
	for name := range resp.Services {
		if !z.ServiceRead(name) {
			if out == nil { // copy on the first drop: the map may be shared
				out = make(map[string][]string, len(resp.Services))
				for n, t := range resp.Services {
					out[n] = t
				}
			}
			delete(out, name)
		}
	}
	if out == nil {
		return false, nil
	}
	resp.Services = out
	return true, nil
})

var serviceNodesEndpoint = &endpoint[ServiceNodesRequest, ServiceNodesResponse]{
	name: "Catalog.ServiceNodes", kind: readEndpoint,
	filter: func(z acl.Authorizer, req *ServiceNodesRequest, resp *ServiceNodesResponse) (bool, error) {
		if !z.ServiceRead(req.Service) {
			had := len(resp.Instances) > 0
			resp.Instances = []store.ServiceInstance{}
			return had, nil
		}
		return filterSlice(&resp.Instances, func(in *store.ServiceInstance) bool { return z.NodeRead(in.Node.Node) }), nil
	},
	read: func(s *server, req *ServiceNodesRequest, arm *watchArm) (*ServiceNodesResponse, uint64, error) {
		arm.Service(req.Service)
		in, idx, err := s.store.ServiceInstances(req.Service)
		return &ServiceNodesResponse{Instances: in}, idx, err
	},
}

var nodeServicesEndpoint = &endpoint[NodeServicesRequest, NodeServicesResponse]{
	name: "Catalog.NodeServices", kind: readEndpoint,
	filter: func(z acl.Authorizer, req *NodeServicesRequest, resp *NodeServicesResponse) (bool, error) {
		if resp.Node != nil && !z.NodeRead(resp.Node.Node) {
			resp.Node, resp.Services = nil, nil
			return true, nil
		}
		return filterSlice(&resp.Services, func(s *store.NodeService) bool { return z.ServiceRead(s.Service) }), nil
	},
	read: func(s *server, req *NodeServicesRequest, arm *watchArm) (*NodeServicesResponse, uint64, error) {
		arm.Catalog()
		n, svcs, idx, err := s.store.GetNode(req.Node)
		return &NodeServicesResponse{Node: n, Services: svcs}, idx, err
	},
}

var healthChecksEndpoint = &endpoint[ChecksRequest, ChecksResponse]{
	name: "Health.Checks", kind: readEndpoint,
	filter: func(z acl.Authorizer, _ *ChecksRequest, resp *ChecksResponse) (bool, error) {
		return filterSlice(&resp.Checks, func(c *store.HealthCheck) bool {
			if c.ServiceName != "" {
				return z.ServiceRead(c.ServiceName) && z.NodeRead(c.Node)
			}
			return z.NodeRead(c.Node)
		}), nil
	},
	read: func(s *server, req *ChecksRequest, arm *watchArm) (*ChecksResponse, uint64, error) {
		arm.Catalog()
		var node, service, state string
		switch req.By {
		case ChecksOfNode:
			node = req.Name
		case ChecksOfService:
			service = req.Name
		case ChecksInState:
			state = req.Name
		default:
			return nil, 0, &BadRequestError{Msg: fmt.Sprintf("unknown health check listing %d", req.By)}
		}
		checks, idx, err := s.store.Checks(node, service, state)
		return &ChecksResponse{Checks: checks}, idx, err
	},
}

// CatalogApply writes to the catalog.
func (a *Agent) CatalogApply(ctx context.Context, req *CatalogWriteRequest) (*CatalogWriteResponse, error) {
	return catalogApplyEndpoint.call(ctx, a, req)
}

func dnsMode(stale bool, dc string) QueryOptions {
	if stale {
		return QueryOptions{Consistency: ModeStale, Datacenter: dc}
	}
	return QueryOptions{Datacenter: dc}
}

// dnsRead runs a catalog read for DNS: stale when allowed, redone in the
// default (leader) mode when the stale answer's server last heard from the
// leader longer ago than maxStale (dns_config.max_stale).
func dnsRead[A any, R any](ctx context.Context, read func(context.Context, *A) (*R, error), req *A, opts *QueryOptions,
	meta func(*R) QueryMeta, stale bool, maxStale time.Duration) (*R, error) {
	dc := opts.Datacenter
	*opts = dnsMode(stale, dc)
	out, err := read(ctx, req)
	if err == nil && stale && maxStale > 0 && meta(out).LastContact > maxStale {
		*opts = QueryOptions{Datacenter: dc}
		return read(ctx, req)
	}
	return out, err
}

// DNSNode looks a catalog node of datacenter dc ("" for ours) up for the
// DNS interface (nil if unknown).
func (a *Agent) DNSNode(ctx context.Context, name, dc string, stale bool, maxStale time.Duration) (*store.Node, error) {
	req := &NodeServicesRequest{Node: name, QueryOptions: QueryOptions{Datacenter: dc}}
	out, err := dnsRead(ctx, a.reads.NodeServices.Read, req, &req.QueryOptions, func(r *NodeServicesResponse) QueryMeta { return r.QueryMeta }, stale, maxStale)
	if errors.Is(err, ErrNoPathToDatacenter) {
		return nil, nil // a name in no datacenter we know: NXDOMAIN
	}
	if err != nil {
		return nil, err
	}
	return out.Node, nil
}

// DNSService returns the instances of a service of datacenter dc ("" for
// ours) with their checks for DNS.
func (a *Agent) DNSService(ctx context.Context, name, dc string, stale bool, maxStale time.Duration) ([]store.ServiceInstance, error) {
	req := &ServiceNodesRequest{Service: name, QueryOptions: QueryOptions{Datacenter: dc}}
	out, err := dnsRead(ctx, a.reads.ServiceNodes.Read, req, &req.QueryOptions, func(r *ServiceNodesResponse) QueryMeta { return r.QueryMeta }, stale, maxStale)
	if errors.Is(err, ErrNoPathToDatacenter) {
		return nil, nil // a name in no datacenter we know: NXDOMAIN
	}
	if err != nil {
		return nil, err
	}
	return out.Instances, nil
}

// DNSGeneration tells the DNS interface whether it may answer from its
// cache, and the generation cached answers must carry. Only a server
// answering for its own datacenter from its own state may: one that
// serves the read locally (stale allowed and a leader ever known, or
// the leader), within maxStale of the leader, and whose ACL decisions
// are its own (ACLs off, or the primary datacenter: a secondary may
// resolve tokens through the primary with a TTL). The generation moves
// with every change to the catalog or the ACL tables, a snapshot
// restore, and a change of the agent's tokens (the sum of two counters
// that only grow changes when either does). A default token with an
// expiration time turns caching off.
func (a *Agent) DNSGeneration(stale bool, maxStale time.Duration) (uint64, bool) {
	s := a.srv
	if s == nil || a.cfg.ACL.Enabled && a.cfg.PrimaryDatacenter != a.cfg.Datacenter {
		return 0, false
	}
	if !s.answersLocally(dnsMode(stale, "")) {
		return 0, false
	}
	if stale && maxStale > 0 && s.raft.State() != raft.Leader {
		lc := s.raft.LastContact()
		if lc.IsZero() || time.Since(lc) > maxStale {
			return 0, false
		}
	}
	if a.cfg.ACL.Enabled {
		// A default token that expires would change the answers without
		// any write: answers made with it are not cached at all.
		id, err := a.Resolve(context.Background(), "")
		if err != nil || id.Token != nil && id.Token.ExpirationTime != nil {
			return 0, false
		}
	}
	return s.store.AnswersGeneration() + a.tokens.gen.Load(), true
}

// authorizeCatalogWrite: as Consul's vetting of a registration, write on
// everything the write creates or replaces: node:write when the node is
// new or its entry changes, service:write on the service named and on
// the service an existing instance of that ID belongs to, and for each
// check write on its new owner and on the owner of an existing check of
// that ID; a check names the registration's node or none.
func authorizeCatalogWrite(s *server, z acl.Authorizer, req *CatalogWriteRequest) error {
	if r := req.Register; r != nil {
		existing, svcs, _, _ := s.store.GetNode(r.Node)
		if existing == nil || !r.SkipNodeUpdate {
			if err := allowOrDeny(z.NodeWrite(r.Node), z, "node:write", r.Node); err != nil {
				return err
			}
		}
		serviceOfID := func(id string) string {
			if r.Service != nil && r.Service.ID == id {
				return r.Service.Service
			}
			for _, sv := range svcs {
				if sv.ID == id {
					return sv.Service
				}
			}
			return ""
		}
		if r.Service != nil {
			if err := allowOrDeny(z.ServiceWrite(r.Service.Service), z, "service:write", r.Service.Service); err != nil {
				return err
			}
			for _, sv := range svcs {
				if sv.ID == r.Service.ID && sv.Service != r.Service.Service {
					if err := allowOrDeny(z.ServiceWrite(sv.Service), z, "service:write", sv.Service); err != nil {
						return err
					}
				}
			}
		}
		var old []store.HealthCheck
		if existing != nil && len(r.Checks) > 0 {
			old, _, _ = s.store.Checks(r.Node, "", "")
		}
		owner := func(serviceID, serviceName string) error {
			if serviceID == "" {
				return allowOrDeny(z.NodeWrite(r.Node), z, "node:write", r.Node)
			}
			name := serviceName
			if n := serviceOfID(serviceID); n != "" {
				name = n
			}
			return allowOrDeny(z.ServiceWrite(name), z, "service:write", name)
		}
		for _, c := range r.Checks {
			if c == nil {
				continue
			}
			if c.Node != "" && c.Node != r.Node {
				return &BadRequestError{Msg: fmt.Sprintf("check node %q does not match the registration's node %q", c.Node, r.Node)}
			}
			if err := owner(c.ServiceID, c.ServiceName); err != nil {
				return err
			}
			for _, o := range old {
				if o.CheckID == c.CheckID {
					if err := owner(o.ServiceID, o.ServiceName); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	if d := req.Deregister; d != nil {
		if d.ServiceID != "" {
			name := s.serviceOf(d.Node, d.ServiceID)
			return allowOrDeny(z.ServiceWrite(name), z, "service:write", name)
		}
		if d.CheckID != "" {
			checks, _, _ := s.store.Checks(d.Node, "", "")
			for _, c := range checks {
				if c.CheckID == d.CheckID && c.ServiceID != "" {
					name := s.serviceOf(d.Node, c.ServiceID)
					return allowOrDeny(z.ServiceWrite(name), z, "service:write", name)
				}
			}
		}
		return allowOrDeny(z.NodeWrite(d.Node), z, "node:write", d.Node)
	}
	return nil
}

// serviceOf names the service with this ID on a node ("" when none).
func (s *server) serviceOf(node, id string) string {
	_, svcs, _, err := s.store.GetNode(node)
	if err != nil {
		return ""
	}
	for _, sv := range svcs {
		if sv.ID == id {
			return sv.Service
		}
	}
	return ""
}
