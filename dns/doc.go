// Package dns serves Consul's DNS interface (miekg/dns, UDP and TCP):
// <node>.node[.<dc>].<domain>, [<tag>.]<service>.service[.<dc>].<domain>
// and RFC 2782 _<service>._<tag|tcp>.service[.<dc>].<domain>, with only
// healthy instances, NXDOMAIN/NODATA with an SOA, shuffled answers, the UDP
// answer limit, and recursors for other names.
//
// It reads the catalog through a small interface (stale reads by
// default) and knows nothing of HTTP, Raft or gossip.
package dns
