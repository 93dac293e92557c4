package node

import (
	"context"
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

var catalogNodesEndpoint = &endpoint[NodesRequest, NodesResponse]{
	name: "Catalog.ListNodes", kind: readEndpoint,
	read: func(s *server, _ *NodesRequest, arm *watchArm) (*NodesResponse, uint64, error) {
		arm.Catalog()
		nodes, idx, err := s.store.Nodes()
		return &NodesResponse{Nodes: nodes}, idx, err
	},
}

var catalogServicesEndpoint = &endpoint[ServicesRequest, ServicesResponse]{
	name: "Catalog.ListServices", kind: readEndpoint,
	read: func(s *server, _ *ServicesRequest, arm *watchArm) (*ServicesResponse, uint64, error) {
		arm.Catalog()
		svcs, idx, err := s.store.Services()
		return &ServicesResponse{Services: svcs}, idx, err
	},
}

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

// CatalogNodes lists the catalog's nodes.
func (a *Agent) CatalogNodes(ctx context.Context, req *NodesRequest) (*NodesResponse, error) {
	return catalogNodesEndpoint.call(ctx, a, req)
}

// CatalogServices lists the catalog's services with their tags.
func (a *Agent) CatalogServices(ctx context.Context, req *ServicesRequest) (*ServicesResponse, error) {
	return catalogServicesEndpoint.call(ctx, a, req)
}

// ServiceNodes lists one service's instances with their checks.
func (a *Agent) ServiceNodes(ctx context.Context, req *ServiceNodesRequest) (*ServiceNodesResponse, error) {
	return serviceNodesEndpoint.call(ctx, a, req)
}

// NodeServices returns one node and its services.
func (a *Agent) NodeServices(ctx context.Context, req *NodeServicesRequest) (*NodeServicesResponse, error) {
	return nodeServicesEndpoint.call(ctx, a, req)
}

// HealthChecks lists health checks by node, service or state.
func (a *Agent) HealthChecks(ctx context.Context, req *ChecksRequest) (*ChecksResponse, error) {
	return healthChecksEndpoint.call(ctx, a, req)
}

// The Watch forms answer a blocking read from this agent's state for the
// HTTP layer to park (see watchLocal; ErrNotLocal when it cannot).

// CatalogNodesWatch is CatalogNodes for parking.
func (a *Agent) CatalogNodesWatch(req *NodesRequest, prev *Watch) (*NodesResponse, *Watch, error) {
	return catalogNodesEndpoint.watchLocal(a, req, prev)
}

// CatalogServicesWatch is CatalogServices for parking.
func (a *Agent) CatalogServicesWatch(req *ServicesRequest, prev *Watch) (*ServicesResponse, *Watch, error) {
	return catalogServicesEndpoint.watchLocal(a, req, prev)
}

// ServiceNodesWatch is ServiceNodes for parking.
func (a *Agent) ServiceNodesWatch(req *ServiceNodesRequest, prev *Watch) (*ServiceNodesResponse, *Watch, error) {
	return serviceNodesEndpoint.watchLocal(a, req, prev)
}

// NodeServicesWatch is NodeServices for parking.
func (a *Agent) NodeServicesWatch(req *NodeServicesRequest, prev *Watch) (*NodeServicesResponse, *Watch, error) {
	return nodeServicesEndpoint.watchLocal(a, req, prev)
}

// HealthChecksWatch is HealthChecks for parking.
func (a *Agent) HealthChecksWatch(req *ChecksRequest, prev *Watch) (*ChecksResponse, *Watch, error) {
	return healthChecksEndpoint.watchLocal(a, req, prev)
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
func dnsRead[A any, R any](ctx context.Context, read func(context.Context, *A) (*R, error), req *A, opts *QueryOptions,
	meta func(*R) QueryMeta, stale bool, maxStale time.Duration) (*R, error) {
	*opts = dnsMode(stale)
	out, err := read(ctx, req)
	if err == nil && stale && maxStale > 0 && meta(out).LastContact > maxStale {
		*opts = QueryOptions{}
		return read(ctx, req)
	}
	return out, err
}

// DNSNode looks a catalog node up for the DNS interface (nil if unknown).
func (a *Agent) DNSNode(ctx context.Context, name string, stale bool, maxStale time.Duration) (*store.Node, error) {
	req := &NodeServicesRequest{Node: name}
	out, err := dnsRead(ctx, a.NodeServices, req, &req.QueryOptions, func(r *NodeServicesResponse) QueryMeta { return r.QueryMeta }, stale, maxStale)
	if err != nil {
		return nil, err
	}
	return out.Node, nil
}

// DNSService returns a service's instances with their checks for DNS.
func (a *Agent) DNSService(ctx context.Context, name string, stale bool, maxStale time.Duration) ([]store.ServiceInstance, error) {
	req := &ServiceNodesRequest{Service: name}
	out, err := dnsRead(ctx, a.ServiceNodes, req, &req.QueryOptions, func(r *ServiceNodesResponse) QueryMeta { return r.QueryMeta }, stale, maxStale)
	if err != nil {
		return nil, err
	}
	return out.Instances, nil
}
