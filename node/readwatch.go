package node

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"consulx/store"
)

// The read-and-watch primitive. Every read endpoint reads through
// readOnce: "read, and (only if asked) give me a watch that fires when
// what I read changes". The watch is armed on exactly what the read
// touches — one key, a prefix, a service, the sessions — before reading,
// so a write landing in between still fires it. Blocking queries inside
// the server (blockingRead) and queries parked by the HTTP layer
// (watchLocal) are both loops over readOnce; a non-blocking read arms
// nothing.

// jitterFraction spreads wake-ups of watchers that all timed out at once.
const jitterFraction = 16

// blockingWait is the time a blocking query may wait: wait clamped to
// max_query_time (default_query_time when absent), plus up to 1/16 of it
// as jitter, as Consul does.
func blockingWait(cfg *Config, wait time.Duration) time.Duration {
	if wait <= 0 {
		wait = cfg.DefaultQueryTime
	}
	wait = min(wait, cfg.MaxQueryTime)
	return wait + rand.N(wait/jitterFraction+1)
}

// BlockingWait is how long a blocking query asking for wait may wait.
func (a *Agent) BlockingWait(wait time.Duration) time.Duration { return blockingWait(a.cfg, wait) }

// atLeastOne mirrors the header rule: index 0 is reported (and compared) as 1.
func atLeastOne(i uint64) uint64 { return max(i, 1) }

// newer reports whether a read at index answers a query waiting for
// something after minIndex.
func newer(index, minIndex uint64) bool { return atLeastOne(index) > minIndex }

// watchArm is handed to a read function: it arms the watch on what the
// read is about to read, or does nothing when the read is not blocking.
type watchArm struct {
	set  *store.Watches
	on   bool
	ch   <-chan struct{}
	stop func()
}

func (w *watchArm) arm(ch <-chan struct{}, stop func()) {
	if w.stop != nil {
		w.stop() // a read watches one thing; the last one armed wins
	}
	w.ch, w.stop = ch, stop
}

// Key watches one KV key.
func (w *watchArm) Key(k string) {
	w.armIf(func() (<-chan struct{}, func()) { return w.set.WatchKey(k) })
}

// Prefix watches every KV key under p.
func (w *watchArm) Prefix(p string) {
	w.armIf(func() (<-chan struct{}, func()) { return w.set.WatchPrefix(p) })
}

// Catalog watches any node, service or check.
func (w *watchArm) Catalog() { w.armIf(w.set.WatchCatalog) }

// Service watches one service's instances and their checks.
func (w *watchArm) Service(name string) {
	w.armIf(func() (<-chan struct{}, func()) { return w.set.WatchService(name) })
}

// ACL watches every ACL policy and token.
func (w *watchArm) ACL() { w.armIf(w.set.WatchACL) }

// Sessions watches every session.
func (w *watchArm) Sessions() { w.armIf(w.set.WatchSessions) }

// armIf arms the watch watch makes, when the read is blocking.
func (w *watchArm) armIf(watch func() (<-chan struct{}, func())) {
	if w.on {
		w.arm(watch())
	}
}

// Watch fires once when what a read returned may have changed. A nil
// *Watch never fires.
type Watch struct {
	ch    <-chan struct{}
	stop  func()
	set   *store.Watches // nil for WatchOn's
	done  chan struct{}  // WatchOn's: closed by Stop
	epoch uint64         // the store's restore epoch when armed
}

// WatchOn makes a Watch that fires when ch is closed, for fakes of the
// agent in tests of the layers above.
func WatchOn(ch <-chan struct{}) *Watch {
	done := make(chan struct{})
	var once sync.Once
	return &Watch{ch: ch, done: done, stop: func() { once.Do(func() { close(done) }) }}
}

// Changed is closed when the watch fires.
func (w *Watch) Changed() <-chan struct{} {
	if w == nil {
		return nil
	}
	return w.ch
}

