package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"consulx/api"
	"consulx/internal/testcluster"
)

// buildBinary builds consulx once per test binary, the way the README says.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func consulxBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "consulx-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "consulx")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is one agent process.
type proc struct {
	name    string
	args    []string
	http    string
	serf    string
	server  string
	cmd     *exec.Cmd
	logPath string
}

func startProc(t *testing.T, p *proc) {
	t.Helper()
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(consulxBinary(t), p.args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); f.Close() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(p.logPath)
			lines := strings.Split(string(b), "\n")
			if len(lines) > 40 {
				lines = lines[len(lines)-40:]
			}
			t.Logf("%s log tail:\n%s", p.name, strings.Join(lines, "\n"))
		}
	})
}

func newProc(t *testing.T, name string, server bool, expect int, join string) *proc {
	ports := testcluster.FreePorts(t, 5)
	dir := t.TempDir()
	p := &proc{
		name:    name,
		http:    fmt.Sprintf("127.0.0.1:%d", ports[0]),
		serf:    fmt.Sprintf("127.0.0.1:%d", ports[2]),
		server:  fmt.Sprintf("127.0.0.1:%d", ports[4]),
		logPath: filepath.Join(dir, "agent.log"),
	}
	p.args = []string{"agent", "-headless", "-node", name, "-bind", "127.0.0.1", "-data-dir", filepath.Join(dir, "data"),
		"-http-port", fmt.Sprint(ports[0]), "-dns-port", fmt.Sprint(ports[1]), "-serf-lan-port", fmt.Sprint(ports[2]),
		"-serf-wan-port", fmt.Sprint(ports[3]), "-server-port", fmt.Sprint(ports[4]), "-retry-interval", "200ms"}
	if server {
		p.args = append(p.args, "-server", "-bootstrap-expect", fmt.Sprint(expect))
	}
	if join != "" {
		p.args = append(p.args, "-retry-join", join)
	}
	return p
}

// cli runs the built binary as an operator would and returns its output.
func cli(t *testing.T, httpAddr string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(consulxBinary(t), args...)
	cmd.Env = append(os.Environ(), "CONSUL_HTTP_ADDR="+httpAddr)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

// TestBinaryClusterSurvivesKill9 runs the built binary the way the README
// does: three servers and a client as separate processes. The leader is
// killed with SIGKILL mid-write; every acknowledged write must survive, the
// cluster must keep taking writes, and the killed server must come back
// from its data_dir with the data.
func TestBinaryClusterSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s1 := newProc(t, "srv1", true, 3, "")
	s2 := newProc(t, "srv2", true, 3, s1.serf)
	s3 := newProc(t, "srv3", true, 3, s1.serf)
	c1 := newProc(t, "cli1", false, 0, s1.serf)
	procs := []*proc{s1, s2, s3, c1}
	for _, p := range procs {
		startProc(t, p)
	}
	// Wait for a leader, as an operator would: with the CLI.
	testcluster.Eventually(t, 20*time.Second, func() error {
		out, code := cli(t, c1.http, "operator", "raft", "list-peers")
		if code != 0 || strings.Count(out, "leader") != 1 || strings.Count(out, "follower") != 2 {
			return fmt.Errorf("list-peers (exit %d):\n%s", code, out)
		}
		return nil
	})
	// Raft can agree before gossip has told the client about every server.
	testcluster.Eventually(t, 10*time.Second, func() error {
		out, code := cli(t, c1.http, "members")
		if code != 0 || strings.Count(out, "alive") != 4 {
			return fmt.Errorf("members (exit %d):\n%s", code, out)
		}
		return nil
	})
	if out, code := cli(t, c1.http, "kv", "put", "app/config", "v1"); code != 0 || out != "Success! Data written to: app/config\n" {
		t.Fatalf("kv put: %d %q", code, out)
	}

	client := api.NewClient(c1.http)
	ctx := context.Background()
	leaderAddr, err := client.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var leader *proc
	for _, p := range procs {
		if p.server == leaderAddr {
			leader = p
		}
	}
	if leader == nil {
		t.Fatalf("leader %s is none of our servers", leaderAddr)
	}

	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("acked/%d/%d", w, i)
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				ok, err := client.KVPut(cctx, &api.KVPair{Key: key, Value: []byte(key)}, nil)
				cancel()
				if err == nil && ok {
					mu.Lock()
					acked = append(acked, key)
					mu.Unlock()
				}
			}
		}(w)
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	testcluster.Eventually(t, 10*time.Second, func() error {
		if count() < 100 {
			return fmt.Errorf("%d writes", count())
		}
		return nil
	})
	if err := leader.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	atKill := count()
	testcluster.Eventually(t, 15*time.Second, func() error {
		if count() < atKill+100 {
			return fmt.Errorf("writes stalled at %d after kill -9 of the leader", count())
		}
		return nil
	})
	close(stop)
	wg.Wait()

	// Every acknowledged write is there, read linearizably.
	pairs, _, err := client.KVList(ctx, "acked/", &api.QueryOptions{Consistent: true})
	if err != nil {
		t.Fatal(err)
	}
	have := make(map[string]bool, len(pairs))
	for _, p := range pairs {
		have[p.Key] = true
	}
	for _, k := range acked {
		if !have[k] {
			t.Fatalf("acknowledged write %s lost after kill -9 of the leader (%d acked)", k, len(acked))
		}
	}
	t.Logf("%d acknowledged writes, none lost across kill -9 of %s", len(acked), leader.name)

	// The killed server restarts from its data_dir and catches up.
	startProc(t, leader)
	lc := api.NewClient(leader.http)
	testcluster.Eventually(t, 20*time.Second, func() error {
		got, _, err := lc.KVList(ctx, "acked/", &api.QueryOptions{Stale: true})
		if err != nil {
			return err
		}
		if len(got) < len(acked) {
			return fmt.Errorf("restarted %s has %d of %d keys", leader.name, len(got), len(acked))
		}
		return nil
	})
	testcluster.Eventually(t, 10*time.Second, func() error {
		if out, _ := cli(t, c1.http, "members"); strings.Count(out, "alive") != 4 {
			return fmt.Errorf("after restart, members:\n%s", out)
		}
		return nil
	})
}

