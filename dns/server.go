package dns

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/miekg/dns"

	"consulx/store"
)

// Catalog is what the DNS server reads: nodes and service instances with
// their checks, from the agent (stale reads when allowed).
type Catalog interface {
	// dc is the datacenter named in the query ("" for the agent's).
	DNSNode(ctx context.Context, name, dc string, stale bool, maxStale time.Duration) (*store.Node, error)
	DNSService(ctx context.Context, name, dc string, stale bool, maxStale time.Duration) ([]store.ServiceInstance, error)
	// DNSGeneration says whether answers for our own datacenter may be
	// served from the cache (ok), and the generation they are valid for:
	// it must move whenever any answer could change (cache.go).
	DNSGeneration(stale bool, maxStale time.Duration) (gen uint64, ok bool)
}

// Server answers DNS queries on UDP and TCP.
type Server struct {
	cfg    Config
	cat    Catalog
	logger hclog.Logger
	udp    *dns.Server
	tcp    *dns.Server
	cache  *answerCache
	batch  *batchConn // nil without the fast path
	// cacheHits counts queries answered from the cache.
	cacheHits atomic.Uint64
	// Addr is the bound address (useful with port 0).
	Addr string
}

// maxNameLen is the longest name we look at; longer is malformed.
const maxNameLen = 255

// Start listens on addr (host:port) for UDP and TCP.
func Start(addr string, cfg Config, cat Catalog, logger hclog.Logger) (*Server, error) {
	s := &Server{cfg: cfg, cat: cat, logger: logger.Named("dns"), cache: newAnswerCache()}
	mux := dns.NewServeMux()
	mux.HandleFunc(cfg.Domain, s.handleConsul)
	mux.HandleFunc(".", s.handleOther)
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for DNS on udp %s: %w (set -dns-port, or ports.dns = -1)", addr, err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("listen for DNS on tcp %s: %w", addr, err)
	}
	s.Addr = pc.LocalAddr().String()
	s.udp = &dns.Server{PacketConn: pc, Handler: s.cachingHandler(mux)}
	if udp, ok := pc.(*net.UDPConn); ok {
		if bc := newBatchConn(s, udp); bc != nil {
			s.batch = bc
			s.udp.PacketConn = bc // fastpath.go
			// The readers take queries of up to readBufferSize bytes;
			// miekg's own buffer (512 by default) must not cut them.
			s.udp.UDPSize = readBufferSize
		}
	}
	s.tcp = &dns.Server{Listener: ln, Handler: mux}
	// Wait until both serve: a Shutdown before that would find miekg's
	// servers "not started" and leave the sockets (and the UDP readers)
	// running.
	udpUp, tcpUp := make(chan struct{}), make(chan struct{})
	s.udp.NotifyStartedFunc = func() { close(udpUp) }
	s.tcp.NotifyStartedFunc = func() { close(tcpUp) }
	go func() { _ = s.udp.ActivateAndServe() }()
	go func() { _ = s.tcp.ActivateAndServe() }()
	<-udpUp
	<-tcpUp
	s.logger.Info("DNS server listening", "address", s.Addr, "domain", cfg.Domain)
	return s, nil
}

// CacheHits is how many UDP queries were answered from the answer cache.
func (s *Server) CacheHits() uint64 { return s.cacheHits.Load() }

// Shutdown stops both listeners.
func (s *Server) Shutdown() {
	_ = s.udp.Shutdown()
	_ = s.tcp.Shutdown()
	if s.batch != nil {
		s.batch.waitReaders(5 * time.Second)
	}
}

func (s *Server) soa() dns.RR {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: s.cfg.Domain, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 0},
		Ns:      "ns." + s.cfg.Domain,
		Mbox:    "hostmaster." + s.cfg.Domain,
		Serial:  uint32(time.Now().Unix()),
		Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 0,
	}
}

func (s *Server) reply(w dns.ResponseWriter, req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = len(s.cfg.Recursors) > 0
	return m
}

func (s *Server) nxdomain(w dns.ResponseWriter, m *dns.Msg) {
	m.Rcode = dns.RcodeNameError
	m.Answer = nil
	m.Ns = []dns.RR{s.soa()}
	_ = w.WriteMsg(m)
}

// handleConsul answers names under the configured domain.
func (s *Server) handleConsul(w dns.ResponseWriter, req *dns.Msg) {
	m := s.reply(w, req)
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	if len(name) > maxNameLen || !strings.HasSuffix(name, s.cfg.Domain) {
		s.nxdomain(w, m)
		return
	}
	labels := dns.SplitDomainName(strings.TrimSuffix(name, s.cfg.Domain))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, isTCP := w.RemoteAddr().(*net.TCPAddr)
	switch {
	case q.Qtype == dns.TypeSOA && len(labels) == 0:
		m.Answer = []dns.RR{s.soa()}
		_ = w.WriteMsg(m)
	case len(labels) >= 2 && labels[len(labels)-1] == "node" || len(labels) >= 3 && labels[len(labels)-2] == "node":
		s.answerNode(ctx, w, m, q, labels)
	default:
		s.answerService(ctx, w, m, q, labels, isTCP, req)
	}
}

