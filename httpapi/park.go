package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"consulx/node"
)

// Parking a blocking query: when this agent can answer a blocking read
// itself and nothing has changed yet, the connection is hijacked and the
// net/http goroutine, its stack and its buffers are released. A small
// goroutine waits for the watch or the timeout, then answers on the raw
// connection and hands it back to the server for keep-alive. An idle
// watcher then costs a few KiB instead of ~30 KiB, which is what lets one
// agent hold 10,000 of them.

// ConnReturner hands a hijacked keep-alive connection back to the HTTP
// server (the listener re-accepts it).
type ConnReturner func(net.Conn)

// SetConnReturner enables parking; without it every blocking query holds
// its goroutine (still correct, just heavier).
func (h *Handler) SetConnReturner(f ConnReturner) { h.returnConn = f }

// parkable is what the connection goroutine of a parked request needs of
// the read it parks (read.go's parkedRead).
type parkable interface {
	// recheck reads again after a wake-up: it returns the watch to keep
	// waiting on, or nil when the answer is ready.
	recheck() *node.Watch
	// answer writes the response: the read recheck found, or else (the
	// wait expired) a fresh non-blocking read.
	answer(w http.ResponseWriter, r *http.Request)
}

// park hijacks the connection and finishes the request later. One
// goroutine per parked request sits in a 1-byte read on the connection:
// the watch firing or the deadline passing interrupts it (by moving the
// read deadline), and a client that hangs up ends it at once, releasing
// the connection and its per-IP slot.
func (h *Handler) park(w http.ResponseWriter, r *http.Request, watch *node.Watch, deadline time.Time, p parkable) bool {
	hj, ok := w.(http.Hijacker)
	if !ok || h.returnConn == nil {
		return false
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return false
	}
	// Bytes the client pipelined after this request must not be lost.
	var pending []byte
	if n := rw.Reader.Buffered(); n > 0 {
		pending, _ = rw.Reader.Peek(n)
		pending = append([]byte(nil), pending...)
	}
	keepAlive := !r.Close && r.ProtoAtLeast(1, 1)
	// Keep only what answering needs: the server's request holds its
	// connection buffers (Body, context), which parking is meant to free.
	r = (&http.Request{Method: r.Method, URL: r.URL, Header: r.Header, Proto: r.Proto,
		ProtoMajor: r.ProtoMajor, ProtoMinor: r.ProtoMinor, Host: r.Host, RemoteAddr: r.RemoteAddr,
		Body: http.NoBody}).WithContext(context.Background())
	h.trackParked(conn, true)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				h.logger.Error("panic answering a parked blocking query", "path", r.URL.Path, "panic", v)
				conn.Close()
			}
			h.trackParked(conn, false)
		}()
		wake := func() { _ = conn.SetReadDeadline(time.Now()) }
		one := make([]byte, 1)
		for {
			_ = conn.SetReadDeadline(deadline)
			watch.OnFire(wake)
			var n int
			var rerr error
			if len(pending) == 0 {
				n, rerr = conn.Read(one)
			} else {
				// Pipelined bytes are waiting: the client is alive; just
				// wait for the watch or the deadline.
				select {
				case <-watch.Changed():
				case <-time.After(time.Until(deadline)):
				}
				rerr = os.ErrDeadlineExceeded
			}
			watch.Stop()
			if n > 0 {
				pending = append(pending, one[0])
			}
			if rerr != nil && !errors.Is(rerr, os.ErrDeadlineExceeded) {
				conn.Close() // the client went away (or the agent is stopping)
				return
			}
			// Woken before the deadline (or a pipelined byte arrived):
			// read again; keep waiting while what we read did not move.
			if n > 0 || time.Now().Before(deadline) {
				if watch = p.recheck(); watch != nil {
					continue
				}
			}
			break
		}
		_ = conn.SetReadDeadline(time.Time{})
		buf := &bufferedResponse{header: http.Header{}}
		p.answer(buf, r)
		if err := buf.writeTo(conn, keepAlive); err != nil || !keepAlive {
			conn.Close()
			return
		}
		if len(pending) > 0 {
			h.returnConn(&prefixedConn{Conn: conn, prefix: pending})
			return
		}
		h.returnConn(conn)
	}()
	return true
}

// trackParked remembers parked connections so CloseParked can end them.
func (h *Handler) trackParked(c net.Conn, add bool) {
	h.parkedMu.Lock()
	defer h.parkedMu.Unlock()
	if h.parked == nil {
		h.parked = map[net.Conn]struct{}{}
	}
	if add {
		h.parked[c] = struct{}{}
	} else {
		delete(h.parked, c)
	}
}

// Parked is the number of blocking queries parked right now.
func (h *Handler) Parked() int {
	h.parkedMu.Lock()
	defer h.parkedMu.Unlock()
	return len(h.parked)
}

// CloseParked closes every parked connection (agent shutdown).
func (h *Handler) CloseParked() {
	h.parkedMu.Lock()
	defer h.parkedMu.Unlock()
	for c := range h.parked {
		c.Close()
	}
}

// bufferedResponse collects a response to write on a hijacked connection.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedResponse) writeTo(w io.Writer, keepAlive bool) error {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "HTTP/1.1 %d %s\r\n", b.status, http.StatusText(b.status))
	b.header.Set("Content-Length", strconv.Itoa(b.body.Len()))
	b.header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	if !keepAlive {
		b.header.Set("Connection", "close")
	}
	_ = b.header.Write(&out)
	out.WriteString("\r\n")
	out.Write(b.body.Bytes())
	_, err := w.Write(out.Bytes())
	return err
}

// prefixedConn replays bytes read ahead before the hijack.
type prefixedConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixedConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
