package tui

// The KV pane's editors: the inline editor of a value (e), the new-key flow
// (n), and the writes they make.

import (
	"context"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textarea"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"consulx/api"
)

// kvEditorModel is the inline editor of a value (e) and the new-key flow (n).
type kvEditorModel struct {
	keyIn textinput.Model
	area  textarea.Model
	of    *api.KVPair // the value being edited; nil: a new key
	back  kvMode      // where the editor returns (the tree or the value view)

	// opening: e was pressed and the value is being read for the editor.
	// Keys typed meanwhile (e and its text arrive together when typed
	// fast) are kept in ahead and go to the editor once it opens.
	opening bool
	ahead   []tea.KeyMsg
}

// valueView is the inline editor under a title saying what is edited.
func (e *kvEditorModel) valueView(st Styles, what string) string {
	return st.Header.Render(what) + "  " + st.Faint.Render("ctrl+s saves · esc cancels") + "\n" + e.area.View()
}

// keyView is the name box of a new key.
func (e *kvEditorModel) keyView(st Styles) string {
	return e.keyIn.View() + "\n" + st.Faint.Render("enter: next (a name ending in / creates a folder) · esc cancels")
}

// editKey is a key in the inline editor (e, or the value of a new key).
func (p *kvPane) editKey(msg tea.KeyMsg) tea.Cmd {
	k := p.sh.keys
	switch {
	case key.Matches(msg, k.Cancel):
		p.edit.area.Blur()
		if p.mode == kvEdit && p.edit.back == kvValue {
			p.mode = kvValue
		} else {
			p.mode = kvTree
		}
		p.sh.flash("edit cancelled, nothing saved", false)
		return nil
	case key.Matches(msg, k.Save):
		return p.save()
	}
	var cmd tea.Cmd
	p.edit.area, cmd = p.edit.area.Update(msg)
	return cmd
}

// newKeyKey is a key while the name of a new key is typed (n).
func (p *kvPane) newKeyKey(msg tea.KeyMsg) tea.Cmd {
	k := p.sh.keys
	switch {
	case key.Matches(msg, k.Cancel):
		p.edit.keyIn.Blur()
		p.mode = kvTree
		return nil
	case key.Matches(msg, k.Submit):
		name := strings.TrimLeft(p.edit.keyIn.Value(), "/")
		if name == "" {
			p.sh.flash("a key needs a name", true)
			return nil
		}
		p.edit.keyIn.Blur()
		if strings.HasSuffix(name, "/") {
			// A folder marker: no value to ask for.
			return p.put(&api.KVPair{Key: name}, "created folder "+quote(name))
		}
		p.mode = kvNewValue
		p.edit.of = nil
		p.edit.area.Placeholder = "value of " + name
		p.edit.area.SetValue("")
		return p.edit.area.Focus()
	}
	var cmd tea.Cmd
	p.edit.keyIn, cmd = p.edit.keyIn.Update(msg)
	return cmd
}

// write runs a change off the UI loop; ok=false answers get why.
func (p *kvPane) write(fn func(context.Context, Source) (bool, error), done, why, k string, deleted bool) tea.Cmd {
	src, parent := p.sh.src, p.sh.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, writeTimeout)
		defer cancel()
		ok, err := fn(ctx, src)
		if why == "" {
			why = "the agent refused the change"
		}
		return kvWriteMsg{done: done, ok: ok, why: why, err: err, key: k, deleted: deleted}
	}
}

// editable says (and flashes why not) whether the loaded value can be
// edited as text.
func (p *kvPane) editable() bool {
	if p.value.pair == nil {
		p.sh.flash(quote(p.value.key)+" no longer exists", true)
		return false
	}
	if isBinary(p.value.pair.Value) {
		p.sh.flash("binary value: not editable in the console", true)
		return false
	}
	return true
}

// maxTypeAhead bounds the keys kept while the editor opens.
const maxTypeAhead = 4096

// loadForEdit reads k and opens the editor on it; keys typed until then
// are kept for the editor.
func (p *kvPane) loadForEdit(k string) tea.Cmd {
	p.edit.opening, p.edit.ahead = true, nil
	return p.get(k, true)
}

// openEditor opens the editor on the value just read (err: reading it
// failed) and replays the keys typed while it was read.
func (p *kvPane) openEditor(err error) tea.Cmd {
	ahead := p.edit.ahead
	p.edit.opening, p.edit.ahead = false, nil
	dropped := ""
	if len(ahead) > 0 {
		dropped = fmt.Sprintf(" (%d typed %s dropped)", len(ahead), plural(len(ahead), "key", "keys"))
	}
	if err != nil {
		p.sh.flash("get "+quote(p.value.key)+": "+errText(err)+dropped, true)
		return nil
	}
	cmds := []tea.Cmd{p.startEdit()}
	if p.mode != kvEdit {
		return cmds[0] // not editable: startEdit said why; the keys were for the editor
	}
	for _, k := range ahead {
		cmds = append(cmds, p.update(k))
	}
	return tea.Batch(cmds...)
}

func (p *kvPane) startEdit() tea.Cmd {
	if !p.editable() {
		return nil
	}
	p.edit.of = p.value.pair
	p.mode = kvEdit
	p.edit.area.Placeholder = ""
	p.edit.area.SetValue(string(p.value.pair.Value))
	return p.edit.area.Focus()
}

func (p *kvPane) save() tea.Cmd {
	v := []byte(p.edit.area.Value())
	if p.edit.of != nil {
		pair := &api.KVPair{Key: p.edit.of.Key, Flags: p.edit.of.Flags, Value: v, ModifyIndex: p.edit.of.ModifyIndex}
		k := pair.Key
		return p.write(func(ctx context.Context, src Source) (bool, error) {
			return src.KVPut(ctx, pair, &api.WriteOptions{CAS: true})
		}, "saved "+quote(k), conflictWhy(k), k, false)
	}
	name := strings.TrimLeft(p.edit.keyIn.Value(), "/")
	return p.put(&api.KVPair{Key: name, Value: v}, "created "+quote(name))
}

// put creates a key that must not exist yet (CAS on index 0).
func (p *kvPane) put(pair *api.KVPair, done string) tea.Cmd {
	return p.write(func(ctx context.Context, src Source) (bool, error) {
		return src.KVPut(ctx, pair, &api.WriteOptions{CAS: true})
	}, done, "not created: "+quote(pair.Key)+" already exists", pair.Key, false)
}

// kvWriteError is the status line of a write that failed: a refusal by
// ACLs is the agent's reason alone (it names the permission and the key),
// anything else the error.
func kvWriteError(err error) string {
	if isDenied(err) {
		return errText(err)
	}
	return "error: " + err.Error()
}
