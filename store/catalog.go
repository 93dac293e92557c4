package store

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/tidwall/buntdb"
)

// Catalog key spaces. Services are also indexed by name so a lookup of
// one service does not scan every node.
const (
	nodePrefix      = "cn:" // cn:<node>
	servicePrefix   = "cs:" // cs:<node>\x00<serviceID>
	serviceByName   = "sx:" // sx:<service>\x00<node>\x00<serviceID>
	checkPrefix     = "cc:" // cc:<node>\x00<checkID>
	catalogIndexKey = "m:catalog"
)

// Health states, as Consul spells them.
const (
	HealthPassing  = "passing"
	HealthWarning  = "warning"
	HealthCritical = "critical"
)

// Node is a catalog node.
type Node struct {
	ID              string
	Node            string
	Address         string
	Datacenter      string
	TaggedAddresses map[string]string
	Meta            map[string]string
	CreateIndex     uint64
	ModifyIndex     uint64
}

// NodeService is a service instance on a node.
type NodeService struct {
	ID                string
	Service           string
	Tags              []string
	Address           string
	Meta              map[string]string
	Port              int
	EnableTagOverride bool
	CreateIndex       uint64
	ModifyIndex       uint64
}

// HealthCheck is a node- or service-level check.
type HealthCheck struct {
	Node        string
	CheckID     string
	Name        string
	Status      string
	Notes       string
	Output      string
	ServiceID   string
	ServiceName string
	ServiceTags []string
	Type        string
	CreateIndex uint64
	ModifyIndex uint64
}

// RegisterRequest upserts a node, optionally one service and checks
// (Consul's catalog register). Checks with a ServiceID get the service's
// name and tags filled in.
type RegisterRequest struct {
	Node            string
	ID              string
	Address         string
	Datacenter      string
	TaggedAddresses map[string]string
	NodeMeta        map[string]string
	Service         *NodeService
	Checks          []*HealthCheck
	// SkipNodeUpdate leaves an existing node's address and meta alone.
	SkipNodeUpdate bool
}

// DeregisterRequest removes a service (with its checks), a check, or the
// whole node with everything on it.
type DeregisterRequest struct {
	Node      string
	ServiceID string
	CheckID   string
}

func key2(prefix, a, b string) string { return prefix + a + "\x00" + b }

func getJSON[T any](w *wtx, key string) (*T, error) {
	v, ok := w.get(key)
	if !ok {
		return nil, nil
	}
	var out T
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		return nil, fmt.Errorf("corrupt catalog entry %q: %w", key, err)
	}
	return &out, nil
}

func setJSON(w *wtx, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return w.set(key, string(b))
}

