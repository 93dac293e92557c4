package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"consulx/api"
	"consulx/internal/testcluster"
)

// tmuxSession drives a real terminal: the console as an operator sees it.
type tmuxSession struct {
	t    *testing.T
	name string
}

func (s *tmuxSession) run(args ...string) (string, error) {
	out, err := exec.Command("tmux", args...).CombinedOutput()
	return string(out), err
}

func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	if out, err := s.run(append([]string{"send-keys", "-t", s.name}, keys...)...); err != nil {
		s.t.Fatalf("send-keys %v: %v %s", keys, err, out)
	}
}

func (s *tmuxSession) screen() string {
	out, _ := s.run("capture-pane", "-p", "-t", s.name)
	return out
}

// waitFor polls the screen until every want string is on it.
func (s *tmuxSession) waitFor(what string, want ...string) string {
	s.t.Helper()
	var scr string
	deadline := time.Now().Add(testcluster.Scaled(15 * time.Second))
	for time.Now().Before(deadline) {
		scr = s.screen()
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(scr, w)
		}
		if ok {
			return scr
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("%s: screen never showed %q:\n%s", what, want, scr)
	return ""
}

// devAgentInTmux starts `consulx agent -dev -node NODE` with its console
// on a 120x40 tmux terminal and returns the session and the agent's HTTP
// address; the test's cleanup kills both. (tmux must be there: callers
// skip without it.)
func devAgentInTmux(t *testing.T, session, nodeName string) (*tmuxSession, string) {
	t.Helper()
	bin := consulxBinary(t)
	p := testcluster.FreePorts(t, 5)
	s := &tmuxSession{t: t, name: fmt.Sprintf("%s-%d", session, os.Getpid())}
	// exec: the pane's process is the agent itself, so the cleanup can kill
	// it. kill-session alone only sends SIGHUP, which an agent takes as
	// "reload" and survives, leaking it when the test fails midway.
	cmdline := fmt.Sprintf("exec %s agent -dev -node %s -http-port %d -dns-port %d -serf-lan-port %d -serf-wan-port %d -server-port %d",
		bin, nodeName, p[0], p[1], p[2], p[3], p[4])
	if out, err := s.run("new-session", "-d", "-s", s.name, "-x", "120", "-y", "40", "env", "TERM=xterm-256color", "sh", "-c", cmdline); err != nil {
		t.Fatalf("tmux new-session: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := s.run("list-panes", "-t", s.name, "-F", "#{pane_pid}"); err == nil {
			var pid int
			if _, err := fmt.Sscan(strings.TrimSpace(out), &pid); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_, _ = s.run("kill-session", "-t", s.name)
	})
	return s, fmt.Sprintf("127.0.0.1:%d", p[0])
}

// TestConsoleInTmux runs `consulx agent -dev` on a 120x40 terminal: the
// node shows alive in Members, the KV pane shows a key written with the
// CLI, keys sent together in one send-keys (one terminal read, one
// Bubble Tea message) act one by one, ? shows help, and q then y stops
// the agent.
func TestConsoleInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the binary in tmux")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (.ci/run installs it)")
	}
	s, http := devAgentInTmux(t, "consulx-e2e", "tmuxnode")

	s.waitFor("members pane", "tmuxnode", "alive")
	for _, k := range []string{"tmux/hello", "tmux/a", "tmux/b", "tmux/c", "tmux/d", "tmux/service-x"} {
		testcluster.Eventually(t, 10*time.Second, func() error {
			if out, code := cli(t, http, "kv", "put", k, "world"); code != 0 {
				return fmt.Errorf("kv put: %s", out)
			}
			return nil
		})
	}
	s.keys("3")
	s.waitFor("KV pane", "tmux/")
	s.keys("Enter")
	s.waitFor("KV folder", "hello", "service-x", ">   a")
	s.keys("jjj") // one send-keys: the three j arrive together
	s.waitFor("jjj moved three rows", ">   d")
	s.keys("/ser") // typed fast: / opens the search, ser is its text
	s.waitFor("fast search", "search: ser", "1 of 6 keys", "> tmux/service-x")
	s.keys("Escape")
	s.keys("Escape")
	s.keys("?")
	s.waitFor("help", "quit")
	s.keys("Escape")
	s.keys("q")
	s.waitFor("quit confirmation", "y/N")
	s.keys("y")
	testcluster.Eventually(t, 15*time.Second, func() error {
		if _, err := s.run("has-session", "-t", s.name); err == nil {
			return fmt.Errorf("console still running:\n%s", s.screen())
		}
		return nil
	})
	if _, code := cli(t, http, "members"); code == 0 {
		t.Fatal("agent still answers after quitting its console")
	}
}

