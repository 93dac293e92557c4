package tui

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"consulx/api"
)

var errDown = errors.New(`Get "http://127.0.0.1:8500/v1/agent/self": dial tcp 127.0.0.1:8500: connect: connection refused`)

// fakeSource is an in-memory agent. Blocking KV queries really block (until
// a write, the wait time or the context), as the agent's do.
type fakeSource struct {
	mu      sync.Mutex
	down    bool
	self    *api.Self
	leader  string
	lan     []api.Member
	wan     []api.Member
	raft    *api.RaftConfiguration
	kv      map[string]*api.KVPair
	keys    []string // sorted; nil when stale
	index   uint64
	changed chan struct{}
	logs    []string

	deleted, deletedTrees []string
	puts                  []api.KVPair
	// ops records every successful KV write in order: "put k", "delete k".
	ops []string
	// putErr makes KVPut of a key fail with that error.
	putErr map[string]error

	// The catalog: node-level checks by node, and service instances with
	// their own checks (HealthService adds the node's checks).
	nodes      map[string]string // node → address
	nodeChecks map[string][]api.HealthCheck
	instances  []api.ServiceEntry
	// maintCalls records every maintenance toggle: "node web-1 true why",
	// "service node-b web-b false ".
	maintCalls []string
	maintErr   error

	// User events as the agent lists them (oldest first); eventsChanged
	// is closed by the next one. fired records every EventFire.
	events        []api.UserEvent
	eventsChanged chan struct{}
	fired         []api.UserEvent
	fireErr       error

	// execJobs receives every Exec call as a job the test drives;
	// execErr, when set, refuses every Exec at once instead.
	execJobs chan *fakeJob
	execErr  error

	// acl is the agent's ACL state (fake_acl_test.go); nil: ACLs off.
	acl *fakeACL
	// selfErr refuses the agent's self read (agent:read).
	selfErr error
	// filtered names the reads whose answers say ACLs hid something:
	// "members", "kv", "services", "health", "events".
	filtered map[string]bool
}

// fakeJob is one Exec call: the test sends its events and closes events
// to end it; ended gets what Exec returned (the context's error when the
// console cancelled it).
type fakeJob struct {
	req    api.ExecRequest
	events chan api.ExecEvent
	ended  chan error
}

func newFake() *fakeSource {
	f := &fakeSource{
		self: &api.Self{
			Config: map[string]any{"Datacenter": "dc1", "NodeName": "node-a"},
			Stats: map[string]map[string]string{"raft": {
				"state": "Leader", "term": "3", "commit_index": "42", "applied_index": "42", "last_contact": "0",
			}},
		},
		leader: "127.0.0.1:8300",
		lan: []api.Member{
			member("node-a", "127.0.0.1", 1, "consul"),
			member("node-b", "127.0.0.2", 1, "consul"),
			member("node-c", "127.0.0.3", 4, "consul"),
			member("web-1", "127.0.0.4", 1, "node"),
			member("web-2", "127.0.0.5", 3, "node"),
		},
		wan: []api.Member{member("node-a.dc1", "127.0.0.1", 1, "consul")},
		raft: &api.RaftConfiguration{Index: 7, Servers: []api.RaftServer{
			{ID: "id-a", Node: "node-a", Address: "127.0.0.1:8300", Leader: true, Voter: true},
			{ID: "id-b", Node: "node-b", Address: "127.0.0.2:8300", Voter: true},
			{ID: "id-c", Node: "node-c", Address: "127.0.0.3:8300", Voter: false},
		}},
		kv:            map[string]*api.KVPair{},
		index:         1,
		changed:       make(chan struct{}),
		eventsChanged: make(chan struct{}),
		execJobs:      make(chan *fakeJob, 16),
		logs: []string{
			"2026-01-02T03:04:05.000Z [INFO]  agent: (LAN) joined: 1",
			"2026-01-02T03:04:05.100Z [DEBUG] memberlist: stream connection",
			"2026-01-02T03:04:05.200Z [WARN]  agent: check is critical",
			"2026-01-02T03:04:05.300Z [ERROR] agent: rpc failed",
			"2026-01-02T03:04:05.400Z [INFO]  raft: entering leader state",
		},
	}
	for _, kv := range []struct{ k, v string }{
		{"app/config.json", `{"port":8080,"debug":false}`},
		{"app/name", "shop"},
		{"app/db/password", "hunter2"},
		{"app/db/user", "admin"},
		{"deep/a/b/c/needle", "found"},
		{"bin", "\x00\x01\x02binary\xff"},
		{"top", "plain text value"},
	} {
		f.putLocked(kv.k, []byte(kv.v))
	}
	f.seedCatalog()
	return f
}

