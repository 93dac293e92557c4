package tui

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"consulx/api"
)

// keyWriteDenied is the agent's refusal of a KV write of app/x.
var keyWriteDenied = denied("key:write", "app/x")

const keyWriteReason = `Permission denied: token with AccessorID 'e1a7c0de-0000-4000-8000-000000000001' lacks permission 'key:write' on "app/x"`

func TestErrText(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want string
	}{
		{keyWriteDenied, keyWriteReason},
		// The context a caller wrapped around it stays.
		{fmt.Errorf("service web: %w", denied("service:read", "web")), `service web: Permission denied: token with AccessorID 'e1a7c0de-0000-4000-8000-000000000001' lacks permission 'service:read' on "web"`},
		{errACLNotFound, "ACL not found"},
		// A remote agent's refusal relayed as a 500 is a refusal too.
		{&api.StatusError{Code: 500, Body: "Permission denied: anonymous token lacks permission 'node:write' on \"web-1\".\n"},
			`Permission denied: anonymous token lacks permission 'node:write' on "web-1".`},
		// Anything else is the error as it was.
		{&api.StatusError{Code: 500, Body: "No cluster leader"}, "Unexpected response code: 500 (No cluster leader)"},
		{errDown, errDown.Error()},
	} {
		if got := errText(c.err); got != c.want {
			t.Errorf("errText(%v) = %q, want %q", c.err, got, c.want)
		}
	}
	if !isDenied(keyWriteDenied) || isDenied(errDown) || isDenied(&api.StatusError{Code: 500, Body: "No cluster leader"}) {
		t.Fatal("isDenied")
	}
	if !permissionDenied(keyWriteDenied) || permissionDenied(errACLNotFound) || !aclNotFound(errACLNotFound) {
		t.Fatal("permissionDenied / aclNotFound")
	}
	if !aclsDisabled(&api.StatusError{Code: http.StatusUnauthorized, Body: "ACL support disabled"}) || aclsDisabled(errACLNotFound) || aclsDisabled(nil) {
		t.Fatal("aclsDisabled")
	}
}

func TestHeaderNamesTheToken(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, self string
		aclsOn     bool
		want       string
	}{
		{"described", "replication token", true, "token: replication token"},
		{"anonymous", "Anonymous Token", true, "token: anonymous"},
		{"unknown", "unknown", true, "token: not found (ACL not found)"},
		{"acls off", "", false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			if c.aclsOn {
				f.withACLs(c.self, false)
			}
			h := newHarness(t, f, Options{}).start()
			h.must("● connected")
			header := strings.SplitN(h.view(), "\n", 2)[0]
			switch {
			case c.want == "" && strings.Contains(header, "token"):
				t.Fatalf("header with ACLs off names a token: %q", header)
			case c.want != "" && !strings.Contains(header, c.want):
				t.Fatalf("header %q lacks %q", header, c.want)
			}
			h.mustNot("Unexpected response code", "last error") // quiet: no error line
			if c.want != "" && strings.Contains(h.footer(), "ACL") {
				t.Fatalf("footer: %q", h.footer())
			}
		})
	}
}

// clock is a settable time for the header's rereads.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) get() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestHeaderRereadsTheToken: the self read is cached; it is read again
// each minute, and soon (not at once) after the agent refuses something,
// so an operator who changed the token sees it.
func TestHeaderRereadsTheToken(t *testing.T) {
	t.Parallel()
	f := newFake().withACLs("replication token", false)
	f.putErr = map[string]error{"app/x": keyWriteDenied}
	h := newHarness(t, f, Options{})
	h.send(tea.WindowSizeMsg{Width: 200, Height: 30})
	c := &clock{now: fixedNow()}
	h.m.sh.now = c.get
	h.start()
	h.must("token: replication token")
	reads := f.selfReads()
	for range 5 {
		c.add(time.Second)
		h.send(tickMsg{})
	}
	if got := f.selfReads(); got != reads {
		t.Fatalf("%d self reads in 5 s of ticks", got-reads)
	}
	f.mu.Lock()
	f.acl.self.Description = "renamed token"
	f.mu.Unlock()
	c.add(tokenRefresh)
	h.send(tickMsg{})
	h.must("token: renamed token")

	// A refusal brings the next read forward to tokenRetry after the last.
	h.keys("3", "n")
	h.typeText("app/x")
	h.keys("enter")
	h.typeText("v")
	h.keys("ctrl+s")
	h.must(keyWriteReason)
	f.mu.Lock()
	f.acl.self.Description = "after the refusal"
	f.mu.Unlock()
	h.send(tickMsg{})
	h.mustNot("token: after the refusal") // not a poll: the last read was just now
	c.add(tokenRetry)
	h.send(tickMsg{})
	h.must("token: after the refusal")
}

