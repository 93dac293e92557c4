package dns_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"
	mdns "github.com/miekg/dns"

	"consulx/dns"
	"consulx/internal/testcluster"
	"consulx/node"
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

// findTool finds an external program that part of a test drives. Outside
// CI a missing one only skips that part; where CI or CONSULX_REQUIRE_TOOLS
// is set (.ci/run installs the tools) it is an error, so a failed install
// cannot pass as a green run.
func findTool(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err == nil {
		return path, nil
	}
	for _, v := range []string{"CONSULX_REQUIRE_TOOLS", "CI"} {
		if val := os.Getenv(v); val != "" && val != "0" && !strings.EqualFold(val, "false") {
			return "", fmt.Errorf("%s is required because %s=%s, but it is not installed (%v): install it (dnsutils for dig)", name, v, val, err)
		}
	}
	return "", nil
}

func TestFindToolRequiredInCI(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	for _, tc := range []struct {
		require, ci string
		wantErr     bool
	}{
		{"", "", false},
		{"1", "", true},
		{"", "true", true},
		{"0", "false", false},
	} {
		t.Setenv("CONSULX_REQUIRE_TOOLS", tc.require)
		t.Setenv("CI", tc.ci)
		path, err := findTool("dig")
		if path != "" || (err != nil) != tc.wantErr {
			t.Errorf("CONSULX_REQUIRE_TOOLS=%q CI=%q: path %q err %v, want error %v", tc.require, tc.ci, path, err, tc.wantErr)
		}
		if err != nil && (!strings.Contains(err.Error(), "dig") || strings.Contains(err.Error(), "\n")) {
			t.Errorf("error %q: want one line naming dig", err)
		}
	}
	// Present: found whatever the environment says.
	fake := filepath.Join(empty, "dig")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONSULX_REQUIRE_TOOLS", "1")
	if path, err := findTool("dig"); path != fake || err != nil {
		t.Errorf("installed dig: path %q err %v", path, err)
	}
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

	// DNS reads are stale by default: wait until this server has applied
	// the registrations before asserting.
	testcluster.Eventually(t, 10*time.Second, func() error {
		got := answers(query(t, addr, "consul.service.consul", mdns.TypeA, true))
		if len(got) != 3 {
			return fmt.Errorf("consul.service.consul = %v, want the 3 servers", got)
		}
		if got := answers(query(t, addr, "web.service.consul", mdns.TypeA, true)); len(got) != 2 {
			return fmt.Errorf("web.service.consul = %v, want 2", got)
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
	testcluster.Eventually(t, 10*time.Second, func() error {
		if got := answers(query(t, addr, "web.service.consul", mdns.TypeA, true)); len(got) != 5 {
			return fmt.Errorf("TCP answers = %v, want all 5 healthy", got)
		}
		return nil
	})
	if m := query(t, addr, "web.service.consul", mdns.TypeA, false); len(answers(m)) != 3 || m.Truncated {
		t.Errorf("UDP answers = %v (TC %v), want 3 (udp_answer_limit) without TC (enable_truncate is off)", answers(m), m.Truncated)
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
	dig, err := findTool("dig")
	if err != nil {
		t.Error(err)
	} else if dig == "" {
		t.Log("dig is not installed: the check with a real resolver client did not run (CI installs dnsutils)")
	} else {
		host, port, _ := strings.Cut(addr, ":")
		out, err := exec.Command(dig, "@"+host, "-p", port, "+short", "primary.web.service.consul").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "10.0.0.1" {
			t.Errorf("dig: %v %q", err, out)
		}
	}
}

// TestDNSConfig: a custom domain, only_passing, TTLs and recursors for
// names outside the domain.
func TestDNSConfig(t *testing.T) {
	// A tiny upstream resolver on 127.0.0.1 for the recursor test.
	up := &mdns.Server{Addr: "127.0.0.1:0", Net: "udp", Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		m.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: []byte{192, 0, 2, 7}}}
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	up.NotifyStartedFunc = func() { close(started) }
	go func() { _ = up.ListenAndServe() }()
	<-started
	defer up.Shutdown()

	cfg := testcluster.Config(t, "dnscfg", true, 1)
	cfg.Extra = map[string][]json.RawMessage{
		"domain":     {json.RawMessage(`"cx.internal"`)},
		"recursors":  {json.RawMessage(fmt.Sprintf(`["%s"]`, up.PacketConn.LocalAddr().String()))},
		"dns_config": {json.RawMessage(`{"only_passing": true, "enable_truncate": true, "node_ttl": "10s", "service_ttl": {"*": "5s", "db*": "30s"}}`)},
	}
	a := testcluster.Start(t, cfg)
	testcluster.Of(t, []*testcluster.Agent{a}, nil).WaitLeader(10 * time.Second)
	ccfg := consul.DefaultConfig()
	ccfg.Address = a.HTTPAddr()
	cl, _ := consul.NewClient(ccfg)
	for i, status := range []string{"passing", "warning"} {
		_, err := cl.Catalog().Register(&consul.CatalogRegistration{Node: fmt.Sprintf("db-%d", i), Address: fmt.Sprintf("10.1.0.%d", i+1),
			Service: &consul.AgentService{ID: "dbx", Service: "dbx", Port: 5432},
			Check:   &consul.AgentCheck{CheckID: "c", Name: "c", Status: status, ServiceID: "dbx"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	addr := a.Running.DNSAddr
	m := query(t, addr, "dbx.service.cx.internal", mdns.TypeA, false)
	if fmt.Sprint(answers(m)) != "[10.1.0.1]" {
		t.Fatalf("only_passing: %v", answers(m))
	}
	if ttl := m.Answer[0].Header().Ttl; ttl != 30 {
		t.Errorf("service TTL %d, want 30 (db* beats *)", ttl)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		m = query(t, addr, "dnscfg.node.cx.internal", mdns.TypeA, false)
		if len(m.Answer) != 1 || m.Answer[0].Header().Ttl != 10 {
			return fmt.Errorf("node answer %v", m.Answer)
		}
		return nil
	})
	// enable_truncate: a UDP answer cut to udp_answer_limit carries TC.
	for i := 0; i < 5; i++ {
		_, err := cl.Catalog().Register(&consul.CatalogRegistration{Node: fmt.Sprintf("many-%d", i), Address: fmt.Sprintf("10.2.0.%d", i+1),
			Service: &consul.AgentService{ID: "many", Service: "many", Port: 1}}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	if m := query(t, addr, "many.service.cx.internal", mdns.TypeA, false); len(m.Answer) != 3 || !m.Truncated {
		t.Fatalf("UDP with enable_truncate: %d answers, TC %v", len(m.Answer), m.Truncated)
	}
	if m := query(t, addr, "many.service.cx.internal", mdns.TypeA, true); len(m.Answer) != 5 || m.Truncated {
		t.Fatalf("TCP: %d answers, TC %v", len(m.Answer), m.Truncated)
	}
	if m := query(t, addr, "dbx.service.consul", mdns.TypeA, false); len(m.Answer) != 1 || m.Answer[0].(*mdns.A).A.String() != "192.0.2.7" {
		t.Fatalf("the default domain is not ours any more and goes to the recursor: %v", m.Answer)
	}
	if m := query(t, addr, "example.org", mdns.TypeA, false); len(m.Answer) != 1 || !m.RecursionAvailable {
		t.Fatalf("recursor answer: %+v", m)
	}
}

// TestDNSDropsKilledNode: a service on an agent that dies leaves DNS once
// its serfHealth turns critical.
func TestDNSDropsKilledNode(t *testing.T) {
	c := testcluster.StartCluster(t, 1, 2)
	for _, cl := range c.Clients {
		ccfg := consul.DefaultConfig()
		ccfg.Address = cl.HTTPAddr()
		api, _ := consul.NewClient(ccfg)
		if err := api.Agent().ServiceRegister(&consul.AgentServiceRegistration{Name: "logs", Port: 24224}); err != nil {
			t.Fatal(err)
		}
	}
	addr := c.Servers[0].Running.DNSAddr
	srv := func() string {
		return fmt.Sprint(answers(query(t, addr, "logs.service.consul", mdns.TypeSRV, true)))
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		if got := srv(); strings.Count(got, ":24224") != 2 {
			return fmt.Errorf("logs SRV = %s, want both clients", got)
		}
		return nil
	})
	c.Clients[1].Running.Shutdown()
	testcluster.Eventually(t, 10*time.Second, func() error {
		if got := srv(); got != "[client-1.node.dc1.consul.:24224]" {
			return fmt.Errorf("logs SRV after client-2 died = %s", got)
		}
		return nil
	})
}

// TestConsulDNSConfigAccepted: a dns_config written for Consul, with every
// key Consul takes, loads through the agent's config loader into the DNS
// server's config: honoured keys apply, the rest warn instead of stopping
// the agent (the DNS server refuses keys it does not know).
func TestConsulDNSConfigAccepted(t *testing.T) {
	const src = `{"dns_config": {
		"allow_stale": false, "max_stale": "1h", "node_ttl": "7s", "service_ttl": {"web": "9s"},
		"udp_answer_limit": 5, "only_passing": true, "enable_truncate": true, "recursor_timeout": "3s",
		"a_record_limit": 2, "disable_compression": true, "recursor_strategy": "random",
		"enable_additional_node_meta_txt": true, "soa": {"refresh": 1, "retry": 2, "expire": 3, "min_ttl": 4},
		"use_cache": true, "cache_max_age": "10s", "prefer_namespace": true
	}}`
	fc, err := node.ParseConfigFile("dns.json", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	cfg := node.DefaultConfig()
	cfg.Merge(fc)
	dc := dns.DefaultConfig()
	if err := dc.Apply(cfg.Extra["dns_config"], cfg.Extra["domain"], cfg.Extra["recursors"]); err != nil {
		t.Fatalf("the DNS server refuses what the loader passed on: %v", err)
	}
	if dc.AllowStale || dc.MaxStale != time.Hour || dc.NodeTTL != 7*time.Second || dc.UDPAnswerLimit != 5 ||
		!dc.OnlyPassing || !dc.EnableTruncate || dc.RecursorTTL != 3*time.Second || dc.ServiceTTL["web"] != 9*time.Second {
		t.Errorf("honoured dns_config keys not applied: %+v", dc)
	}
	var warned []string
	for _, w := range cfg.Warnings {
		warned = append(warned, w.Key)
	}
	want := "dns_config.a_record_limit dns_config.disable_compression dns_config.recursor_strategy " +
		"dns_config.enable_additional_node_meta_txt dns_config.soa dns_config.use_cache dns_config.cache_max_age dns_config.prefer_namespace"
	if strings.Join(warned, " ") != want {
		t.Errorf("warned %v, want %s", warned, want)
	}
}
