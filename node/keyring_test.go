package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"consulx/api"
	"consulx/internal/testcluster"
	"consulx/node"
)

// Fixed gossip keys (what `consulx keygen` prints): 32, 16 and 24 bytes.
const (
	key1 = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="
	key2 = "HMzPnmnx4aXEXzpX6Ee0Rw=="
	key3 = "T9jncgl9mbLus+baTTa7q7nPSUrXwbDi"
)

// encryptedConfig is a test agent's config with gossip key key ("" for
// none) in datacenter dc.
func encryptedConfig(t *testing.T, dc, name string, server bool, expect int, key string) *node.Config {
	cfg := testcluster.Config(t, name, server, expect)
	cfg.Datacenter = dc
	cfg.EncryptKey = key
	return cfg
}

// startEncrypted starts servers and clients of dc sharing key, joined
// through the first server, with a leader.
func startEncrypted(t *testing.T, dc, key string, servers, clients int) *testcluster.Cluster {
	t.Helper()
	var ss, cs []*testcluster.Agent
	for i := 1; i <= servers; i++ {
		ss = append(ss, testcluster.Start(t, encryptedConfig(t, dc, fmt.Sprintf("%s-server-%d", dc, i), true, servers, key)))
	}
	for i := 1; i <= clients; i++ {
		cs = append(cs, testcluster.Start(t, encryptedConfig(t, dc, fmt.Sprintf("%s-client-%d", dc, i), false, 0, key)))
	}
	c := testcluster.Of(t, ss, cs)
	for _, a := range c.All()[1:] {
		if _, err := a.Running.Agent.Join([]string{ss[0].SerfAddr()}, false); err != nil {
			t.Fatalf("join %s: %v", a.Name, err)
		}
	}
	c.WaitLeader(15 * time.Second)
	// Every member knows every other before a keyring query goes out: a
	// node still merging could miss the query and fail the operation.
	testcluster.Eventually(t, 10*time.Second, func() error {
		for _, a := range c.All() {
			if n := len(a.Running.Agent.Members(false)); n != servers+clients {
				return fmt.Errorf("%s sees %d LAN members, want %d", a.Name, n, servers+clients)
			}
		}
		return nil
	})
	return c
}

// TestGossipKeyMismatchRefusesJoin: an agent without the cluster's key,
// one with another key, and (the other way round) an encrypted agent
// facing an unencrypted one cannot join; each join error is one line
// saying why, the agent's log says the same, and nobody merged.
func TestGossipKeyMismatchRefusesJoin(t *testing.T) {
	srv := testcluster.Start(t, encryptedConfig(t, "dc1", "enc-server", true, 1, key1))
	plain := testcluster.Start(t, encryptedConfig(t, "dc1", "plain", false, 0, ""))
	other := testcluster.Start(t, encryptedConfig(t, "dc1", "other-key", false, 0, key2))
	for _, tc := range []struct {
		from, to *testcluster.Agent
		says     string
	}{
		{plain, srv, "the agent there uses gossip encryption and this agent has no key: set encrypt to the cluster's key"},
		{other, srv, "gossip encryption key mismatch"},
		{srv, plain, "the agent there does not use gossip encryption and this agent requires it"},
	} {
		n, err := tc.from.Running.Agent.Join([]string{tc.to.SerfAddr()}, false)
		if err == nil || n != 0 {
			t.Fatalf("%s joined %s (n=%d, err=%v) despite the key mismatch", tc.from.Name, tc.to.Name, n, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.says) || !strings.Contains(msg, tc.to.SerfAddr()) || strings.ContainsAny(msg, "\r\n") {
			t.Errorf("%s joining %s: error %q, want one line naming %s and saying %q", tc.from.Name, tc.to.Name, msg, tc.to.SerfAddr(), tc.says)
		}
		log, _ := os.ReadFile(tc.from.LogPath)
		if !strings.Contains(string(log), tc.says) {
			t.Errorf("%s's log does not say %q", tc.from.Name, tc.says)
		}
	}
	for _, a := range []*testcluster.Agent{srv, plain, other} {
		if ms := a.Running.Agent.Members(false); len(ms) != 1 {
			t.Errorf("%s sees %d LAN members after refused joins, want itself only: %+v", a.Name, len(ms), ms)
		}
	}
}

// sampler watches a cluster while its keys rotate: every member as each
// agent sees it (LAN, and WAN on servers) must stay alive, and a KV write
// and read through a client must keep working.
type sampler struct {
	mu       sync.Mutex
	problems []string
	rounds   int
	stop     chan struct{}
	done     sync.WaitGroup
}

func (s *sampler) report(format string, a ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.problems) < 20 {
		s.problems = append(s.problems, fmt.Sprintf(format, a...))
	}
}

