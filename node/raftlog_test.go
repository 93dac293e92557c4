package node

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// TestRaftLogTailTruncationSurvivesReopen replays what a follower's log goes
// through when a new leader overrules its uncommitted tail ("clearing log
// suffix") and the process is then killed and started again: the tail
// truncation lands in, or across, a sealed segment, more entries follow, and
// the store is reopened twice. With raft-wal v0.4.0 the reopen failed with
// "sealed segment has no index block" (hashicorp/raft-wal#31), which made
// the restarted server panic inside raft.NewRaft.
func TestRaftLogTailTruncationSurvivesReopen(t *testing.T) {
	cases := []struct {
		name          string
		truncFrom     uint64 // DeleteRange(truncFrom, last)
		thenAppend    int
		wantLastIndex uint64
	}{
		{"last entry of the tail segment", 44, 0, 43},
		{"across a segment boundary", 20, 0, 19},
		{"across a boundary, then more writes", 20, 4, 23},
		{"last entry, then more writes", 44, 4, 47},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			logger := hclog.NewNullLogger()
			// 4 KiB segments and ~300-byte entries roll a segment every
			// dozen entries, so 44 entries span several sealed segments.
			w, closeLog, err := openRaftLog(dir, logger, 4096)
			if err != nil {
				t.Fatal(err)
			}
			appendLogs(t, w, 1, 44)
			if err := w.DeleteRange(tc.truncFrom, 44); err != nil {
				t.Fatalf("truncate tail: %v", err)
			}
			appendLogs(t, w, tc.truncFrom, tc.thenAppend)
			if err := closeLog(); err != nil {
				t.Fatal(err)
			}
			// Reopen twice: the second start is where v0.4.0 died.
			for round := 1; round <= 2; round++ {
				w, closeLog, err = openRaftLog(dir, logger, 4096)
				if err != nil {
					t.Fatalf("reopen %d: %v", round, err)
				}
				first, _ := w.FirstIndex()
				last, _ := w.LastIndex()
				if first != 1 || last != tc.wantLastIndex {
					t.Fatalf("reopen %d: first %d last %d, want 1 and %d", round, first, last, tc.wantLastIndex)
				}
				for i := first; i <= last; i++ {
					var l raft.Log
					if err := w.GetLog(i, &l); err != nil {
						t.Fatalf("reopen %d: get log %d: %v", round, i, err)
					}
					if !bytes.Equal(l.Data, entryData(i)) {
						t.Fatalf("reopen %d: log %d holds the wrong data", round, i)
					}
				}
				if err := closeLog(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// entryData is a recognisable ~300-byte payload per index.
func entryData(i uint64) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("entry-%06d|", i)), 24)
}

// appendLogs stores n entries starting at index from, in batches of 4 as
// raft would under load.
func appendLogs(t *testing.T, s raft.LogStore, from uint64, n int) {
	t.Helper()
	var batch []*raft.Log
	for i := 0; i < n; i++ {
		idx := from + uint64(i)
		batch = append(batch, &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: entryData(idx)})
		if len(batch) == 4 || i == n-1 {
			if err := s.StoreLogs(batch); err != nil {
				t.Fatalf("store logs at %d: %v", idx, err)
			}
			batch = nil
		}
	}
}