// splitKind finds "<kind>" as the last label or the one before a DC label
// and returns the labels before it and the datacenter (if any).
func splitKind(labels []string, kind string) (before []string, dc string, ok bool) {
	n := len(labels)
	switch {
	case n >= 1 && labels[n-1] == kind:
		return labels[:n-1], "", true
	case n >= 2 && labels[n-2] == kind:
		return labels[:n-2], labels[n-1], true
	}
	return nil, "", false
}

// remoteDC is the datacenter to ask for a name's datacenter label: ""
// for ours (or none), else the other datacenter, reached through a
// server's hop.
func (s *Server) remoteDC(dc string) string {
	if dc == s.cfg.Datacenter {
		return ""
	}
	return dc
}

// lookupFailed answers a failed catalog read with SERVFAIL (an unknown
// datacenter is not a failure: the catalog answers it as no such name).
func (s *Server) lookupFailed(w dns.ResponseWriter, m *dns.Msg, _ error) {
	m.Rcode = dns.RcodeServerFailure
	_ = w.WriteMsg(m)
}

func (s *Server) answerNode(ctx context.Context, w dns.ResponseWriter, m *dns.Msg, q dns.Question, labels []string) {
	before, dc, ok := splitKind(labels, "node")
	if !ok || len(before) == 0 {
		s.nxdomain(w, m)
		return
	}
	nodeName := strings.Join(before, ".")
	n, err := s.cat.DNSNode(ctx, nodeName, s.remoteDC(dc), s.cfg.AllowStale, s.cfg.MaxStale)
	if err != nil {
		s.lookupFailed(w, m, err)
		return
	}
	if n == nil {
		s.nxdomain(w, m)
		return
	}
	rr := addrRecord(q.Name, n.Address, q.Qtype, uint32(s.cfg.NodeTTL/time.Second))
	if rr == nil {
		m.Ns = []dns.RR{s.soa()} // NODATA
	} else {
		m.Answer = []dns.RR{rr}
		if s.remoteDC(dc) == "" {
			markCacheable(w, 1)
		}
	}
	_ = w.WriteMsg(m)
}

// addrRecord returns an A or AAAA record for addr if it matches qtype
// (ANY matches both), nil otherwise.
func addrRecord(name, addr string, qtype uint16, ttl uint32) dns.RR {
	ip := net.ParseIP(addr)
	if ip == nil {
		return nil
	}
	if v4 := ip.To4(); v4 != nil {
		if qtype == dns.TypeA || qtype == dns.TypeANY {
			return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: v4}
		}
		return nil
	}
	if qtype == dns.TypeAAAA || qtype == dns.TypeANY {
		return &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl}, AAAA: ip}
	}
	return nil
}

// healthy drops instances with a critical check (and warning ones when
// only_passing), as Consul's DNS does.
func (s *Server) healthy(in []store.ServiceInstance) []store.ServiceInstance {
	var out []store.ServiceInstance
	for _, i := range in {
		ok := true
		for _, c := range i.Checks {
			if c.Status == store.HealthCritical || (s.cfg.OnlyPassing && c.Status == store.HealthWarning) {
				ok = false
			}
		}
		if ok {
			out = append(out, i)
		}
	}
	return out
}

func hasTag(tags []string, tag string) bool {
	for _, t := range tags {
		if strings.EqualFold(t, tag) {
			return true
		}
	}
	return false
}