// TestDeniedActionsShowTheReason: every refused action shows the agent's
// reason where the pane reports its outcome, never the bare status line.
func TestDeniedActionsShowTheReason(t *testing.T) {
	t.Parallel()
	t.Run("kv write", func(t *testing.T) {
		t.Parallel()
		f := newFake()
		f.putErr = map[string]error{"app/x": keyWriteDenied}
		h := newHarness(t, f, Options{}).start()
		h.send(tea.WindowSizeMsg{Width: 200, Height: 30})
		h.keys("3", "n")
		h.typeText("app/x")
		h.keys("enter")
		h.typeText("v")
		h.keys("ctrl+s")
		h.must(keyWriteReason)
		h.mustNot("Unexpected response code", "error: ")
		if f.get("app/x") != nil {
			t.Fatal("the refused key was written")
		}
	})
	t.Run("maintenance", func(t *testing.T) {
		t.Parallel()
		f := newFake()
		f.maintErr = denied("node:write", "web-1")
		h := newHarness(t, f, Options{}).start()
		h.send(tea.WindowSizeMsg{Width: 200, Height: 30})
		memberCursor(h, "web-1")
		h.keys("m", "enter", "y")
		h.must(`could not put node web-1 in maintenance: Permission denied: token with AccessorID`, `lacks permission 'node:write' on "web-1"`)
		h.mustNot("Unexpected response code")
	})
	t.Run("event fire", func(t *testing.T) {
		t.Parallel()
		f := newFake()
		f.fireErr = denied("event:write", "deploy")
		h := keepHarness(t, f, Options{})
		h.send(tea.WindowSizeMsg{Width: 200, Height: 30})
		h.keys("7", "n")
		h.typeText("deploy")
		h.keys("enter")
		h.awaitView(`fire "deploy": Permission denied: token with AccessorID`, `lacks permission 'event:write' on "deploy"`)
		h.mustNot("Unexpected response code")
	})
	t.Run("exec", func(t *testing.T) {
		t.Parallel()
		f := newFake()
		f.execErr = denied("agent:write", "node-a")
		h := execHarness(t, f)
		h.send(tea.WindowSizeMsg{Width: 200, Height: 30})
		compose(h, "uptime")
		h.keys("enter")
		h.must("y/N")
		h.keys("y")
		h.awaitView(`error: Permission denied: token with AccessorID`)
		h.must(`exec "uptime": Permission denied`)
		h.mustNot("Unexpected response code")
	})
}

// TestFilteredByACLsMarker: a list the token saw only in part says so,
// as a note in the pane (not an error), and only while it is so.
func TestFilteredByACLsMarker(t *testing.T) {
	t.Parallel()
	f := newFake()
	for _, r := range []string{"members", "kv", "services", "events"} {
		f.setFiltered(r, true)
	}
	h := keepHarness(t, f, Options{})
	for _, pane := range []string{"1", "3", "6", "7"} {
		h.keys(pane)
		h.awaitView("filtered by ACLs")
		h.mustNot("Unexpected response code", "last error")
	}
	// Instances hidden inside a visible service count too.
	f.setFiltered("services", false)
	f.setFiltered("health", true)
	h.keys("6")
	h.send(tickMsg{})
	h.must("3 services", "filtered by ACLs")
	f.setFiltered("health", false)
	h.send(tickMsg{})
	h.mustNot("filtered by ACLs")
	f.setFiltered("members", false)
	h.keys("1")
	h.send(tickMsg{})
	h.must("5 members")
	h.mustNot("filtered by ACLs")
}

