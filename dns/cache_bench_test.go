package dns

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkCachedAnswer is the work the fast path does for a query whose
// answer is cached: the key from the raw packet, the generation, the
// lookup, the copy with the query's ID. No system calls.
func BenchmarkCachedAnswer(b *testing.B) {
	s := &Server{cfg: DefaultConfig(), cat: generationOnly{}, cache: newAnswerCache()}
	q := new(dns.Msg)
	q.SetQuestion("web-1.node.consul.", dns.TypeA)
	pkt, err := q.Pack()
	if err != nil {
		b.Fatal(err)
	}
	key, ok := msgKey(nil, q)
	if !ok {
		b.Fatal("no key")
	}
	r := new(dns.Msg)
	r.SetReply(q)
	r.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET}, A: []byte{10, 0, 0, 1}}}
	answer, _ := r.Pack()
	s.cache.add(key, 7, answer, 1)
	scratch := make([]byte, 0, 300)
	out := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		a := s.cachedAnswer(scratch[:0], pkt)
		if a == nil {
			b.Fatal("miss")
		}
		out = append(out[:0], a...)
		out[0], out[1] = pkt[0], pkt[1]
	}
}

// generationOnly is a catalog that only tells the generation.
type generationOnly struct{ fakeCatalog }

func (generationOnly) DNSGeneration(bool, time.Duration) (uint64, bool) { return 7, true }
