package store

import (
	"sync"
)

// Watches wakes blocked readers when the keys they read change. A writer
// touching one key wakes only the watchers of that key and of the prefixes
// containing it, so idle watchers elsewhere cost nothing per write.
type Watches struct {
	mu       sync.Mutex
	exact    map[string]map[chan struct{}]struct{}
	prefixes map[string]map[chan struct{}]struct{}
	services map[string]map[chan struct{}]struct{}
	sessions map[chan struct{}]struct{}
	catalog  map[chan struct{}]struct{}
	acl      map[chan struct{}]struct{}
	// callbacks run (under mu, so they must not block) when their channel
	// fires: a parked HTTP request is woken without a goroutine waiting.
	callbacks map[<-chan struct{}]func()
}

// NewWatches returns an empty watch set.
func NewWatches() *Watches {
	return &Watches{
		exact:    map[string]map[chan struct{}]struct{}{},
		prefixes: map[string]map[chan struct{}]struct{}{},
		services: map[string]map[chan struct{}]struct{}{},
		sessions: map[chan struct{}]struct{}{},
		catalog:  map[chan struct{}]struct{}{},
		acl:      map[chan struct{}]struct{}{},

		callbacks: map[<-chan struct{}]func(){},
	}
}

// OnFire calls fn when ch (from this watch set) fires; at once if it
// already has. fn runs with the watch lock held and must not block.
func (w *Watches) OnFire(ch <-chan struct{}, fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-ch:
		fn()
	default:
		w.callbacks[ch] = fn
	}
}

// closeLocked fires one channel and its callback.
func (w *Watches) closeLocked(c chan struct{}) {
	close(c)
	if fn, ok := w.callbacks[c]; ok {
		delete(w.callbacks, c)
		fn()
	}
}

// WatchKey returns a channel closed when key changes; stop releases it.
func (w *Watches) WatchKey(key string) (ch <-chan struct{}, stop func()) {
	return w.add(w.exact, key)
}

// WatchPrefix returns a channel closed when any key under prefix changes.
// The empty prefix watches everything.
func (w *Watches) WatchPrefix(prefix string) (ch <-chan struct{}, stop func()) {
	return w.add(w.prefixes, prefix)
}

func (w *Watches) add(m map[string]map[chan struct{}]struct{}, k string) (<-chan struct{}, func()) {
	c := make(chan struct{})
	w.mu.Lock()
	set := m[k]
	if set == nil {
		set = map[chan struct{}]struct{}{}
		m[k] = set
	}
	set[c] = struct{}{}
	w.mu.Unlock()
	return c, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.callbacks, c)
		if set, ok := m[k]; ok {
			delete(set, c)
			if len(set) == 0 {
				delete(m, k)
			}
		}
	}
}

// WatchSessions returns a channel closed when any session changes.
func (w *Watches) WatchSessions() (<-chan struct{}, func()) { return w.addTable(w.sessions) }

// WatchCatalog returns a channel closed when any node, service or check changes.
func (w *Watches) WatchCatalog() (<-chan struct{}, func()) { return w.addTable(w.catalog) }

func (w *Watches) addTable(set map[chan struct{}]struct{}) (<-chan struct{}, func()) {
	c := make(chan struct{})
	w.mu.Lock()
	set[c] = struct{}{}
	w.mu.Unlock()
	return c, func() {
		w.mu.Lock()
		delete(set, c)
		delete(w.callbacks, c)
		w.mu.Unlock()
	}
}

func (w *Watches) fireTable(set map[chan struct{}]struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for c := range set {
		w.closeLocked(c)
		delete(set, c)
	}
}

// WatchService returns a channel closed when the instances of the named
// service or their checks change (its first registration included), so a
// health watcher of one service sleeps through writes to the others.
func (w *Watches) WatchService(name string) (<-chan struct{}, func()) {
	return w.add(w.services, name)
}

// notifyServices wakes the watchers of the named services.
func (w *Watches) notifyServices(names []string) {
	if len(names) == 0 {
		return // most batches (KV writes) touch no service: no lock
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, n := range names {
		w.fire(w.services, n)
	}
}

func (w *Watches) notifySessions() { w.fireTable(w.sessions) }
func (w *Watches) notifyCatalog()  { w.fireTable(w.catalog) }
func (w *Watches) notifyACL()      { w.fireTable(w.acl) }

// WatchACL returns a channel closed when any ACL policy or token changes.
func (w *Watches) WatchACL() (<-chan struct{}, func()) { return w.addTable(w.acl) }

// notify wakes the watchers of the touched keys.
func (w *Watches) notify(keys []string) {
	if len(keys) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, k := range keys {
		w.fire(w.exact, k)
		// Every prefix of k (including "" and k itself) may be watched:
		// look each up instead of scanning all watched prefixes, so the
		// cost of a write does not grow with the number of watchers.
		if len(w.prefixes) == 0 {
			continue
		}
		for i := 0; i <= len(k); i++ {
			if _, ok := w.prefixes[k[:i]]; ok {
				w.fire(w.prefixes, k[:i])
			}
		}
	}
}

// notifyAll wakes every watcher, used after a snapshot restore.
func (w *Watches) notifyAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k := range w.exact {
		w.fire(w.exact, k)
	}
	for k := range w.prefixes {
		w.fire(w.prefixes, k)
	}
	for k := range w.services {
		w.fire(w.services, k)
	}
	for _, set := range []map[chan struct{}]struct{}{w.sessions, w.catalog, w.acl} {
		for c := range set {
			w.closeLocked(c)
			delete(set, c)
		}
	}
}

func (w *Watches) fire(m map[string]map[chan struct{}]struct{}, k string) {
	for c := range m[k] {
		w.closeLocked(c)
	}
	delete(m, k)
}

// Count is the number of armed watches (tests and stats).
func (w *Watches) Count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(w.sessions) + len(w.catalog)
	for _, m := range []map[string]map[chan struct{}]struct{}{w.exact, w.prefixes, w.services} {
		for _, set := range m {
			n += len(set)
		}
	}
	return n
}
