package tui

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"consulx/api"
)

func membersOf(f *fakeSource) membersMsg { return membersMsg{members: f.lan} }

func TestMembersRender(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := newHarness(t, f, Options{})
	h.send(membersOf(f))
	h.must(
		"5 members: 3 alive, 1 failed, 1 left · 3 servers, 2 clients",
		"NODE ↓", "ADDRESS", "STATUS", "TYPE", "BUILD", "DC",
		"> node-a  127.0.0.1:8301  alive   server  0.1.0  dc1",
		"  node-c  127.0.0.3:8301  failed  server",
		"  web-1   127.0.0.4:8301  alive   client",
		"  web-2   127.0.0.5:8301  left    client",
	)
	if strings.Contains(h.view(), "\x1b[") {
		t.Fatalf("colour escape in view with the Ascii profile:\n%q", h.view())
	}
}

func TestMembersFilterNarrowsRows(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := newHarness(t, f, Options{})
	h.send(membersOf(f))
	h.keys("/")
	h.typeText("web")
	h.must("web-1", "web-2", "2 of 5")
	h.mustNot("node-a ", "node-b ")
	h.keys("enter") // keep the filter, leave the input
	h.must("web-1", "/web")
	h.mustNot("node-b ")
	h.keys("esc") // clears it
	h.must("node-b", "web-2")
}

func TestMembersSortCycles(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := newHarness(t, f, Options{})
	h.send(membersOf(f))
	h.keys("s", "s") // Address, then Status
	h.must("STATUS ↓")
	v := h.view()
	if strings.Index(v, "node-a") > strings.Index(v, "node-c") || strings.Index(v, "node-c") > strings.Index(v, "web-2") {
		t.Fatalf("want alive < failed < left order:\n%s", v)
	}
}

func TestTypingQInFilterDoesNotQuit(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := newHarness(t, f, Options{})
	h.send(membersOf(f))
	h.keys("/", "q")
	if h.quit {
		t.Fatal("q in the filter quit the console")
	}
	h.must("/q")
	h.keys("esc", "q")
	if !h.quit {
		t.Fatal("q outside the filter did not quit")
	}
}

func TestCtrlCQuitsFromAnywhere(t *testing.T) {
	t.Parallel()
	h := newHarness(t, newFake(), Options{})
	h.keys("/", "ctrl+c")
	if !h.quit {
		t.Fatal("ctrl+c in the filter did not quit")
	}
}

func TestTabAndNumbersSwitchPanes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, newFake(), Options{})
	for _, c := range []struct {
		key    string
		active int
	}{{"tab", 1}, {"tab", 2}, {"shift+tab", 1}, {"shift+tab", 0}, {"shift+tab", 8}, {"tab", 0}, {"3", 2}, {"4", 3}, {"5", 4}, {"6", 5}, {"7", 6}, {"8", 7}, {"9", 8}, {"1", 0}} {
		h.keys(c.key)
		if h.m.active != c.active {
			t.Fatalf("after %s: active pane %d, want %d", c.key, h.m.active, c.active)
		}
	}
	h.keys("2")
	h.send(membersMsg{wan: true})
	h.must("WAN membership is visible from server agents only")
}

func TestWANShowsServers(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := newHarness(t, f, Options{})
	h.keys("2")
	h.send(membersMsg{wan: true, members: f.wan})
	h.must("node-a.dc1", "1 member: 1 alive")
	h.mustNot("1 members")
}

func kvHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	h := newHarness(t, newFake(), opts).start()
	h.keys("3")
	h.must("kv: /", "▸ app/", "  bin", "▸ deep/", "  top")
	return h
}

func TestKVNavigateIntoFolderAndBack(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	h.keys("enter") // app/
	h.must("kv: / app /", "config.json", "▸ db/", "  name")
	h.mustNot("deep/")
	h.keys("j", "enter") // db/
	h.must("kv: / app / db /", "password", "user")
	h.keys("backspace")
	h.must("kv: / app /", "> ▸ db/")
	h.keys("esc")
	h.must("> ▸ app/", "top")
}

func TestKVValueView(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	h.keys("enter", "enter") // app/config.json
	h.must("app/config.json", "json", `  "port": 8080,`, `  "debug": false`)
	h.keys("esc", "esc", "j", "enter") // bin
	h.must("binary", "00000000  00 01 02 62 69 6e 61 72  79 ff")
	h.keys("esc", "G", "enter") // top
	h.must("plain text value", "16 bytes, text")
	// An open value follows changes made elsewhere.
	h.f.KVPut(t.Context(), &api.KVPair{Key: "top", Value: []byte("changed elsewhere")}, nil)
	h.send(tickMsg{})
	h.must("changed elsewhere", "17 bytes, text")
}

