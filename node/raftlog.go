package node

import (
	"errors"

	"github.com/hashicorp/go-hclog"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// openRaftLog opens (or creates) the Raft log in dir with raft-wal.
// segmentSize 0 keeps raft-wal's default (64 MiB); tests pass a small one to
// roll segments quickly.
//
// raft-wal must be v0.4.1 or newer: v0.4.0 marked the tail segment sealed on
// a tail truncation ("clearing log suffix", which Raft does when a new leader
// overrules a follower's uncommitted entries) without writing its index
// block, so the next start panicked with "sealed segment has no index block"
// (hashicorp/raft-wal#31). TestRaftLogTailTruncationSurvivesReopen guards it.
//
// closeLog closes the log and then its metadata store (the bolt file and its
// lock), so the same process can open the log again.
func openRaftLog(dir string, logger hclog.Logger, segmentSize int) (w *wal.WAL, closeLog func() error, err error) {
	// We pass our own metadata store so we can always release its bolt file
	// lock ourselves (closing it twice is harmless).
	meta := &metadb.BoltMetaDB{}
	size := wal.DefaultSegmentSize
	if segmentSize > 0 {
		size = segmentSize
	}
	w, err = wal.Open(dir, wal.WithLogger(logger), wal.WithMetaStore(meta), wal.WithSegmentSize(size))
	if err != nil {
		_ = meta.Close()
		return nil, nil, err
	}
	return w, func() error { return errors.Join(w.Close(), meta.Close()) }, nil
}
