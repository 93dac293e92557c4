package tui

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"consulx/api"
)

// footer is the last line of the view: the keys that work now.
func (h *harness) footer() string {
	v := h.view()
	return v[strings.LastIndexByte(v, '\n')+1:]
}

func (h *harness) footerHas(want ...string) {
	h.t.Helper()
	f := h.footer()
	for _, w := range want {
		if !strings.Contains(f, w) {
			h.t.Fatalf("footer lacks %q: %q", w, f)
		}
	}
}

func (h *harness) footerLacks(bad ...string) {
	h.t.Helper()
	f := h.footer()
	for _, w := range bad {
		if strings.Contains(f, w) {
			h.t.Fatalf("footer has %q: %q", w, f)
		}
	}
}

// instanceCursor opens service svc and moves to the instance with id on node.
func instanceCursor(h *harness, svc, node, id string) {
	h.t.Helper()
	h.keys("6", "esc", "g")
	for range 10 {
		if strings.Contains(h.view(), "> "+svc+" ") {
			break
		}
		h.keys("j")
	}
	h.keys("enter")
	for range 10 {
		if strings.Contains(h.view(), "Checks of "+id+" on "+node) {
			return
		}
		h.keys("j")
	}
	h.t.Fatalf("no instance %s on %s:\n%s", id, node, h.view())
}

func TestServiceMaintenanceOfferedOnlyWhereItWorks(t *testing.T) {
	t.Parallel()
	f := newFake()
	// An instance registered through the catalog API: its node has no
	// agent, so no serfHealth check.
	var ext api.ServiceEntry
	ext.Node = api.CatalogNode{Node: "ext-db", Address: "10.0.0.9"}
	ext.Service.ID, ext.Service.Service, ext.Service.Port = "db-ext", "db", 5432
	f.instances = append(f.instances, ext)
	h := newHarness(t, f, Options{}).start()
	h.keys("6")
	h.must("3 services · 8 instances")

	for _, c := range []struct{ svc, node, id, why string }{
		{"consul", "node-a", "consul", "consul is the servers' own service: use m on node node-a in pane 1"},
		{"web", "node-c", "web-c", "the agent of node-c is not reachable"},
		{"db", "ext-db", "db-ext", "node ext-db has no agent in this cluster"},
	} {
		instanceCursor(h, c.svc, c.node, c.id)
		h.footerLacks("maintenance")
		h.keys("m")
		h.must(c.why)
		h.mustNot("reason:", "y/N")
	}
	// Where it works, it is offered.
	instanceCursor(h, "web", "node-b", "web-b")
	h.footerHas("m maintenance")
	h.keys("m")
	h.must("Put service web-b (web) on node-b in maintenance", "reason:")
	h.keys("esc")
	if c := f.calls(); len(c) != 0 {
		t.Fatalf("maintenance calls %v", c)
	}
}

func TestMemberMaintenanceOnlyOnAliveMembers(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := newHarness(t, f, Options{}).start()
	for _, node := range []string{"node-c", "web-2"} { // failed, left
		memberCursor(h, node)
		h.footerLacks("maintenance")
		h.keys("m")
		h.must("node " + node + " is ")
		h.mustNot("reason:")
	}
	memberCursor(h, "node-b")
	h.footerHas("m maintenance")
	if c := f.calls(); len(c) != 0 {
		t.Fatalf("maintenance calls %v", c)
	}
}

func TestServiceMaintenanceNotFoundIsExplained(t *testing.T) {
	t.Parallel()
	for _, code := range []int{404, 500} { // the local agent says 404; a remote one's refusal comes back as 500
		f := newFake()
		f.maintErr = &api.StatusError{Code: code, Body: `No service registered with ID "web-b"`}
		h := servicesHarness(t, f, Options{})
		instanceCursor(h, "web", "node-b", "web-b")
		h.keys("m", "enter", "y")
		h.must(`service web-b (web) on node-b: not registered on its agent (catalog only); maintenance unchanged`)
		h.mustNot("Unexpected response code")
	}
}

func TestKVDeleteTreeOnAKeyDeletesOnlyThatKey(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.putLocked("app/blob", []byte("b"))
	f.putLocked("app/blobby", []byte("bb"))
	h := newHarness(t, f, Options{}).start()
	h.keys("3", "enter") // app/
	h.must("  blob", "  blobby")
	for !strings.Contains(h.view(), ">   blob\n") {
		h.keys("j")
	}
	h.keys("D")
	h.must(`Delete key "app/blob"? y/N`)
	h.keys("y")
	if len(f.deletedTrees) != 0 || !slices.Equal(f.deleted, []string{"app/blob"}) {
		t.Fatalf("deleted %v, trees %v", f.deleted, f.deletedTrees)
	}
	if f.get("app/blobby") == nil {
		t.Fatal("app/blobby was deleted with app/blob")
	}
}