// TestConsoleSurvivesAgentRestart attaches `consulx tui` to a headless
// agent, kills the agent with SIGKILL, and restarts it: the console says
// the agent is unreachable, keeps running, and reconnects by itself.
func TestConsoleSurvivesAgentRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the binary in tmux")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (.ci/run installs it)")
	}
	bin := consulxBinary(t)
	p := testcluster.FreePorts(t, 5)
	args := []string{"agent", "-dev", "-headless", "-node", "restartee", "-http-port", fmt.Sprint(p[0]), "-dns-port", fmt.Sprint(p[1]),
		"-serf-lan-port", fmt.Sprint(p[2]), "-serf-wan-port", fmt.Sprint(p[3]), "-server-port", fmt.Sprint(p[4])}
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = cmd.Wait() }()
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		return cmd
	}
	agent := start()
	http := fmt.Sprintf("127.0.0.1:%d", p[0])
	testcluster.Eventually(t, 10*time.Second, func() error {
		if out, code := cli(t, http, "members"); code != 0 {
			return fmt.Errorf("agent not up: %s", out)
		}
		return nil
	})
	s := &tmuxSession{t: t, name: fmt.Sprintf("consulx-tui-%d", os.Getpid())}
	if out, err := s.run("new-session", "-d", "-s", s.name, "-x", "120", "-y", "40", "env", "TERM=xterm-256color", bin, "tui", "-http-addr", http); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	t.Cleanup(func() { _, _ = s.run("kill-session", "-t", s.name) })
	s.waitFor("attached", "restartee", "alive", "connected")
	_ = agent.Process.Kill()
	s.waitFor("agent gone", "unreachable")
	start()
	s.waitFor("reconnected", "restartee", "● connected")
	s.keys("C-c")
	testcluster.Eventually(t, 10*time.Second, func() error {
		if _, err := s.run("has-session", "-t", s.name); err == nil {
			return fmt.Errorf("console still running after ctrl+c")
		}
		return nil
	})
}

// TestConsoleExecAndEventsInTmux drives the Exec and Events panes of a
// `consulx agent -dev` console (remote exec is on for a loopback dev
// agent): a command composed, previewed, confirmed and streamed back with
// its exit code; R re-runs it on the failed node; a long job cancelled
// with x leaves no process behind; an event fired from the Events pane
// shows up in its list and through the CLI's API.
func TestConsoleExecAndEventsInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the binary in tmux")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (.ci/run installs it)")
	}
	s, http := devAgentInTmux(t, "consulx-exec", "tmuxexec")
	s.waitFor("members pane", "tmuxexec", "alive")

	s.keys("8")
	s.waitFor("exec pane", "Remote exec")
	s.keys("n")
	s.keys("echo hello-from-exec; exit 3")
	s.waitFor("preview", "1 of 1 alive node matches")
	s.keys("Enter")
	s.waitFor("confirm", `Run "echo hello-from-exec; exit 3" on 1 node? y/N`)
	s.keys("y")
	s.waitFor("result", "1 / 1 completed", "1 failed", "exit 3", "hello-from-exec")
	s.keys("R")
	s.waitFor("re-run confirm", "Re-run", "on 1 failed node? y/N")
	s.keys("y")
	s.waitFor("re-run result", "targets: node ^(tmuxexec)$", "1 / 1 completed", "exit 3")

	marker := filepath.Join(t.TempDir(), "pid")
	s.keys("n")
	s.keys("C-u")
	s.keys(fmt.Sprintf("echo $$ > %s; echo started; sleep 60", marker))
	s.keys("Enter")
	s.waitFor("confirm long job", "on 1 node? y/N")
	s.keys("y")
	s.waitFor("long job running", "running", "started")
	pid := waitPidFile(t, marker)
	s.keys("x")
	s.waitFor("cancelled", "cancelled")
	testcluster.Eventually(t, 10*time.Second, func() error {
		if syscall.Kill(pid, 0) == nil {
			return fmt.Errorf("the cancelled job's shell %d still runs", pid)
		}
		return nil
	})

	s.keys("7")
	s.waitFor("events pane", "newest first")
	s.keys("n")
	s.keys("deploy")
	s.keys("Tab")
	s.keys("v42")
	s.keys("Enter")
	s.waitFor("event fired", "Event ID", "deploy", "v42")
	evs, _, err := api.NewClient(http).EventList(t.Context(), "deploy", nil)
	if err != nil || len(evs) != 1 || string(evs[0].Payload) != "v42" {
		t.Fatalf("events the agent lists: %+v, %v", evs, err)
	}
}