// startSampler samples until stopped, at most for limit.
func startSampler(t *testing.T, agents []*testcluster.Agent, wantLAN map[string]int, wanServers int, kv *api.Client, limit time.Duration) *sampler {
	s := &sampler{stop: make(chan struct{})}
	deadline := time.Now().Add(limit)
	s.done.Add(2)
	go func() {
		defer s.done.Done()
		for time.Now().Before(deadline) {
			for _, a := range agents {
				pools := map[bool]int{false: wantLAN[a.Config.Datacenter]}
				if a.Config.Server {
					pools[true] = wanServers
				}
				for wan, want := range pools {
					ms := a.Running.Agent.Members(wan)
					alive := 0
					for _, m := range ms {
						if m.Status != 1 {
							s.report("%s (wan=%v) sees %s as %s", a.Name, wan, m.Name, api.StatusWord(m.Status))
						} else {
							alive++
						}
					}
					if alive != want {
						s.report("%s (wan=%v) sees %d alive members, want %d", a.Name, wan, alive, want)
					}
				}
			}
			s.mu.Lock()
			s.rounds++
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	go func() {
		defer s.done.Done()
		for i := 0; time.Now().Before(deadline); i++ {
			ctx, cancel := context.WithTimeout(context.Background(), testcluster.Scaled(2*time.Second))
			val := fmt.Sprint(i)
			if _, err := kv.KVPut(ctx, &api.KVPair{Key: "rotation/probe", Value: []byte(val)}, nil); err != nil {
				s.report("KV write %d: %v", i, err)
			} else if p, _, err := kv.KVGet(ctx, "rotation/probe", nil); err != nil || p == nil || string(p.Value) != val {
				s.report("KV read %d: %+v %v", i, p, err)
			}
			cancel()
			select {
			case <-s.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *sampler) finish(t *testing.T) {
	t.Helper()
	close(s.stop)
	s.done.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rounds < 10 {
		t.Errorf("only %d membership samples taken", s.rounds)
	}
	for _, p := range s.problems {
		t.Error(p)
	}
}

// wantOnlyKey checks a keyring list: every pool named in pools answered,
// with key as its one key and primary key on all its nodes.
func wantOnlyKey(rs []node.KeyringResponse, key string, pools map[string]int) error {
	got := map[string]int{}
	for _, r := range rs {
		name := r.Datacenter + " (LAN)"
		if r.WAN {
			name = "WAN"
		}
		got[name] = r.NumNodes
		want := map[string]int{key: r.NumNodes}
		if !reflect.DeepEqual(r.Keys, want) || !reflect.DeepEqual(r.PrimaryKeys, want) {
			return fmt.Errorf("%s: keys %v primary %v, want %v", name, r.Keys, r.PrimaryKeys, want)
		}
	}
	if !reflect.DeepEqual(got, pools) {
		return fmt.Errorf("pools and their sizes %v, want %v", got, pools)
	}
	return nil
}

func keyringFile(t *testing.T, a *testcluster.Agent, file string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(a.Config.DataDir, "serf", file))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatalf("%s's %s: %v", a.Name, file, err)
	}
	return keys
}

// TestKeyRotationLive rotates the gossip key of two datacenters (dc1: a
// server and two clients, dc2: a server) while they run, through a
// client agent, as an operator would: install, use, remove the old key.
// No member is ever seen failed or left, KV keeps working, the keyring
// lists and files end with the new key only, and an agent restarted with
// the old key still in its encrypt setting uses the rotated keyring file
// (else it could not rejoin).
func TestKeyRotationLive(t *testing.T) {
	dc1 := startEncrypted(t, "dc1", key1, 1, 2)
	dc2 := startEncrypted(t, "dc2", key1, 1, 0)
	if _, err := dc2.Servers[0].Running.Agent.Join([]string{dc1.Servers[0].WANAddr()}, true); err != nil {
		t.Fatalf("join -wan: %v", err)
	}
	all := append(dc1.All(), dc2.All()...)
	wantLAN := map[string]int{"dc1": 3, "dc2": 1}
	testcluster.Eventually(t, 10*time.Second, func() error {
		for _, s := range []*testcluster.Agent{dc1.Servers[0], dc2.Servers[0]} {
			if n := len(s.Running.Agent.Members(true)); n != 2 {
				return fmt.Errorf("%s sees %d WAN members", s.Name, n)
			}
		}
		return nil
	})
	pools := map[string]int{"WAN": 2, "dc1 (LAN)": 3, "dc2 (LAN)": 1}
	op := dc1.Clients[0].Running.Agent
	ctx := context.Background()
	rs, err := op.KeyringOperation(ctx, &node.KeyringRequest{Operation: node.KeyringList})
	if err != nil {
		t.Fatal(err)
	}
	if err := wantOnlyKey(rs, key1, pools); err != nil {
		t.Fatalf("before rotation: %v", err)
	}

	s := startSampler(t, all, wantLAN, 2, dc1.Clients[1].Client(), testcluster.Scaled(60*time.Second))
	for _, step := range []node.KeyringRequest{
		{Operation: node.KeyringInstall, Key: key3},
		{Operation: node.KeyringUse, Key: key3},
		{Operation: node.KeyringRemove, Key: key1},
	} {
		if _, err := op.KeyringOperation(ctx, &step); err != nil {
			t.Fatalf("%s %s: %v", step.Operation, step.Key, err)
		}
	}
	// Gossip goes on under the new key alone for a few probe rounds: a
	// member left behind would be declared failed by now.
	time.Sleep(3 * time.Second)
	s.finish(t)

	rs, err = op.KeyringOperation(ctx, &node.KeyringRequest{Operation: node.KeyringList})
	if err != nil {
		t.Fatal(err)
	}
	if err := wantOnlyKey(rs, key3, pools); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	for _, a := range all {
		files := []string{"local.keyring"}
		if a.Config.Server {
			files = append(files, "remote.keyring")
		}
		for _, f := range files {
			if keys := keyringFile(t, a, f); !reflect.DeepEqual(keys, []string{key3}) {
				t.Errorf("%s's %s holds %v, want only the new key", a.Name, f, keys)
			}
		}
	}

	// Restart a client: its config still says encrypt = the old key.
	c := dc1.Clients[0]
	c.Running.Shutdown()
	c.Restart()
	log, _ := os.ReadFile(c.LogPath)
	if !strings.Contains(string(log), "LAN keyring exists but -encrypt given, using keyring") {
		t.Errorf("the restarted agent does not say it ignores encrypt for its keyring file")
	}
	testcluster.Eventually(t, 15*time.Second, func() error {
		rs, err := c.Running.Agent.KeyringOperation(ctx, &node.KeyringRequest{Operation: node.KeyringList, LocalOnly: true})
		if err != nil {
			return err
		}
		return wantOnlyKey(rs, key3, map[string]int{"dc1 (LAN)": 3})
	})
}

// TestKeyringFileAtStart: the first start with encrypt writes the keyring
// file (only the LAN one on a client); a damaged keyring file stops the
// agent with one line naming it; disable_keyring_file writes none.
func TestKeyringFileAtStart(t *testing.T) {
	cfg := encryptedConfig(t, "dc1", "first", false, 0, key2)
	a, err := node.New(cfg, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	a.Shutdown()
	b, err := os.ReadFile(filepath.Join(cfg.DataDir, "serf", "local.keyring"))
	if err != nil || string(b) != `["`+key2+`"]` {
		t.Fatalf("local.keyring: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "serf", "remote.keyring")); !os.IsNotExist(err) {
		t.Errorf("a client wrote a WAN keyring (stat: %v)", err)
	}

	for _, bad := range []string{`[]`, `["not a key"]`, `{"k":1}`} {
		if err := os.WriteFile(filepath.Join(cfg.DataDir, "serf", "local.keyring"), []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		a, err := node.New(cfg, hclog.NewNullLogger())
		if err == nil {
			a.Shutdown()
			t.Fatalf("agent started on the keyring file %s", bad)
		}
		if msg := err.Error(); !strings.Contains(msg, "local.keyring") || strings.ContainsAny(msg, "\r\n") {
			t.Errorf("keyring file %s: error %q, want one line naming the file", bad, msg)
		}
	}

	mem := encryptedConfig(t, "dc1", "in-memory", false, 0, key2)
	mem.DisableKeyringFile = true
	a, err = node.New(mem, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown()
	if _, err := os.Stat(filepath.Join(mem.DataDir, "serf", "local.keyring")); !os.IsNotExist(err) {
		t.Errorf("disable_keyring_file still wrote a keyring (stat: %v)", err)
	}
	if st := a.Stats(context.Background())["serf_lan"]["encrypted"]; st != "true" {
		t.Errorf("serf_lan encrypted = %q with disable_keyring_file", st)
	}
}

// TestEncryptVerifyOffMigrates: with encrypt_verify_incoming and
// encrypt_verify_outgoing off, an agent holding the key still talks to
// unencrypted agents (the first step of moving a cluster to encryption,
// as in Consul), where the default settings refuse them.
func TestEncryptVerifyOffMigrates(t *testing.T) {
	plain := testcluster.Start(t, encryptedConfig(t, "dc1", "plain", true, 1, ""))
	strict := testcluster.Start(t, encryptedConfig(t, "dc1", "strict", false, 0, key1))
	if _, err := strict.Running.Agent.Join([]string{plain.SerfAddr()}, false); err == nil {
		t.Fatal("an agent verifying gossip joined an unencrypted one")
	}
	cfg := encryptedConfig(t, "dc1", "migrating", false, 0, key1)
	cfg.EncryptVerifyIncoming, cfg.EncryptVerifyOutgoing = false, false
	migrating := testcluster.Start(t, cfg)
	if _, err := migrating.Running.Agent.Join([]string{plain.SerfAddr()}, false); err != nil {
		t.Fatalf("join with encrypt_verify_* off: %v", err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		for _, a := range []*testcluster.Agent{plain, migrating} {
			alive := 0
			for _, m := range a.Running.Agent.Members(false) {
				if m.Status == 1 {
					alive++
				}
			}
			if alive != 2 {
				return fmt.Errorf("%s sees %d alive members, want 2", a.Name, alive)
			}
		}
		return nil
	})
}

// keyringGuard refuses keyring changes and hides nothing from lists,
// recording what it was asked.
type keyringGuard struct {
	mu   sync.Mutex
	seen []string
}

func (g *keyringGuard) AuthorizeWrite(_ context.Context, endpoint string, req any) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r, ok := req.(*node.KeyringRequest); ok {
		g.seen = append(g.seen, fmt.Sprintf("write %s %s", endpoint, r.Operation))
		return &node.PermissionDeniedError{}
	}
	return nil
}

func (g *keyringGuard) FilterRead(_ context.Context, endpoint string, req, resp any) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r, ok := req.(*node.KeyringRequest); ok {
		if _, ok := resp.(*node.KeyringResponses); ok {
			g.seen = append(g.seen, fmt.Sprintf("read %s %s", endpoint, r.Operation))
		}
	}
	return nil
}

// TestKeyringAsksTheAuthorizer: keyring changes go through the
// authorizer as writes, lists through its read filter, so access control
// can guard them (Consul's keyring rules).
func TestKeyringAsksTheAuthorizer(t *testing.T) {
	srv := testcluster.Start(t, encryptedConfig(t, "dc1", "guarded", true, 1, key1))
	g := &keyringGuard{}
	srv.Running.Agent.SetAuthorizer(g)
	ctx := context.Background()
	_, err := srv.Running.Agent.KeyringOperation(ctx, &node.KeyringRequest{Operation: node.KeyringInstall, Key: key2})
	var denied *node.PermissionDeniedError
	if !errors.As(err, &denied) {
		t.Fatalf("install under a refusing authorizer: %v", err)
	}
	if _, err := srv.Running.Agent.KeyringOperation(ctx, &node.KeyringRequest{Operation: node.KeyringList}); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	want := []string{"write Internal.KeyringOperation install", "read Internal.KeyringOperation list"}
	if !reflect.DeepEqual(g.seen, want) {
		t.Errorf("the authorizer saw %q, want %q", g.seen, want)
	}
}