// OnFire calls fn (which must not block) when the watch fires, at once if
// it has: a parked request needs no goroutine waiting on Changed.
func (w *Watch) OnFire(fn func()) {
	switch {
	case w == nil || w.ch == nil:
	case w.set != nil:
		w.set.OnFire(w.ch, fn)
	default:
		go func() {
			select {
			case <-w.ch:
				fn()
			case <-w.done:
			}
		}()
	}
}

// Stop releases the watch.
func (w *Watch) Stop() {
	if w != nil && w.stop != nil {
		w.stop()
	}
}

// readOnce is the primitive: one read of req on this server, with QueryMeta
// set, and — when arm is set — the watch on what it read. The watch is nil
// when the read armed none, or when a snapshot was restored while it read
// (a restore fires every watch armed before it and may move indexes back,
// so the caller answers at once, as with any restore).
func (e *endpoint[A, R]) readOnce(s *server, req *A, arm bool) (*R, uint64, *Watch, error) {
	wa := &watchArm{set: s.store.Watches(), on: arm}
	epoch := s.store.RestoreEpoch()
	out, idx, err := e.read(s, req, wa)
	var w *Watch
	if wa.ch != nil {
		w = &Watch{ch: wa.ch, stop: wa.stop, set: wa.set, epoch: epoch}
		if s.store.RestoreEpoch() != epoch {
			w.Stop()
			w = nil
		}
	}
	if out != nil {
		any(out).(metaSetter).setMeta(s.meta(idx))
	}
	return out, idx, w, err
}

// blockingRead answers a read on this server; for a blocking request
// (MinIndex > 0) it reads again each time what it read changes, until the
// index passes MinIndex or the wait expires. A timed-out query returns the
// current result.
func (e *endpoint[A, R]) blockingRead(ctx context.Context, s *server, req *A, opts QueryOptions) (*R, error) {
	blocking := opts.MinIndex > 0
	out, idx, w, err := e.readOnce(s, req, blocking)
	if err != nil || !blocking || newer(idx, opts.MinIndex) || w == nil {
		w.Stop() // nil: nothing to wait on (no watch, or a restore meanwhile)
		return out, err
	}
	epoch := w.epoch
	timer := time.NewTimer(blockingWait(s.cfg, opts.MaxWait))
	defer timer.Stop()
	for {
		select {
		case <-w.Changed():
		case <-timer.C:
			w.Stop()
			return out, nil
		case <-ctx.Done():
			w.Stop()
			return nil, ctx.Err()
		case <-s.done:
			w.Stop()
			return nil, ErrNoLeader
		}
		w.Stop()
		if opts.Consistency == ModeConsistent {
			if err := s.raft.VerifyLeader().Error(); err != nil {
				return nil, err
			}
		}
		out, idx, w, err = e.readOnce(s, req, true)
		// A lower index alone (a server a little behind) keeps waiting; a
		// snapshot restore returns at once so clients reset, as Consul does.
		if err != nil || newer(idx, opts.MinIndex) || w == nil || s.store.RestoreEpoch() != epoch {
			w.Stop()
			return out, err
		}
	}
}

// ErrNotLocal tells the HTTP layer that this agent cannot answer a read
// itself (a client agent, a follower for a default read, ?consistent, or
// another datacenter): the read goes the ordinary, forwarded way.
var ErrNotLocal = errors.New("read is not answered by this agent")

