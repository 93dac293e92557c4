package tui

// The KV pane's value view: one key's value, JSON pretty-printed, text as is,
// binary as a hex dump, in a scrolling view.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"consulx/api"
)

// kvValueModel is one key's value, shown in a scrolling view.
type kvValueModel struct {
	key    string
	pair   *api.KVPair
	err    error
	vp     viewport.Model
	txt    string // the rendered value, before wrapping
	wrapW  int    // the width txt was wrapped to in vp
	backTo kvMode // where esc leaves the value view for
}

// fit sizes the value view, re-wrapping the value when the width changed.
func (v *kvValueModel) fit(w, h int) {
	v.vp.Width, v.vp.Height = w, h
	if v.wrapW != w {
		v.wrapW = w
		v.vp.SetContent(wrapText(v.txt, w))
	}
}

func (p *kvPane) get(k string, edit bool) tea.Cmd { return p.load(k, edit, false) }

func (p *kvPane) load(k string, edit, external bool) tea.Cmd {
	src, parent := p.sh.src, p.sh.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, pollTimeout)
		defer cancel()
		pair, _, err := src.KVGet(ctx, k, nil)
		return kvValueMsg{key: k, pair: pair, err: err, edit: edit, external: external}
	}
}

func (p *kvPane) onValue(msg kvValueMsg) tea.Cmd {
	if msg.key != p.value.key {
		return nil
	}
	changed := msg.pair == nil || p.value.pair == nil || msg.pair.ModifyIndex != p.value.pair.ModifyIndex
	p.value.pair, p.value.err = msg.pair, msg.err
	if changed {
		p.value.setText(renderValue(msg.pair))
	}
	if msg.edit {
		return p.openEditor(msg.err)
	}
	if msg.external {
		if msg.err != nil {
			p.sh.flash("get "+quote(msg.key)+": "+errText(msg.err), true)
			return nil
		}
		return p.startExternal()
	}
	return nil
}

func (p *kvPane) open(k string, from kvMode) tea.Cmd {
	p.mode, p.value.backTo = kvValue, from
	p.value.key, p.value.pair, p.value.err = k, nil, nil
	p.value.setText("")
	p.value.vp.GotoTop()
	return p.get(k, false)
}

// valueKey is a key in the value view.
func (p *kvPane) valueKey(msg tea.KeyMsg) tea.Cmd {
	k := p.sh.keys
	switch {
	case key.Matches(msg, k.Back):
		// From a search result, back to the results, not into the
		// box: j and k move there, / edits the search.
		p.mode = p.value.backTo
		return nil
	case key.Matches(msg, k.Edit):
		p.edit.back = kvValue
		if p.value.pair == nil && p.value.err == nil {
			// Still loading (enter and e typed together): open the
			// editor when it arrives.
			return p.loadForEdit(p.value.key)
		}
		return p.startEdit()
	case key.Matches(msg, k.ExtEdit):
		return p.extEdit(p.value.key, kvValue)
	case key.Matches(msg, k.Delete):
		p.askDelete(p.value.key)
		return nil
	case key.Matches(msg, k.Top):
		p.value.vp.GotoTop()
		return nil
	case key.Matches(msg, k.Bottom):
		p.value.vp.GotoBottom()
		return nil
	}
	var cmd tea.Cmd
	p.value.vp, cmd = p.value.vp.Update(msg)
	return cmd
}

func (v *kvValueModel) view(st Styles, w, h int) string {
	var b strings.Builder
	switch {
	case v.err != nil:
		return st.Error.Render("get " + quote(v.key) + ": " + errText(v.err))
	case v.pair == nil:
		return st.Header.Render(v.key) + "\n" + st.Faint.Render("(no such key, or loading…)")
	}
	pair := v.pair
	sess := pair.Session
	if sess == "" {
		sess = "-"
	}
	b.WriteString(st.Header.Render(truncate(pair.Key, w)) + "\n")
	b.WriteString(st.Faint.Render(truncate(fmt.Sprintf("%d bytes, %s · flags %d · create %d · modify %d · lock %d · session %s",
		len(pair.Value), valueKind(pair.Value), pair.Flags, pair.CreateIndex, pair.ModifyIndex, pair.LockIndex, sess), w)) + "\n")
	vp := v.vp // sized by layout; a copy, so a shorter body (a dialog over it) changes nothing
	vp.Height = max(h-2, 1)
	b.WriteString(vp.View())
	return b.String()
}

// setValueText shows s in the value view, wrapped to the view's width.
func (v *kvValueModel) setText(s string) {
	v.txt = s
	v.wrapW = max(v.vp.Width, 1)
	v.vp.SetContent(wrapText(s, v.wrapW))
}

// wrapText breaks every line longer than w columns, at a space where
// there is one (a word longer than w is cut), so a long one-line value is
// shown whole instead of running off the screen.
func wrapText(s string, w int) string {
	if w <= 0 {
		return s
	}
	return ansi.Wrap(s, w, "")
}

// renderValue shows JSON pretty-printed, text as is and binary as a hex dump.
func renderValue(p *api.KVPair) string {
	if p == nil {
		return ""
	}
	switch valueKind(p.Value) {
	case "empty":
		return "(empty value)"
	case "binary":
		return hex.Dump(p.Value)
	case "json":
		var out bytes.Buffer
		if json.Indent(&out, bytes.TrimSpace(p.Value), "", "  ") == nil {
			return out.String()
		}
	}
	return string(p.Value)
}

func isBinary(v []byte) bool {
	if !utf8.Valid(v) {
		return true
	}
	for _, r := range string(v) {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' {
			return true
		}
	}
	return false
}

func valueKind(v []byte) string {
	t := bytes.TrimSpace(v)
	switch {
	case len(v) == 0:
		return "empty"
	case isBinary(v):
		return "binary"
	case len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t):
		return "json"
	}
	return "text"
}
