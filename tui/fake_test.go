package tui

import (
	"context"
	"errors"
	"fmt"
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
		kv:      map[string]*api.KVPair{},
		index:   1,
		changed: make(chan struct{}),
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
	return f
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

func (f *fakeSource) Members(ctx context.Context, wan bool) ([]api.Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	if wan {
		return append([]api.Member(nil), f.wan...), nil
	}
	return append([]api.Member(nil), f.lan...), nil
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
	return out, &api.QueryMeta{LastIndex: f.index}, nil
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