func TestKVDeleteTreeOnAFolderNamesItsKeys(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.putLocked("app/blob/x", []byte("1"))
	f.putLocked("app/blobby", []byte("2"))
	f.putLocked("app/zz", []byte("3"))
	h := newHarness(t, f, Options{}).start()
	h.keys("3", "enter")
	for !strings.Contains(h.view(), "> ▸ blob/") {
		h.keys("j")
	}
	h.keys("D")
	h.must(`Delete 1 key under prefix "app/blob/"? y/N`, "  app/blob/x")
	h.keys("y")
	if !slices.Equal(f.deletedTrees, []string{"app/blob/"}) || f.get("app/blobby") == nil {
		t.Fatalf("trees %v, blobby %v", f.deletedTrees, f.get("app/blobby"))
	}

	// Many keys: the first few, then how many more.
	h.keys("esc", "g", "D")
	h.must(`Delete 6 keys under prefix "app/"? y/N`, "  app/blobby", "  app/config.json", "  app/db/password", "… and 1 more")
	h.keys("n")
	h.mustNot("y/N")
}

func TestKVSearchResultEscReturnsToResults(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	h.keys("/")
	h.typeText("a")
	h.footerHas("↑/↓ select", "enter open", "esc close search")
	h.footerLacks("↓/j", "↑/k")
	h.must("> app/config.json")
	h.keys("enter")
	h.must(`  "port": 8080`)
	h.keys("esc")
	// The results, with the box blurred: j moves, it is no text.
	h.footerHas("↓/j down", "/ edit search")
	h.typeText("j")
	h.must("search: a ", "> app/db/password")
	if got := h.m.kv().search.Value(); got != "a" {
		t.Fatalf("j was typed into the search box: %q", got)
	}
	h.keys("enter")
	h.must("hunter2")
	h.keys("esc", "/") // back into the box to refine
	h.typeText("pp/n")
	h.must("search: app/n", "> app/name")
	h.keys("esc")
	h.must("▸ app/")
}

func TestFooterShowsOnlyWorkingKeys(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := newHarness(t, f, Options{}).start()
	memberCursor(h, "web-1")
	h.keys("m")
	h.footerHas("enter next", "esc cancel")
	h.footerLacks("enter open")
	h.keys("enter")
	h.footerHas("y confirm", "other keys cancel")
	h.keys("n", "/")
	h.footerHas("↑/↓ select", "enter keep filter", "esc clear filter")
	h.footerLacks("enter open", "↓/j")
	h.keys("esc", "3", "n")
	h.footerHas("enter next")
	h.footerLacks("enter open")
	h.keys("esc", "?")
	h.footerHas("?/esc close")
	h.footerLacks("/ search", "n new")
}

func TestHelpNamesKVSearchAndFits80x24(t *testing.T) {
	t.Parallel()
	h := newHarness(t, newFake(), Options{})
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.keys("?")
	v := h.view()
	h.must("search all keys", "D  delete prefix", "Dialogs and editors", "ctrl+s  save", "y       confirm", "Services", "Log")
	lines := strings.Split(v, "\n")
	if len(lines) != 24 {
		t.Fatalf("%d lines at 80x24", len(lines))
	}
	for _, l := range lines {
		if w := lipgloss.Width(l); w > 80 {
			t.Fatalf("line of %d columns at 80x24: %q", w, l)
		}
	}
}

// TestHelpScrollsWhenItDoesNotFit: on a terminal too small for every key,
// j/k scroll the overlay and every binding can be reached.
func TestHelpScrollsWhenItDoesNotFit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, newFake(), Options{})
	h.send(tea.WindowSizeMsg{Width: 50, Height: 16})
	h.keys("?")
	h.must("1-10 of 32 · j/k scroll")
	seen := h.view()
	for range 60 {
		h.keys("j")
		seen += h.view()
		for _, l := range strings.Split(h.view(), "\n") {
			if w := lipgloss.Width(l); w > 50 {
				t.Fatalf("line of %d columns at width 50: %q", w, l)
			}
		}
	}
	for _, g := range h.m.sh.keys.groups() {
		if !strings.Contains(seen, g.name) {
			t.Fatalf("group %q never shown", g.name)
		}
		for _, k := range g.keys {
			if !strings.Contains(seen, k.desc()) {
				t.Fatalf("%s %q never shown", k.b.Help().Key, k.desc())
			}
		}
	}
	h.keys("q")
	if !h.quit {
		t.Fatal("q in the help did not quit")
	}
}