// seedCatalog registers three services:
//
//	consul: node-a, node-b, node-c (node-c's serfHealth is critical)
//	web:    web on web-1 passing, web-b on node-b warning, web-c on node-c critical
//	db:     db on node-a passing
func (f *fakeSource) seedCatalog() {
	f.nodes = map[string]string{"node-a": "127.0.0.1", "node-b": "127.0.0.2", "node-c": "127.0.0.3", "web-1": "127.0.0.4"}
	f.nodeChecks = map[string][]api.HealthCheck{}
	for n := range f.nodes {
		c := api.HealthCheck{Node: n, CheckID: "serfHealth", Name: "Serf Health Status", Status: "passing", Output: "Agent alive and reachable"}
		if n == "node-c" {
			c.Status, c.Output = "critical", "Agent not live or unreachable"
		}
		f.nodeChecks[n] = []api.HealthCheck{c}
	}
	inst := func(node, id, name string, port int, tags []string, checks ...api.HealthCheck) {
		var e api.ServiceEntry
		e.Node = api.CatalogNode{Node: node, Address: f.nodes[node], Datacenter: "dc1"}
		e.Service.ID, e.Service.Service, e.Service.Port, e.Service.Tags = id, name, port, tags
		for i := range checks {
			checks[i].Node, checks[i].ServiceID, checks[i].ServiceName = node, id, name
		}
		e.Checks = checks
		f.instances = append(f.instances, e)
	}
	for _, n := range []string{"node-a", "node-b", "node-c"} {
		inst(n, "consul", "consul", 8300, nil)
	}
	inst("web-1", "web", "web", 8080, []string{"v1", "primary"},
		api.HealthCheck{CheckID: "service:web", Name: "Service 'web' check", Status: "passing", Output: "HTTP GET http://127.0.0.4:8080/health: 200 OK Output: ok"})
	inst("node-b", "web-b", "web", 8081, []string{"v1"},
		api.HealthCheck{CheckID: "service:web-b", Name: "Service 'web' check", Status: "warning", Output: "HTTP GET http://127.0.0.2:8081/health: 429 Too Many Requests\nretry later"})
	inst("node-c", "web-c", "web", 8082, []string{"v2"},
		api.HealthCheck{CheckID: "service:web-c", Name: "Service 'web' check", Status: "critical", Output: "dial tcp 127.0.0.3:8082: connect: connection refused"})
	inst("node-a", "db", "db", 5432, []string{"primary"},
		api.HealthCheck{CheckID: "service:db", Name: "Service 'db' check", Status: "passing", Output: "TCP connect 127.0.0.1:5432: Success"})
}

func (f *fakeSource) CatalogServices(ctx context.Context, q *api.QueryOptions) (map[string][]string, *api.QueryMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, nil, errDown
	}
	out := map[string][]string{}
	for _, e := range f.instances {
		tags := out[e.Service.Service]
		for _, t := range e.Service.Tags {
			if !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
		if tags == nil {
			tags = []string{}
		}
		out[e.Service.Service] = tags
	}
	return out, &api.QueryMeta{LastIndex: f.index, ResultsFilteredByACLs: f.filtered["services"]}, nil
}

func (f *fakeSource) HealthService(ctx context.Context, name string, passingOnly bool, q *api.QueryOptions) ([]api.ServiceEntry, *api.QueryMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, nil, errDown
	}
	var out []api.ServiceEntry
	for _, e := range f.instances {
		if e.Service.Service != name {
			continue
		}
		cp := e
		cp.Service.Tags = slices.Clone(e.Service.Tags)
		cp.Checks = append(slices.Clone(f.nodeChecks[e.Node.Node]), e.Checks...)
		if passingOnly && slices.ContainsFunc(cp.Checks, func(c api.HealthCheck) bool { return c.Status != "passing" }) {
			continue
		}
		out = append(out, cp)
	}
	return out, &api.QueryMeta{LastIndex: f.index, ResultsFilteredByACLs: f.filtered["health"]}, nil
}

