package tui

import (
	"slices"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"consulx/api"
)

func servicesHarness(t *testing.T, f *fakeSource, opts Options) *harness {
	t.Helper()
	h := newHarness(t, f, opts).start()
	h.keys("6")
	h.must("3 services · 7 instances")
	return h
}

func (f *fakeSource) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.maintCalls)
}

func TestServicesListCountsAndHealth(t *testing.T) {
	t.Parallel()
	h := servicesHarness(t, newFake(), Options{})
	h.must(
		" 6 Services ",
		"3 services · 7 instances: 4 passing, 1 warning, 2 critical",
		"  SERVICE  INSTANCES  PASSING  WARNING  CRITICAL  TAGS",
		"> consul   3          2        0        1",
		"  db       1          1        0        0         primary",
		"  web      3          1        1        1         primary,v1,v2",
	)
	if strings.Contains(h.view(), "\x1b[") {
		t.Fatalf("colour escape in view with the Ascii profile:\n%q", h.view())
	}
}

func TestServicesLiveRefresh(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := servicesHarness(t, f, Options{})
	f.mu.Lock()
	var e api.ServiceEntry
	e.Node = api.CatalogNode{Node: "web-1", Address: "127.0.0.4"}
	e.Service.ID, e.Service.Service, e.Service.Port = "cache", "cache", 6379
	f.instances = append(f.instances, e)
	f.mu.Unlock()
	h.send(tickMsg{})
	h.must("4 services · 8 instances: 5 passing", "  cache    1          1        0        0")
}

func TestServicesDrillDown(t *testing.T) {
	t.Parallel()
	h := servicesHarness(t, newFake(), Options{})
	h.send(tea.WindowSizeMsg{Width: 120, Height: 30})
	h.keys("G", "enter") // web
	h.must(
		"services / web  3 instances: 1 passing, 1 warning, 1 critical",
		"  NODE    ID     ADDRESS         STATUS    TAGS",
		"> node-b  web-b  127.0.0.2:8081  warning   v1",
		"  node-c  web-c  127.0.0.3:8082  critical  v2",
		"  web-1   web    127.0.0.4:8080  passing   primary,v1",
		"Checks of web-b on node-b (2)",
		// worst first; multi-line output folded onto one line
		"  warning   Service 'web' check        HTTP GET http://127.0.0.2:8081/health: 429 Too Many Requests retry later",
		"  passing   Serf Health Status (node)  Agent alive and reachable",
	)
	h.mustNot("SERVICE  INSTANCES")
	h.keys("j")
	h.must("Checks of web-c on node-c (2)", "critical  Service 'web' check        dial tcp 127.0.0.3:8082: connect: connection refused",
		"critical  Serf Health Status (node)  Agent not live or unreachable")
	h.keys("j")
	h.must("Checks of web on web-1", "HTTP GET http://127.0.0.4:8080/health: 200 OK Output: ok")

	// Output is cut to the width.
	h.send(tea.WindowSizeMsg{Width: 60, Height: 30})
	h.must("  passing   Service 'web' check        HTTP GET http://127.…")
	for _, l := range strings.Split(h.view(), "\n") {
		if w := textWidth(l); w > 60 {
			t.Fatalf("line wider than 60 (%d): %q", w, l)
		}
	}
	h.send(tea.WindowSizeMsg{Width: 100, Height: 30})

	h.keys("esc")
	h.must("> web      3", "3 services")
	h.mustNot("services / web")
}

func TestServicesFilter(t *testing.T) {
	t.Parallel()
	h := servicesHarness(t, newFake(), Options{})
	h.keys("/")
	h.typeText("primary") // tags match too
	h.must("db ", "web ", "2 of 3")
	h.mustNot("consul ")
	h.keys("backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace")
	h.typeText("we")
	h.must("> web", "1 of 3")
	h.mustNot("db ", "consul ")
	h.typeText("q") // a q in the filter is a q
	if h.quit {
		t.Fatal("q in the filter quit")
	}
	h.must("no services match")
	h.keys("backspace", "enter") // keep the filter
	h.must("/we", "> web")
	h.keys("enter")
	h.must("services / web")
	h.keys("esc", "esc") // back, then clear the filter
	h.must("consul ", "db ", "web ")
	h.mustNot("of 3")
}

// memberCursor moves the Members cursor to node (sorted by name).
func memberCursor(h *harness, node string) {
	h.t.Helper()
	h.keys("g")
	for range 10 {
		if strings.Contains(h.view(), "> "+node+" ") {
			return
		}
		h.keys("j")
	}
	h.t.Fatalf("no member %s:\n%s", node, h.view())
}

func TestMemberMaintenanceAsksReasonThenConfirms(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := newHarness(t, f, Options{}).start()
	h.must("m maintenance")
	memberCursor(h, "web-1")

	// n at the confirmation cancels; so does esc in the reason.
	h.keys("m")
	h.must("Put node web-1 in maintenance", "reason: ")
	h.typeText("kernel q") // q types a q
	if h.quit {
		t.Fatal("q in the reason quit")
	}
	h.keys("enter")
	h.must("Put node web-1 in maintenance? y/N", "reason: kernel q")
	h.keys("n")
	h.mustNot("y/N")
	h.must("cancelled")
	h.keys("m", "esc")
	h.mustNot("reason:")
	if c := f.calls(); len(c) != 0 {
		t.Fatalf("cancelled, yet called %v", c)
	}

	h.keys("m")
	h.typeText("kernel upgrade")
	h.keys("enter", "y")
	if c := f.calls(); !slices.Equal(c, []string{"node web-1 true kernel upgrade"}) {
		t.Fatalf("calls %v", c)
	}
	h.must("node web-1 is in maintenance", "1 in maintenance", "MAINT",
		"> web-1   127.0.0.4:8301  alive   client  0.1.0  dc1  maint · kernel upgrade")
	h.keys("/")
	h.typeText("maint")
	h.must("1 of 5", "> web-1")
	h.mustNot("node-a  127")
}

