package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/serf/serf"
)

// A durable list of the gossip peers an agent knew, so that an agent
// restarted after kill -9 finds its cluster again at once.
//
// Serf keeps its own snapshot (serf/local.snapshot), but it buffers writes
// and flushes at most every 500 ms and only when another line is appended:
// the joins of a cluster that formed in one burst can sit in that buffer
// for good and are lost on kill -9. A server restarted that way, with every
// -retry-join pointing at itself, joined only itself and stayed cut off
// until the others' reconnect timers found it (about 50 s). This file is
// rewritten atomically (temporary file, fsync, rename) on every membership
// change, so what it says is never older than the last change that was
// seen. Serf's snapshot still carries the Lamport clocks.

// knownPeer is one member of a gossip pool as recorded on disk.
type knownPeer struct {
	Name string `json:"name"`
	Addr string `json:"addr"` // host:port of its gossip listener
}

type peersFile struct {
	Peers []knownPeer `json:"peers"`
}

// peerStore persists one pool's peers to path.
type peerStore struct {
	path  string
	self  string
	dirty chan struct{}

	// remembered are the peers loaded at start that the pool has not seen
	// yet. They stay in the file until the pool knows them: an agent
	// killed again before its rejoin finished (a crash loop, or peers
	// that are down for a while) must still find them next time, instead
	// of finding a file its first write emptied.
	remembered map[string]string // name -> addr

	mu        sync.Mutex // serialises writes with the clear done on leave
	leaving   bool       // after a graceful leave nothing is recorded
	lastWrite []knownPeer
}

func newPeerStore(path, self string) *peerStore {
	return &peerStore{path: path, self: self, dirty: make(chan struct{}, 1)}
}

// changed asks the writer to record the pool again; it never blocks.
func (p *peerStore) changed() {
	select {
	case p.dirty <- struct{}{}:
	default:
	}
}

// peersOf lists the members worth rejoining: everyone but ourselves and
// members that left gracefully (a failed member may come back), plus the
// remembered peers the pool has not seen yet.
func (p *peerStore) peersOf(members []serf.Member) []knownPeer {
	var out []knownPeer
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range members {
		delete(p.remembered, m.Name) // from now on the pool decides
		if m.Name == p.self || m.Status == serf.StatusLeft {
			continue
		}
		out = append(out, knownPeer{Name: m.Name, Addr: net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port)))})
	}
	for name, addr := range p.remembered {
		out = append(out, knownPeer{Name: name, Addr: addr})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// run records the pool after every change until shutdown. Bursts of events
// are coalesced: at most one write per 100 ms.
func (p *peerStore) run(pool *serf.Serf, shutdown <-chan struct{}, onErr func(error)) {
	for {
		select {
		case <-shutdown:
			return
		case <-p.dirty:
		}
		if err := p.write(p.peersOf(pool.Members())); err != nil {
			onErr(err)
		}
		select {
		case <-shutdown:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// write replaces the file with peers unless nothing changed.
func (p *peerStore) write(peers []knownPeer) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.leaving || (p.lastWrite != nil && equalPeers(p.lastWrite, peers)) {
		return nil
	}
	b, err := json.Marshal(peersFile{Peers: peers})
	if err != nil {
		return err
	}
	if err := writeFileAtomic(p.path, b); err != nil {
		return fmt.Errorf("record gossip peers in %s: %w", p.path, err)
	}
	p.lastWrite = append([]knownPeer{}, peers...) // never nil: "written" even when empty
	return nil
}

// clear forgets every peer: after a graceful leave the agent must not
// rejoin on its own (as with Consul's default rejoin_after_leave=false).
func (p *peerStore) clear() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.leaving = true
	if err := os.Remove(p.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// load reads the recorded peers. A missing file is no peers; a damaged one
// is an error the caller reports as a warning and otherwise ignores.
func (p *peerStore) load() ([]knownPeer, error) {
	b, err := os.ReadFile(p.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f peersFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v)", p.path, err)
	}
	var out []knownPeer
	for _, kp := range f.Peers {
		if kp.Name == p.self {
			continue
		}
		if _, _, err := net.SplitHostPort(kp.Addr); err != nil {
			return nil, fmt.Errorf("%s is damaged (peer %q has address %q)", p.path, kp.Name, kp.Addr)
		}
		out = append(out, kp)
	}
	p.mu.Lock()
	p.remembered = make(map[string]string, len(out))
	for _, kp := range out {
		p.remembered[kp.Name] = kp.Addr
	}
	p.mu.Unlock()
	return out, nil
}

func equalPeers(a, b []knownPeer) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// writeFileAtomic writes b to path so that a crash leaves either the old
// file or the new one, never a torn mix.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// seesOthers reports whether pool has an alive member besides ourselves.
func seesOthers(pool *serf.Serf, self string) bool {
	for _, m := range pool.Members() {
		if m.Name != self && m.Status == serf.StatusAlive {
			return true
		}
	}
	return false
}