func (f *fakeSource) HealthState(ctx context.Context, state string, q *api.QueryOptions) ([]api.HealthCheck, *api.QueryMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, nil, errDown
	}
	var out []api.HealthCheck
	keep := func(cs []api.HealthCheck) {
		for _, c := range cs {
			if state == "any" || c.Status == state {
				out = append(out, c)
			}
		}
	}
	for _, n := range slices.Sorted(maps.Keys(f.nodeChecks)) {
		keep(f.nodeChecks[n])
	}
	for _, e := range f.instances {
		keep(e.Checks)
	}
	return out, &api.QueryMeta{LastIndex: f.index}, nil
}

// setMaint adds (enable) or removes the check id in cs.
func setMaint(cs []api.HealthCheck, c api.HealthCheck, enable bool) []api.HealthCheck {
	cs = slices.DeleteFunc(cs, func(x api.HealthCheck) bool { return x.CheckID == c.CheckID })
	if enable {
		cs = append(cs, c)
	}
	return cs
}

func (f *fakeSource) NodeMaintenanceOn(ctx context.Context, node string, enable bool, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errDown
	}
	f.maintCalls = append(f.maintCalls, fmt.Sprintf("node %s %v %s", node, enable, reason))
	if f.maintErr != nil {
		return f.maintErr
	}
	if node == "" {
		node = cfgString(f.self.Config, "NodeName")
	}
	if reason == "" {
		reason = "Maintenance mode is enabled for this node, but no reason was provided. This is a default message."
	}
	c := api.HealthCheck{Node: node, CheckID: nodeMaintCheckID, Name: "Node Maintenance Mode", Status: "critical", Notes: reason}
	f.nodeChecks[node] = setMaint(f.nodeChecks[node], c, enable)
	return nil
}

func (f *fakeSource) ServiceMaintenanceOn(ctx context.Context, node, id string, enable bool, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errDown
	}
	f.maintCalls = append(f.maintCalls, fmt.Sprintf("service %s %s %v %s", node, id, enable, reason))
	if f.maintErr != nil {
		return f.maintErr
	}
	if node == "" {
		node = cfgString(f.self.Config, "NodeName")
	}
	if reason == "" {
		reason = "Maintenance mode is enabled for this service, but no reason was provided. This is a default message."
	}
	for i, e := range f.instances {
		if e.Node.Node == node && e.Service.ID == id {
			c := api.HealthCheck{Node: node, CheckID: serviceMaintPrefix + id, Name: "Service Maintenance Mode", Status: "critical",
				Notes: reason, ServiceID: id, ServiceName: e.Service.Service}
			f.instances[i].Checks = setMaint(slices.Clone(e.Checks), c, enable)
			return nil
		}
	}
	return fmt.Errorf("unknown service ID %q on %s", id, node)
}

func member(name, addr string, status int, role string) api.Member {
	return api.Member{Name: name, Addr: addr, Port: 8301, Status: status,
		Tags: map[string]string{"role": role, "dc": "dc1", "build": "0.1.0:consulx"}}
}

func (f *fakeSource) setDown(d bool) { f.mu.Lock(); f.down = d; f.mu.Unlock() }

func (f *fakeSource) putLocked(k string, v []byte) {
	f.index++
	p := f.kv[k]
	if p == nil {
		p = &api.KVPair{Key: k, CreateIndex: f.index}
		f.kv[k] = p
		f.keys = nil
	}
	p.Value, p.ModifyIndex = v, f.index
}

func (f *fakeSource) bump() {
	f.index++
	f.keys = nil
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeSource) sorted() []string {
	if f.keys == nil {
		f.keys = make([]string, 0, len(f.kv))
		for k := range f.kv {
			f.keys = append(f.keys, k)
		}
		sort.Strings(f.keys)
	}
	return f.keys
}

func (f *fakeSource) Self(ctx context.Context) (*api.Self, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	if f.selfErr != nil {
		return nil, f.selfErr
	}
	return f.self, nil
}