// watchLocal answers a blocking read from this agent's own state when the
// consistency rules allow it, for the HTTP layer to park. With a nil
// watch the result answers the query now (it is newer than MinIndex, or
// a snapshot was restored since prev was armed); otherwise nothing
// changed yet and the watch fires when it may have. prev is the watch
// of the previous round (nil the first time).
func (e *endpoint[A, R]) watchLocal(a *Agent, req *A, prev *Watch) (*R, *Watch, error) {
	s := a.srv
	if s == nil {
		return nil, nil, ErrNotLocal
	}
	opts := any(req).(queried).query()
	if dc := opts.Datacenter; dc != "" && dc != s.cfg.Datacenter {
		return nil, nil, ErrNotLocal
	}
	if opts.Token == "" {
		opts.Token = a.tokens.user()
	}
	if !s.answersLocally(*opts) {
		return nil, nil, ErrNotLocal
	}
	out, idx, w, err := e.readOnce(s, req, true)
	if err == nil {
		err = e.filterResult(context.Background(), s, req, out)
	}
	if err != nil {
		w.Stop()
		return nil, nil, err
	}
	if newer(idx, opts.MinIndex) || (prev != nil && w != nil && prev.epoch != w.epoch) {
		w.Stop()
		return out, nil, nil
	}
	return out, w, nil
}

// answersLocally is the one rule for when a server answers a read from
// its own state without asking the leader: any server that has known a
// leader for ?stale, the leader once its term's barrier is applied for a
// default read. ?consistent always asks a quorum first.
func (s *server) answersLocally(opts QueryOptions) bool {
	switch opts.Consistency {
	case ModeStale:
		return s.everKnewLeader.Load() || s.raft.State() == raft.Leader
	case ModeDefault:
		return s.isReady()
	}
	return false
}

// NonBlocking returns a copy of a read request that does not block (its
// MinIndex cleared).
func NonBlocking[A any](req *A) *A {
	cp := *req
	if q, ok := any(&cp).(queried); ok {
		q.query().MinIndex = 0
	}
	return &cp
}

// Reader is one read endpoint of an agent. Read is the ordinary call
// (blocking inside the agent when the request asks); Watch is the
// read-and-watch form the HTTP layer parks (see watchLocal).
type Reader[A, R any] interface {
	Read(ctx context.Context, req *A) (*R, error)
	Watch(req *A, prev *Watch) (*R, *Watch, error)
}

// Reads are an agent's read endpoints.
type Reads struct {
	KV           Reader[KVReadRequest, KVReadResponse]
	Nodes        Reader[NodesRequest, NodesResponse]
	Services     Reader[ServicesRequest, ServicesResponse]
	ServiceNodes Reader[ServiceNodesRequest, ServiceNodesResponse]
	NodeServices Reader[NodeServicesRequest, NodeServicesResponse]
	Checks       Reader[ChecksRequest, ChecksResponse]
	Sessions     Reader[SessionReadRequest, SessionReadResponse]
}

func bindReads(a *Agent) Reads {
	return Reads{
		KV:           boundReader[KVReadRequest, KVReadResponse]{a, kvReadEndpoint},
		Nodes:        boundReader[NodesRequest, NodesResponse]{a, catalogNodesEndpoint},
		Services:     boundReader[ServicesRequest, ServicesResponse]{a, catalogServicesEndpoint},
		ServiceNodes: boundReader[ServiceNodesRequest, ServiceNodesResponse]{a, serviceNodesEndpoint},
		NodeServices: boundReader[NodeServicesRequest, NodeServicesResponse]{a, nodeServicesEndpoint},
		Checks:       boundReader[ChecksRequest, ChecksResponse]{a, healthChecksEndpoint},
		Sessions:     boundReader[SessionReadRequest, SessionReadResponse]{a, sessionReadEndpoint},
	}
}

// Reads returns the agent's read endpoints.
func (a *Agent) Reads() *Reads { return &a.reads }

// boundReader is a read endpoint bound to an agent.
type boundReader[A, R any] struct {
	a *Agent
	e *endpoint[A, R]
}

func (b boundReader[A, R]) Read(ctx context.Context, req *A) (*R, error) {
	return b.e.call(ctx, b.a, req)
}

func (b boundReader[A, R]) Watch(req *A, prev *Watch) (*R, *Watch, error) {
	return b.e.watchLocal(b.a, req, prev)
}
