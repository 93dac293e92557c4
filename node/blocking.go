package node

import (
	"context"
	"math/rand/v2"
	"time"
)

// jitterFraction spreads wake-ups of watchers that all timed out at once.
const jitterFraction = 16

// BlockingWait is the time a blocking query may wait: wait clamped to
// max_query_time (default_query_time when absent), plus up to 1/16 of it
// as jitter, as Consul does.
func (a *Agent) BlockingWait(wait time.Duration) time.Duration {
	if wait <= 0 {
		wait = a.cfg.DefaultQueryTime
	}
	wait = min(wait, a.cfg.MaxQueryTime)
	return wait + rand.N(wait/jitterFraction+1)
}

// queryFn runs a read once, returning its index and a channel that closes
// when what it read changes (stop releases the watch).
type queryFn func() (index uint64, changed <-chan struct{}, stop func(), err error)

// atLeastOne mirrors the header rule: index 0 is reported (and compared) as 1.
func atLeastOne(i uint64) uint64 { return max(i, 1) }

// blocking runs query, and for a blocking request (MinIndex > 0) runs it
// again each time its data changes until the index passes MinIndex or the
// wait expires. A timed-out query returns the current result with 200.
func (s *server) blocking(ctx context.Context, opts QueryOptions, query queryFn) error {
	epoch := s.store.RestoreEpoch()
	idx, ch, stop, err := query()
	if err != nil || opts.MinIndex == 0 || atLeastOne(idx) > opts.MinIndex {
		stop()
		return err
	}
	timer := time.NewTimer(s.a.BlockingWait(opts.MaxWait))
	defer timer.Stop()
	for {
		select {
		case <-ch:
		case <-timer.C:
			stop()
			return nil
		case <-ctx.Done():
			stop()
			return ctx.Err()
		case <-s.done:
			stop()
			return ErrNoLeader
		}
		stop()
		if opts.Consistency == ModeConsistent {
			if err := s.raft.VerifyLeader().Error(); err != nil {
				return err
			}
		}
		idx, ch, stop, err = query()
		// A lower index alone (a server a little behind) keeps waiting; a
		// snapshot restore returns at once so clients reset, as Consul does.
		if err != nil || atLeastOne(idx) > opts.MinIndex || s.store.RestoreEpoch() != epoch {
			stop()
			return err
		}
	}
}
