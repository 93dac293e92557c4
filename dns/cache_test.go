package dns_test

import (
	"fmt"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"
	mdns "github.com/miekg/dns"

	"consulx/internal/testcluster"
)

// exchange sends m over UDP and checks the reply is to this query: same
// ID, same question (name in the case it was asked), RD echoed.
func exchange(t *testing.T, addr string, m *mdns.Msg) *mdns.Msg {
	t.Helper()
	c := &mdns.Client{Timeout: 3 * time.Second, UDPSize: 65535}
	resp, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("query %s: %v", m.Question[0].Name, err)
	}
	if resp.Id != m.Id || len(resp.Question) != 1 || resp.Question[0] != m.Question[0] || resp.RecursionDesired != m.RecursionDesired {
		t.Fatalf("reply %d %v RD=%v to query %d %v RD=%v", resp.Id, resp.Question, resp.RecursionDesired, m.Id, m.Question, m.RecursionDesired)
	}
	return resp
}

func question(name string, qtype uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

// TestCachedAnswersFollowTheCatalog: repeated UDP queries are answered
// from the answer cache, and each answer is still the one the full path
// would give: the query's own ID, name case and RD bit, the EDNS size's
// number of records, and a change to the catalog (an address, a check
// turning critical) visible in the very next query.
func TestCachedAnswersFollowTheCatalog(t *testing.T) {
	a := testcluster.Start(t, testcluster.Config(t, "cache", true, 1))
	testcluster.Of(t, []*testcluster.Agent{a}, nil).WaitLeader(10 * time.Second)
	ccfg := consul.DefaultConfig()
	ccfg.Address = a.HTTPAddr()
	cl, _ := consul.NewClient(ccfg)
	register := func(node, addr, service, status string) {
		t.Helper()
		_, err := cl.Catalog().Register(&consul.CatalogRegistration{Node: node, Address: addr,
			Service: &consul.AgentService{ID: service, Service: service, Port: 80},
			Check:   &consul.AgentCheck{CheckID: "up", Name: "up", Status: status, ServiceID: service}}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	dnsAddr := a.Running.DNSAddr
	srv := a.Running.DNSServer()

	// A node: the same answer every time, with the query's ID and case.
	register("web-1", "10.3.0.1", "web", "passing")
	for i, name := range []string{"web-1.node.consul.", "WEB-1.Node.Consul.", "web-1.node.consul.", "WEB-1.Node.Consul."} {
		m := question(name, mdns.TypeA)
		m.Id = uint16(1000 + i)
		m.RecursionDesired = i%2 == 0
		resp := exchange(t, dnsAddr, m)
		if got := answers(resp); fmt.Sprint(got) != "[10.3.0.1]" || resp.Answer[0].Header().Name != name {
			t.Fatalf("query %d (%s): %v", i, name, resp.Answer)
		}
	}
	hits := srv.CacheHits()
	for i := range 20 {
		m := question("web-1.node.consul.", mdns.TypeA)
		m.Id = uint16(2000 + i)
		if got := answers(exchange(t, dnsAddr, m)); fmt.Sprint(got) != "[10.3.0.1]" {
			t.Fatalf("repeated query: %v", got)
		}
	}
	if got := srv.CacheHits() - hits; got < 19 {
		t.Fatalf("%d of 20 repeated queries answered from the cache", got)
	}

	// The write is applied on this (only) server before the API answers:
	// the next query sees it, no waiting.
	register("web-1", "10.3.0.2", "web", "passing")
	if got := answers(exchange(t, dnsAddr, question("web-1.node.consul.", mdns.TypeA))); fmt.Sprint(got) != "[10.3.0.2]" {
		t.Fatalf("after the address changed: %v", got)
	}

	// A service of five: three records without EDNS (udp_answer_limit),
	// all five with a big EDNS buffer; the two never mix in the cache.
	for i := 2; i <= 5; i++ {
		register(fmt.Sprintf("web-%d", i), fmt.Sprintf("10.3.0.%d", i), "web", "passing")
	}
	firsts := map[string]bool{}
	for range 40 {
		plain := exchange(t, dnsAddr, question("web.service.consul.", mdns.TypeA))
		if len(plain.Answer) != 3 {
			t.Fatalf("without EDNS: %d records, want 3", len(plain.Answer))
		}
		firsts[plain.Answer[0].(*mdns.A).A.String()] = true
		big := question("web.service.consul.", mdns.TypeA)
		big.SetEdns0(4096, false)
		if got := answers(exchange(t, dnsAddr, big)); fmt.Sprint(got) != "[10.3.0.2 10.3.0.2 10.3.0.3 10.3.0.4 10.3.0.5]" {
			t.Fatalf("with EDNS 4096: %v", got)
		}
	}
	if len(firsts) < 2 {
		t.Errorf("cached service answers are not rotated: first records seen %v", firsts)
	}

	// A check turning critical takes its instance out at once.
	register("web-3", "10.3.0.3", "web", "critical")
	big := question("web.service.consul.", mdns.TypeA)
	big.SetEdns0(4096, false)
	for range 10 {
		for _, got := range answers(exchange(t, dnsAddr, big)) {
			if got == "10.3.0.3" {
				t.Fatalf("web-3 still answered after its check turned critical")
			}
		}
	}

	// Deregistered: NXDOMAIN at once, never a cached answer.
	if _, err := cl.Catalog().Deregister(&consul.CatalogDeregistration{Node: "web-1"}, nil); err != nil {
		t.Fatal(err)
	}
	if resp := exchange(t, dnsAddr, question("web-1.node.consul.", mdns.TypeA)); resp.Rcode != mdns.RcodeNameError {
		t.Fatalf("deregistered node: rcode %s, answers %v", mdns.RcodeToString[resp.Rcode], resp.Answer)
	}
}