func (s *Server) answerService(ctx context.Context, w dns.ResponseWriter, m *dns.Msg, q dns.Question, labels []string, isTCP bool, req *dns.Msg) {
	var service, tag, dc string
	if before, d, ok := splitKind(labels, "service"); ok && len(before) >= 1 {
		dc = d
		if strings.HasPrefix(before[0], "_") && len(before) == 2 && strings.HasPrefix(before[1], "_") {
			// RFC 2782: _<service>._<tag|tcp>
			service, tag = before[0][1:], before[1][1:]
			if tag == "tcp" {
				tag = ""
			}
		} else {
			service = before[len(before)-1]
			tag = strings.Join(before[:len(before)-1], ".")
		}
	} else if len(labels) == 2 && strings.HasPrefix(labels[0], "_") && strings.HasPrefix(labels[1], "_") {
		// RFC 2782 without ".service" (SRV queries only, as Consul allows).
		service, tag = labels[0][1:], labels[1][1:]
		if tag == "tcp" {
			tag = ""
		}
	} else {
		s.nxdomain(w, m)
		return
	}
	if service == "" {
		s.nxdomain(w, m)
		return
	}
	all, err := s.cat.DNSService(ctx, service, s.remoteDC(dc), s.cfg.AllowStale, s.cfg.MaxStale)
	if err != nil {
		s.lookupFailed(w, m, err)
		return
	}
	var inst []store.ServiceInstance
	for _, i := range s.healthy(all) {
		if tag == "" || hasTag(i.Service.Tags, tag) {
			inst = append(inst, i)
		}
	}
	if len(inst) == 0 {
		s.nxdomain(w, m)
		return
	}
	rand.Shuffle(len(inst), func(i, j int) { inst[i], inst[j] = inst[j], inst[i] })
	ttl := uint32(s.cfg.serviceTTL(service) / time.Second)
	for _, i := range inst {
		addr := i.Service.Address
		if addr == "" {
			addr = i.Node.Address
		}
		switch q.Qtype {
		case dns.TypeSRV:
			target := fmt.Sprintf("%s.node.%s.%s", i.Node.Node, i.Node.Datacenter, s.cfg.Domain)
			if i.Service.Address != "" && i.Service.Address != i.Node.Address {
				if ip := net.ParseIP(i.Service.Address); ip != nil && ip.To4() != nil {
					target = fmt.Sprintf("%x.addr.%s.%s", []byte(ip.To4()), i.Node.Datacenter, s.cfg.Domain)
				}
			}
			m.Answer = append(m.Answer, &dns.SRV{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: ttl},
				Priority: 1, Weight: 1, Port: uint16(i.Service.Port), Target: target})
			if rr := addrRecord(target, addr, dns.TypeANY, ttl); rr != nil {
				m.Extra = append(m.Extra, rr)
			}
		default:
			if rr := addrRecord(q.Name, addr, q.Qtype, ttl); rr != nil {
				m.Answer = append(m.Answer, rr)
			}
		}
	}
	if len(m.Answer) == 0 {
		m.Ns = []dns.RR{s.soa()} // NODATA: the name exists, not this type
		_ = w.WriteMsg(m)
		return
	}
	s.trim(m, req, isTCP)
	if s.remoteDC(dc) == "" {
		// Several instances: keep maxVariants random orders, so that
		// rotating them still spreads the load (two orders drawn for
		// two instances would be the same one half of the time).
		variants := 1
		if len(inst) > 1 {
			variants = maxVariants
		}
		markCacheable(w, variants)
	}
	_ = w.WriteMsg(m)
}

// trim applies Consul's UDP rules: without EDNS, at most udp_answer_limit
// answers and 512 bytes; with EDNS, the advertised size. TC is set only
// with enable_truncate.
func (s *Server) trim(m *dns.Msg, req *dns.Msg, isTCP bool) {
	if isTCP {
		return
	}
	size := 512
	if opt := req.IsEdns0(); opt != nil {
		size = int(opt.UDPSize())
	} else if limit := min(s.cfg.UDPAnswerLimit, 8); limit > 0 && len(m.Answer) > limit {
		m.Answer = m.Answer[:limit]
		s.syncExtra(m)
		m.Truncated = s.cfg.EnableTruncate
	}
	for len(m.Answer) > 1 && m.Len() > size {
		m.Answer = m.Answer[:len(m.Answer)-1]
		s.syncExtra(m)
		m.Truncated = s.cfg.EnableTruncate
	}
}

// syncExtra keeps only additional records for SRV targets still answered.
func (s *Server) syncExtra(m *dns.Msg) {
	keep := map[string]bool{}
	for _, rr := range m.Answer {
		if srv, ok := rr.(*dns.SRV); ok {
			keep[srv.Target] = true
		}
	}
	var extra []dns.RR
	for _, rr := range m.Extra {
		if keep[rr.Header().Name] {
			extra = append(extra, rr)
		}
	}
	m.Extra = extra
}

// handleOther forwards names outside the domain to the recursors, or
// refuses them.
func (s *Server) handleOther(w dns.ResponseWriter, req *dns.Msg) {
	if len(s.cfg.Recursors) == 0 {
		m := s.reply(w, req)
		m.Authoritative = false
		m.Rcode = dns.RcodeRefused
		_ = w.WriteMsg(m)
		return
	}
	network := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		network = "tcp"
	}
	c := &dns.Client{Net: network, Timeout: s.cfg.RecursorTTL}
	for _, r := range s.cfg.Recursors {
		if !strings.Contains(r, ":") || strings.Count(r, ":") > 1 && !strings.HasPrefix(r, "[") {
			r = net.JoinHostPort(r, "53")
		}
		resp, _, err := c.Exchange(req, r)
		if err == nil {
			resp.Compress = true
			resp.RecursionAvailable = true
			_ = w.WriteMsg(resp)
			return
		}
		s.logger.Debug("recursor failed", "recursor", r, "error", err)
	}
	m := s.reply(w, req)
	m.Rcode = dns.RcodeServerFailure
	_ = w.WriteMsg(m)
}