// sameJSON reports whether two values encode identically, to keep
// ModifyIndex still when a registration changes nothing (anti-entropy
// re-syncs the same data often).
func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func applyRegister(w *wtx, idx uint64, req *RegisterRequest) error {
	if req.Node == "" {
		return fmt.Errorf("Must provide node")
	}
	w.catalogNodes = append(w.catalogNodes, req.Node)
	if req.Address == "" && !req.SkipNodeUpdate {
		return fmt.Errorf("Must provide address")
	}
	changed := false
	old, err := getJSON[Node](w, nodePrefix+req.Node)
	if err != nil {
		return err
	}
	if old == nil || !req.SkipNodeUpdate {
		n := Node{ID: req.ID, Node: req.Node, Address: req.Address, Datacenter: req.Datacenter,
			TaggedAddresses: req.TaggedAddresses, Meta: req.NodeMeta, CreateIndex: idx, ModifyIndex: idx}
		if old != nil {
			n.CreateIndex, n.ModifyIndex = old.CreateIndex, old.ModifyIndex
			if n.Address == "" {
				n.Address = old.Address
			}
		}
		if old == nil || !sameJSON(n, *old) {
			n.ModifyIndex = idx
			if err := setJSON(w, nodePrefix+req.Node, n); err != nil {
				return err
			}
			changed = true
		}
	}
	var svc *NodeService
	if req.Service != nil {
		s := *req.Service
		if s.Service == "" {
			return fmt.Errorf("Must provide service name")
		}
		if s.ID == "" {
			s.ID = s.Service
		}
		if s.Tags == nil {
			s.Tags = []string{}
		}
		oldSvc, err := getJSON[NodeService](w, key2(servicePrefix, req.Node, s.ID))
		if err != nil {
			return err
		}
		s.CreateIndex, s.ModifyIndex = idx, idx
		if oldSvc != nil {
			s.CreateIndex, s.ModifyIndex = oldSvc.CreateIndex, oldSvc.ModifyIndex
		}
		if oldSvc == nil || !sameJSON(s, *oldSvc) {
			s.ModifyIndex = idx
			if oldSvc != nil && oldSvc.Service != s.Service {
				if err := w.del(serviceByName + oldSvc.Service + "\x00" + req.Node + "\x00" + s.ID); err != nil {
					return err
				}
			}
			if err := setJSON(w, key2(servicePrefix, req.Node, s.ID), s); err != nil {
				return err
			}
			if err := w.set(serviceByName+s.Service+"\x00"+req.Node+"\x00"+s.ID, ""); err != nil {
				return err
			}
			changed = true
		}
		svc = &s
	}
	for _, c := range req.Checks {
		ch := *c
		ch.Node = req.Node
		if ch.CheckID == "" {
			ch.CheckID = ch.Name
		}
		if ch.CheckID == "" {
			return fmt.Errorf("Must provide a check ID or name")
		}
		if ch.Status == "" {
			ch.Status = HealthCritical
		}
		switch ch.Status {
		case HealthPassing, HealthWarning, HealthCritical:
		default:
			return fmt.Errorf("Invalid check status: '%s'", ch.Status)
		}
		if ch.ServiceID != "" {
			s := svc
			if s == nil || s.ID != ch.ServiceID {
				s, err = getJSON[NodeService](w, key2(servicePrefix, req.Node, ch.ServiceID))
				if err != nil {
					return err
				}
			}
			if s == nil {
				return fmt.Errorf("Unknown service ID '%s' for check ID '%s'", ch.ServiceID, ch.CheckID)
			}
			ch.ServiceName, ch.ServiceTags = s.Service, s.Tags
		}
		if ch.ServiceTags == nil {
			ch.ServiceTags = []string{}
		}
		oldCheck, err := getJSON[HealthCheck](w, key2(checkPrefix, req.Node, ch.CheckID))
		if err != nil {
			return err
		}
		ch.CreateIndex, ch.ModifyIndex = idx, idx
		if oldCheck != nil {
			ch.CreateIndex, ch.ModifyIndex = oldCheck.CreateIndex, oldCheck.ModifyIndex
		}
		if oldCheck == nil || !sameJSON(ch, *oldCheck) {
			ch.ModifyIndex = idx
			if err := setJSON(w, key2(checkPrefix, req.Node, ch.CheckID), ch); err != nil {
				return err
			}
			changed = true
		}
	}
	if changed {
		w.catalogChanged = true
	}
	return nil
}

func deleteService(w *wtx, node, id string) error {
	s, err := getJSON[NodeService](w, key2(servicePrefix, node, id))
	if err != nil || s == nil {
		return err
	}
	if err := w.del(key2(servicePrefix, node, id)); err != nil {
		return err
	}
	if err := w.del(serviceByName + s.Service + "\x00" + node + "\x00" + id); err != nil {
		return err
	}
	// The service's checks go with it.
	var checks []string
	err = ascendPrefix(w.tx, checkPrefix, node+"\x00", func(k, v string) bool {
		var c HealthCheck
		if json.Unmarshal([]byte(v), &c) == nil && c.ServiceID == id {
			checks = append(checks, checkPrefix+k)
		}
		return true
	})
	if err != nil {
		return err
	}
	for _, k := range checks {
		if err := w.del(k); err != nil {
			return err
		}
	}
	w.catalogChanged = true
	return nil
}

