package store

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"

	"github.com/tidwall/buntdb"
)

// catalogMirror is a decoded, in-memory copy of the catalog for fast
// reads. buntdb stays the truth (snapshots, restore); after every applied
// batch the nodes it touched are re-read from buntdb into the mirror, and
// a restore rebuilds it. Reading a service's instances then costs a few
// allocations per instance instead of JSON decoding.
type catalogMirror struct {
	mu       sync.RWMutex
	index    uint64
	nodes    map[string]*Node
	services map[string]map[string]*NodeService // node -> service ID
	checks   map[string]map[string]*HealthCheck // node -> check ID
	byName   map[string]map[string]struct{}     // service name -> "node\x00id"

	// serviceIndex is the catalog index at which each service (by name)
	// last changed: its instances, their checks or their nodes. Reads of
	// one service report it, so a change to another service neither
	// wakes nor invalidates them (Consul's per-service index).
	serviceIndex map[string]uint64

	// results memoises instances() per service: DNS and health polling
	// ask for the same services far more often than they change. A write
	// marks the nodes it changed in the service's memo, and the next read
	// rebuilds only those nodes' instances. Callers must not modify the
	// slices.
	resultsMu sync.Mutex
	results   map[string]*memoised
}

// memoised is one service's instance list and the nodes changed since.
type memoised struct {
	instances []ServiceInstance
	dirty     map[string]bool
}

func newCatalogMirror() *catalogMirror {
	return &catalogMirror{nodes: map[string]*Node{}, services: map[string]map[string]*NodeService{},
		checks: map[string]map[string]*HealthCheck{}, byName: map[string]map[string]struct{}{},
		serviceIndex: map[string]uint64{}}
}

// refreshNodes re-reads the given nodes from tx, and returns the names of
// the services whose instances changed, whose watchers must wake and
// whose memoised answers are dropped: every service on a node whose own
// entry or node-level checks changed, else only the services whose entry
// or service checks changed (a change to one service leaves the others on
// the node alone). Entries change exactly when their ModifyIndex does: the
// store writes an entry only when its content differs, at a new index.
func (m *catalogMirror) refreshNodes(tx *buntdb.Tx, nodes []string, index uint64) (services []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	touched := map[string]map[string]bool{} // service name -> nodes
	for _, n := range nodes {
		oldNode, oldSvcs, oldChecks := m.nodes[n], m.services[n], m.checks[n]
		m.dropNodeLocked(n)
		if v, err := tx.Get(nodePrefix + n); err == nil {
			var node Node
			if json.Unmarshal([]byte(v), &node) == nil {
				m.nodes[n] = &node
			}
		}
		svcs := map[string]*NodeService{}
		_ = ascendPrefix(tx, servicePrefix, n+"\x00", func(_, v string) bool {
			var s NodeService
			if json.Unmarshal([]byte(v), &s) == nil {
				svcs[s.ID] = &s
				set := m.byName[s.Service]
				if set == nil {
					set = map[string]struct{}{}
					m.byName[s.Service] = set
				}
				set[n+"\x00"+s.ID] = struct{}{}
			}
			return true
		})
		if len(svcs) > 0 {
			m.services[n] = svcs
		}
		checks := map[string]*HealthCheck{}
		_ = ascendPrefix(tx, checkPrefix, n+"\x00", func(_, v string) bool {
			var c HealthCheck
			if json.Unmarshal([]byte(v), &c) == nil {
				checks[c.CheckID] = &c
			}
			return true
		})
		if len(checks) > 0 {
			m.checks[n] = checks
		}
		names := map[string]bool{}
		touchChanged(names, oldNode, m.nodes[n], oldSvcs, svcs, oldChecks, checks)
		for name := range names {
			if touched[name] == nil {
				touched[name] = map[string]bool{}
			}
			touched[name][n] = true
		}
	}
	m.index = index
	m.resultsMu.Lock()
	for name, changed := range touched {
		services = append(services, name)
		m.serviceIndex[name] = index
		if r := m.results[name]; r != nil {
			if r.dirty == nil {
				r.dirty = map[string]bool{}
			}
			for n := range changed {
				r.dirty[n] = true
			}
		}
	}
	m.resultsMu.Unlock()
	return services
}

// touchChanged adds to touched the services of one node whose instances
// differ between the old and the new state of the node (see refreshNodes).
func touchChanged(touched map[string]bool, oldNode, newNode *Node, oldSvcs, newSvcs map[string]*NodeService, oldChecks, newChecks map[string]*HealthCheck) {
	all := func() {
		for _, sv := range oldSvcs {
			touched[sv.Service] = true
		}
		for _, sv := range newSvcs {
			touched[sv.Service] = true
		}
	}
	if (oldNode == nil) != (newNode == nil) || oldNode != nil && oldNode.ModifyIndex != newNode.ModifyIndex {
		all()
		return
	}
	// owners names the services a service ID stands for, before and after.
	owners := func(id string) {
		if sv := oldSvcs[id]; sv != nil {
			touched[sv.Service] = true
		}
		if sv := newSvcs[id]; sv != nil {
			touched[sv.Service] = true
		}
	}
	for id, old := range oldSvcs {
		if nw := newSvcs[id]; nw == nil || nw.ModifyIndex != old.ModifyIndex {
			owners(id)
		}
	}
	for id := range newSvcs {
		if oldSvcs[id] == nil {
			owners(id)
		}
	}
	checkChanged := func(c *HealthCheck) {
		if c.ServiceID == "" {
			all()
		} else {
			owners(c.ServiceID)
		}
	}
	for id, old := range oldChecks {
		if nw := newChecks[id]; nw == nil || nw.ModifyIndex != old.ModifyIndex {
			checkChanged(old)
			if nw != nil {
				checkChanged(nw)
			}
		}
	}
	for id, nw := range newChecks {
		if oldChecks[id] == nil {
			checkChanged(nw)
		}
	}
}

