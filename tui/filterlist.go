package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
)

// filterList is the part of a table pane the Members and Services panes
// share: rows narrowed by a "/" filter (a substring of each row's text,
// case-insensitive), a cursor that stays on the same row across refreshes
// and filter changes, and the scroll window. The pane owns the rows'
// meaning: it says how a row is matched and named, how the kept rows are
// ordered, and what to recompute once they change.
type filterList[R any] struct {
	all    []R
	rows   []R // the rows the filter keeps
	cursor int
	top    int // first row on screen (kept by layout, read by views)

	input  textinput.Model
	typing bool // the filter box has focus

	text    func(R) string // lower-cased text the filter matches
	name    func(R) string // identity, to keep the cursor on the same row
	arrange func(rows []R) // orders the kept rows and derives what the view needs (optional)
}

func newFilterList[R any](text, name func(R) string, arrange func([]R)) filterList[R] {
	ti := textinput.New()
	ti.Prompt = "/"
	ti.Placeholder = "filter"
	ti.Cursor.SetMode(cursor.CursorStatic)
	return filterList[R]{input: ti, text: text, name: name, arrange: arrange}
}

// set replaces every row.
func (f *filterList[R]) set(all []R) {
	f.all = all
	f.apply()
}

// apply recomputes the kept rows, keeping the cursor on the same row.
func (f *filterList[R]) apply() {
	var keep string
	if f.cursor < len(f.rows) {
		keep = f.name(f.rows[f.cursor])
	}
	q := strings.ToLower(f.input.Value())
	f.rows = f.rows[:0]
	for _, r := range f.all {
		if q == "" || strings.Contains(f.text(r), q) {
			f.rows = append(f.rows, r)
		}
	}
	if f.arrange != nil {
		f.arrange(f.rows)
	}
	f.cursor = 0
	for i, r := range f.rows {
		if f.name(r) == keep {
			f.cursor = i
			break
		}
	}
}

// current is the row under the cursor.
func (f *filterList[R]) current() (R, bool) {
	if f.cursor < len(f.rows) {
		return f.rows[f.cursor], true
	}
	var zero R
	return zero, false
}

func (f *filterList[R]) move(d int) { f.cursor = min(max(f.cursor+d, 0), max(len(f.rows)-1, 0)) }

// startFilter focuses the filter box ("/").
func (f *filterList[R]) startFilter() tea.Cmd {
	f.typing = true
	return f.input.Focus()
}

// clearFilter drops a filter (esc outside the box).
func (f *filterList[R]) clearFilter() {
	if f.input.Value() != "" {
		f.input.SetValue("")
		f.apply()
	}
}

// typingKey handles a key while the filter box has focus: esc clears and
// closes it, enter keeps the filter, the arrows move, the rest is text.
func (f *filterList[R]) typingKey(msg tea.KeyMsg, k KeyMap) tea.Cmd {
	switch {
	case key.Matches(msg, k.Cancel):
		f.typing = false
		f.input.Blur()
		f.input.SetValue("")
		f.apply()
		return nil
	case key.Matches(msg, k.Submit):
		f.typing = false
		f.input.Blur()
		return nil
	case msg.Type == tea.KeyUp:
		f.move(-1)
		return nil
	case msg.Type == tea.KeyDown:
		f.move(1)
		return nil
	}
	var cmd tea.Cmd
	f.input, cmd = f.input.Update(msg)
	f.apply()
	return cmd
}

// filterLine is the box and how many rows it keeps, while a filter is
// being typed or is set ("" otherwise).
func (f *filterList[R]) filterLine(st Styles) string {
	if !f.typing && f.input.Value() == "" {
		return ""
	}
	return f.input.View() + "  " + st.Faint.Render(fmt.Sprintf("%d of %d", len(f.rows), len(f.all)))
}

// scroll keeps the cursor inside a window of h rows (layout step).
func (f *filterList[R]) scroll(h int) { f.top = scrollTop(f.top, f.cursor, h, len(f.rows)) }

// window is the range of rows a view of h rows shows.
func (f *filterList[R]) window(h int) (from, to int) {
	from = scrollTop(f.top, f.cursor, h, len(f.rows))
	return from, min(from+max(h, 1), len(f.rows))
}