// TestConsoleWithoutAgentRead: a token that may not read the agent itself
// (agent:read) still gets a console: connected, the panes that need less
// work, and the Raft pane says why its counters are missing.
func TestConsoleWithoutAgentRead(t *testing.T) {
	t.Parallel()
	f := newFake().withACLs("Anonymous Token", false)
	f.selfErr = denied("agent:read", "node-a")
	h := newHarness(t, f, Options{}).start()
	h.must("● connected", "token: anonymous", "node-c")
	h.mustNot("unreachable", "last error")
	h.keys("4")
	h.must("Raft counters: Permission denied: token with AccessorID", "Leader: node-a")
	h.mustNot("This agent is not a server")
}

func aclHarness(t *testing.T, f *fakeSource) *harness {
	t.Helper()
	h := newHarness(t, f, Options{}).start()
	h.keys("9")
	return h
}

func TestACLPaneListsWithMaskedSecrets(t *testing.T) {
	t.Parallel()
	f := newFake().withACLs("Initial Management Token", true)
	h := aclHarness(t, f)
	h.send(tea.WindowSizeMsg{Width: 120, Height: 30})
	h.must(" 9 ACL ", "Policies (2)", "Tokens (3) · secrets masked",
		"  NAME               DESCRIPTION                                  ID",
		"> global-management  Builtin Policy that grants unlimited access  00000000-0000-0000-0000-000000000001",
		"  replication        acl read, service and key read               9d3c6e1a-2f4b-4c8d-9e0f-1a2b3c4d5e6f",
		"  DESCRIPTION               ACCESSOR ID                           POLICIES           LOCAL  SECRET",
		"  replication token         7b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f  replication        true   ********",
		"policy global-management · ID 00000000-0000-0000-0000-000000000001 · all datacenters")
	secrets := []string{"11111111-2222-4333-8444-555555555555", "a9b8c7d6-e5f4-4321-8fed-cba987654321"}
	h.mustNot(secrets...)
	h.footerHas("v show/hide secret")

	h.keys("v") // on a policy
	h.must("v shows a token's SecretID: move to a token")
	h.keys("j")
	h.must("policy replication · ID 9d3c6e1a-2f4b-4c8d-9e0f-1a2b3c4d5e6f · datacenters dc1")
	h.keys("j", "j", "j")
	h.must("> replication token", "token 7b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f · SecretID ******** (v shows it)")
	h.keys("v")
	h.must("> replication token         7b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f  replication        true   a9b8c7d6-e5f4",
		"SecretID a9b8c7d6-e5f4-4321-8fed-cba987654321 · token 7b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f (v or moving hides it)")
	h.mustNot(secrets[0]) // only the selected token's
	h.send(tickMsg{})     // a refresh keeps it on its row
	h.must(secrets[1])
	h.keys("k") // moving masks it again
	h.mustNot(secrets...)
	h.keys("j", "v", "v")
	h.mustNot(secrets...)
}

// TestACLPaneSecretsHiddenWithoutACLWrite: the agent lists "<hidden>" for
// a token without acl:write; v says so instead of showing it.
func TestACLPaneSecretsHiddenWithoutACLWrite(t *testing.T) {
	t.Parallel()
	f := newFake().withACLs("replication token", false)
	h := aclHarness(t, f)
	h.must("Tokens (3)")
	h.keys("G", "v")
	h.must("the agent hides SecretIDs from tokens without acl:write")
	h.mustNot(hiddenSecret, "a9b8c7d6")
}

