package tui

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"consulx/api"
)

func setFlags(f *fakeSource, k string, flags uint64) {
	f.mu.Lock()
	f.kv[k].Flags = flags
	f.mu.Unlock()
}

// wantPair fails unless key k holds value v with flags.
func wantPair(t *testing.T, f *fakeSource, k, v string, flags uint64) {
	t.Helper()
	p := f.get(k)
	if p == nil {
		t.Fatalf("%q does not exist", k)
	}
	if string(p.Value) != v || p.Flags != flags {
		t.Fatalf("%q = %q flags %d, want %q flags %d", k, p.Value, p.Flags, v, flags)
	}
}

// backspaces clears n characters of an input.
func backspaces(h *harness, n int) {
	for range n {
		h.keys("backspace")
	}
}

func TestKVCopyKey(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	setFlags(h.f, "top", 42)
	h.keys("G", "c")
	h.must(`copy key "top"`, "copy to: top")
	h.typeText("2")
	h.keys("enter")
	h.must(`Copy 1 key from "top" to "top2"? y/N`)
	if len(h.f.puts) != 0 {
		t.Fatalf("wrote before the confirmation: %+v", h.f.puts)
	}
	h.keys("y")
	wantPair(t, h.f, "top2", "plain text value", 42)
	wantPair(t, h.f, "top", "plain text value", 42)
	h.must(`copied 1 key from "top" to "top2"`, "  top2")
	if len(h.f.deleted) != 0 {
		t.Fatalf("copy deleted %v", h.f.deleted)
	}

	// A key copied to a name ending in / keeps its name in that folder.
	h.keys("G", "c")
	backspaces(h, 4)
	h.typeText("app/")
	h.keys("enter")
	h.must(`Copy 1 key from "top2" to "app/top2"? y/N`)
	h.keys("y")
	wantPair(t, h.f, "app/top2", "plain text value", 42)
}

func TestKVCopyFolder(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	setFlags(h.f, "app/db/user", 7)
	h.keys("c") // app/
	h.must(`copy every key under "app/"`, "copy to: app/")
	h.keys("backspace")
	h.typeText("2/")
	h.keys("enter")
	h.must(`Copy 4 keys from "app/" to "app2/"? y/N`)
	h.keys("y")
	h.must(`copied 4 keys from "app/" to "app2/"`, "▸ app2/", "▸ app/")
	for _, kv := range []struct{ k, v string }{
		{"config.json", `{"port":8080,"debug":false}`}, {"name", "shop"}, {"db/password", "hunter2"},
	} {
		wantPair(t, h.f, "app2/"+kv.k, kv.v, 0)
		wantPair(t, h.f, "app/"+kv.k, kv.v, 0)
	}
	wantPair(t, h.f, "app2/db/user", "admin", 7)
	for _, p := range h.f.puts {
		if p.ModifyIndex != 0 {
			t.Fatalf("put %q is not create-only (CAS index %d)", p.Key, p.ModifyIndex)
		}
	}

	// A folder's destination gets its trailing /.
	h.keys("g", "c")
	backspaces(h, 4)
	h.typeText("cfg")
	h.keys("enter")
	h.must(`Copy 4 keys from "app/" to "cfg/"? y/N`)
	h.keys("y")
	wantPair(t, h.f, "cfg/db/user", "admin", 7)
}

