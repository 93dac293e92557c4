package node

import (
	"context"
	"strconv"

	"github.com/hashicorp/raft"

	"consulx/acl"
)

var statusLeaderEndpoint = &endpoint[StatusRequest, StatusLeaderResponse]{
	name: "Status.Leader", kind: directEndpoint,
	public: "Consul's status endpoints need no token",
	direct: func(s *server, _ context.Context, _ *StatusRequest) (*StatusLeaderResponse, error) {
		addr, _ := s.raft.LeaderWithID()
		return &StatusLeaderResponse{Leader: string(addr)}, nil
	},
}

var statusPeersEndpoint = &endpoint[StatusRequest, StatusPeersResponse]{
	name: "Status.Peers", kind: directEndpoint,
	public: "Consul's status endpoints need no token",
	direct: func(s *server, _ context.Context, _ *StatusRequest) (*StatusPeersResponse, error) {
		fut := s.raft.GetConfiguration()
		if err := fut.Error(); err != nil {
			return nil, err
		}
		out := &StatusPeersResponse{Peers: []string{}}
		for _, srv := range fut.Configuration().Servers {
			out.Peers = append(out.Peers, string(srv.Address))
		}
		return out, nil
	},
}

// statusRaftStateEndpoint is asked server to server by bootstrap_expect.
var statusRaftStateEndpoint = &endpoint[StatusRequest, RaftStateResponse]{
	name: "Status.RaftState", kind: directEndpoint,
	public: "servers ask each other while bootstrapping, before any token exists",
	direct: func(s *server, _ context.Context, _ *StatusRequest) (*RaftStateResponse, error) {
		return &RaftStateResponse{LastIndex: s.raft.LastIndex()}, nil
	},
}

var raftConfigurationEndpoint = &endpoint[StatusRequest, RaftConfigResponse]{
	name: "Operator.RaftConfiguration", kind: readEndpoint,
	filter: func(z acl.Authorizer, _ *StatusRequest, _ *RaftConfigResponse) (bool, error) {
		return false, allowOrDeny(z.OperatorRead(), z, "operator:read", "")
	},
	read: func(s *server, _ *StatusRequest, _ *watchArm) (*RaftConfigResponse, uint64, error) {
		fut := s.raft.GetConfiguration()
		if err := fut.Error(); err != nil {
			return nil, 0, err
		}
		leader, _ := s.raft.LeaderWithID()
		// The future's index is 0 for a bootstrap configuration; the stats
		// carry the index of the configuration actually in force.
		cfgIndex, _ := strconv.ParseUint(s.raft.Stats()["latest_configuration_index"], 10, 64)
		out := &RaftConfigResponse{Index: max(fut.Index(), cfgIndex), Servers: []RaftServer{}}
		for _, srv := range fut.Configuration().Servers {
			out.Servers = append(out.Servers, RaftServer{
				ID:              string(srv.ID),
				Node:            s.nodeNameByID(string(srv.ID)),
				Address:         string(srv.Address),
				Leader:          srv.Address == leader,
				Voter:           srv.Suffrage == raft.Voter,
				ProtocolVersion: "3",
			})
		}
		return out, out.Index, nil
	},
}

// StatusLeader returns the leader's RPC address ("" when there is none)
// of datacenter dc ("" for ours).
func (a *Agent) StatusLeader(ctx context.Context, dc string) (string, error) {
	r, err := statusLeaderEndpoint.call(ctx, a, &StatusRequest{QueryOptions: QueryOptions{Datacenter: dc}})
	if err != nil {
		return "", err
	}
	return r.Leader, nil
}

// StatusPeers returns the Raft peers' addresses of datacenter dc ("" for
// ours).
func (a *Agent) StatusPeers(ctx context.Context, dc string) ([]string, error) {
	r, err := statusPeersEndpoint.call(ctx, a, &StatusRequest{QueryOptions: QueryOptions{Datacenter: dc}})
	if err != nil {
		return nil, err
	}
	return r.Peers, nil
}

// RaftConfiguration returns the Raft configuration as the operator API shows it.
func (a *Agent) RaftConfiguration(ctx context.Context, opts QueryOptions) (*RaftConfigResponse, error) {
	return raftConfigurationEndpoint.call(ctx, a, &StatusRequest{QueryOptions: opts})
}

// DatacentersResponse lists datacenters, nearest first.
type DatacentersResponse struct{ Datacenters []string }

// catalogDatacentersEndpoint answers from the server's WAN pool (a client
// asks a server, as Consul's does).
var catalogDatacentersEndpoint = &endpoint[StatusRequest, DatacentersResponse]{
	name: "Catalog.ListDatacenters", kind: directEndpoint,
	public: "Consul lists datacenters to every token",
	direct: func(s *server, _ context.Context, _ *StatusRequest) (*DatacentersResponse, error) {
		return &DatacentersResponse{Datacenters: s.hooks.datacenters(s.cfg.Datacenter)}, nil
	},
}

// Datacenters lists every known datacenter, ours first, then nearest
// first by round-trip time (/v1/catalog/datacenters).
func (a *Agent) Datacenters(ctx context.Context) ([]string, error) {
	r, err := catalogDatacentersEndpoint.call(ctx, a, &StatusRequest{})
	if err != nil {
		return nil, err
	}
	return r.Datacenters, nil
}
