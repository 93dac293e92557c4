package httpapi

import (
	"consulx/exec/remote"
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
	StatusLeader(ctx context.Context, dc string) (string, error)
	StatusPeers(ctx context.Context, dc string) ([]string, error)
	RaftConfiguration(ctx context.Context, opts node.QueryOptions) (*node.RaftConfigResponse, error)
	Stats(ctx context.Context) map[string]map[string]string
	// KeyringOperation lists, installs, uses or removes a gossip key in
	// every pool (node/keyring.go).
	KeyringOperation(ctx context.Context, req *node.KeyringRequest) ([]node.KeyringResponse, error)

	// Membership.
	Members(wan bool) []node.Member
	LocalMember() node.Member
	Join(addrs []string, wan bool) (int, error)
	Leave() error
	ForceLeave(name string, prune, wan bool) error
	Reload() error

	// Reads are the read endpoints (KV, catalog, health, sessions), each
	// with the read-and-watch form that parking uses.
	Reads() *node.Reads

	// Writes.
	KVApply(ctx context.Context, req *node.KVWriteRequest) (*node.KVWriteResponse, error)
	Txn(ctx context.Context, req *node.TxnRequest) (*node.TxnResponse, error)
	SessionApply(ctx context.Context, req *node.SessionWriteRequest) (*node.SessionWriteResponse, error)
	SessionRenew(ctx context.Context, req *node.SessionRenewRequest) (*node.SessionReadResponse, error)
	CatalogApply(ctx context.Context, req *node.CatalogWriteRequest) (*node.CatalogWriteResponse, error)

	// The agent's own services and checks.
	LocalServices() map[string]store.NodeService
	LocalChecks() map[string]store.HealthCheck
	RegisterService(def *node.ServiceDefinition) error
	DeregisterService(id string) error
	RegisterCheck(body *node.CheckBody) error
	DeregisterCheck(id string) error
	UpdateCheck(id, status, output string) error
	MaintenanceOn(ctx context.Context, node, serviceID string, enable bool, reason string) error

	// User events (gossip, never Raft).
	FireEvent(ctx context.Context, ev *node.UserEvent, datacenter string) (*node.UserEvent, error)
	UserEvents(name string) ([]node.UserEvent, uint64, <-chan struct{})
	// Datacenters lists the known datacenters, nearest first.
	Datacenters(ctx context.Context) ([]string, error)

	// Remote exec (streamed through a server's relay, never Raft).
	Exec(ctx context.Context, req *node.ExecRequest, datacenter string, fn func(remote.Event)) error

	// Access control (node/acl*.go).
	ACLEnabled() bool
	Resolve(ctx context.Context, secret string) (*node.Identity, error)
	ACLApply(ctx context.Context, req *node.ACLWriteRequest) (*node.ACLWriteResponse, error)
	ACLRead(ctx context.Context, req *node.ACLReadRequest) (*node.ACLReadResponse, error)
	ACLReplication(ctx context.Context, opts node.QueryOptions) (*node.ACLReplicationStatus, error)
	SetAgentToken(ctx context.Context, kind, secret string) error

	// Snapshots.
	SnapshotSave(ctx context.Context, stale bool, dc string) (*node.Snapshot, error)
	SnapshotRestore(ctx context.Context, r io.Reader, dc string) error
}

var _ Agent = (*node.Agent)(nil)
