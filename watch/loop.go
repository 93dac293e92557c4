package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"time"
)

// ReadFunc reads a watch's data once, blocking until its index passes
// index (0: at once); it returns the data and the index to wait on next.
type ReadFunc func(ctx context.Context, index uint64) (data []byte, next uint64, err error)

// HandlerFunc handles one change: data is the JSON the watch read, index
// its index (CONSUL_INDEX, X-Consul-Index). An error ends Loop.
type HandlerFunc func(ctx context.Context, index uint64, data []byte) error

// Retry pauses after failed reads: the first retry comes after
// RetryMin, each further one RetryMin later than the last, up to RetryMax.
const (
	RetryMin = time.Second
	RetryMax = 20 * time.Second
)

func retryPause(failures int) time.Duration {
	d := time.Duration(failures) * RetryMin
	if d > RetryMax {
		d = RetryMax
	}
	return d
}

// Loop reads with blocking queries and calls handle at once with the
// first data, then once per real change of the data (Content), one call at
// a time, in order. A failed read is reported to readFailed (may be nil)
// with the pause before the next try, and retried. Loop returns nil when
// ctx is done, or the first error handle returns (while ctx is not done).
func Loop(ctx context.Context, read ReadFunc, handle HandlerFunc, readFailed func(err error, retryIn time.Duration)) error {
	var index uint64
	var last []byte
	first := true
	failures := 0
	for ctx.Err() == nil {
		body, idx, err := read(ctx, index)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			failures++
			pause := retryPause(failures)
			if readFailed != nil {
				readFailed(err, pause)
			}
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			continue
		}
		failures = 0
		if idx < index {
			idx = 0 // the index went back (a restore): read again at once
		}
		index = idx
		content := Content(body)
		if !first && bytes.Equal(content, last) {
			continue // a new index, the same data: nothing changed
		}
		first, last = false, content
		if err := handle(ctx, index, body); err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
	}
	return nil
}

// Content is what a watch compares to decide that the data changed: the
// JSON without the Raft indexes (CreateIndex, ModifyIndex), which move on
// a write that changes nothing (the same value written again).
func Content(body []byte) []byte {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return body
	}
	var strip func(any) any
	strip = func(v any) any {
		switch t := v.(type) {
		case map[string]any:
			delete(t, "CreateIndex")
			delete(t, "ModifyIndex")
			for k, x := range t {
				t[k] = strip(x)
			}
		case []any:
			for i := range t {
				t[i] = strip(t[i])
			}
		}
		return v
	}
	out, err := json.Marshal(strip(v))
	if err != nil {
		return body
	}
	return out
}