func (m *catalogMirror) dropNodeLocked(n string) {
	for id, s := range m.services[n] {
		if set := m.byName[s.Service]; set != nil {
			delete(set, n+"\x00"+id)
			if len(set) == 0 {
				delete(m.byName, s.Service)
			}
		}
	}
	delete(m.nodes, n)
	delete(m.services, n)
	delete(m.checks, n)
}

// rebuild reloads every node (after a restore).
func (m *catalogMirror) rebuild(tx *buntdb.Tx, index uint64) {
	var nodes []string
	seen := map[string]bool{}
	for _, space := range []string{nodePrefix, servicePrefix, checkPrefix} {
		_ = ascendPrefix(tx, space, "", func(k, _ string) bool {
			n, _, _ := strings.Cut(k, "\x00")
			if !seen[n] {
				seen[n] = true
				nodes = append(nodes, n)
			}
			return true
		})
	}
	m.mu.Lock()
	m.nodes, m.services, m.checks, m.byName = map[string]*Node{}, map[string]map[string]*NodeService{}, map[string]map[string]*HealthCheck{}, map[string]map[string]struct{}{}
	m.serviceIndex = map[string]uint64{}
	m.resultsMu.Lock()
	m.results = nil
	m.resultsMu.Unlock()
	m.mu.Unlock()
	m.refreshNodes(tx, nodes, index)
}

// instances returns a service's instances in node order, checks sorted
// node-level first then by ID, and the index at which the service last
// changed (the catalog's index for a service never seen: it only grows,
// and a service that appears later gets a higher one).
func (m *catalogMirror) instances(name string) ([]ServiceInstance, uint64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	index, seen := m.serviceIndex[name]
	if !seen {
		index = m.index
	}
	m.resultsMu.Lock()
	r := m.results[name]
	m.resultsMu.Unlock()
	if r != nil && len(r.dirty) == 0 {
		return r.instances, index
	}
	// Built outside resultsMu, so reads of other services go on. r is
	// not changed meanwhile: writers (refreshNodes) wait for mu, held
	// here for reading.
	var out []ServiceInstance
	if r != nil && len(r.dirty) <= max(8, len(r.instances)/4) {
		out = m.patch(name, r.instances, r.dirty)
	} else {
		out = m.build(name, nil)
	}
	m.resultsMu.Lock()
	if m.results == nil {
		m.results = map[string]*memoised{}
	}
	if r != nil || len(m.results) < 4096 {
		m.results[name] = &memoised{instances: out}
	}
	m.resultsMu.Unlock()
	return out, index
}

// patch is build for a service whose memoised list is only out of date
// on the dirty nodes: the other nodes' instances are kept, the dirty
// ones' built again, and the list sorted back into node order. For a
// service of 5,000 instances it costs a fraction of a full build.
func (m *catalogMirror) patch(name string, old []ServiceInstance, dirty map[string]bool) []ServiceInstance {
	out := make([]ServiceInstance, 0, len(old)+len(dirty))
	for _, in := range old {
		if !dirty[in.Node.Node] {
			out = append(out, in)
		}
	}
	out = append(out, m.build(name, dirty)...)
	slices.SortFunc(out, func(a, b ServiceInstance) int {
		if c := strings.Compare(a.Node.Node, b.Node.Node); c != 0 {
			return c
		}
		return strings.Compare(a.Service.ID, b.Service.ID)
	})
	return out
}

// build assembles a service's instances (caller holds mu for reading),
// on the given nodes only when onNodes is not nil.
func (m *catalogMirror) build(name string, onNodes map[string]bool) []ServiceInstance {
	var refs []string
	if onNodes == nil {
		refs = make([]string, 0, len(m.byName[name]))
		for r := range m.byName[name] {
			refs = append(refs, r)
		}
	} else {
		for n := range onNodes {
			for id, sv := range m.services[n] {
				if sv.Service == name {
					refs = append(refs, n+"\x00"+id)
				}
			}
		}
	}
	slices.Sort(refs)
	out := make([]ServiceInstance, 0, len(refs))
	for _, r := range refs {
		n, id, _ := strings.Cut(r, "\x00")
		node, svc := m.nodes[n], m.services[n][id]
		if node == nil || svc == nil {
			continue
		}
		inst := ServiceInstance{Node: *node, Service: *svc}
		nodeChecks := m.checks[n]
		inst.Checks = make([]HealthCheck, 0, len(nodeChecks))
		for _, c := range nodeChecks {
			if c.ServiceID == "" || c.ServiceID == id {
				inst.Checks = append(inst.Checks, *c)
			}
		}
		slices.SortFunc(inst.Checks, func(a, b HealthCheck) int {
			if (a.ServiceID == "") != (b.ServiceID == "") {
				if a.ServiceID == "" {
					return -1
				}
				return 1
			}
			return strings.Compare(a.CheckID, b.CheckID)
		})
		out = append(out, inst)
	}
	return out
}

// node returns a copy of one node and its services (by service ID).
func (m *catalogMirror) node(name string) (*Node, []NodeService, uint64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := m.nodes[name]
	if n == nil {
		return nil, nil, m.index
	}
	cp := *n
	ids := make([]string, 0, len(m.services[name]))
	for id := range m.services[name] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	svcs := make([]NodeService, 0, len(ids))
	for _, id := range ids {
		svcs = append(svcs, *m.services[name][id])
	}
	return &cp, svcs, m.index
}
