package dns

import (
	"errors"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// The UDP fast path. miekg/dns reads a packet, starts a goroutine for it,
// unpacks it, calls the handler, which reads the catalog, builds the
// answer and packs it. Most queries an agent gets ask the same few names
// again and again, so instead:
//
//   - fastReader (miekg's DecorateReader hook) runs one reader goroutine
//     per core on the UDP socket. A plain query whose answer is in the
//     cache for the current generation is answered right there: the
//     cached bytes, the query's ID patched in, one write. Everything
//     else is handed to miekg's loop as if read by it, so every rule of
//     the full path (malformed packets, other opcodes, TCP, recursors)
//     is unchanged.
//   - cachingHandler wraps the handler on the full path: it reads the
//     generation before the lookup (so an answer built from older state
//     is never stored as newer) and stores what the handler wrote when
//     the handler said the answer may be cached (markCacheable).

// fastReader serves cache hits and passes misses on to miekg's loop.
type fastReader struct {
	dns.Reader // miekg's own, for TCP (the UDP server never asks)
	s          *Server

	start  sync.Once
	misses chan udpPacket
	errs   chan error
	done   chan struct{}
	stop   sync.Once
}

type udpPacket struct {
	data    []byte
	session *dns.SessionUDP
}

// readBufferSize holds any UDP datagram; miekg reads into 512 bytes by
// default, which cuts longer queries, so this only accepts more.
const readBufferSize = 65535

func newFastReader(s *Server, next dns.Reader) *fastReader {
	return &fastReader{Reader: next, s: s, misses: make(chan udpPacket, 256), done: make(chan struct{})}
}

// ReadUDP is called by miekg's loop: it returns the next packet the
// readers could not answer from the cache. The readers start on the
// first call, since that is where the socket is given.
func (r *fastReader) ReadUDP(conn *net.UDPConn, _ time.Duration) ([]byte, *dns.SessionUDP, error) {
	r.start.Do(func() {
		n := max(2, runtime.GOMAXPROCS(0))
		r.errs = make(chan error, n)
		for range n {
			go r.serve(conn)
		}
	})
	select {
	case p := <-r.misses:
		return p.data, p.session, nil
	case err := <-r.errs:
		return nil, nil, err
	}
}

// serve reads packets until the socket is shut (miekg's Shutdown sets a
// read deadline in the past, then closes it).
func (r *fastReader) serve(conn *net.UDPConn) {
	buf := make([]byte, readBufferSize)
	out := make([]byte, 0, 1024)
	key := make([]byte, 0, 300)
	for {
		n, session, err := dns.ReadFromSessionUDP(conn, buf)
		if err != nil {
			var ne net.Error
			if errors.Is(err, net.ErrClosed) || errors.As(err, &ne) && ne.Timeout() {
				r.stop.Do(func() { close(r.done) })
				r.errs <- err // buffered: one per reader
				return
			}
			time.Sleep(10 * time.Millisecond) // a transient error: do not spin
			continue
		}
		pkt := buf[:n]
		if answer := r.s.cachedAnswer(key[:0], pkt); answer != nil {
			out = append(out[:0], answer...)
			out[0], out[1] = pkt[0], pkt[1] // the query's ID
			_, _ = dns.WriteToSessionUDP(conn, out, session)
			r.s.cacheHits.Add(1)
			continue
		}
		data := make([]byte, n) // miekg keeps the packet; buf is reused
		copy(data, pkt)
		select {
		case r.misses <- udpPacket{data: data, session: session}:
		case <-r.done:
			return
		}
	}
}

// cachedAnswer looks pkt up in the cache (key is scratch space).
func (s *Server) cachedAnswer(key, pkt []byte) []byte {
	key, ok := queryKey(key, pkt)
	if !ok {
		return nil
	}
	gen, ok := s.cat.DNSGeneration(s.cfg.AllowStale, s.cfg.MaxStale)
	if !ok {
		return nil
	}
	return s.cache.get(key, gen)
}

// cachingHandler wraps the UDP server's handler (see the top of the file).
func (s *Server) cachingHandler(next dns.Handler) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		key, ok := msgKey(nil, req)
		if !ok {
			next.ServeDNS(w, req)
			return
		}
		gen, ok := s.cat.DNSGeneration(s.cfg.AllowStale, s.cfg.MaxStale)
		if !ok {
			next.ServeDNS(w, req)
			return
		}
		cw := &capturingWriter{ResponseWriter: w}
		next.ServeDNS(cw, req)
		if cw.variants > 0 && cw.packed != nil {
			s.cache.add(key, gen, cw.packed, cw.variants)
		}
	})
}

// capturingWriter keeps the packed answer the handler wrote, and whether
// the handler called it cacheable.
type capturingWriter struct {
	dns.ResponseWriter
	variants int
	packed   []byte
}

func (w *capturingWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	w.packed = b
	return nil
}

// markCacheable tells the caching handler, when there is one, that the
// answer about to be written may be served again until the catalog's
// generation moves; variants is how many shuffled orders of it to keep
// (the number of records, at most maxVariants). Only answers that depend
// on nothing but this datacenter's catalog and the query may be marked:
// not NXDOMAIN or NODATA (their SOA serial is the time), not other
// datacenters.
func markCacheable(w dns.ResponseWriter, variants int) {
	if cw, ok := w.(*capturingWriter); ok {
		cw.variants = variants
	}
}
