package tui

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"
)

// The golden tests run the real program (teatest) at 100x30 with colour
// off, drive it with keys, and compare the final screen with
// testdata/<test>.golden. Regenerate with: go test ./tui -update

func runGolden(t *testing.T, f *fakeSource, opts Options, steps func(tm *teatest.TestModel)) {
	t.Helper()
	runGoldenReady(t, f, opts, []string{"node-c"}, steps) // members loaded
}

// runGoldenReady is runGolden that first waits until the screen has shown
// every one of ready (the output is read once: a line drawn before the
// steps start is not drawn again).
func runGoldenReady(t *testing.T, f *fakeSource, opts Options, ready []string, steps func(tm *teatest.TestModel)) {
	t.Helper()
	m := New(f, opts)
	m.sh.now = fixedNow
	t.Cleanup(m.Close)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		for _, s := range ready {
			if !bytes.Contains(b, []byte(s)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
	steps(tm)
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second))
	teatest.RequireEqualOutput(t, []byte(fm.View()))
}

func waitFor(t *testing.T, tm *teatest.TestModel, s string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(s)) },
		teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

func TestGoldenMembers(t *testing.T) {
	runGolden(t, newFake(), Options{Addr: "http://127.0.0.1:8500"}, func(tm *teatest.TestModel) {
		tm.Send(keyMsg("j"))
		tm.Send(keyMsg("s"))
		waitFor(t, tm, "ADDRESS ↓")
	})
}

func TestGoldenKVFolder(t *testing.T) {
	runGolden(t, newFake(), Options{}, func(tm *teatest.TestModel) {
		tm.Send(keyMsg("3"))
		waitFor(t, tm, "deep/")
		tm.Send(keyMsg("enter"))
		waitFor(t, tm, "config.json")
		tm.Send(keyMsg("G"))
		tm.Send(keyMsg("d"))
		waitFor(t, tm, "y/N")
	})
}

func TestGoldenKVValue(t *testing.T) {
	runGolden(t, newFake(), Options{ReadOnly: true}, func(tm *teatest.TestModel) {
		tm.Send(keyMsg("3"))
		waitFor(t, tm, "deep/")
		tm.Send(keyMsg("enter"))
		waitFor(t, tm, "config.json")
		tm.Send(keyMsg("enter"))
		waitFor(t, tm, "8080")
	})
}

func TestGoldenHelp(t *testing.T) {
	runGolden(t, newFake(), Options{}, func(tm *teatest.TestModel) {
		tm.Send(keyMsg("?"))
		waitFor(t, tm, "Dialogs and editors")
	})
}

func TestGoldenRaftAndLog(t *testing.T) {
	// Two screens, two goldens.
	for _, c := range []struct{ key, want string }{{"4", "configuration index"}, {"5", "raft: entering leader state"}} {
		t.Run("pane"+c.key, func(t *testing.T) {
			runGolden(t, newFake(), Options{}, func(tm *teatest.TestModel) {
				tm.Send(keyMsg(c.key))
				waitFor(t, tm, c.want)
			})
		})
	}
}

// TestKeysDoc keeps docs/keys.md equal to KeyDocs().
func TestKeysDoc(t *testing.T) {
	path := filepath.Join("..", "docs", "keys.md")
	want := KeyDocs()
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v; regenerate with: go test ./tui -run TestKeysDoc -update", err)
	}
	if string(got) != want {
		t.Fatalf("docs/keys.md is out of date with the key map; regenerate with: go test ./tui -run TestKeysDoc -update")
	}
}
