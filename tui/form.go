package tui

// A small form of labelled one-line fields (the Events pane's fire form,
// the Exec pane's command and targets): one field has focus, tab/↓ and
// shift+tab/↑ move between them, the owner handles enter and esc.

import (
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
)

type formModel struct {
	labels []string
	in     []textinput.Model
	focus  int
	err    string // why the last submit was refused ("" when none)
}

// newForm builds a form with one field per label; placeholders, when
// given, are shown in empty fields.
func newForm(labels []string, placeholders []string) formModel {
	width := 0
	for _, l := range labels {
		width = max(width, len(l))
	}
	f := formModel{labels: labels}
	for i, l := range labels {
		ti := textinput.New()
		ti.Prompt = pad(l+":", width+2)
		ti.Cursor.SetMode(cursor.CursorStatic)
		if i < len(placeholders) {
			ti.Placeholder = placeholders[i]
		}
		f.in = append(f.in, ti)
	}
	return f
}

// open focuses the first field, keeping what was typed last time.
func (f *formModel) open() tea.Cmd {
	f.err = ""
	return f.setFocus(0)
}

func (f *formModel) close() {
	for i := range f.in {
		f.in[i].Blur()
	}
}

func (f *formModel) setFocus(i int) tea.Cmd {
	f.focus = (i + len(f.in)) % len(f.in)
	var cmd tea.Cmd
	for j := range f.in {
		if j == f.focus {
			cmd = f.in[j].Focus()
		} else {
			f.in[j].Blur()
		}
	}
	return cmd
}

func (f *formModel) value(i int) string { return f.in[i].Value() }

// key moves between fields or edits the focused one; changed reports that
// a value may have changed.
func (f *formModel) key(msg tea.KeyMsg, k KeyMap) (cmd tea.Cmd, changed bool) {
	switch {
	case key.Matches(msg, k.NextField):
		return f.setFocus(f.focus + 1), false
	case key.Matches(msg, k.PrevField):
		return f.setFocus(f.focus - 1), false
	}
	before := f.in[f.focus].Value()
	f.in[f.focus], cmd = f.in[f.focus].Update(msg)
	if f.in[f.focus].Value() != before {
		f.err = ""
		return cmd, true
	}
	return cmd, false
}

// fit sizes the fields for w columns (layout step: a field scrolls
// sideways as it is edited, which happens in update).
func (f *formModel) fit(w int) {
	for i := range f.in {
		f.in[i].Width = max(w-len(f.in[i].Prompt)-4, 10)
	}
}

// view draws the fields, the focused one marked, within w columns.
func (f *formModel) view(st Styles, w int) string {
	var b strings.Builder
	for i := range f.in {
		b.WriteString(truncate(gutter(i == f.focus)+f.in[i].View(), w))
		b.WriteByte('\n')
	}
	if f.err != "" {
		b.WriteString(st.Error.Render(truncate(f.err, w)))
		b.WriteByte('\n')
	}
	return b.String()
}

// lines is how many lines view draws.
func (f *formModel) lines() int {
	n := len(f.in)
	if f.err != "" {
		n++
	}
	return n
}