func TestKVCopyRefusalsWriteNothing(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		setup []string // keys already in the store
		nav   string   // "" for app/, "G" for top
		bs    int      // backspaces in the prefilled destination
		typed string
		want  string
		input bool // refused while typing: the input stays open
	}{
		{name: "folder onto itself", want: `refused: the destination "app/" is the source; nothing written`, input: true},
		{name: "folder onto itself without slash", bs: 1, want: `the destination "app/" is the source`, input: true},
		{name: "folder inside itself", typed: "sub/", want: `refused: the destination "app/sub/" is inside the source "app/"`, input: true},
		{name: "key onto itself", nav: "G", want: `refused: the destination "top" is the source`, input: true},
		{name: "empty", bs: 4, want: "refused: the destination needs a name", input: true},
		{name: "key exists", nav: "G", bs: 3, typed: "bin", want: `refused: 1 of 1 destination key already exists (first "bin"); nothing written`},
		{name: "folder keys exist", setup: []string{"copy/name", "copy/db/user", "copy/other"}, bs: 4, typed: "copy/",
			want: `refused: 2 of 4 destination keys already exist (first "copy/db/user"); nothing written`},
	} {
		for _, move := range []bool{false, true} {
			verb := "c"
			if move {
				verb = "R"
			}
			t.Run(c.name+"/"+verb, func(t *testing.T) {
				t.Parallel()
				h := kvHarness(t, Options{})
				for _, k := range c.setup {
					h.f.KVPut(t.Context(), &api.KVPair{Key: k, Value: []byte("x")}, nil)
				}
				puts := len(h.f.puts)
				if c.nav != "" {
					h.keys(c.nav)
				}
				h.keys(verb)
				backspaces(h, c.bs)
				h.typeText(c.typed)
				h.keys("enter")
				h.must(c.want)
				h.mustNot("y/N")
				if c.input {
					h.must(" to: ")
					h.keys("esc")
					h.must("cancelled, nothing written")
				}
				h.mustNot(" to: ")
				h.keys("y") // nothing to confirm
				if len(h.f.puts) != puts || len(h.f.deleted) != 0 || len(h.f.deletedTrees) != 0 {
					t.Fatalf("refusal wrote: puts %+v, deleted %v", h.f.puts[puts:], h.f.deleted)
				}
			})
		}
	}
}

func TestKVCopyCancelWritesNothing(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	h.keys("G", "c", "2", "enter")
	h.must(`Copy 1 key from "top" to "top2"? y/N`)
	h.keys("enter") // No is the default
	h.must("cancelled")
	if len(h.f.puts) != 0 {
		t.Fatalf("cancelled copy wrote %+v", h.f.puts)
	}
	h.keys("c", "3", "enter") // not stuck as "still running"
	h.must(`Copy 1 key from "top" to "top3"? y/N`)
}

func TestKVMoveFolderDeletesSourcesAfterAllCopies(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	setFlags(h.f, "app/name", 3)
	h.keys("R")
	h.must(`move every key under "app/"`, "move to: app/")
	h.keys("backspace")
	h.typeText("2/")
	h.keys("enter")
	h.must(`Move 4 keys from "app/" to "app2/" (sources deleted once all are copied)? y/N`)
	h.keys("y")
	h.must(`moved 4 keys from "app/" to "app2/"`, "▸ app2/")
	h.mustNot("▸ app/")
	want := []string{
		"put app2/config.json", "put app2/db/password", "put app2/db/user", "put app2/name",
		"delete app/config.json", "delete app/db/password", "delete app/db/user", "delete app/name",
	}
	if !slices.Equal(h.f.ops, want) {
		t.Fatalf("ops\n%v\nwant\n%v", h.f.ops, want)
	}
	wantPair(t, h.f, "app2/name", "shop", 3)
	if len(h.f.deletedTrees) != 0 {
		t.Fatalf("move used a tree delete: %v", h.f.deletedTrees)
	}
}

func TestKVRenameKey(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	setFlags(h.f, "top", 9)
	h.keys("G", "R")
	backspaces(h, 3)
	h.typeText("renamed")
	h.keys("enter")
	h.must(`Move 1 key from "top" to "renamed"`)
	h.keys("y")
	wantPair(t, h.f, "renamed", "plain text value", 9)
	if h.f.get("top") != nil {
		t.Fatal("source still exists")
	}
	if !slices.Equal(h.f.ops, []string{"put renamed", "delete top"}) {
		t.Fatalf("ops %v", h.f.ops)
	}
	h.must(`moved 1 key from "top" to "renamed"`, ">   renamed")
}

