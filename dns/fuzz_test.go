package dns

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/miekg/dns"

	"consulx/store"
)

type fakeCatalog struct{}

func (fakeCatalog) DNSGeneration(bool, time.Duration) (uint64, bool) { return 0, false }

func (fakeCatalog) DNSNode(ctx context.Context, name, _ string, stale bool, _ time.Duration) (*store.Node, error) {
	if name == "n1" {
		return &store.Node{Node: "n1", Address: "127.0.0.1", Datacenter: "dc1"}, nil
	}
	return nil, nil
}

func (fakeCatalog) DNSService(ctx context.Context, name, _ string, stale bool, _ time.Duration) ([]store.ServiceInstance, error) {
	if name != "web" {
		return nil, nil
	}
	return []store.ServiceInstance{{Node: store.Node{Node: "n1", Address: "127.0.0.1", Datacenter: "dc1"},
		Service: store.NodeService{ID: "web", Service: "web", Tags: []string{"v1"}, Port: 80}}}, nil
}

type recorder struct {
	dns.ResponseWriter
	msg *dns.Msg
}

func (r *recorder) WriteMsg(m *dns.Msg) error { r.msg = m; return nil }
func (r *recorder) RemoteAddr() net.Addr      { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353} }

// FuzzQueryName: any question name and type gets an answer with a valid
// response code, never a panic.
func FuzzQueryName(f *testing.F) {
	for _, s := range []string{"n1.node.consul.", "web.service.consul.", "v1.web.service.dc1.consul.", "_web._tcp.service.consul.",
		"_web._v1.consul.", "..consul.", "node.consul.", "service.consul.", "a.b.c.node.dc1.consul.", "\x00.consul."} {
		f.Add(s, uint16(dns.TypeA))
		f.Add(s, uint16(dns.TypeSRV))
	}
	s := &Server{cfg: DefaultConfig(), cat: fakeCatalog{}, logger: hclog.NewNullLogger()}
	s.cfg.Datacenter = "dc1"
	f.Fuzz(func(t *testing.T, name string, qtype uint16) {
		req := new(dns.Msg)
		req.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}}
		w := &recorder{}
		s.handleConsul(w, req)
		if w.msg == nil {
			t.Fatalf("no answer for %q", name)
		}
		switch w.msg.Rcode {
		case dns.RcodeSuccess, dns.RcodeNameError, dns.RcodeServerFailure, dns.RcodeFormatError:
		default:
			t.Fatalf("rcode %d for %q", w.msg.Rcode, name)
		}
	})
}
