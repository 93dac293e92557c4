package tui

import (
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"
)

// Bubble Tea v1 reads printable input that arrives together into one
// KeyMsg with several runes (tmux send-keys "jjj", a fast typist, a
// terminal that batches). These tests send such messages and expect the
// effect of the keys typed one by one.

// burst is what Bubble Tea delivers for s arriving in one read.
func burst(s string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }

func paste(s string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s), Paste: true} }

func TestBurstMovesTheCursorOncePerKey(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := newHarness(t, f, Options{})
	h.send(membersOf(f))
	h.must("> node-a ")
	h.send(burst("jjj"))
	h.must("> web-1 ")
	h.send(burst("kk"))
	h.must("> node-b ")
	h.send(burst("Gk"))
	h.must("> web-1 ")
}

func TestBurstOpensSearchAndTypesIntoIt(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	h.send(burst("/eedl")) // "/" opens the search, the rest is its text
	h.must("search: eedl", "1 of 7 keys", "deep/a/b/c/needle")
	h.send(burst("qq")) // inside the box q is text, not quit
	if h.quit {
		t.Fatal("q typed into the search quit the console")
	}
	h.must("search: eedlqq", "0 of 7 keys")
}

func TestBurstFiltersMembersAndServices(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := newHarness(t, f, Options{}).start()
	h.send(burst("/web"))
	h.must("/web", "2 of 5", "web-1", "web-2")
	h.mustNot("node-b ")
	h.keys("esc")
	h.send(burst("6/db"))
	h.must("/db", "1 of 3", "> db ")
	h.mustNot("consul ")
}

func TestBurstThroughDialogsAndEditors(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := newHarness(t, f, Options{}).start()

	// m, a reason typed in the same burst, enter, then y in another burst.
	h.send(burst("jjjmdisk"))
	h.must("Put node web-1 in maintenance", "reason: disk")
	h.keys("enter")
	h.send(burst("y"))
	if c := f.calls(); !slices.Equal(c, []string{"node web-1 true disk"}) {
		t.Fatalf("maintenance calls %v", c)
	}

	// A pane switch, a move and an edit in one burst; the text goes to
	// the editor.
	h.send(burst("3Ge!!"))
	h.must(`editing "top"`, "plain text value!!")
	h.keys("ctrl+s")
	if n := len(f.puts); n != 1 || string(f.puts[0].Value) != "plain text value!!" {
		t.Fatalf("puts %+v", f.puts)
	}

	// d and the y that confirms it, together.
	h.send(burst("dy"))
	if !slices.Equal(f.deleted, []string{"top"}) {
		t.Fatalf("deleted %v", f.deleted)
	}
}

func TestBurstStopsAtQuit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, newFake(), Options{})
	h.send(burst("q3"))
	if !h.quit {
		t.Fatal("q in a burst did not quit")
	}
	if h.m.active != 0 {
		t.Fatal("a key after q was still handled")
	}

	e := newHarness(t, newFake(), Options{Embedded: true})
	e.send(burst("qy")) // the question and its answer
	if !e.quit {
		t.Fatal("q then y in one burst did not quit the embedded console")
	}
}

// TestEscThenKeyIsTwoKeys: esc and a letter that arrive together read as
// alt+letter; outside a text input they are the two keys.
func TestEscThenKeyIsTwoKeys(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	h.keys("enter") // app/
	h.must("kv: / app /")
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("j"), Alt: true}) // esc, j
	h.must("kv: /  ", ">   bin")
	h.keys("g", "enter", "j", "enter") // app/db/
	h.must("kv: / app / db /")
	h.send(tea.KeyMsg{Type: tea.KeyEsc, Alt: true}) // esc esc: up twice
	h.must("kv: /  ", "> ▸ app/")
	// In a text input alt+letter stays what it is (word moves).
	h.keys("/")
	h.typeText("ab cd")
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("b"), Alt: true})
	h.must("search: ab cd")
	if h.m.kv().mode != kvSearch {
		t.Fatal("alt+b in the search box closed it")
	}
}

func TestPasteIsTextNeverKeys(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := newHarness(t, f, Options{})
	h.send(membersOf(f))
	h.send(paste("q"))
	h.send(paste("jjj"))
	if h.quit {
		t.Fatal("a pasted q quit")
	}
	h.must("> node-a ")
	h.keys("/")
	h.send(paste("web"))
	h.must("/web", "2 of 5")
}

// TestBurstInRealProgram drives the real Bubble Tea program (teatest):
// the burst goes through tea.Program exactly as a terminal read does.
func TestBurstInRealProgram(t *testing.T) {
	f := newFake()
	m := New(f, Options{})
	m.sh.now = fixedNow
	t.Cleanup(m.Close)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30))
	waitFor(t, tm, "node-c")
	tm.Send(burst("jjj"))
	waitFor(t, tm, "> web-1 ")
	tm.Send(burst("3/eedl"))
	waitFor(t, tm, "search: eedl")
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
	if p := fm.kv(); p.search.Value() != "eedl" || !strings.Contains(fm.View(), "1 of 7 keys") {
		t.Fatalf("search %q:\n%s", p.search.Value(), fm.View())
	}
}

// together handles every message before any command runs: input read in
// one go is in Update before the first answer comes back from the agent.
func (h *harness) together(msgs ...tea.Msg) {
	h.t.Helper()
	var cmds []tea.Cmd
	for _, msg := range msgs {
		_, cmd := h.m.Update(msg)
		cmds = append(cmds, cmd)
	}
	h.run(tea.Batch(cmds...))
}

// TestBurstIntoAFolderActsOnItsListing: enter and the moves after it
// arrive together; the moves wait for the folder's listing.
func TestBurstIntoAFolderActsOnItsListing(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	h.together(keyMsg("enter"), burst("jj"))
	h.must("kv: / app /", ">   name")
	h.together(keyMsg("backspace"), burst("jjj"))
	h.must("kv: /  ", ">   top")
	h.keys("g")
	h.together(keyMsg("enter"), burst("Ge"), burst("!"))
	h.must(`editing "app/name"`, "shop!")
	// Keys for the KV pane typed before it is left are dropped, not
	// replayed later out of sight.
	h.keys("esc") // the editor, back to app/
	h.together(keyMsg("backspace"), burst("jd1"))
	if h.m.active != 0 {
		t.Fatal("1 did not switch to Members")
	}
	h.keys("3")
	h.mustNot("Delete key")
}
