package replicate

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"consulx/api"
)

// Keys of the replicator's own state in the destination KV.
const (
	statusPrefix = "service/consulx-replicate/statuses/"
	lockPrefix   = "service/consulx-replicate/leader/"
	ownPrefix    = "service/consulx-replicate/"
)

// Prefix is one source prefix in a datacenter, copied under Destination.
type Prefix struct {
	Source, Datacenter, Destination string
}

// ParsePrefix reads consul-replicate's "SRC@DC[:DEST]" (DEST defaults to
// SRC).
func ParsePrefix(s string) (Prefix, error) {
	src, rest, ok := strings.Cut(s, "@")
	if !ok || rest == "" {
		return Prefix{}, fmt.Errorf("invalid prefix %q: want SRC@DC[:DEST]", s)
	}
	dc, dest, hasDest := strings.Cut(rest, ":")
	if dc == "" {
		return Prefix{}, fmt.Errorf("invalid prefix %q: no datacenter", s)
	}
	if !hasDest {
		dest = src
	}
	return Prefix{Source: src, Datacenter: dc, Destination: dest}, nil
}

func (p Prefix) String() string { return p.Source + "@" + p.Datacenter + ":" + p.Destination }

// id names the prefix's status and lock keys.
func (p Prefix) id() string {
	h := sha1.Sum([]byte(p.String()))
	return hex.EncodeToString(h[:8])
}

// Status is what the destination keeps per prefix.
type Status struct {
	Prefix         string
	LastReplicated uint64
	LastUpdate     time.Time
}

// Config is what to replicate and how.
type Config struct {
	Prefixes []Prefix
	// Excludes are source key prefixes not copied (nor deleted).
	Excludes []string
	// WaitMin and WaitMax: after a change, wait until the source has been
	// quiet for WaitMin (at most WaitMax) before copying (0: at once).
	WaitMin, WaitMax time.Duration
	// Retry is the first pause after a failure; it doubles up to a minute.
	Retry time.Duration
	// Once copies each prefix once and returns.
	Once bool
	// Logf logs a line (consul-replicate's "(runner) ..." lines).
	Logf func(format string, args ...any)
}

// Replicator copies Config's prefixes through the destination agent.
type Replicator struct {
	c   *api.Client
	cfg Config
}

