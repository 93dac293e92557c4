package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"consulx/store"
)

var catalogApplyEndpoint = &endpoint[CatalogWriteRequest, CatalogWriteResponse]{
	name: "Catalog.Apply", kind: writeEndpoint,
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
func catalogListing[A, R any](name string, list func(*store.Store) (*R, uint64, error)) *endpoint[A, R] {
	return &endpoint[A, R]{name: name, kind: readEndpoint,
		read: func(s *server, _ *A, arm *watchArm) (*R, uint64, error) {
			arm.Catalog()
			return list(s.store)
		}}
}

var catalogNodesEndpoint = catalogListing[NodesRequest]("Catalog.ListNodes", func(st *store.Store) (*NodesResponse, uint64, error) {
	nodes, idx, err := st.Nodes()
	return &NodesResponse{Nodes: nodes}, idx, err
})

var catalogServicesEndpoint = catalogListing[ServicesRequest]("Catalog.ListServices", func(st *store.Store) (*ServicesResponse, uint64, error) {
	svcs, idx, err := st.Services()
	return &ServicesResponse{Services: svcs}, idx, err
})

var serviceNodesEndpoint = &endpoint[ServiceNodesRequest, ServiceNodesResponse]{
	name: "Catalog.ServiceNodes", kind: readEndpoint,
	read: func(s *server, req *ServiceNodesRequest, arm *watchArm) (*ServiceNodesResponse, uint64, error) {
		arm.Service(req.Service)
		in, idx, err := s.store.ServiceInstances(req.Service)
		return &ServiceNodesResponse{Instances: in}, idx, err
	},
}

var nodeServicesEndpoint = &endpoint[NodeServicesRequest, NodeServicesResponse]{
	name: "Catalog.NodeServices", kind: readEndpoint,
	read: func(s *server, req *NodeServicesRequest, arm *watchArm) (*NodeServicesResponse, uint64, error) {
		arm.Catalog()
		n, svcs, idx, err := s.store.GetNode(req.Node)
		return &NodeServicesResponse{Node: n, Services: svcs}, idx, err
	},
}

var healthChecksEndpoint = &endpoint[ChecksRequest, ChecksResponse]{
	name: "Health.Checks", kind: readEndpoint,
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