func TestKVDeleteAsksFirst(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	h.keys("G") // top
	for _, cancel := range []string{"n", "esc", "enter", "q"} {
		h.keys("d")
		h.must(`Delete key "top"? y/N`)
		h.keys(cancel)
		h.mustNot("Delete key")
		if len(h.f.deleted) != 0 || h.quit {
			t.Fatalf("%q did not cancel: deleted %v, quit %v", cancel, h.f.deleted, h.quit)
		}
	}
	h.keys("d", "y")
	if !slices.Equal(h.f.deleted, []string{"top"}) {
		t.Fatalf("deleted %v, want [top]", h.f.deleted)
	}
	h.must(`deleted "top"`)
	h.mustNot("  top")
}

func TestKVDeleteTreeCountsKeys(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	h.keys("d")
	h.must(`"app/" is a folder: D deletes everything under it`)
	h.keys("D")
	h.must(`Delete 4 keys under prefix "app/"? y/N`)
	h.keys("x")
	if len(h.f.deletedTrees) != 0 {
		t.Fatal("x confirmed a delete")
	}
	h.keys("D", "Y")
	if !slices.Equal(h.f.deletedTrees, []string{"app/"}) {
		t.Fatalf("deleted trees %v", h.f.deletedTrees)
	}
	h.mustNot("▸ app/")
}

func TestKVSearchFindsNestedKeys(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	h.keys("/")
	h.typeText("eedl")
	h.must("deep/a/b/c/needle", "1 of 7 keys")
	h.mustNot("app/name")
	h.typeText("q") // a q in the search box is a q
	if h.quit {
		t.Fatal("q in search quit")
	}
	h.must("0 of 7 keys")
	h.keys("backspace", "enter")
	h.must("deep/a/b/c/needle", "found")
	h.keys("esc") // back to the results
	h.must("search: eedl")
	h.keys("esc")
	h.must("▸ app/")
}

func TestKVNewAndEdit(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	h.keys("enter", "n") // inside app/
	h.must("new key: app/")
	h.typeText("port")
	h.keys("enter")
	h.typeText("8080")
	h.keys("ctrl+s")
	if len(h.f.puts) != 1 || h.f.puts[0].Key != "app/port" || string(h.f.puts[0].Value) != "8080" {
		t.Fatalf("puts %+v", h.f.puts)
	}
	h.must(`created "app/port"`, ">   port")

	h.keys("k") // name
	h.must(">   name")
	h.keys("e")
	h.must(`editing "app/name"`, "shop")
	h.typeText("s")
	h.keys("ctrl+s")
	if len(h.f.puts) != 2 || string(h.f.puts[1].Value) != "shops" || h.f.puts[1].ModifyIndex == 0 {
		t.Fatalf("edit put %+v", h.f.puts)
	}
	h.must(`saved "app/name"`)
}

func TestKVEditConflictKeepsEditor(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	h.keys("G", "e")
	h.f.KVPut(t.Context(), &api.KVPair{Key: "top", Value: []byte("changed elsewhere")}, nil)
	h.typeText("!")
	h.keys("ctrl+s")
	h.must(`not saved: "top" changed since it was opened`, `editing "top"`)
	h.keys("esc")
	h.must("edit cancelled")
}

func TestKVKeepsSelectionAcrossRefresh(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	h.keys("G") // top
	h.f.KVPut(t.Context(), &api.KVPair{Key: "aaa", Value: []byte("1")}, nil)
	h.keys("r")
	h.must("    aaa", ">   top")
}

func TestReadOnlyHidesDestructiveKeys(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{ReadOnly: true})
	h.must("read-only")
	h.mustNot("n new", "delete", "e edit")
	h.keys("G", "d", "D", "e", "n")
	h.mustNot("Delete", "new key:", "editing")
	h.keys("?")
	h.must("Keys (? or esc closes)", "filter", "log level")
	h.mustNot("delete", "n  new", "e  edit", "save")

	rw := kvHarness(t, Options{})
	rw.must("n new", "e edit", "d delete", "D delete prefix")
}

