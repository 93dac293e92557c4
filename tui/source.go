package tui

import (
	"context"

	"consulx/api"
)

// Source is the part of the agent's HTTP API the console uses;
// *api.Client satisfies it.
type Source interface {
	Self(ctx context.Context) (*api.Self, error)
	Leader(ctx context.Context) (string, error)
	// MembersMeta lists the LAN (or WAN) members; the meta says whether
	// ACLs hid some of them.
	MembersMeta(ctx context.Context, wan bool) ([]api.Member, *api.QueryMeta, error)
	RaftConfiguration(ctx context.Context, stale bool) (*api.RaftConfiguration, error)
	KVGet(ctx context.Context, key string, q *api.QueryOptions) (*api.KVPair, *api.QueryMeta, error)
	KVList(ctx context.Context, prefix string, q *api.QueryOptions) ([]*api.KVPair, *api.QueryMeta, error)
	KVKeys(ctx context.Context, prefix, separator string, q *api.QueryOptions) ([]string, *api.QueryMeta, error)
	KVPut(ctx context.Context, p *api.KVPair, w *api.WriteOptions) (bool, error)
	KVDelete(ctx context.Context, key string, cas *uint64) (bool, error)
	KVDeleteTree(ctx context.Context, prefix string) (bool, error)
	Monitor(ctx context.Context, level string, fn func(line string)) error

	CatalogServices(ctx context.Context, q *api.QueryOptions) (map[string][]string, *api.QueryMeta, error)
	HealthService(ctx context.Context, name string, passingOnly bool, q *api.QueryOptions) ([]api.ServiceEntry, *api.QueryMeta, error)
	HealthState(ctx context.Context, state string, q *api.QueryOptions) ([]api.HealthCheck, *api.QueryMeta, error)
	// NodeMaintenanceOn and ServiceMaintenanceOn toggle maintenance on node
	// ("" = the agent's own; another node is reached through the cluster).
	NodeMaintenanceOn(ctx context.Context, node string, enable bool, reason string) error
	ServiceMaintenanceOn(ctx context.Context, node, serviceID string, enable bool, reason string) error

	// EventList lists the agent's recent user events named name ("" for
	// all), oldest first; with q.WaitIndex it blocks until the list changes.
	EventList(ctx context.Context, name string, q *api.QueryOptions) ([]api.UserEvent, *api.QueryMeta, error)
	// EventFire fires a user event and returns it with its ID.
	EventFire(ctx context.Context, ev *api.UserEvent, datacenter string) (*api.UserEvent, error)
	// Exec runs a remote exec job, calling fn (on the caller's goroutine)
	// with every event until the job is done; cancelling ctx cancels the
	// job on every node.
	Exec(ctx context.Context, req *api.ExecRequest, datacenter string, fn func(api.ExecEvent)) error

	// ACLTokenReadSelf reads the token the console sends (the header
	// names it); ACLPolicyList and ACLTokenList are the ACL pane's lists.
	ACLTokenReadSelf(ctx context.Context, q *api.QueryOptions) (*api.ACLToken, *api.QueryMeta, error)
	ACLPolicyList(ctx context.Context, q *api.QueryOptions) ([]*api.ACLPolicyListEntry, *api.QueryMeta, error)
	ACLTokenList(ctx context.Context, q *api.QueryOptions) ([]*api.ACLTokenListEntry, *api.QueryMeta, error)
}

var _ Source = (*api.Client)(nil)
