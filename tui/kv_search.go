package tui

// The KV pane's search: a substring of any key in the store.

import (
	"context"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
)

// kvSearchModel is the whole-store search: typing into the box (typing), or,
// once a result was opened and closed, moving through the results with
// the box blurred.
type kvSearchModel struct {
	input  textinput.Model
	typing bool
	// openLoaded: enter came before the key list (typed together with the
	// search text); the first result opens when the list arrives.
	openLoaded bool
	all        []string
	allLower   []string
	allErr     error
	allLoaded  bool
	results    []int // indexes into all
	cursor     int
	top        int
}

// Value is the search text.
func (s *kvSearchModel) Value() string { return s.input.Value() }

func (p *kvPane) loadAll() tea.Cmd {
	src, parent := p.sh.src, p.sh.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, pollTimeout)
		defer cancel()
		keys, _, err := src.KVKeys(ctx, "", "", nil)
		return kvAllKeysMsg{keys: keys, err: err}
	}
}

func (p *kvPane) searchKey(msg tea.KeyMsg) tea.Cmd {
	k := p.sh.keys
	if !p.search.typing {
		// The results, the box blurred: keys navigate.
		switch {
		case key.Matches(msg, k.Back):
			p.mode = kvTree
		case key.Matches(msg, k.Filter):
			p.search.typing = true
			return p.search.input.Focus()
		case key.Matches(msg, k.Open):
			return p.openResult()
		default:
			p.search.cursor = moveCursor(msg, k, p.search.cursor, len(p.search.results))
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Cancel):
		p.search.input.Blur()
		p.search.typing = false
		p.mode = kvTree
		return nil
	case msg.Type == tea.KeyUp || msg.Type == tea.KeyCtrlP:
		p.search.cursor = max(p.search.cursor-1, 0)
		return nil
	case msg.Type == tea.KeyDown || msg.Type == tea.KeyCtrlN:
		p.search.cursor = min(p.search.cursor+1, max(len(p.search.results)-1, 0))
		return nil
	case key.Matches(msg, k.Open):
		if !p.search.allLoaded && p.search.allErr == nil {
			p.search.openLoaded = true
			return nil
		}
		return p.openResult()
	}
	var cmd tea.Cmd
	before := p.search.input.Value()
	p.search.input, cmd = p.search.input.Update(msg)
	if p.search.input.Value() != before {
		p.search.filter()
	}
	return cmd
}

// openResult opens the selected search result: a folder in the tree, a
// key in the value view (esc there returns to the results).
func (p *kvPane) openResult() tea.Cmd {
	if p.search.cursor >= len(p.search.results) {
		return nil
	}
	hit := p.search.all[p.search.results[p.search.cursor]]
	p.search.input.Blur()
	p.search.typing = false
	if strings.HasSuffix(hit, "/") {
		p.mode = kvTree
		return p.cd(hit, "")
	}
	return p.open(hit, kvSearch)
}

// filterResults keeps the keys containing the query (case-insensitive).
func (s *kvSearchModel) filter() {
	q := strings.ToLower(s.input.Value())
	s.results = s.results[:0]
	if q == "" {
		s.cursor, s.top = 0, 0
		return
	}
	for i, l := range s.allLower {
		if strings.Contains(l, q) {
			s.results = append(s.results, i)
		}
	}
	s.cursor = min(s.cursor, max(len(s.results)-1, 0))
}

func (s *kvSearchModel) view(st Styles, w, h int) string {
	var b strings.Builder
	b.WriteString(s.input.View())
	switch {
	case s.allErr != nil:
		b.WriteString("  " + st.Error.Render(errText(s.allErr)))
	case !s.allLoaded:
		b.WriteString("  " + st.Faint.Render("loading all keys…"))
	case s.input.Value() != "":
		b.WriteString("  " + st.Faint.Render(fmt.Sprintf("%d of %d %s", len(s.results), len(s.all), plural(len(s.all), "key", "keys"))))
	default:
		b.WriteString("  " + st.Faint.Render(fmt.Sprintf("%d %s; type to search", len(s.all), plural(len(s.all), "key", "keys"))))
	}
	b.WriteByte('\n')
	h--
	top := scrollTop(s.top, s.cursor, h, len(s.results))
	for i := top; i < len(s.results) && i < top+h; i++ {
		line := truncate(gutter(i == s.cursor)+s.all[s.results[i]], w)
		if i == s.cursor {
			line = st.Selected.Render(line)
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}
