package tui

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"consulx/api"
)

type (
	// kvExtReadyMsg: the value of pair is in the temp file path; run argv on it.
	kvExtReadyMsg struct {
		pair *api.KVPair
		path string
		argv []string
		err  error
	}
	// kvExtDoneMsg: the editor on path exited (err: it failed).
	kvExtDoneMsg struct {
		pair *api.KVPair
		path string
		err  error
	}
	// kvNoteMsg is a result that changes nothing but the status line.
	kvNoteMsg struct {
		text  string
		isErr bool
	}
)

// editorArgv is $VISUAL, else $EDITOR, split into the program and its
// arguments ("code --wait"); nil when neither is set.
func (p *kvPane) editorArgv() []string {
	for _, v := range []string{"VISUAL", "EDITOR"} {
		if f := strings.Fields(p.sh.getenv(v)); len(f) > 0 {
			return f
		}
	}
	return nil
}

// extEdit starts E on key k; from is where esc returns to. Without an
// editor in the environment it is e.
func (p *kvPane) extEdit(k string, from kvMode) tea.Cmd {
	p.edit.back = from
	if from == kvTree {
		p.value.key, p.value.pair = k, nil
	}
	if p.editorArgv() == nil {
		if from == kvValue {
			if p.value.pair == nil && p.value.err == nil {
				return p.loadForEdit(k)
			}
			return p.startEdit()
		}
		return p.loadForEdit(k)
	}
	return p.load(k, false, true)
}

// startExternal writes the loaded value to a private temp file (off the
// UI loop) for the editor.
func (p *kvPane) startExternal() tea.Cmd {
	if !p.editable() {
		return nil
	}
	argv := p.editorArgv()
	if argv == nil {
		return p.startEdit()
	}
	pair := p.value.pair
	return func() tea.Msg {
		path, err := writeTemp(pair)
		return kvExtReadyMsg{pair: pair, path: path, argv: argv, err: err}
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// writeTemp saves the value in a new 0600 file whose name ends in the key's
// base name, so the editor can pick a syntax from the extension.
func writeTemp(pair *api.KVPair) (string, error) {
	base := pair.Key
	if i := strings.LastIndexByte(base, '/'); i >= 0 {
		base = base[i+1:]
	}
	f, err := os.CreateTemp("", "consulx-kv-*-"+unsafeName.ReplaceAllString(base, "_"))
	if err != nil {
		return "", err
	}
	_, err = f.Write(pair.Value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

func (p *kvPane) onExtReady(msg kvExtReadyMsg) tea.Cmd {
	if msg.err != nil {
		p.sh.flash("editor: temp file: "+msg.err.Error(), true)
		return nil
	}
	c := exec.Command(msg.argv[0], append(msg.argv[1:], msg.path)...)
	pair, path := msg.pair, msg.path
	return p.sh.exec(c, func(err error) tea.Msg { return kvExtDoneMsg{pair: pair, path: path, err: err} })
}

// saveExternal reads the edited file back (and removes it) and, when the
// value changed, writes it with check-and-set on the index it was read at,
// as the inline editor's save does.
func (p *kvPane) saveExternal(msg kvExtDoneMsg) tea.Cmd {
	src, parent := p.sh.src, p.sh.ctx
	orig, path, runErr := msg.pair, msg.path, msg.err
	return func() tea.Msg {
		defer os.Remove(path)
		k := orig.Key
		if runErr != nil {
			return kvNoteMsg{text: "editor: " + runErr.Error() + "; " + quote(k) + " not saved", isErr: true}
		}
		v, err := os.ReadFile(path)
		if err != nil {
			return kvNoteMsg{text: "editor: " + err.Error() + "; " + quote(k) + " not saved", isErr: true}
		}
		// Editors end the last line on save; a value that had no final
		// newline does not get one that way.
		if !bytes.HasSuffix(orig.Value, []byte("\n")) {
			v = bytes.TrimSuffix(bytes.TrimSuffix(v, []byte("\n")), []byte("\r"))
		}
		if bytes.Equal(v, orig.Value) {
			return kvNoteMsg{text: quote(k) + " unchanged, nothing saved"}
		}
		pair := &api.KVPair{Key: k, Flags: orig.Flags, Value: v, ModifyIndex: orig.ModifyIndex}
		ctx, cancel := context.WithTimeout(parent, writeTimeout)
		defer cancel()
		ok, err := src.KVPut(ctx, pair, &api.WriteOptions{CAS: true})
		return kvWriteMsg{done: "saved " + quote(k), ok: ok, why: conflictWhy(k), err: err, key: k, edited: v, editOf: orig}
	}
}

func conflictWhy(k string) string {
	return "not saved: " + quote(k) + " changed since it was opened (esc, then reopen it)"
}

// keepEdited opens the inline editor on text that could not be saved, so a
// conflict (or an error) after an external edit loses nothing.
func (p *kvPane) keepEdited(msg kvWriteMsg) tea.Cmd {
	p.value.key = msg.key
	p.edit.of = msg.editOf
	p.mode = kvEdit
	p.edit.area.Placeholder = ""
	p.edit.area.SetValue(string(msg.edited))
	return p.edit.area.Focus()
}
