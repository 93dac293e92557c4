package httpapi

import (
	"context"
	"io"
	"time"

	"consulx/node"
	"consulx/store"
)

// Agent is what the handlers need of the agent. *node.Agent satisfies it;
// handler tests use a fake (fake_test.go), so they run without a cluster,
// while the contract tests against the official client run against real
// agents (package agentrun).
type Agent interface {
	Config() *node.Config
	NodeID() string
	IsServer() bool
	BlockingWait(wait time.Duration) time.Duration

	// Status and operator.
	StatusLeader(ctx context.Context) (string, error)
	StatusPeers(ctx context.Context) ([]string, error)
	RaftConfiguration(ctx context.Context, opts node.QueryOptions) (*node.RaftConfigResponse, error)
	Stats(ctx context.Context) map[string]map[string]string

	// Membership.
	Members(wan bool) []node.Member
	LocalMember() node.Member
	Join(addrs []string, wan bool) (int, error)
	Leave() error
	ForceLeave(name string, prune, wan bool) error
	Reload() error

	// KV and transactions. Each read has a Watch form that answers a
	// blocking read from this agent's own state for parking.
	KVApply(ctx context.Context, req *node.KVWriteRequest) (*node.KVWriteResponse, error)
	KVRead(ctx context.Context, req *node.KVReadRequest) (*node.KVReadResponse, error)
	KVReadWatch(req *node.KVReadRequest, prev *node.Watch) (*node.KVReadResponse, *node.Watch, error)
	Txn(ctx context.Context, req *node.TxnRequest) (*node.TxnResponse, error)

	// Sessions.
	SessionApply(ctx context.Context, req *node.SessionWriteRequest) (*node.SessionWriteResponse, error)
	SessionRenew(ctx context.Context, req *node.SessionRenewRequest) (*node.SessionReadResponse, error)
	SessionRead(ctx context.Context, req *node.SessionReadRequest) (*node.SessionReadResponse, error)
	SessionReadWatch(req *node.SessionReadRequest, prev *node.Watch) (*node.SessionReadResponse, *node.Watch, error)

	// Catalog and health.
	CatalogApply(ctx context.Context, req *node.CatalogWriteRequest) (*node.CatalogWriteResponse, error)
	CatalogNodes(ctx context.Context, req *node.NodesRequest) (*node.NodesResponse, error)
	CatalogNodesWatch(req *node.NodesRequest, prev *node.Watch) (*node.NodesResponse, *node.Watch, error)
	CatalogServices(ctx context.Context, req *node.ServicesRequest) (*node.ServicesResponse, error)
	CatalogServicesWatch(req *node.ServicesRequest, prev *node.Watch) (*node.ServicesResponse, *node.Watch, error)
	ServiceNodes(ctx context.Context, req *node.ServiceNodesRequest) (*node.ServiceNodesResponse, error)
	ServiceNodesWatch(req *node.ServiceNodesRequest, prev *node.Watch) (*node.ServiceNodesResponse, *node.Watch, error)
	NodeServices(ctx context.Context, req *node.NodeServicesRequest) (*node.NodeServicesResponse, error)
	NodeServicesWatch(req *node.NodeServicesRequest, prev *node.Watch) (*node.NodeServicesResponse, *node.Watch, error)
	HealthChecks(ctx context.Context, req *node.ChecksRequest) (*node.ChecksResponse, error)
	HealthChecksWatch(req *node.ChecksRequest, prev *node.Watch) (*node.ChecksResponse, *node.Watch, error)

	// The agent's own services and checks.
	LocalServices() map[string]store.NodeService
	LocalChecks() map[string]store.HealthCheck
	RegisterService(def *node.ServiceDefinition) error
	DeregisterService(id string) error
	RegisterCheck(body *node.CheckBody) error
	DeregisterCheck(id string) error
	UpdateCheck(id, status, output string) error
	MaintenanceOn(ctx context.Context, node, serviceID string, enable bool, reason string) error

	// Snapshots.
	SnapshotSave(ctx context.Context, stale bool, w io.Writer) (uint64, error)
	SnapshotRestore(ctx context.Context, r io.Reader) error
}

var _ Agent = (*node.Agent)(nil)
