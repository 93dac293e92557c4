package node

// endpointTable is every internal RPC a server answers. Each entry is
// declared next to the requests it serves (kv.go, catalog.go, session.go,
// txn.go, status.go, keyring.go); see endpoint.go for what a declaration does.
var endpointTable = []rpcEndpoint{
	kvApplyEndpoint,
	kvReadEndpoint,
	txnEndpoint,
	sessionApplyEndpoint,
	sessionRenewEndpoint,
	sessionReadEndpoint,
	catalogApplyEndpoint,
	catalogNodesEndpoint,
	catalogServicesEndpoint,
	serviceNodesEndpoint,
	nodeServicesEndpoint,
	healthChecksEndpoint,
	statusLeaderEndpoint,
	statusPeersEndpoint,
	statusRaftStateEndpoint,
	raftConfigurationEndpoint,
	catalogDatacentersEndpoint,
	eventFireEndpoint,
	aclResolveEndpoint,
	aclApplyEndpoint,
	aclReadEndpoint,
	aclReplicationEndpoint,
	keyringEndpoint,
}
