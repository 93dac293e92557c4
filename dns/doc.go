// Package dns serves Consul's DNS interface (miekg/dns, UDP and TCP):
// <node>.node[.<dc>].<domain>, [<tag>.]<service>.service[.<dc>].<domain>
// and RFC 2782 _<service>._<tag|tcp>.service[.<dc>].<domain>, with only
// healthy instances, NXDOMAIN/NODATA with an SOA, shuffled answers, the UDP
// answer limit, and recursors for other names.
//
// It owns name parsing, answer building and trimming, and the dns_config
// keys (config.go). It sees the agent only through the Catalog interface
// (server.go: DNSNode, DNSService; stale reads by default), which agentrun
// satisfies with the node.Agent; it imports store for the catalog's types
// only. It must not import node, httpapi or Raft, and knows nothing of
// HTTP, gossip or forwarding.
//
// Start reading at Start and handleConsul in server.go; fuzz_test.go
// fuzzes the name parser. cache.go keeps UDP answers in wire format, valid
// while the Catalog's DNSGeneration holds, and fastpath.go serves them
// from batch readers on the socket before miekg sees the packet.
package dns