func TestAgentUnreachableAndRecovers(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.setDown(true)
	h := newHarness(t, f, Options{Addr: "http://127.0.0.1:8500"}).start()
	h.must("agent unreachable, retrying…", "connection refused", "http://127.0.0.1:8500")
	h.keys("3")
	h.must("waiting for the agent")
	f.setDown(false)
	h.send(tickMsg{})
	h.send(kvRetryMsg{gen: h.m.kv().tree.gen})
	h.must("● connected", "dc dc1", "node node-a", "leader node-a", "▸ app/")
	h.mustNot("unreachable")
	h.keys("1")
	h.send(tickMsg{})
	h.must("5 members")

	f.setDown(true)
	h.send(tickMsg{})
	h.must("agent unreachable, retrying…", "5 members") // last data stays
}

func TestEmbeddedQuitAsks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, newFake(), Options{Embedded: true})
	h.keys("q")
	h.must("Quit and stop the agent (graceful leave)? y/N")
	if h.quit {
		t.Fatal("quit without asking")
	}
	h.keys("enter")
	h.mustNot("graceful leave")
	if h.quit {
		t.Fatal("enter confirmed the quit")
	}
	h.keys("q", "y")
	if !h.quit {
		t.Fatal("y did not quit")
	}
}

func TestRaftPane(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := newHarness(t, f, Options{}).start()
	h.keys("4")
	h.must("Leader: node-a (127.0.0.1:8300)", "term 3", "commit_index 42", "applied_index 42", "last_contact 0",
		"Peers (3, configuration index 7)", "node-a  id-a  127.0.0.1:8300  leader    true",
		"node-c  id-c  127.0.0.3:8300  follower  false", "none seen")
	f.mu.Lock()
	f.leader = "127.0.0.2:8300"
	f.mu.Unlock()
	h.send(tickMsg{})
	h.must("03:04:05 leader changed: node-a (127.0.0.1:8300) -> node-b (127.0.0.2:8300)", "leader node-b  ●")
}

func TestRaftPaneOnClient(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.self.Stats = map[string]map[string]string{}
	h := newHarness(t, f, Options{}).start()
	h.keys("4")
	h.must("not a server")
}

func TestLogPane(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := newHarness(t, f, Options{}).start()
	h.keys("5")
	h.must("level ≥ debug", "5 of 5 lines", "(LAN) joined: 1", "[DEBUG] memberlist", "[ERROR] agent: rpc failed")
	h.keys("l")
	h.must("level ≥ info", "4 of 5 lines")
	h.mustNot("[DEBUG]")
	h.keys("l")
	h.mustNot("[INFO]")
	h.must("[WARN]", "[ERROR]")
	h.keys("l", "l")
	h.must("level ≥ debug")
}

func TestLogPaneKeepsLast2000AndDedupesReplay(t *testing.T) {
	t.Parallel()
	h := newHarness(t, newFake(), Options{})
	p := h.m.log()
	gen := p.gen
	var lines []string
	for i := range 2500 {
		lines = append(lines, fmt.Sprintf("[INFO] line %d", i))
	}
	h.send(logLinesMsg{gen: gen, lines: lines})
	if len(p.lines) != maxLogLines || p.lines[0] != "[INFO] line 500" {
		t.Fatalf("kept %d lines starting %q", len(p.lines), p.lines[0])
	}
	// A reconnect replays history that ends with what we have.
	p.stream = &logStream{lines: make(chan string), done: make(chan error)}
	h.m.Update(logStreamMsg{gen: gen, s: p.stream})
	h.m.Update(logLinesMsg{gen: gen, lines: append(lines[2400:], "[INFO] new")})
	if n := len(p.lines); n != maxLogLines || p.lines[n-1] != "[INFO] new" || p.lines[n-2] != "[INFO] line 2499" {
		t.Fatalf("after replay: %d lines ending %q", n, p.lines[n-2:])
	}
}

func TestFullHelpToggles(t *testing.T) {
	t.Parallel()
	h := newHarness(t, newFake(), Options{})
	h.keys("?")
	h.must("Keys (? or esc closes)", "next pane", "s  sort", "log level", "delete prefix", "confirm")
	h.keys("esc")
	h.mustNot("Keys (? or esc closes)")
}

func TestKVIgnoresStaleWatchAnswer(t *testing.T) {
	t.Parallel()
	// An answer for an older prefix (an earlier generation) is dropped.
	h := kvHarness(t, Options{})
	h.send(kvKeysMsg{gen: -1, keys: []string{"ghost"}})
	h.mustNot("ghost")
}