func (f *fakeSource) Leader(ctx context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return "", errDown
	}
	return f.leader, nil
}

func (f *fakeSource) MembersMeta(ctx context.Context, wan bool) ([]api.Member, *api.QueryMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, nil, errDown
	}
	meta := &api.QueryMeta{ResultsFilteredByACLs: f.filtered["members"]}
	if wan {
		return append([]api.Member(nil), f.wan...), meta, nil
	}
	return append([]api.Member(nil), f.lan...), meta, nil
}

func (f *fakeSource) RaftConfiguration(ctx context.Context, stale bool) (*api.RaftConfiguration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	return f.raft, nil
}

func (f *fakeSource) KVGet(ctx context.Context, key string, q *api.QueryOptions) (*api.KVPair, *api.QueryMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, nil, errDown
	}
	meta := &api.QueryMeta{LastIndex: f.index}
	p := f.kv[key]
	if p == nil {
		return nil, meta, nil
	}
	cp := *p
	return &cp, meta, nil
}

func (f *fakeSource) KVList(ctx context.Context, prefix string, q *api.QueryOptions) ([]*api.KVPair, *api.QueryMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, nil, errDown
	}
	all := f.sorted()
	var out []*api.KVPair
	for i := sort.SearchStrings(all, prefix); i < len(all) && strings.HasPrefix(all[i], prefix); i++ {
		cp := *f.kv[all[i]]
		cp.Key = all[i]
		out = append(out, &cp)
	}
	return out, &api.QueryMeta{LastIndex: f.index}, nil
}

// get returns a copy of key k (nil when absent).
func (f *fakeSource) get(k string) *api.KVPair {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.kv[k]
	if p == nil {
		return nil
	}
	cp := *p
	return &cp
}

func (f *fakeSource) KVKeys(ctx context.Context, prefix, sep string, q *api.QueryOptions) ([]string, *api.QueryMeta, error) {
	f.mu.Lock()
	if q != nil && q.WaitIndex > 0 && q.WaitIndex >= f.index && !f.down {
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(q.WaitTime):
		}
		f.mu.Lock()
	}
	defer f.mu.Unlock()
	if f.down {
		return nil, nil, errDown
	}
	all := f.sorted()
	var out []string
	for i := sort.SearchStrings(all, prefix); i < len(all) && strings.HasPrefix(all[i], prefix); i++ {
		k := all[i]
		if sep != "" {
			if j := strings.Index(k[len(prefix):], sep); j >= 0 {
				k = k[:len(prefix)+j+len(sep)]
			}
		}
		if len(out) == 0 || out[len(out)-1] != k {
			out = append(out, k)
		}
	}
	return out, &api.QueryMeta{LastIndex: f.index, ResultsFilteredByACLs: f.filtered["kv"]}, nil
}

func (f *fakeSource) KVPut(ctx context.Context, p *api.KVPair, w *api.WriteOptions) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return false, errDown
	}
	if err := f.putErr[p.Key]; err != nil {
		return false, err
	}
	if w != nil && w.CAS {
		cur := f.kv[p.Key]
		if (cur == nil && p.ModifyIndex != 0) || (cur != nil && cur.ModifyIndex != p.ModifyIndex) {
			return false, nil
		}
	}
	f.puts = append(f.puts, *p)
	f.ops = append(f.ops, "put "+p.Key)
	f.putLocked(p.Key, p.Value)
	f.kv[p.Key].Flags = p.Flags
	f.bump()
	return true, nil
}

func (f *fakeSource) KVDelete(ctx context.Context, key string, cas *uint64) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return false, errDown
	}
	if cur := f.kv[key]; cas != nil && (cur == nil || cur.ModifyIndex != *cas) {
		return false, nil
	}
	f.deleted = append(f.deleted, key)
	f.ops = append(f.ops, "delete "+key)
	delete(f.kv, key)
	f.bump()
	return true, nil
}

func (f *fakeSource) KVDeleteTree(ctx context.Context, prefix string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return false, errDown
	}
	f.deletedTrees = append(f.deletedTrees, prefix)
	for k := range f.kv {
		if strings.HasPrefix(k, prefix) {
			delete(f.kv, k)
		}
	}
	f.bump()
	return true, nil
}