// TestConsoleACLsInTmux runs `consulx tui` against a dev agent with ACLs
// on under default deny. With the initial management token (from
// CONSUL_HTTP_TOKEN) the header names it and the ACL pane lists the
// policies and tokens with every secret masked. With no token the console
// still opens (the anonymous token may not even read the agent), says it
// is the anonymous token, marks the KV listing as filtered, shows a KV
// write refused with the agent's reason, and says the token may not read
// ACLs. Only the management and anonymous tokens are used, so it needs no
// policy parsing.
func TestConsoleACLsInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the binary in tmux")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (.ci/run installs it)")
	}
	bin := consulxBinary(t)
	const mgmt = "3f1d6c2e-8a4b-4c5d-9e6f-7a8b9c0d1e2f"
	cfg := filepath.Join(t.TempDir(), "acl.json")
	conf := fmt.Sprintf(`{"acl": {"enabled": true, "default_policy": "deny", "tokens": {"initial_management": %q, "agent": %q}}}`, mgmt, mgmt)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testcluster.FreePorts(t, 5)
	agent := exec.Command(bin, "agent", "-dev", "-headless", "-node", "aclnode", "-config-file", cfg, "-http-port", fmt.Sprint(p[0]),
		"-dns-port", fmt.Sprint(p[1]), "-serf-lan-port", fmt.Sprint(p[2]), "-serf-wan-port", fmt.Sprint(p[3]), "-server-port", fmt.Sprint(p[4]))
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = agent.Wait() }()
	t.Cleanup(func() { _ = agent.Process.Kill() })
	http := fmt.Sprintf("127.0.0.1:%d", p[0])
	// A key the anonymous token may not see.
	testcluster.Eventually(t, 15*time.Second, func() error {
		if out, code := cli(t, http, "kv", "put", "-token", mgmt, "acl/secret", "x"); code != 0 {
			return fmt.Errorf("kv put: %s", out)
		}
		return nil
	})

	// open starts `consulx tui` in a fresh environment: only the token
	// given (none when empty) reaches it.
	open := func(name, token string) *tmuxSession {
		s := &tmuxSession{t: t, name: fmt.Sprintf("%s-%d", name, os.Getpid())}
		args := []string{"new-session", "-d", "-s", s.name, "-x", "140", "-y", "40", "env", "-u", "CONSUL_HTTP_TOKEN", "-u", "CONSULX_HTTP_TOKEN",
			"-u", "CONSUL_HTTP_TOKEN_FILE", "-u", "CONSULX_HTTP_TOKEN_FILE", "TERM=xterm-256color"}
		if token != "" {
			args = append(args, "CONSUL_HTTP_TOKEN="+token)
		}
		if out, err := s.run(append(args, bin, "tui", "-http-addr", http)...); err != nil {
			t.Fatalf("tmux: %v %s", err, out)
		}
		t.Cleanup(func() { _, _ = s.run("kill-session", "-t", s.name) })
		return s
	}

	s := open("consulx-acl-mgmt", mgmt)
	s.waitFor("management header", "token: Initial Management Token", "● connected", "aclnode")
	s.keys("9")
	scr := s.waitFor("ACL pane", "Policies (1)", "global-management", "Tokens (2)", "Anonymous Token", "Initial Management Token", "********")
	if strings.Contains(scr, mgmt) {
		t.Fatalf("a secret is on screen:\n%s", scr)
	}
	s.keys("C-c")

	a := open("consulx-acl-anon", "")
	a.waitFor("anonymous header", "token: anonymous", "● connected")
	a.keys("3")
	a.waitFor("filtered KV", "filtered by ACLs", "no key here that this token may read")
	a.keys("n")
	a.keys("app/x")
	a.keys("Enter")
	a.waitFor("value editor", `value of new key "app/x"`)
	a.keys("v")
	a.keys("C-s")
	a.waitFor("refused write", "Permission denied: anonymous token lacks permission 'key:write' on \"app/x\"")
	a.keys("Escape")
	a.keys("9")
	a.waitFor("ACL pane refused", "this token may not read ACLs (acl:read)")
	if out, code := cli(t, http, "kv", "get", "-token", mgmt, "app/x"); code == 0 {
		t.Fatalf("the refused write happened: %s", out)
	}
	a.keys("C-c")
}
