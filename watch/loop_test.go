package watch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

type answer struct {
	data  string
	index uint64
	err   error
}

// script returns a ReadFunc answering in turn, recording the index each
// read waited on; after the last answer it cancels ctx.
func script(cancel context.CancelFunc, answers []answer, waited *[]uint64) ReadFunc {
	i := 0
	return func(ctx context.Context, index uint64) ([]byte, uint64, error) {
		*waited = append(*waited, index)
		if i == len(answers) {
			cancel()
			return nil, 0, ctx.Err()
		}
		a := answers[i]
		i++
		return []byte(a.data), a.index, a.err
	}
}

// TestWatchLoopFiresOncePerRealChange: the handler runs with the first
// data, then only when the data changed beyond its Raft indexes; each read
// waits on the last index; an index that goes back starts over.
func TestWatchLoopFiresOncePerRealChange(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var waited []uint64
	read := script(cancel, []answer{
		{`null`, 5, nil},
		{`{"Key":"a","Value":"djE=","CreateIndex":6,"ModifyIndex":6}`, 6, nil},
		{`{"Key":"a","Value":"djE=","CreateIndex":6,"ModifyIndex":7}`, 7, nil}, // the same value again
		{`{"Key":"a","Value":"djE=","CreateIndex":6,"ModifyIndex":7}`, 7, nil}, // a wait that timed out
		{`{"Key":"a","Value":"djI=","CreateIndex":6,"ModifyIndex":9}`, 9, nil},
		{`{"Key":"a","Value":"djI=","CreateIndex":6,"ModifyIndex":9}`, 3, nil}, // a restore: back to 3
		{`[{"Key":"a","Value":"djM=","ModifyIndex":4}]`, 4, nil},
	}, &waited)
	var fired []string
	err := Loop(ctx, read, func(_ context.Context, index uint64, data []byte) error {
		fired = append(fired, fmt.Sprintf("%d %s", index, data))
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`5 null`,
		`6 {"Key":"a","Value":"djE=","CreateIndex":6,"ModifyIndex":6}`,
		`9 {"Key":"a","Value":"djI=","CreateIndex":6,"ModifyIndex":9}`,
		`4 [{"Key":"a","Value":"djM=","ModifyIndex":4}]`,
	}
	if strings.Join(fired, "\n") != strings.Join(want, "\n") {
		t.Errorf("fired:\n%s\nwant:\n%s", strings.Join(fired, "\n"), strings.Join(want, "\n"))
	}
	if got := fmt.Sprint(waited); got != "[0 5 6 7 7 9 0 4]" {
		t.Errorf("reads waited on %s", got)
	}
}

// TestWatchLoopRetriesReadsAndStopsOnHandlerError: a failed read is
// reported and retried after a pause; a handler's error ends the loop with
// that error; a cancelled context ends it with nil.
func TestWatchLoopRetriesReadsAndStopsOnHandlerError(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var waited []uint64
	read := script(cancel, []answer{{err: errors.New("No cluster leader")}, {`[]`, 2, nil}, {`[1]`, 3, nil}}, &waited)
	var failures []string
	start := time.Now()
	boom := errors.New("exit status 3")
	runs := 0
	err := Loop(ctx, read, func(context.Context, uint64, []byte) error {
		runs++
		if runs == 2 {
			return boom
		}
		return nil
	}, func(err error, retryIn time.Duration) {
		failures = append(failures, fmt.Sprintf("%v %s", err, retryIn))
	})
	if !errors.Is(err, boom) || runs != 2 {
		t.Fatalf("Loop = %v after %d runs, want the handler's error after 2", err, runs)
	}
	if len(failures) != 1 || failures[0] != "No cluster leader 1s" || time.Since(start) < RetryMin {
		t.Errorf("failures %v after %s", failures, time.Since(start))
	}
	if retryPause(3) != 3*time.Second || retryPause(100) != RetryMax {
		t.Errorf("pauses %s %s", retryPause(3), retryPause(100))
	}

	// Cancelled while reading: nil, and the handler is not run again.
	ctx2, cancel2 := context.WithCancel(t.Context())
	read2 := script(cancel2, []answer{{`[]`, 2, nil}}, &waited)
	runs = 0
	if err := Loop(ctx2, read2, func(context.Context, uint64, []byte) error { runs++; return nil }, nil); err != nil || runs != 1 {
		t.Errorf("cancelled loop = %v after %d runs", err, runs)
	}
}

// TestWatchContentIgnoresRaftIndexes: only CreateIndex and ModifyIndex,
// at any depth, are left out of the comparison.
func TestWatchContentIgnoresRaftIndexes(t *testing.T) {
	a := Content([]byte(`[{"Node":{"Node":"n1","CreateIndex":1,"ModifyIndex":2},"Service":{"ID":"web","ModifyIndex":9}}]`))
	b := Content([]byte(`[{"Node":{"Node":"n1","CreateIndex":3,"ModifyIndex":4},"Service":{"ID":"web","ModifyIndex":10}}]`))
	c := Content([]byte(`[{"Node":{"Node":"n2","CreateIndex":3,"ModifyIndex":4},"Service":{"ID":"web","ModifyIndex":10}}]`))
	if string(a) != string(b) || string(a) == string(c) {
		t.Errorf("content %s / %s / %s", a, b, c)
	}
	if got := string(Content([]byte("not json"))); got != "not json" {
		t.Errorf("non-JSON content %q", got)
	}
}