// TestReloadConfigServices: services from -config-dir are registered at
// start and replaced on SIGHUP and `consulx reload`; a broken file is
// refused with one line and changes nothing.
func TestReloadConfigServices(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	dir := t.TempDir()
	write := func(body string) {
		if err := os.WriteFile(filepath.Join(dir, "svc.json"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"service": {"name": "web", "tags": ["v1"], "port": 80}}`)
	p := newProc(t, "reloader", true, 1, "")
	p.args = append(p.args, "-config-dir", dir)
	startProc(t, p)
	services := func() string {
		out, code := cli(t, p.http, "catalog", "services", "-tags")
		if code != 0 {
			return "error: " + out
		}
		return out
	}
	testcluster.Eventually(t, 15*time.Second, func() error {
		if s := services(); !strings.Contains(s, "web") || !strings.Contains(s, "v1") {
			return fmt.Errorf("catalog services:\n%s", s)
		}
		return nil
	})
	write(`{"services": [{"name": "api", "port": 81}]}`)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		if s := services(); !strings.Contains(s, "api") || strings.Contains(s, "web") {
			return fmt.Errorf("after SIGHUP:\n%s", s)
		}
		return nil
	})
	write(`{"services": [{"name": "api", "port": 81}], "bogus_key": 1}`)
	out, code := cli(t, p.http, "reload")
	if code != 1 || !strings.Contains(out, `unknown key "bogus_key"`) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("reload of a broken file: exit %d %q", code, out)
	}
	if s := services(); !strings.Contains(s, "api") {
		t.Fatalf("a refused reload changed the services:\n%s", s)
	}
	write(`{"service": {"name": "db", "port": 5432}}`)
	if out, code := cli(t, p.http, "reload"); code != 0 || out != "Configuration reload triggered\n" {
		t.Fatalf("reload: %d %q", code, out)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		if s := services(); !strings.Contains(s, "db") || strings.Contains(s, "api") {
			return fmt.Errorf("after consulx reload:\n%s", s)
		}
		return nil
	})
}
