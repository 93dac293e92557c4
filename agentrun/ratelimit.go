package agentrun

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// rateLimiter bounds the requests each client IP may make to the HTTP
// API (limits.rpc_rate per second, bursts of limits.rpc_max_burst), so one
// busy client cannot crowd out the others or flood the servers with the
// RPCs its requests become. Over the limit a request gets Consul's 429
// and never reaches the handler.
type rateLimiter struct {
	next  http.Handler
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	clients map[string]*clientBucket
	swept   time.Time
}

type clientBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// maxTrackedClients bounds the limiter's memory: past it, idle buckets
// are dropped first, and a client that is not tracked starts full.
const maxTrackedClients = 1 << 16

func newRateLimiter(next http.Handler, perSecond float64, burst int) http.Handler {
	if perSecond <= 0 {
		return next // Consul's default: no limit
	}
	if burst < 1 {
		burst = 1
	}
	return &rateLimiter{next: next, rate: rate.Limit(perSecond), burst: burst, clients: map[string]*clientBucket{}, swept: time.Now()}
}

func (l *rateLimiter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	if !l.allow(ip, time.Now()) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "rate limit exceeded, try again later", http.StatusTooManyRequests)
		return
	}
	l.next.ServeHTTP(w, r)
}

func (l *rateLimiter) allow(ip string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute || len(l.clients) >= maxTrackedClients {
		// A bucket idle for a minute is full again: forgetting it changes nothing.
		for k, b := range l.clients {
			if now.Sub(b.seen) > time.Minute {
				delete(l.clients, k)
			}
		}
		l.swept = now
	}
	b, ok := l.clients[ip]
	if !ok {
		if len(l.clients) >= maxTrackedClients {
			return true
		}
		b = &clientBucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.clients[ip] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}