func TestKVMoveFailedWriteKeepsSources(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	h.f.mu.Lock()
	h.f.putErr = map[string]error{"app2/db/user": errors.New("boom")}
	h.f.mu.Unlock()
	h.keys("R", "backspace")
	h.typeText("2/")
	h.keys("enter", "y")
	if len(h.f.deleted) != 0 || len(h.f.deletedTrees) != 0 {
		t.Fatalf("sources deleted after a failed write: %v %v", h.f.deleted, h.f.deletedTrees)
	}
	for _, k := range []string{"app/config.json", "app/db/password", "app/db/user", "app/name"} {
		if h.f.get(k) == nil {
			t.Fatalf("source %q gone", k)
		}
	}
	if !slices.Equal(h.f.ops, []string{"put app2/config.json", "put app2/db/password"}) {
		t.Fatalf("ops %v", h.f.ops)
	}
	want := `move stopped: "app2/db/user" not written (boom); copied 2 of 4 ("app2/config.json", "app2/db/password"); no source deleted`
	if h.m.flashed != want || !h.m.flashErr {
		t.Fatalf("status %q (error %v), want %q", h.m.flashed, h.m.flashErr, want)
	}
	h.must(`move stopped: "app2/db/user" not written (boom)`)
}

func TestKVCopyStopsWhenDestinationAppears(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	h.keys("R", "backspace")
	h.typeText("2/")
	h.keys("enter")
	h.must("y/N")
	// Created between the check and the confirmation: not overwritten.
	h.f.KVPut(t.Context(), &api.KVPair{Key: "app2/db/password", Value: []byte("mine")}, nil)
	h.keys("y")
	wantPair(t, h.f, "app2/db/password", "mine", 0)
	if len(h.f.deleted) != 0 {
		t.Fatalf("deleted %v", h.f.deleted)
	}
	if !strings.Contains(h.m.flashed, `"app2/db/password" not written (it exists now); copied 1 of 4 ("app2/config.json")`) {
		t.Fatalf("status %q", h.m.flashed)
	}
}

func TestKVMoveKeepsSourceChangedMeanwhile(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	h.keys("G", "R", "2", "enter")
	h.must(`Move 1 key from "top" to "top2"`)
	h.f.KVPut(t.Context(), &api.KVPair{Key: "top", Value: []byte("newer")}, nil)
	h.keys("y")
	wantPair(t, h.f, "top", "newer", 0)
	wantPair(t, h.f, "top2", "plain text value", 0)
	h.must(`kept 1 source (changed since the copy began): "top"`)
}

func TestReadOnlyHidesCopyMoveAndExternalEdit(t *testing.T) {
	t.Parallel()
	km := DefaultKeyMap(true)
	for _, b := range []struct {
		name string
		on   bool
	}{{"c", km.Copy.Enabled()}, {"R", km.Move.Enabled()}, {"E", km.ExtEdit.Enabled()}} {
		if b.on {
			t.Fatalf("%s enabled in read-only mode", b.name)
		}
	}

	f := newFake()
	h := newHarness(t, f, Options{ReadOnly: true}).start()
	h.m.sh.getenv = func(string) string { return "true" }
	h.m.sh.exec = func(*exec.Cmd, tea.ExecCallback) tea.Cmd { t.Error("editor run in read-only mode"); return nil }
	h.keys("3")
	h.keys("c")
	h.keys("G", "c", "R", "E", "enter", "E", "esc")
	h.mustNot("copy to:", "move to:", "editing", "y/N")
	h.keys("?")
	h.must("Keys (? or esc closes)")
	h.mustNot("copy", "rename/move", "$EDITOR")
	if len(f.puts) != 0 || len(f.deleted) != 0 {
		t.Fatalf("read-only wrote: %+v %v", f.puts, f.deleted)
	}

	rw := newHarness(t, newFake(), Options{})
	rw.keys("?")
	rw.must("c  copy", "R  rename/move", "E  edit in $EDITOR")
	docs := KeyDocs()
	for _, s := range []string{"| `c` | copy", "| `R` | rename/move", "| `E` | edit the value", "n, e, E, c, R, d and D are disabled"} {
		if !strings.Contains(docs, s) {
			t.Fatalf("KeyDocs lacks %q", s)
		}
	}
}
