package agentrun

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// limitListener caps concurrent connections per client IP, like Consul's
// limits.http_max_conns_per_client: one misbehaving client cannot exhaust
// the agent's file descriptors. Over the cap, the client gets a 429 and
// the connection is closed.
type limitListener struct {
	net.Listener
	max   int
	mu    sync.Mutex
	perIP map[string]int
}

func newLimitListener(ln net.Listener, max int) net.Listener {
	if max <= 0 {
		return ln
	}
	return &limitListener{Listener: ln, max: max, perIP: map[string]int{}}
}

const tooManyConnsBody = "Your IP is issuing too many concurrent connections, please rate limit your calls\n"

var tooManyConns = fmt.Sprintf("HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(tooManyConnsBody), tooManyConnsBody)

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := c.RemoteAddr().String()
		if h, _, err := net.SplitHostPort(ip); err == nil {
			ip = h
		}
		l.mu.Lock()
		if l.perIP[ip] >= l.max {
			l.mu.Unlock()
			go func() {
				_, _ = c.Write([]byte(tooManyConns))
				c.Close()
			}()
			continue
		}
		l.perIP[ip]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, release: func() { l.release(ip) }}, nil
	}
}

func (l *limitListener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// injectListener lets the HTTP server re-accept connections that a parked
// blocking query hijacked and has finished with (keep-alive continues).
type injectListener struct {
	net.Listener
	conns     chan net.Conn
	errs      chan error
	done      chan struct{}
	startOnce sync.Once
	closeOnce sync.Once
}

func newInjectListener(ln net.Listener) *injectListener {
	return &injectListener{Listener: ln, conns: make(chan net.Conn, 64), errs: make(chan error, 1), done: make(chan struct{})}
}

func (l *injectListener) Accept() (net.Conn, error) {
	l.startOnce.Do(func() {
		go func() {
			for {
				c, err := l.Listener.Accept()
				if err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
						// Out of file descriptors and the like: back off and
						// keep accepting, as net/http itself would.
						select {
						case <-time.After(50 * time.Millisecond):
							continue
						case <-l.done:
							return
						}
					}
					select {
					case l.errs <- err:
					case <-l.done:
					}
					return
				}
				select {
				case l.conns <- c:
				case <-l.done:
					c.Close()
					return
				}
			}
		}()
	})
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// isTemporary reports accept errors worth retrying (EMFILE, ENFILE, ...).
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// Inject hands a connection back to the server.
func (l *injectListener) Inject(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *injectListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}
