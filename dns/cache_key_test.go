package dns

import (
	"bytes"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/miekg/dns"

	"consulx/internal/freeport"
)

// TestCacheKeysAgree: the key the fast path builds from a raw packet is
// the key the full path builds from the unpacked message, and queries
// whose answers may differ never share a key.
func TestCacheKeysAgree(t *testing.T) {
	var queries []*dns.Msg
	for _, name := range []string{"web.service.consul.", "WEB.service.consul.", "a.b.node.dc2.consul.", "x.node.consul."} {
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV} {
			for _, rd := range []bool{false, true} {
				for _, edns := range []uint16{0, 512, 1232, 4096} {
					for _, do := range []bool{false, true} {
						if edns == 0 && do {
							continue
						}
						m := new(dns.Msg)
						m.SetQuestion(name, qtype)
						m.RecursionDesired = rd
						m.CheckingDisabled = do
						if edns > 0 {
							m.SetEdns0(edns, do)
						}
						queries = append(queries, m)
					}
				}
			}
		}
	}
	seen := map[string]string{}
	for _, m := range queries {
		m.Id = 4242
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		raw, ok := queryKey(nil, pkt)
		if !ok {
			t.Fatalf("no key for the raw %v", m.Question)
		}
		full, ok := msgKey(nil, m)
		if !ok {
			t.Fatalf("no key for %v", m.Question)
		}
		if !bytes.Equal(raw, full) {
			t.Fatalf("keys differ for %v: raw %x, unpacked %x", m.Question, raw, full)
		}
		desc := fmt.Sprintf("%v rd=%v cd=%v edns=%v", m.Question, m.RecursionDesired, m.CheckingDisabled, m.IsEdns0())
		if other, dup := seen[string(raw)]; dup {
			t.Fatalf("%s and %s share a key", desc, other)
		}
		seen[string(raw)] = desc
	}

	// What the fast path must leave to the full path.
	base := new(dns.Msg)
	base.SetQuestion("web.service.consul.", dns.TypeA)
	for name, edit := range map[string]func(m *dns.Msg){
		"a response":     func(m *dns.Msg) { m.Response = true },
		"another opcode": func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify },
		"two questions":  func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) },
		"an answer record": func(m *dns.Msg) {
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeA, Class: dns.ClassINET}, A: []byte{1, 2, 3, 4}}}
		},
		"a TXT additional": func(m *dns.Msg) {
			m.Extra = []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{"x"}}}
		},
	} {
		m := base.Copy()
		edit(m)
		pkt, err := m.Pack()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, ok := queryKey(nil, pkt); ok {
			t.Errorf("%s: the fast path would answer it", name)
		}
		if _, ok := msgKey(nil, m); ok {
			t.Errorf("%s: the full path would cache it", name)
		}
	}
	pkt, _ := base.Pack()
	for cut := 1; cut < len(pkt); cut++ {
		if _, ok := queryKey(nil, pkt[:cut]); ok {
			t.Errorf("a packet cut to %d bytes has a key", cut)
		}
	}
	if _, ok := queryKey(nil, append(pkt, 0)); ok {
		t.Error("a packet with a trailing byte has a key")
	}
}

// FuzzQueryKey: any packet the fast path keys is one miekg unpacks, and
// its key is the one the full path would store the answer under (else a
// hit could answer a query with another query's answer).
func FuzzQueryKey(f *testing.F) {
	for _, name := range []string{"web.service.consul.", "N1.node.consul."} {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		pkt, _ := m.Pack()
		f.Add(pkt)
		m.SetEdns0(4096, true)
		pkt, _ = m.Pack()
		f.Add(pkt)
	}
	// A query whose OPT RDATA is cut short (miekg refuses it).
	bad := new(dns.Msg)
	bad.SetQuestion("web.service.consul.", dns.TypeA)
	bad.SetEdns0(4096, false)
	pkt, _ := bad.Pack()
	pkt[len(pkt)-1] = 2
	f.Add(append(pkt, 0x00, 0x0a))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		raw, ok := queryKey(nil, pkt)
		if !ok {
			return
		}
		m := new(dns.Msg)
		if err := m.Unpack(pkt); err != nil {
			t.Fatalf("keyed but miekg refuses it: %v", err)
		}
		full, ok := msgKey(nil, m)
		if !ok {
			t.Fatalf("keyed raw, not unpacked: %v", m)
		}
		if !bytes.Equal(raw, full) {
			t.Fatalf("raw key %x, unpacked key %x", raw, full)
		}
	})
}

// TestBadOptionsTakeTheFullPath: an OPT record whose options miekg would
// refuse (cut short, or unknown) is never keyed, so it cannot be answered
// from the cache while the full path answers FORMERR; a DNS cookie, as
// dig sends, is keyed.
func TestBadOptionsTakeTheFullPath(t *testing.T) {
	m := new(dns.Msg)
	m.SetQuestion("web.service.consul.", dns.TypeA)
	m.SetEdns0(4096, false)
	plain, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	withRD := func(rdata []byte) []byte {
		b := append([]byte{}, plain...)
		b[len(b)-2], b[len(b)-1] = byte(len(rdata)>>8), byte(len(rdata))
		return append(b, rdata...)
	}
	for name, rdata := range map[string][]byte{
		"option header cut short":  {0x00, 0x0a},
		"option longer than RDATA": {0x00, 0x0a, 0x00, 0x10, 1, 2, 3, 4},
		"unknown option":           {0xfd, 0xe9, 0x00, 0x01, 7},
		"cookie of a bad length":   {0x00, 0x0a, 0x00, 0x03, 1, 2, 3},
	} {
		if _, ok := queryKey(nil, withRD(rdata)); ok {
			t.Errorf("%s: keyed", name)
		}
	}
	cookie := withRD([]byte{0x00, 0x0a, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8})
	if _, ok := queryKey(nil, cookie); !ok {
		t.Error("a query with a client cookie is not keyed")
	}
	var u dns.Msg
	if err := u.Unpack(cookie); err != nil {
		t.Fatalf("the cookie query does not unpack: %v", err)
	}
}

// TestShutdownRightAfterStart: a server stopped as soon as it started
// gives its port back and leaves no UDP reader behind.
func TestShutdownRightAfterStart(t *testing.T) {
	before := runtime.NumGoroutine()
	// Ports below the ephemeral range (port 0 for UDP gives one that a
	// client's TCP connection may hold, and TCP must share the number).
	ports, err := freeport.Pick(20)
	if err != nil {
		t.Fatal(err)
	}
	for _, port := range ports {
		s, err := Start(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), DefaultConfig(), fakeCatalog{}, hclog.NewNullLogger())
		if err != nil {
			t.Fatal(err)
		}
		addr := s.Addr
		s.Shutdown()
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Fatalf("port %s still held after Shutdown: %v", addr, err)
		}
		pc.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Fatalf("%d goroutines before, %d after 20 start/stop cycles", before, n)
	}
}