func (f *fakeSource) Monitor(ctx context.Context, level string, fn func(string)) error {
	f.mu.Lock()
	if f.down {
		f.mu.Unlock()
		return errDown
	}
	lines := append([]string(nil), f.logs...)
	f.mu.Unlock()
	for _, l := range lines {
		fn(l)
	}
	<-ctx.Done()
	return nil
}

// bigFake has n members and k keys spread over nested folders.
func bigFake(n, k int) *fakeSource {
	f := newFake()
	f.lan = f.lan[:0]
	for i := range n {
		st := 1
		if i%50 == 0 {
			st = 4
		}
		role := "node"
		if i < 5 {
			role = "consul"
		}
		f.lan = append(f.lan, member(fmt.Sprintf("node-%04d", i), fmt.Sprintf("10.0.%d.%d", i/250, i%250), st, role))
	}
	f.kv = make(map[string]*api.KVPair, k)
	for i := range k {
		f.kv[fmt.Sprintf("svc/%02d/cfg/%03d/key-%06d", i%100, (i/100)%100, i)] = &api.KVPair{Value: []byte("v")}
	}
	f.keys = nil
	return f
}

// eventIndex is a fake blocking index of the event list that, like
// Consul's, is derived from the last event's ID (1 when there is none).
func (f *fakeSource) eventIndex() uint64 {
	if len(f.events) == 0 {
		return 1
	}
	var h uint64 = 14695981039346656037
	for _, c := range []byte(f.events[len(f.events)-1].ID) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h | 2
}

// addEvent is an event the agent received.
func (f *fakeSource) addEvent(ev api.UserEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addEventLocked(ev)
}

func (f *fakeSource) addEventLocked(ev api.UserEvent) {
	if ev.ID == "" {
		n := len(f.events) + 1
		ev.ID = fmt.Sprintf("%08x-1111-4222-8333-%012x", n*0x1000+n, n)
	}
	if ev.LTime == 0 {
		ev.LTime = uint64(len(f.events) + 1)
	}
	f.events = append(f.events, ev)
	close(f.eventsChanged)
	f.eventsChanged = make(chan struct{})
}

func (f *fakeSource) EventList(ctx context.Context, name string, q *api.QueryOptions) ([]api.UserEvent, *api.QueryMeta, error) {
	f.mu.Lock()
	if q != nil && q.WaitIndex > 0 && q.WaitIndex == f.eventIndex() && !f.down {
		ch := f.eventsChanged
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(q.WaitTime):
		}
		f.mu.Lock()
	}
	defer f.mu.Unlock()
	if f.down {
		return nil, nil, errDown
	}
	out := []api.UserEvent{}
	for _, ev := range f.events {
		if name == "" || ev.Name == name {
			out = append(out, ev)
		}
	}
	return out, &api.QueryMeta{LastIndex: f.eventIndex(), ResultsFilteredByACLs: f.filtered["events"]}, nil
}

// EventFire records the event and, as if the agent's own node matched
// its filters, lists it.
func (f *fakeSource) EventFire(ctx context.Context, ev *api.UserEvent, dc string) (*api.UserEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	f.fired = append(f.fired, *ev)
	if f.fireErr != nil {
		return nil, f.fireErr
	}
	out := *ev
	out.ID = fmt.Sprintf("f17ed000-0000-4000-8000-%012d", len(f.fired))
	out.Version = 1
	f.addEventLocked(out)
	return &out, nil
}

func (f *fakeSource) Exec(ctx context.Context, req *api.ExecRequest, dc string, fn func(api.ExecEvent)) error {
	f.mu.Lock()
	refused := f.execErr
	f.mu.Unlock()
	if refused != nil {
		return refused
	}
	j := &fakeJob{req: *req, events: make(chan api.ExecEvent), ended: make(chan error, 1)}
	f.execJobs <- j
	for {
		select {
		case ev, ok := <-j.events:
			if !ok {
				j.ended <- nil
				return nil
			}
			fn(ev)
		case <-ctx.Done():
			j.ended <- ctx.Err()
			return ctx.Err()
		}
	}
}