func applyDeregister(w *wtx, req *DeregisterRequest) error {
	if req.Node == "" {
		return fmt.Errorf("Must provide node")
	}
	w.catalogNodes = append(w.catalogNodes, req.Node)
	switch {
	case req.ServiceID != "":
		return deleteService(w, req.Node, req.ServiceID)
	case req.CheckID != "":
		if _, ok := w.get(key2(checkPrefix, req.Node, req.CheckID)); ok {
			w.catalogChanged = true
			return w.del(key2(checkPrefix, req.Node, req.CheckID))
		}
		return nil
	}
	var services, checks []string
	_ = ascendPrefix(w.tx, servicePrefix, req.Node+"\x00", func(k, _ string) bool {
		services = append(services, strings.TrimPrefix(k, req.Node+"\x00"))
		return true
	})
	for _, id := range services {
		if err := deleteService(w, req.Node, id); err != nil {
			return err
		}
	}
	_ = ascendPrefix(w.tx, checkPrefix, req.Node+"\x00", func(k, _ string) bool {
		checks = append(checks, checkPrefix+k)
		return true
	})
	for _, k := range checks {
		if err := w.del(k); err != nil {
			return err
		}
	}
	if _, ok := w.get(nodePrefix + req.Node); ok {
		if err := w.del(nodePrefix + req.Node); err != nil {
			return err
		}
	}
	w.catalogChanged = true
	return nil
}

// catalogView runs fn with a read transaction and the catalog index.
func (s *Store) catalogView(fn func(tx *buntdb.Tx) error) (uint64, error) {
	var idx uint64
	err := s.view(func(tx *buntdb.Tx) error {
		idx = getUint(tx, catalogIndexKey)
		return fn(tx)
	})
	return idx, err
}

func decodeAll[T any](tx *buntdb.Tx, space, prefix string) ([]T, error) {
	var out []T
	var derr error
	err := ascendPrefix(tx, space, prefix, func(_, v string) bool {
		var t T
		if derr = json.Unmarshal([]byte(v), &t); derr != nil {
			return false
		}
		out = append(out, t)
		return true
	})
	if err == nil {
		err = derr
	}
	return out, err
}

// CatalogIndex is the index of the last catalog change.
func (s *Store) CatalogIndex() uint64 {
	idx, _ := s.catalogView(func(*buntdb.Tx) error { return nil })
	return idx
}

// Nodes lists catalog nodes by name.
func (s *Store) Nodes() ([]Node, uint64, error) {
	var out []Node
	idx, err := s.catalogView(func(tx *buntdb.Tx) error {
		var err error
		out, err = decodeAll[Node](tx, nodePrefix, "")
		return err
	})
	return out, idx, err
}

// GetNode returns one node (nil when unknown) with its services, from
// the in-memory mirror.
func (s *Store) GetNode(name string) (*Node, []NodeService, uint64, error) {
	s.mu.RLock()
	m := s.catalog
	s.mu.RUnlock()
	n, svcs, idx := m.node(name)
	return n, svcs, idx, nil
}

// NodeCheck returns one check of a node from the in-memory mirror (ok
// false when the node or the check is unknown): the leader asks it of
// every catalog node every few seconds, which must not decode anything.
func (s *Store) NodeCheck(node, checkID string) (HealthCheck, bool) {
	s.mu.RLock()
	m := s.catalog
	s.mu.RUnlock()
	m.mu.RLock()
	defer m.mu.RUnlock()
	if c := m.checks[node][checkID]; c != nil {
		return *c, true
	}
	return HealthCheck{}, false
}

// NodeNames lists the catalog's node names from the in-memory mirror, in
// no particular order.
func (s *Store) NodeNames() []string {
	s.mu.RLock()
	m := s.catalog
	s.mu.RUnlock()
	m.mu.RLock()
	defer m.mu.RUnlock()
	names := make([]string, 0, len(m.nodes))
	for n := range m.nodes {
		names = append(names, n)
	}
	return names
}

