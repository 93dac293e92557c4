package dns

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
)

// The answer cache: UDP answers in wire format, keyed by what in a query
// can change the answer, valid while the catalog's generation (Catalog's
// DNSGeneration) has not moved. A query that hits it is answered with the
// cached bytes and its own ID, without unpacking, building or packing a
// message (fastpath.go).
//
// The key is built from the raw packet on the fast path (queryKey) and
// from the unpacked message on the full path (msgKey), and the two must
// agree byte for byte:
//
//	[flags: 1 RD, 2 CD] [qtype 2] [qclass 2] [EDNS: present 1, UDP size 2, DO 1] [qname in wire form]
//
// The reply copies RD and CD from the query (dns.Msg.SetReply), and the
// EDNS size decides how many records fit (trim); the name is kept in the
// case it was asked in, since the answer repeats it.

const (
	// maxCachedAnswers and maxCachedBytes bound the cache; when either is
	// reached the next new answer empties it. Names asked of an agent are
	// few, but a client varying the case of a name or its EDNS size makes
	// new keys, each up to 64 KiB of answer.
	maxCachedAnswers = 8192
	maxCachedBytes   = 32 << 20
	// maxVariants is how many shuffled orders of a service's answer are
	// kept and rotated per query, as Consul shuffles on every query.
	maxVariants = 8
)

type answerCache struct {
	mu      sync.RWMutex
	entries map[string]*cachedAnswer
	bytes   int // of every variant held
}

// cachedAnswer is immutable once published, but for the rotation counter.
type cachedAnswer struct {
	gen uint64
	// want is how many variants make the entry complete: 1 for a node,
	// more for a service with several instances. An incomplete entry is
	// a miss, so the full path builds (and shuffles) another variant.
	want     int
	variants [][]byte
	next     atomic.Uint32
}

func newAnswerCache() *answerCache {
	return &answerCache{entries: map[string]*cachedAnswer{}}
}

// get returns the cached answer for key at generation gen, nil on a miss.
// The bytes are shared: the caller copies them before patching the ID.
func (c *answerCache) get(key []byte, gen uint64) []byte {
	c.mu.RLock()
	e := c.entries[string(key)]
	c.mu.RUnlock()
	if e == nil || e.gen != gen || len(e.variants) < e.want {
		return nil
	}
	if len(e.variants) == 1 {
		return e.variants[0]
	}
	return e.variants[int(e.next.Add(1)%uint32(len(e.variants)))]
}

// add stores one more variant of the answer for key made at generation
// gen (want: how many variants the entry should hold).
func (c *answerCache) add(key []byte, gen uint64, answer []byte, want int) {
	want = max(1, min(want, maxVariants))
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.entries[string(key)]
	variants := [][]byte{answer}
	if old != nil && old.gen == gen && old.want == want {
		if len(old.variants) >= want {
			return
		}
		// A new array: readers may be indexing the old one.
		variants = append(old.variants[:len(old.variants):len(old.variants)], answer)
	}
	if old == nil && len(c.entries) >= maxCachedAnswers || c.bytes+len(answer) > maxCachedBytes {
		clear(c.entries)
		c.bytes = 0
		variants = [][]byte{answer}
	} else if old != nil && len(variants) == 1 {
		for _, v := range old.variants {
			c.bytes -= len(v) // replaced by an answer of another generation
		}
	}
	c.bytes += len(answer)
	c.entries[string(key)] = &cachedAnswer{gen: gen, want: want, variants: variants}
}

// queryKey appends the cache key of a raw query to dst. Only a plain
// query qualifies: not a response, opcode QUERY, one question with an
// uncompressed name, no answer or authority records, and at most one
// additional record which must be an OPT; anything else (ok false) takes
// the full path, which also answers malformed packets as before.
func queryKey(dst, p []byte) (key []byte, ok bool) {
	if len(p) < 12+1+4 {
		return dst, false
	}
	if p[2]&0x80 != 0 || (p[2]>>3)&0x0f != dns.OpcodeQuery {
		return dst, false
	}
	be := binary.BigEndian
	if be.Uint16(p[4:]) != 1 || be.Uint16(p[6:]) != 0 || be.Uint16(p[8:]) != 0 {
		return dst, false
	}
	arCount := be.Uint16(p[10:])
	if arCount > 1 {
		return dst, false
	}
	off := 12
	for {
		if off >= len(p) || off-12 > maxNameLen {
			return dst, false
		}
		l := int(p[off])
		if l == 0 {
			off++
			break
		}
		if l&0xc0 != 0 { // a compression pointer or an extended label
			return dst, false
		}
		off += 1 + l
	}
	name := p[12:off]
	if off+4 > len(p) {
		return dst, false
	}
	question := p[off : off+4] // qtype, qclass
	off += 4
	var edns [4]byte
	if arCount == 1 {
		// OPT: root name, type 41, class = UDP size, TTL = extended
		// rcode, version, flags (DO is the top bit), then RDATA.
		if off+11 > len(p) || p[off] != 0 || be.Uint16(p[off+1:]) != dns.TypeOPT {
			return dst, false
		}
		edns = [4]byte{1, p[off+3], p[off+4], p[off+7] >> 7}
		rdEnd := off + 11 + int(be.Uint16(p[off+9:]))
		if rdEnd > len(p) {
			return dst, false
		}
		// Options must be ones miekg surely accepts, or the full path
		// answers FORMERR and a hit must not: only a DNS cookie (dig
		// sends one) of a valid length; anything else goes the full way.
		for o := off + 11; o < rdEnd; {
			if o+4 > rdEnd {
				return dst, false
			}
			code, n := be.Uint16(p[o:]), int(be.Uint16(p[o+2:]))
			if code != dns.EDNS0COOKIE || !(n == 8 || n >= 16 && n <= 40) || o+4+n > rdEnd {
				return dst, false
			}
			o += 4 + n
		}
		off = rdEnd
	}
	if off != len(p) {
		return dst, false
	}
	var flags byte
	if p[2]&0x01 != 0 {
		flags |= 1 // RD
	}
	if p[3]&0x10 != 0 {
		flags |= 2 // CD
	}
	dst = append(dst, flags)
	dst = append(dst, question...)
	dst = append(dst, edns[:]...)
	return append(dst, name...), true
}

// msgKey is queryKey for an unpacked query.
func msgKey(dst []byte, req *dns.Msg) (key []byte, ok bool) {
	if req.Response || req.Opcode != dns.OpcodeQuery || len(req.Question) != 1 ||
		len(req.Answer) != 0 || len(req.Ns) != 0 || len(req.Extra) > 1 {
		return dst, false
	}
	var edns [4]byte
	if len(req.Extra) == 1 {
		opt, isOPT := req.Extra[0].(*dns.OPT)
		if !isOPT || opt.Hdr.Name != "." {
			return dst, false
		}
		var do byte
		if opt.Do() {
			do = 1
		}
		size := opt.UDPSize()
		edns = [4]byte{1, byte(size >> 8), byte(size), do}
	}
	q := req.Question[0]
	var name [maxNameLen + 2]byte
	n, err := dns.PackDomainName(q.Name, name[:], 0, nil, false)
	if err != nil {
		return dst, false
	}
	var flags byte
	if req.RecursionDesired {
		flags |= 1
	}
	if req.CheckingDisabled {
		flags |= 2
	}
	dst = append(dst, flags, byte(q.Qtype>>8), byte(q.Qtype), byte(q.Qclass>>8), byte(q.Qclass))
	dst = append(dst, edns[:]...)
	return append(dst, name[:n]...), true
}