func TestMemberMaintenanceEmptyReason(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := newHarness(t, f, Options{}).start()
	h.keys("m", "enter")
	h.must("Put node node-a in maintenance? y/N", "reason: (no reason given)")
	h.keys("y")
	if c := f.calls(); !slices.Equal(c, []string{"node node-a true "}) {
		t.Fatalf("calls %v", c)
	}
	h.must("> node-a  127.0.0.1:8301  alive   server  0.1.0  dc1  maint · Maintenance mode is enabled for this")
}

func TestMemberInMaintenanceIsTakenOut(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.NodeMaintenanceOn(t.Context(), "node-b", true, "disk swap")
	f.maintCalls = nil
	h := newHarness(t, f, Options{}).start()
	h.must("  node-b  127.0.0.2:8301  alive   server  0.1.0  dc1  maint · disk swap", "1 in maintenance")
	memberCursor(h, "node-b")
	h.keys("m")
	h.must("Take node node-b out of maintenance? y/N", "reason was: disk swap")
	h.mustNot("reason: ") // no reason asked when disabling
	h.keys("enter")       // enter is No
	if c := f.calls(); len(c) != 0 {
		t.Fatalf("enter confirmed: %v", c)
	}
	h.keys("m", "y")
	if c := f.calls(); !slices.Equal(c, []string{"node node-b false "}) {
		t.Fatalf("calls %v", c)
	}
	h.must("node node-b is out of maintenance")
	h.mustNot("maint ·", "MAINT", "in maintenance ·")
}

func TestMaintenanceErrorIsShown(t *testing.T) {
	t.Parallel()
	f := newFake()
	// The node left between the last poll and the toggle.
	f.maintErr = &api.StatusError{Code: 404, Body: `No alive member named "web-1"`}
	h := newHarness(t, f, Options{}).start()
	memberCursor(h, "web-1")
	h.keys("m", "enter", "y")
	h.must("node web-1: not an alive member, its agent cannot be reached; maintenance unchanged")
	h.mustNot("maint ·", "Unexpected response code")
}

func TestServiceInstanceMaintenance(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := servicesHarness(t, f, Options{})
	h.keys("m")
	h.must("enter opens the service")
	h.keys("G", "enter") // web; cursor on web-b on node-b
	h.must("m maintenance")
	h.keys("m")
	h.must("Put service web-b (web) on node-b in maintenance")
	h.typeText("deploy")
	h.keys("enter")
	h.must("Put service web-b (web) on node-b in maintenance? y/N", "reason: deploy")
	h.keys("y")
	if c := f.calls(); !slices.Equal(c, []string{"service node-b web-b true deploy"}) {
		t.Fatalf("calls %v", c)
	}
	h.must("service web-b (web) on node-b is in maintenance",
		"  NODE    ID     ADDRESS         STATUS    TAGS        MAINT",
		"> node-b  web-b  127.0.0.2:8081  critical  v1          maint",
		"service web-b in maintenance: deploy",
		"critical  Service Maintenance Mode   deploy",
		"3 instances: 1 passing, 0 warning, 2 critical")

	h.keys("m")
	h.must("Take service web-b (web) on node-b out of maintenance? y/N", "reason was: deploy")
	h.keys("y")
	if c := f.calls(); !slices.Equal(c, []string{"service node-b web-b true deploy", "service node-b web-b false "}) {
		t.Fatalf("calls %v", c)
	}
	h.must("> node-b  web-b  127.0.0.2:8081  warning   v1")
	h.mustNot("MAINT", "in maintenance:")
}

func TestNodeMaintenanceMarkedEverywhere(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.NodeMaintenanceOn(t.Context(), "node-c", true, "rack move")
	h := newHarness(t, f, Options{}).start()
	h.must("  node-c  127.0.0.3:8301  failed  server  0.1.0  dc1  maint · rack move")
	h.keys("6", "G", "enter", "j") // web, web-c on node-c
	h.must("  NODE    ID     ADDRESS         STATUS    TAGS        MAINT",
		"> node-c  web-c  127.0.0.3:8082  critical  v2          node maint",
		"node node-c in maintenance: rack move",
		"critical  Node Maintenance Mode (node)  rack move")
	h.keys("k")
	h.must("> node-b  web-b", "Checks of web-b on node-b")
	h.mustNot("node node-c in maintenance")
}

func TestReadOnlyHidesMaintenance(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := newHarness(t, f, Options{ReadOnly: true}).start()
	h.must("5 members")
	h.mustNot("maintenance")
	h.keys("m")
	h.mustNot("Put node", "reason:")
	h.keys("6", "G", "enter")
	h.must("services / web")
	h.mustNot("maintenance")
	h.keys("m")
	h.mustNot("Put service", "reason:")
	h.keys("?")
	h.must("Services", "filter")
	h.mustNot("maintenance")
	if c := f.calls(); len(c) != 0 {
		t.Fatalf("read-only called %v", c)
	}
	if docs := KeyDocs(); !strings.Contains(docs, "| `m` | toggle maintenance of the node") {
		t.Fatal("KeyDocs lacks m")
	}
}
