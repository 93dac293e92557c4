package store

import "github.com/tidwall/buntdb"

// wtx wraps a buntdb write transaction with an undo log, so a failed
// transaction (PUT /v1/txn) can be rolled back without aborting the whole
// batch of Raft entries it was applied with.
type wtx struct {
	tx   *buntdb.Tx
	undo []undoRec
	// touched collects the KV keys changed, for watchers.
	touched []string
	// sessionsChanged is set when the sessions table changed.
	sessionsChanged bool
	// catalogChanged is set when nodes, services or checks changed.
	catalogChanged bool
	// aclChanged is set when an ACL table changed (commands that fail
	// roll back their writes; a spurious wake-up is harmless).
	aclChanged bool
	// catalogNodes lists nodes a catalog command wrote (for the mirror;
	// re-read after commit, so a rolled-back write is harmless).
	catalogNodes []string
}

type undoRec struct {
	key, old string
	existed  bool
}

func (w *wtx) get(key string) (string, bool) {
	v, err := w.tx.Get(key)
	return v, err == nil
}

func (w *wtx) remember(key string) {
	old, existed := w.get(key)
	w.undo = append(w.undo, undoRec{key: key, old: old, existed: existed})
}

func (w *wtx) set(key, val string) error {
	w.remember(key)
	_, _, err := w.tx.Set(key, val, nil)
	return err
}

func (w *wtx) del(key string) error {
	w.remember(key)
	_, err := w.tx.Delete(key)
	if err == buntdb.ErrNotFound {
		return nil
	}
	return err
}

// mark returns a point to roll back to.
func (w *wtx) mark() (undoLen, touchedLen int, sessions bool) {
	return len(w.undo), len(w.touched), w.sessionsChanged
}

// rollback undoes every change made after the mark.
func (w *wtx) rollback(undoLen, touchedLen int, sessions bool) {
	for i := len(w.undo) - 1; i >= undoLen; i-- {
		r := w.undo[i]
		if r.existed {
			_, _, _ = w.tx.Set(r.key, r.old, nil)
		} else {
			_, _ = w.tx.Delete(r.key)
		}
	}
	w.undo = w.undo[:undoLen]
	w.touched = w.touched[:touchedLen]
	w.sessionsChanged = sessions
}
