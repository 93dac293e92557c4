package node

import (
	"time"

	"consulx/store"
)

// Consistency modes of a read, as in Consul.
const (
	ModeDefault    = ""
	ModeStale      = "stale"
	ModeConsistent = "consistent"
)

// QueryOptions travel with every read.
type QueryOptions struct {
	Consistency string
	// MinIndex > 0 makes the read a blocking query: it returns once the
	// result's index passes MinIndex or MaxWait elapses.
	MinIndex uint64
	MaxWait  time.Duration
	// Datacenter is the datacenter the read is for ("" means ours); a
	// server forwards it there (the endpoint table's hop).
	Datacenter string
	// Hopped marks a request already forwarded to another datacenter: it
	// is never forwarded again, so a wrong route cannot loop.
	Hopped bool
	// Token is the ACL token's secret ("": the agent's default token).
	Token string
}

// QueryMeta describes the server that answered a read.
type QueryMeta struct {
	Index       uint64
	KnownLeader bool
	LastContact time.Duration
	// ResultsFilteredByACLs: the token may not read everything the
	// answer would have held (X-Consul-Results-Filtered-By-ACLs).
	ResultsFilteredByACLs bool
}

// KVReadMode says what a KV read returns.
type KVReadMode int

// The KV reads of GET /v1/kv.
const (
	// KVReadKey reads one key.
	KVReadKey KVReadMode = iota
	// KVReadPrefix reads every entry under the key (?recurse).
	KVReadPrefix
	// KVReadKeys lists the key names under the key, up to the separator (?keys).
	KVReadKeys
)

// KVReadRequest is a GET on /v1/kv.
type KVReadRequest struct {
	Key       string
	Mode      KVReadMode
	Separator string // KVReadKeys only
	QueryOptions
}

// KVReadResponse answers a KVReadRequest: Entries for KVReadKey and
// KVReadPrefix, Keys for KVReadKeys.
type KVReadResponse struct {
	Entries []store.KVEntry
	Keys    []string
	QueryMeta
}

// KVWriteRequest is a PUT or DELETE on /v1/kv.
type KVWriteRequest struct {
	Request store.KVRequest
	WriteOptions
}

// KVWriteResponse carries Consul's boolean and the index of the write.
type KVWriteResponse struct {
	Ok    bool
	Index uint64
}

// StatusRequest asks for leader/peers/raft information.
type StatusRequest struct{ QueryOptions }

// StatusLeaderResponse is the leader's RPC address, "" when none.
type StatusLeaderResponse struct{ Leader string }

// StatusPeersResponse lists Raft peer addresses.
type StatusPeersResponse struct{ Peers []string }

// RaftServer is one entry of the Raft configuration.
type RaftServer struct {
	ID              string
	Node            string
	Address         string
	Leader          bool
	Voter           bool
	ProtocolVersion string
}

// RaftConfigResponse is /v1/operator/raft/configuration.
type RaftConfigResponse struct {
	Servers []RaftServer
	Index   uint64
	QueryMeta
}

// RaftStateResponse is used by bootstrap to learn whether a peer already
// belongs to a cluster.
type RaftStateResponse struct {
	LastIndex uint64
}

// CatalogWriteRequest registers or deregisters catalog entries.
type CatalogWriteRequest struct {
	Register   *store.RegisterRequest
	Deregister *store.DeregisterRequest
	WriteOptions
}

// CatalogWriteResponse carries the write's index.
type CatalogWriteResponse struct{ Index uint64 }

// NodesRequest is /v1/catalog/nodes.
type NodesRequest struct{ QueryOptions }

// NodesResponse lists catalog nodes by name.
type NodesResponse struct {
	Nodes []store.Node
	QueryMeta
}

// ServicesRequest is /v1/catalog/services.
type ServicesRequest struct{ QueryOptions }

// ServicesResponse maps each service to the union of its tags.
type ServicesResponse struct {
	Services map[string][]string
	QueryMeta
}

// ServiceNodesRequest asks for one service's instances with their health
// checks (/v1/catalog/service, /v1/health/service, DNS).
type ServiceNodesRequest struct {
	Service string
	QueryOptions
}

// ServiceNodesResponse lists a service's instances in node order.
type ServiceNodesResponse struct {
	Instances []store.ServiceInstance
	QueryMeta
}

// NodeServicesRequest asks for one node and its services
// (/v1/catalog/node, DNS node lookups).
type NodeServicesRequest struct {
	Node string
	QueryOptions
}

// NodeServicesResponse is a node (nil when unknown) and its services.
type NodeServicesResponse struct {
	Node     *store.Node
	Services []store.NodeService
	QueryMeta
}

// ChecksBy says which health checks a ChecksRequest selects.
type ChecksBy int

// The health check listings.
const (
	// ChecksOfNode: the checks of the node named (/v1/health/node).
	ChecksOfNode ChecksBy = iota + 1
	// ChecksOfService: the checks of the service named (/v1/health/checks).
	ChecksOfService
	// ChecksInState: every check in the state named, or "any" (/v1/health/state).
	ChecksInState
)

// ChecksRequest lists health checks.
type ChecksRequest struct {
	By   ChecksBy
	Name string
	QueryOptions
}

// ChecksResponse lists health checks.
type ChecksResponse struct {
	Checks []store.HealthCheck
	QueryMeta
}
