package dns_test

import (
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"
	mdns "github.com/miekg/dns"

	"consulx/internal/testcluster"
)

func query(t *testing.T, addr, name string, qtype uint16, tcp bool) *mdns.Msg {
	t.Helper()
	c := &mdns.Client{Timeout: 3 * time.Second}
	if tcp {
		c.Net = "tcp"
	}
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), qtype)
	resp, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("query %s: %v", name, err)
	}
	return resp
}

func answers(m *mdns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch v := rr.(type) {
		case *mdns.A:
			out = append(out, v.A.String())
		case *mdns.SRV:
			out = append(out, fmt.Sprintf("%s:%d", v.Target, v.Port))
		}
	}
	sort.Strings(out)
	return out
}

func TestDNSInterface(t *testing.T) {
	c := testcluster.StartCluster(t, 3, 0)
	srv := c.Servers[0]
	addr := srv.Running.DNSAddr
	cfg := consul.DefaultConfig()
	cfg.Address = srv.HTTPAddr()
	cl, _ := consul.NewClient(cfg)
	reg := func(node, ip, status string, tags []string) {
		t.Helper()
		_, err := cl.Catalog().Register(&consul.CatalogRegistration{Node: node, Address: ip,
			Service: &consul.AgentService{ID: "web", Service: "web", Tags: tags, Port: 8080},
			Check:   &consul.AgentCheck{CheckID: "web-check", Name: "web", Status: status, ServiceID: "web"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	reg("web-1", "10.0.0.1", "passing", []string{"primary"})
	reg("web-2", "10.0.0.2", "warning", []string{"replica"})
	reg("web-3", "10.0.0.3", "critical", []string{"replica"})

	testcluster.Eventually(t, 10*time.Second, func() error {
		got := answers(query(t, addr, "consul.service.consul", mdns.TypeA, true))
		if len(got) != 3 {
			return fmt.Errorf("consul.service.consul = %v, want the 3 servers", got)
		}
		return nil
	})
	cases := []struct {
		name  string
		qtype uint16
		rcode int
		want  string
		soa   bool
	}{
		{"server-1.node.consul", mdns.TypeA, mdns.RcodeSuccess, "[127.0.0.1]", false},
		{"server-1.node.dc1.consul", mdns.TypeA, mdns.RcodeSuccess, "[127.0.0.1]", false},
		{"SERVER-1.NODE.CONSUL", mdns.TypeA, mdns.RcodeSuccess, "[127.0.0.1]", false},
		{"web-1.node.consul", mdns.TypeMX, mdns.RcodeSuccess, "[]", true},
		{"nope.node.consul", mdns.TypeA, mdns.RcodeNameError, "[]", true},
		{"server-1.node.dc9.consul", mdns.TypeA, mdns.RcodeNameError, "[]", true},
		// Critical instances never answer; warning ones do.
		{"web.service.consul", mdns.TypeA, mdns.RcodeSuccess, "[10.0.0.1 10.0.0.2]", false},
		{"primary.web.service.consul", mdns.TypeA, mdns.RcodeSuccess, "[10.0.0.1]", false},
		{"replica.web.service.consul", mdns.TypeA, mdns.RcodeSuccess, "[10.0.0.2]", false},
		{"canary.web.service.consul", mdns.TypeA, mdns.RcodeNameError, "[]", true},
		{"web.service.consul", mdns.TypeSRV, mdns.RcodeSuccess, "[web-1.node.dc1.consul.:8080 web-2.node.dc1.consul.:8080]", false},
		{"_web._tcp.service.consul", mdns.TypeSRV, mdns.RcodeSuccess, "[web-1.node.dc1.consul.:8080 web-2.node.dc1.consul.:8080]", false},
		{"_web._primary.service.consul", mdns.TypeSRV, mdns.RcodeSuccess, "[web-1.node.dc1.consul.:8080]", false},
		{"web.service.consul", mdns.TypeAAAA, mdns.RcodeSuccess, "[]", true},
		{"nothing.service.consul", mdns.TypeA, mdns.RcodeNameError, "[]", true},
		{"a.b.c.d.consul", mdns.TypeA, mdns.RcodeNameError, "[]", true},
		{strings.Repeat("x", 60) + "." + strings.Repeat("y", 60) + "." + strings.Repeat("z", 60) + ".node.consul", mdns.TypeA, mdns.RcodeNameError, "[]", true},
	}
	for _, tc := range cases {
		for _, tcp := range []bool{false, true} {
			m := query(t, addr, tc.name, tc.qtype, tcp)
			if m.Rcode != tc.rcode || fmt.Sprint(answers(m)) != tc.want || (len(m.Ns) == 1) != tc.soa || !m.Authoritative {
				t.Errorf("%s %s (tcp=%v): rcode %s answers %v soa %v aa %v; want %s %s soa %v",
					tc.name, mdns.TypeToString[tc.qtype], tcp, mdns.RcodeToString[m.Rcode], answers(m), len(m.Ns) == 1, m.Authoritative,
					mdns.RcodeToString[tc.rcode], tc.want, tc.soa)
			}
		}
	}
	// SRV answers carry the targets' addresses in the additional section.
	m := query(t, addr, "primary.web.service.consul", mdns.TypeSRV, false)
	if len(m.Extra) != 1 || m.Extra[0].(*mdns.A).A.String() != "10.0.0.1" {
		t.Errorf("SRV additional = %v", m.Extra)
	}
	// UDP without EDNS: at most udp_answer_limit (3) answers.
	for i := 4; i <= 6; i++ {
		reg(fmt.Sprintf("web-%d", i), fmt.Sprintf("10.0.0.%d", i), "passing", nil)
	}
	if got := answers(query(t, addr, "web.service.consul", mdns.TypeA, false)); len(got) != 3 {
		t.Errorf("UDP answers = %v, want 3 (udp_answer_limit)", got)
	}
	if got := answers(query(t, addr, "web.service.consul", mdns.TypeA, true)); len(got) != 5 {
		t.Errorf("TCP answers = %v, want all 5 healthy", got)
	}
	// Names outside the domain are refused without recursors.
	if m := query(t, addr, "example.com", mdns.TypeA, false); m.Rcode != mdns.RcodeRefused {
		t.Errorf("example.com rcode %s, want REFUSED", mdns.RcodeToString[m.Rcode])
	}
	// With quorum gone, stale answers keep flowing.
	c.Servers[1].Running.Shutdown()
	c.Servers[2].Running.Shutdown()
	time.Sleep(time.Second)
	if got := answers(query(t, addr, "primary.web.service.consul", mdns.TypeA, false)); fmt.Sprint(got) != "[10.0.0.1]" {
		t.Errorf("answer without a leader = %v", got)
	}
	if dig, err := exec.LookPath("dig"); err == nil {
		host, port, _ := strings.Cut(addr, ":")
		out, err := exec.Command(dig, "@"+host, "-p", port, "+short", "primary.web.service.consul").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "10.0.0.1" {
			t.Errorf("dig: %v %q", err, out)
		}
	}
}
