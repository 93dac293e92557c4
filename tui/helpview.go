package tui

// The footer and the ? overlay: which keys work now, and every key group
// laid out in as few lines as the width allows.

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// shortHelp is the footer: only the keys that work in the current mode.
func (m *Model) shortHelp() []key.Binding {
	k := m.sh.keys
	switch {
	case m.quitAsk != nil:
		return []key.Binding{hint(k.Yes, "quit"), anyKeyCancels}
	case m.panes[m.active].capturing():
		return append(m.panes[m.active].helpKeys(), k.ForceQuit)
	case m.full:
		keys := []key.Binding{key.NewBinding(key.WithKeys("?", "esc"), key.WithHelp("?/esc", "close"))}
		if m.helpOverflows() {
			keys = append([]key.Binding{hint(k.Up, "scroll up"), hint(k.Down, "scroll down")}, keys...)
		}
		return append(keys, k.Quit)
	}
	return append(m.panes[m.active].helpKeys(), k.Help, k.Quit)
}

// helpKey scrolls or closes the ? overlay; ok is false for keys it leaves
// to the global bindings (q, tab, the pane numbers).
func (m *Model) helpKey(msg tea.KeyMsg) (cmd tea.Cmd, ok bool) {
	k := m.sh.keys
	lines := len(m.helpLines())
	room := m.helpRoom(m.bodyHeight())
	switch {
	case key.Matches(msg, k.Back):
		m.full = false
	case key.Matches(msg, k.Help):
		m.full = false
	case key.Matches(msg, k.Up):
		m.helpTop--
	case key.Matches(msg, k.Down):
		m.helpTop++
	case key.Matches(msg, k.PageUp):
		m.helpTop -= room
	case key.Matches(msg, k.PageDown):
		m.helpTop += room
	case key.Matches(msg, k.Top):
		m.helpTop = 0
	case key.Matches(msg, k.Bottom):
		m.helpTop = lines
	default:
		return nil, false
	}
	m.helpTop = min(max(m.helpTop, 0), max(lines-room, 0))
	return nil, true
}

// clampHelp keeps the overlay's first line inside what the body shows
// (layout step after a resize).
func (m *Model) clampHelp() {
	if m.full {
		m.helpTop = min(max(m.helpTop, 0), max(len(m.helpLines())-m.helpRoom(m.bodyHeight()), 0))
	}
}

// helpRoom is how many lines of key groups fit under the overlay's title.
func (m *Model) helpRoom(bodyH int) int { return max(bodyH-2, 1) }

func (m *Model) helpOverflows() bool { return len(m.helpLines()) > m.helpRoom(m.bodyHeight()) }

// helpBlock is one key group laid out for the overlay.
type helpBlock struct {
	lines []string
	width int
}

// helpLines lays the key groups out in as few lines as the width allows:
// the groups, in order, split into columns (every split is tried; there
// are only a handful of groups) and the shortest layout that fits the
// width wins. Disabled (read-only) bindings are left out.
func (m *Model) helpLines() []string {
	st := m.sh.st
	var blocks []helpBlock
	for _, g := range m.sh.keys.groups() {
		var rows [][]string
		for _, k := range g.keys {
			if k.b.Enabled() {
				rows = append(rows, []string{k.b.Help().Key, k.desc()})
			}
		}
		if len(rows) == 0 {
			continue
		}
		lines := append([]string{st.Header.Render(g.name)}, strings.Split(strings.TrimRight(table(rows, 0), "\n"), "\n")...)
		w := 0
		for _, l := range lines {
			w = max(w, lipgloss.Width(l))
		}
		blocks = append(blocks, helpBlock{lines: lines, width: w})
	}
	const gap = 3
	n := len(blocks)
	bestH, bestW, bestCut := -1, 0, 0
	// Bit i of cut set: a new column starts at block i+1.
	for cut := 0; cut < 1<<max(n-1, 0); cut++ {
		width, height, colW, colH := 0, 0, 0, 0
		for i, bl := range blocks {
			if colH > 0 {
				colH++ // a blank line between groups of one column
			}
			colW, colH = max(colW, bl.width), colH+len(bl.lines)
			if i == n-1 || cut&(1<<i) != 0 {
				if width > 0 {
					width += gap
				}
				width, height = width+colW, max(height, colH)
				colW, colH = 0, 0
			}
		}
		fits := width <= m.w
		switch {
		case bestH < 0,
			fits && (bestW > m.w || height < bestH || height == bestH && width < bestW),
			!fits && bestW > m.w && width < bestW:
			bestH, bestW, bestCut = height, width, cut
		}
	}
	var cols []string
	var col []string
	for i, bl := range blocks {
		if len(col) > 0 {
			col = append(col, "")
		}
		col = append(col, bl.lines...)
		if i == n-1 || bestCut&(1<<i) != 0 {
			cols = append(cols, lipgloss.NewStyle().PaddingRight(gap).Render(strings.Join(col, "\n")))
			col = nil
		}
	}
	out := strings.Split(lipgloss.JoinHorizontal(lipgloss.Top, cols...), "\n")
	for i, l := range out {
		out[i] = truncate(strings.TrimRight(l, " "), m.w)
	}
	return out
}

// fullHelp is the ? overlay for a body of h lines, scrolled to helpTop.
func (m *Model) fullHelp(h int) string {
	lines := m.helpLines()
	room := m.helpRoom(h)
	top := min(max(m.helpTop, 0), max(len(lines)-room, 0)) // kept by clampHelp; h may be shorter
	title := "Keys (? or esc closes)"
	if len(lines) > room {
		title = fmt.Sprintf("Keys (?/esc closes) · %d-%d of %d · j/k scroll", top+1, min(top+room, len(lines)), len(lines))
	}
	end := min(top+room, len(lines))
	return truncate(title, m.w) + "\n\n" + strings.Join(lines[top:end], "\n")
}
