package tui

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"consulx/api"
)

// fakeEditor writes a shell script that logs the file it gets and its mode,
// then runs body on it ($1); it returns the script and the log's path.
func fakeEditor(t *testing.T, body string) (script, logPath string) {
	t.Helper()
	dir := t.TempDir()
	script, logPath = filepath.Join(dir, "editor.sh"), filepath.Join(dir, "editor.log")
	text := "#!/bin/sh\nprintf '%s %s\\n' \"$1\" \"$(stat -c %a \"$1\")\" >> '" + logPath + "'\n" + body + "\n"
	if err := os.WriteFile(script, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, logPath
}

func withEnv(h *harness, env map[string]string) {
	h.m.sh.getenv = func(k string) string { return env[k] }
}

// noEditor fails the test if an editor is started.
func noEditor(t *testing.T) func(*exec.Cmd, tea.ExecCallback) tea.Cmd {
	return func(c *exec.Cmd, _ tea.ExecCallback) tea.Cmd {
		t.Errorf("editor started: %v", c.Args)
		return nil
	}
}

// appName opens app/ and selects app/name.
func appName(t *testing.T) *harness {
	h := kvHarness(t, Options{})
	h.keys("enter", "G")
	h.must(">   name")
	return h
}

func TestKVExternalEditSaves(t *testing.T) {
	t.Parallel()
	h := appName(t)
	setFlags(h.f, "app/name", 5)
	before := h.f.get("app/name")
	script, logPath := fakeEditor(t, `sed -i 's/shop/shops/' "$1"`)
	withEnv(h, map[string]string{"EDITOR": script})
	h.keys("E")
	if len(h.f.puts) != 1 {
		t.Fatalf("puts %+v", h.f.puts)
	}
	put := h.f.puts[0]
	if put.Key != "app/name" || string(put.Value) != "shops" || put.Flags != 5 || put.ModifyIndex != before.ModifyIndex {
		t.Fatalf("put %+v, want app/name=shops flags 5 with CAS on %d", put, before.ModifyIndex)
	}
	h.must(`saved "app/name"`, ">   name")
	h.mustNot("editing")

	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(log))
	if len(fields) != 2 || !strings.HasSuffix(fields[0], "-name") || fields[1] != "600" {
		t.Fatalf("editor log %q: want a private temp file named after the key", log)
	}
	if _, err := os.Stat(fields[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("temp file %s left behind (%v)", fields[0], err)
	}
}

func TestKVExternalEditPrefersVISUALWithArgs(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	script, _ := fakeEditor(t, `sed -i 's/plain/PLAIN/' "$1"`)
	// VISUAL wins over EDITOR, and may carry arguments.
	withEnv(h, map[string]string{"VISUAL": "sh " + script, "EDITOR": "false"})
	h.keys("G", "enter") // top, in the value view
	h.must("plain text value")
	h.keys("E")
	h.must(`saved "top"`, "PLAIN text value")
	h.mustNot("editing")
	if p := h.f.get("top"); string(p.Value) != "PLAIN text value" {
		t.Fatalf("top = %q", p.Value)
	}
	h.keys("esc")
	h.must(">   top")
}

func TestKVExternalEditUnchangedWritesNothing(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, body string }{
		{"untouched", ":"},
		// vim and friends end the last line when saving
		{"final newline added", `printf '\n' >> "$1"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := appName(t)
			script, _ := fakeEditor(t, c.body)
			withEnv(h, map[string]string{"EDITOR": script})
			h.keys("E")
			h.must(`"app/name" unchanged, nothing saved`)
			if len(h.f.puts) != 0 {
				t.Fatalf("puts %+v", h.f.puts)
			}
		})
	}
}

func TestKVExternalEditorFailsWritesNothing(t *testing.T) {
	t.Parallel()
	h := appName(t)
	script, _ := fakeEditor(t, `sed -i 's/shop/shops/' "$1"; exit 3`)
	withEnv(h, map[string]string{"EDITOR": script})
	h.keys("E")
	h.must(`editor: exit status 3; "app/name" not saved`)
	if len(h.f.puts) != 0 {
		t.Fatalf("puts %+v", h.f.puts)
	}
}

func TestKVExternalEditConflictKeepsText(t *testing.T) {
	t.Parallel()
	h := appName(t)
	script, _ := fakeEditor(t, `sed -i 's/shop/shops/' "$1"`)
	withEnv(h, map[string]string{"EDITOR": script})
	// Someone else writes the key while the editor is open.
	h.m.sh.exec = func(c *exec.Cmd, fn tea.ExecCallback) tea.Cmd {
		h.f.KVPut(t.Context(), &api.KVPair{Key: "app/name", Value: []byte("changed elsewhere")}, nil)
		return runNow(c, fn)
	}
	h.keys("E")
	// The inline editor's conflict handling, with the edited text in it.
	h.must(`not saved: "app/name" changed since it was opened (esc, then reopen it)`, `editing "app/name"`, "shops")
	if p := h.f.get("app/name"); string(p.Value) != "changed elsewhere" {
		t.Fatalf("app/name = %q: the concurrent change was overwritten", p.Value)
	}
	h.keys("ctrl+s") // still the old index: still refused
	h.must(`not saved: "app/name" changed since it was opened`)
	h.keys("esc")
	h.must("edit cancelled, nothing saved", ">   name")
	if p := h.f.get("app/name"); string(p.Value) != "changed elsewhere" {
		t.Fatalf("app/name = %q", p.Value)
	}
	if len(h.f.puts) != 1 {
		t.Fatalf("puts %+v", h.f.puts)
	}
}

func TestKVExternalEditFallsBackToInline(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	h.m.sh.exec = noEditor(t)
	h.keys("G", "E") // neither VISUAL nor EDITOR
	h.must(`editing "top"`, "plain text value", "ctrl+s saves")
	h.typeText("!")
	h.keys("ctrl+s")
	h.must(`saved "top"`)
	if p := h.f.get("top"); string(p.Value) != "plain text value!" {
		t.Fatalf("top = %q", p.Value)
	}
}

func TestKVExternalEditRefusesBinaryAndFolders(t *testing.T) {
	t.Parallel()
	h := kvHarness(t, Options{})
	withEnv(h, map[string]string{"EDITOR": "true"})
	h.m.sh.exec = noEditor(t)
	h.keys("E") // app/
	h.must("E edits a key's value; move to a key")
	h.keys("j", "E") // bin
	h.must("binary value: not editable in the console")
	h.keys("enter", "E") // and from the value view
	h.must("binary value: not editable in the console")
	if len(h.f.puts) != 0 {
		t.Fatalf("puts %+v", h.f.puts)
	}
}

func TestEditorArgv(t *testing.T) {
	t.Parallel()
	h := newHarness(t, newFake(), Options{})
	p := h.m.kv()
	for _, c := range []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{}, nil},
		{map[string]string{"EDITOR": "  "}, nil},
		{map[string]string{"EDITOR": "vi"}, []string{"vi"}},
		{map[string]string{"EDITOR": "vi", "VISUAL": "code --wait"}, []string{"code", "--wait"}},
	} {
		withEnv(h, c.env)
		if got := p.editorArgv(); !slices.Equal(got, c.want) {
			t.Fatalf("%v: argv %q, want %q", c.env, got, c.want)
		}
	}
	// The real console runs the editor on the terminal.
	if New(newFake(), Options{}).sh.exec == nil {
		t.Fatal("no exec")
	}
}

func TestKVEditFromValueViewThenBack(t *testing.T) {
	t.Parallel()
	// After an edit started in the value view, esc still leaves the view.
	h := kvHarness(t, Options{})
	h.keys("G", "enter", "e", "!", "ctrl+s")
	h.must(`saved "top"`, "plain text value!")
	h.mustNot("editing")
	h.keys("esc")
	h.must(">   top")
	h.keys("enter", "e", "esc")
	h.must("edit cancelled", "17 bytes, text") // the value view again
	h.keys("esc")
	h.must(">   top")
}