// New returns a replicator talking to the destination agent c.
func New(c *api.Client, cfg Config) *Replicator {
	if cfg.Retry <= 0 {
		cfg.Retry = 5 * time.Second
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	return &Replicator{c: c, cfg: cfg}
}

// Run replicates every prefix until ctx ends (or, with Once, until each
// has been copied once). With Once it returns the first error.
func (r *Replicator) Run(ctx context.Context) error {
	// Copying from the agent's own datacenter would read what it writes
	// (a prefix "app" also lists "app-backup/"): refused.
	if self, err := r.c.Self(ctx); err == nil {
		local, _ := self.Config["Datacenter"].(string)
		for _, p := range r.cfg.Prefixes {
			if local != "" && p.Datacenter == local {
				return fmt.Errorf("%s: the source datacenter is the agent's own; replicate copies from another datacenter", p)
			}
		}
	}
	r.cfg.Logf("[INFO] (runner) creating new runner (once: %v)", r.cfg.Once)
	r.cfg.Logf("[INFO] (runner) starting")
	r.cfg.Logf("[INFO] (runner) running")
	var wg sync.WaitGroup
	errs := make(chan error, len(r.cfg.Prefixes))
	for _, p := range r.cfg.Prefixes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.runPrefix(ctx, p); err != nil {
				errs <- fmt.Errorf("%s: %w", p, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// runPrefix holds the prefix's lock while it replicates, taking it again
// whenever it is lost.
func (r *Replicator) runPrefix(ctx context.Context, p Prefix) error {
	backoff := r.cfg.Retry
	for ctx.Err() == nil {
		err := r.whileLeader(ctx, p, func(ctx context.Context) error {
			return r.replicate(ctx, p, func() { backoff = r.cfg.Retry })
		})
		if err == nil || ctx.Err() != nil {
			return nil
		}
		if r.cfg.Once {
			return err
		}
		r.cfg.Logf("[WARN] (runner) %s: %v; retrying in %s", p, err, backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
	return nil
}

// errLockLost ends a replication whose lock went away.
var errLockLost = errors.New("lost the replication lock")

// whileLeader takes the prefix's lock (a session with a TTL, renewed) and
// runs fn until it returns or the lock is lost.
func (r *Replicator) whileLeader(ctx context.Context, p Prefix, fn func(context.Context) error) error {
	id, err := r.c.SessionCreate(ctx, &api.SessionEntry{Name: "consulx-replicate " + p.String(), TTL: "15s", Behavior: "release", LockDelay: time.Second})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	lock := &api.KVPair{Key: lockPrefix + p.id(), Value: []byte(p.String()), Session: id}
	defer func() {
		// Released first: a lock freed by its holder takes effect at once
		// (a destroyed session's lock would wait out the lock delay).
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = r.c.KVRelease(dctx, lock)
		_ = r.c.SessionDestroy(dctx, id)
	}()
	for {
		ok, err := r.c.KVAcquire(ctx, lock)
		if err != nil {
			return fmt.Errorf("acquire %s: %w", lock.Key, err)
		}
		if ok {
			break
		}
		// Another replicator is active: wait for its lock to change.
		cur, meta, err := r.c.KVGet(ctx, lock.Key, nil)
		if err != nil {
			return err
		}
		if r.cfg.Once && cur != nil && cur.Session != "" {
			return fmt.Errorf("another replicator holds %s", lock.Key)
		}
		if cur != nil && cur.Session != "" {
			_, _, _ = r.c.KVGet(ctx, lock.Key, &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 30 * time.Second})
		} else {
			select { // the lock delay after a release
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
		if _, err := r.c.SessionRenew(ctx, id); err != nil {
			return fmt.Errorf("renew session: %w", err)
		}
	}
	r.cfg.Logf("[INFO] (runner) %s: holding the replication lock", p)
	lctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// The session is renewed (each renewal bounded well inside its TTL),
	// and the lock key is watched: a lock deleted or taken from us ends
	// our writing at once, as consul-replicate's lock does.
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
				rctx, rcancel := context.WithTimeout(lctx, 5*time.Second)
				_, err := r.c.SessionRenew(rctx, id)
				rcancel()
				if err != nil && lctx.Err() == nil {
					cancel(errLockLost)
					return
				}
			}
		}
	}()
	go func() {
		var index uint64
		for lctx.Err() == nil {
			cur, meta, err := r.c.KVGet(lctx, lock.Key, &api.QueryOptions{WaitIndex: index, WaitTime: 30 * time.Second})
			if lctx.Err() != nil {
				return
			}
			if err == nil && (cur == nil || cur.Session != id) {
				cancel(errLockLost)
				return
			}
			if err != nil || meta == nil {
				select {
				case <-lctx.Done():
				case <-time.After(time.Second):
				}
				continue
			}
			index = meta.LastIndex
		}
	}()
	err = fn(lctx)
	if errors.Is(context.Cause(lctx), errLockLost) {
		return errLockLost
	}
	return err
}

// replicate copies the prefix, then (unless Once) again after every
// change in the source.
func (r *Replicator) replicate(ctx context.Context, p Prefix, progressed func()) error {
	st, err := r.status(ctx, p)
	if err != nil {
		return err
	}
	index := st.LastReplicated
	backoff := r.cfg.Retry
	for {
		q := &api.QueryOptions{Datacenter: p.Datacenter, WaitIndex: index, WaitTime: 5 * time.Minute}
		if r.cfg.Once {
			q.WaitIndex = 0
		}
		pairs, meta, err := r.c.KVList(ctx, p.Source, q)
		if err == nil && meta == nil {
			err = errors.New("no answer from the source")
		}
		if err != nil {
			if r.cfg.Once || ctx.Err() != nil {
				return fmt.Errorf("read %s in %s: %w", p.Source, p.Datacenter, err)
			}
			// The source is unreachable: keep the lock and try again.
			r.cfg.Logf("[WARN] (runner) %s: read %s in %s: %v; retrying in %s", p, p.Source, p.Datacenter, err, backoff)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Minute)
			continue
		}
		backoff = r.cfg.Retry
		if meta.LastIndex == index && !r.cfg.Once {
			continue // the wait ran out
		}
		if meta.LastIndex < index {
			index = 0 // the source's index went back (a restore): start over
			continue
		}
		if r.cfg.WaitMin > 0 && !r.cfg.Once {
			if pairs, meta, err = r.quiesce(ctx, p, meta.LastIndex); err != nil {
				return err
			}
		}
		updates, deletes, err := r.apply(ctx, p, pairs)
		if err != nil {
			return err
		}
		changed := meta.LastIndex != index
		index = meta.LastIndex
		if changed || updates+deletes > 0 {
			if err := r.saveStatus(ctx, p, index); err != nil {
				return err
			}
		}
		progressed()
		r.cfg.Logf("[INFO] (runner) replicated %d updates, %d deletes", updates, deletes)
		if r.cfg.Once {
			return nil
		}
	}
}

// quiesce waits until the source has been quiet for WaitMin (at most
// WaitMax after the first change) and returns its state then.
func (r *Replicator) quiesce(ctx context.Context, p Prefix, index uint64) ([]*api.KVPair, *api.QueryMeta, error) {
	deadline := time.Now().Add(max(r.cfg.WaitMax, r.cfg.WaitMin))
	for {
		wait := min(r.cfg.WaitMin, time.Until(deadline))
		if wait <= 0 {
			wait = time.Millisecond
		}
		pairs, meta, err := r.c.KVList(ctx, p.Source, &api.QueryOptions{Datacenter: p.Datacenter, WaitIndex: index, WaitTime: wait})
		if err != nil && !api.IsNotFound(err) {
			return nil, nil, err
		}
		if meta.LastIndex == index || time.Now().After(deadline) {
			return pairs, meta, nil
		}
		index = meta.LastIndex
	}
}

func (r *Replicator) excluded(key string) bool {
	for _, e := range r.cfg.Excludes {
		if strings.HasPrefix(key, e) {
			return true
		}
	}
	return false
}

// Batches of writes: as many operations as a transaction takes, and
// values small enough that a batch stays under the agent's request limit.
const (
	maxBatchOps   = 64
	maxBatchBytes = 256 << 10
)

// apply makes the destination match the source: writes what is missing
// or differs (value or flags), deletes what the source no longer has, in
// transactions of up to 64 operations.
func (r *Replicator) apply(ctx context.Context, p Prefix, source []*api.KVPair) (updates, deletes int, err error) {
	dest, _, err := r.c.KVList(ctx, p.Destination, nil)
	if err != nil && !api.IsNotFound(err) {
		return 0, 0, fmt.Errorf("read %s: %w", p.Destination, err)
	}
	have := make(map[string]*api.KVPair, len(dest))
	for _, d := range dest {
		have[d.Key] = d
	}
	var batch []api.KVTxnOp
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := r.c.KVTxn(ctx, batch); err != nil {
			return fmt.Errorf("write %d keys from %s: %w", len(batch), batch[0].Key, err)
		}
		batch, size = batch[:0], 0
		return nil
	}
	add := func(op api.KVTxnOp) error {
		if len(op.Value) > maxBatchBytes {
			// Too big to share a transaction: on its own.
			if _, err := r.c.KVPut(ctx, &api.KVPair{Key: op.Key, Value: op.Value, Flags: op.Flags}, nil); err != nil {
				return fmt.Errorf("write %s: %w", op.Key, err)
			}
			return nil
		}
		if len(batch) == maxBatchOps || size+len(op.Value) > maxBatchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		batch = append(batch, op)
		size += len(op.Value)
		return nil
	}
	want := make(map[string]bool, len(source))
	for _, s := range source {
		// Another replicator's own state (statuses, locks) is never
		// copied: two datacenters replicating each other would otherwise
		// wake each other forever.
		if r.excluded(s.Key) || strings.HasPrefix(s.Key, ownPrefix) {
			continue
		}
		key := p.Destination + strings.TrimPrefix(s.Key, p.Source)
		want[key] = true
		if d := have[key]; d != nil && d.Flags == s.Flags && bytes.Equal(d.Value, s.Value) {
			continue
		}
		if err := add(api.KVTxnOp{Verb: "set", Key: key, Value: s.Value, Flags: s.Flags}); err != nil {
			return updates, deletes, err
		}
		updates++
	}
	for key := range have {
		src := p.Source + strings.TrimPrefix(key, p.Destination)
		if want[key] || strings.HasPrefix(key, ownPrefix) || r.excluded(src) {
			continue
		}
		if err := add(api.KVTxnOp{Verb: "delete", Key: key}); err != nil {
			return updates, deletes, err
		}
		deletes++
	}
	return updates, deletes, flush()
}

func (r *Replicator) status(ctx context.Context, p Prefix) (Status, error) {
	pair, _, err := r.c.KVGet(ctx, statusPrefix+p.id(), nil)
	if err != nil || pair == nil {
		return Status{Prefix: p.String()}, err
	}
	var st Status
	if err := json.Unmarshal(pair.Value, &st); err != nil {
		return Status{Prefix: p.String()}, nil // unreadable: start over
	}
	return st, nil
}

func (r *Replicator) saveStatus(ctx context.Context, p Prefix, index uint64) error {
	b, _ := json.Marshal(Status{Prefix: p.String(), LastReplicated: index, LastUpdate: time.Now().UTC()})
	_, err := r.c.KVPut(ctx, &api.KVPair{Key: statusPrefix + p.id(), Value: b}, nil)
	return err
}

// StatusOf reads a prefix's status from the destination (for tests and
// tools).
func StatusOf(ctx context.Context, c *api.Client, p Prefix) (Status, error) {
	return (&Replicator{c: c}).status(ctx, p)
}