// Services maps each service name to the union of its instances' tags.
func (s *Store) Services() (map[string][]string, uint64, error) {
	out := map[string][]string{}
	idx, err := s.catalogView(func(tx *buntdb.Tx) error {
		svcs, err := decodeAll[NodeService](tx, servicePrefix, "")
		if err != nil {
			return err
		}
		seen := map[string]map[string]bool{}
		for _, sv := range svcs {
			if seen[sv.Service] == nil {
				seen[sv.Service] = map[string]bool{}
				out[sv.Service] = []string{}
			}
			for _, t := range sv.Tags {
				if !seen[sv.Service][t] {
					seen[sv.Service][t] = true
					out[sv.Service] = append(out[sv.Service], t)
				}
			}
		}
		for _, tags := range out {
			sort.Strings(tags)
		}
		return nil
	})
	return out, idx, err
}

// ServiceInstance is one instance with its node and health checks (node
// checks first, then the service's own).
type ServiceInstance struct {
	Node    Node
	Service NodeService
	Checks  []HealthCheck
}

// ServiceInstances returns the instances of a service, in node order,
// from the in-memory catalog mirror.
func (s *Store) ServiceInstances(name string) ([]ServiceInstance, uint64, error) {
	s.mu.RLock()
	m := s.catalog
	s.mu.RUnlock()
	out, idx := m.instances(name)
	return out, idx, nil
}

// serviceInstancesFromDB reads instances straight from buntdb; tests use
// it to check the mirror.
func (s *Store) serviceInstancesFromDB(name string) ([]ServiceInstance, uint64, error) {
	var out []ServiceInstance
	idx, err := s.catalogView(func(tx *buntdb.Tx) error {
		var refs [][2]string
		_ = ascendPrefix(tx, serviceByName, name+"\x00", func(k, _ string) bool {
			parts := strings.SplitN(strings.TrimPrefix(k, name+"\x00"), "\x00", 2)
			if len(parts) == 2 {
				refs = append(refs, [2]string{parts[0], parts[1]})
			}
			return true
		})
		for _, r := range refs {
			var inst ServiceInstance
			nv, err := tx.Get(nodePrefix + r[0])
			if err != nil {
				continue
			}
			sv, err := tx.Get(servicePrefix + r[0] + "\x00" + r[1])
			if err != nil {
				continue
			}
			if json.Unmarshal([]byte(nv), &inst.Node) != nil || json.Unmarshal([]byte(sv), &inst.Service) != nil {
				return fmt.Errorf("corrupt catalog entry for %s/%s", r[0], r[1])
			}
			checks, err := decodeAll[HealthCheck](tx, checkPrefix, r[0]+"\x00")
			if err != nil {
				return err
			}
			for _, c := range checks {
				if c.ServiceID == "" || c.ServiceID == r[1] {
					inst.Checks = append(inst.Checks, c)
				}
			}
			sort.SliceStable(inst.Checks, func(i, j int) bool { return inst.Checks[i].ServiceID == "" && inst.Checks[j].ServiceID != "" })
			out = append(out, inst)
		}
		return nil
	})
	return out, idx, err
}

// Checks returns checks, filtered by node and/or service name and state
// ("any" or "" for all).
func (s *Store) Checks(node, service, state string) ([]HealthCheck, uint64, error) {
	out := []HealthCheck{}
	idx, err := s.catalogView(func(tx *buntdb.Tx) error {
		prefix := ""
		if node != "" {
			prefix = node + "\x00"
		}
		all, err := decodeAll[HealthCheck](tx, checkPrefix, prefix)
		if err != nil {
			return err
		}
		for _, c := range all {
			if service != "" && c.ServiceName != service {
				continue
			}
			if state != "" && state != "any" && c.Status != state {
				continue
			}
			out = append(out, c)
		}
		return nil
	})
	return out, idx, err
}