func TestACLPaneRefusalsAndACLsOff(t *testing.T) {
	t.Parallel()
	t.Run("no acl:read", func(t *testing.T) {
		t.Parallel()
		f := newFake().withACLs("replication token", false)
		f.acl.listErr = denied("acl:read", "")
		h := aclHarness(t, f)
		h.send(tea.WindowSizeMsg{Width: 200, Height: 30})
		h.must("this token may not read ACLs (acl:read)", "lacks permission 'acl:read'")
		h.mustNot("Unexpected response code", "Policies (")
		if strings.Contains(h.footer(), "Permission denied") {
			t.Fatalf("the refusal is an error in the footer: %q", h.footer())
		}
	})
	t.Run("acls off", func(t *testing.T) {
		t.Parallel()
		h := aclHarness(t, newFake())
		h.must("ACLs are not enabled on this agent")
		h.mustNot("Policies (", "ACL not found")
	})
	t.Run("unknown token", func(t *testing.T) {
		t.Parallel()
		h := aclHarness(t, newFake().withACLs("unknown", false))
		h.must("the agent does not know this console's token (ACL not found)")
	})
	t.Run("agent down keeps the lists", func(t *testing.T) {
		t.Parallel()
		f := newFake().withACLs("Initial Management Token", true)
		h := aclHarness(t, f)
		h.must("Policies (2)")
		f.setDown(true)
		h.keys("r")
		h.must("Policies (2)", "(stale: Get ")
	})
}

// TestACLPaneScrollsBothLists: long lists share the body, each keeping
// the cursor's row on screen.
func TestACLPaneScrollsBothLists(t *testing.T) {
	t.Parallel()
	f := newFake().withACLs("Initial Management Token", true)
	f.mu.Lock()
	for i := range 40 {
		f.acl.policies = append(f.acl.policies, &api.ACLPolicyListEntry{ID: fmt.Sprintf("p-%02d", i), Name: fmt.Sprintf("policy-%02d", i)})
		f.acl.tokens = append(f.acl.tokens, &api.ACLTokenListEntry{AccessorID: fmt.Sprintf("t-%02d", i), SecretID: "s", Description: fmt.Sprintf("token-%02d", i)})
	}
	f.mu.Unlock()
	h := aclHarness(t, f)
	h.must("Policies (42)", "Tokens (43)", "> global-management")
	for range 41 {
		h.keys("j")
	}
	h.must("> policy-39", "Tokens (43)")
	h.keys("j", "j", "j", "j")
	h.must("> token-00", "policy-39") // the policies keep their window
	h.keys("G")
	h.must("> token-39")
	if n := len(strings.Split(h.view(), "\n")); n != 30 {
		t.Fatalf("%d lines", n)
	}
}

func TestGoldenACL(t *testing.T) {
	f := newFake().withACLs("Initial Management Token", true)
	// The header's self read is in the golden: wait for it with the members.
	runGoldenReady(t, f, Options{Addr: "http://127.0.0.1:8500"}, []string{"node-c", "token: Initial Management Token"}, func(tm *teatest.TestModel) {
		tm.Send(keyMsg("9"))
		waitFor(t, tm, "replication token")
		tm.Send(keyMsg("G"))
		tm.Send(keyMsg("v"))
		waitFor(t, tm, "a9b8c7d6-e5f4-4321-8fed-cba987654321")
	})
}

// TestFilteredEmptyListsAreNotEmpty: a list ACLs emptied says that the
// token may read nothing there, not that there is nothing.
func TestFilteredEmptyListsAreNotEmpty(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.lan, f.kv, f.keys, f.instances = nil, map[string]*api.KVPair{}, nil, nil
	for _, r := range []string{"members", "kv", "services"} {
		f.setFiltered(r, true)
	}
	h := newHarness(t, f, Options{}).start()
	h.must("no member this token may read (node:read)", "filtered by ACLs")
	h.keys("3")
	h.must("no key here that this token may read", "filtered by ACLs")
	h.mustNot("the KV store is empty")
	h.keys("6")
	h.must("no service this token may read (service:read)")
	h.mustNot("no services registered")
}