func TestLongLogLinesWrap(t *testing.T) {
	t.Parallel()
	f := newFake()
	long := "2026-01-02T03:04:05.500Z [WARN]  agent: " + strings.Repeat("word ", 40) + "END-OF-LINE"
	f.logs = append(f.logs, long)
	h := newHarness(t, f, Options{}).start()
	h.send(tea.WindowSizeMsg{Width: 80, Height: 30})
	h.keys("5")
	h.must("END-OF-LINE")
	for _, l := range strings.Split(h.view(), "\n") {
		if w := lipgloss.Width(l); w > 80 {
			t.Fatalf("line of %d columns at width 80: %q", w, l)
		}
	}
	if n := strings.Count(h.view(), "word"); n != 40 {
		t.Fatalf("%d of 40 words shown", n)
	}
}

func TestLongOneLineValueWraps(t *testing.T) {
	t.Parallel()
	f := newFake()
	v := strings.Repeat("0123456789", 25) + "<end>" // 255 bytes, one line, no spaces
	f.putLocked("long", []byte(v))
	h := newHarness(t, f, Options{}).start()
	h.send(tea.WindowSizeMsg{Width: 80, Height: 30})
	h.keys("3")
	for !strings.Contains(h.view(), ">   long") {
		h.keys("j")
	}
	h.keys("enter")
	var joined strings.Builder
	for _, l := range strings.Split(h.view(), "\n") {
		if w := lipgloss.Width(l); w > 80 {
			t.Fatalf("line of %d columns at width 80: %q", w, l)
		}
		if strings.HasPrefix(l, "0123") || strings.HasSuffix(l, "<end>") {
			joined.WriteString(l)
		}
	}
	if !strings.Contains(joined.String(), v) {
		t.Fatalf("value not shown whole; got %q", joined.String())
	}
}

func TestSelectedRowKeepsStatusColour(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := newHarness(t, f, Options{})
	h.send(membersOf(f))
	memberCursor(h, "node-c") // failed
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.ANSI256)
	st := newStyles(r)
	h.m.sh.st = st
	want := st.Bad.Inherit(st.Selected).Render("failed")
	line := ""
	for _, l := range strings.Split(h.view(), "\n") {
		if strings.Contains(l, "node-c") {
			line = l
		}
	}
	if !strings.Contains(line, want) {
		t.Fatalf("selected row lacks the red status %q:\n%q", want, line)
	}
	// The services list and the instances too.
	h.keys("6")
	h.send(tickMsg{})
	h.keys("G", "enter", "j") // web, web-c (critical)
	found := false
	for _, l := range strings.Split(h.view(), "\n") {
		if strings.Contains(l, "web-c") && strings.Contains(l, st.Bad.Inherit(st.Selected).Render("critical")) {
			found = true
		}
	}
	if !found {
		t.Fatalf("selected instance lost its colour:\n%q", h.view())
	}
}

func TestQuitConfirmationIsADialog(t *testing.T) {
	t.Parallel()
	h := newHarness(t, newFake(), Options{Embedded: true}).start()
	h.keys("q")
	h.must("┌", "│ Quit and stop the agent (graceful leave)? y/N", "y confirms · any other key cancels", "5 members")
	h.footerHas("y quit", "other keys cancel")
	h.keys("x")
	h.mustNot("Quit and stop")
	h.must("quit cancelled")
	if h.quit {
		t.Fatal("x quit")
	}
	h.keys("?", "q") // from the help too
	h.must("│ Quit and stop the agent (graceful leave)? y/N")
	h.keys("y")
	if !h.quit {
		t.Fatal("y did not quit")
	}
}

func TestHeaderNamesTheLeader(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := newHarness(t, f, Options{}).start()
	h.must("leader node-a  ●")
	h.mustNot("leader 127.0.0.1")
	h.keys("4")
	h.must("Leader: node-a (127.0.0.1:8300)")
	// Not in the configuration (yet): the address, rather than nothing.
	f.mu.Lock()
	f.leader = "127.0.0.9:8300"
	f.mu.Unlock()
	h.send(tickMsg{})
	h.must("leader 127.0.0.9:8300  ●", fmt.Sprintf("leader changed: node-a (127.0.0.1:8300) -> %s", "127.0.0.9:8300"))
}
