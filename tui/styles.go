package tui

import (
	"strings"

	"github.com/charmbracelet/lipgloss"
)

// Styles are the console's semantic styles. Colours degrade to nothing
// under an Ascii colour profile, which the tests use.
type Styles struct {
	Title, Header, TabActive, Tab, Faint, Selected, Breadcrumb lipgloss.Style
	OK, Bad, Warn, Gone                                        lipgloss.Style
	Dialog, Error, Info                                        lipgloss.Style
}

func defaultStyles() Styles { return newStyles(lipgloss.DefaultRenderer()) }

// newStyles builds the styles for r (tests pass a renderer with colours on).
func newStyles(r *lipgloss.Renderer) Styles {
	s := r.NewStyle
	return Styles{
		Title:     s().Bold(true).Foreground(lipgloss.Color("12")),
		Header:    s().Bold(true),
		TabActive: s().Bold(true).Reverse(true),
		Tab:       s().Faint(true),
		Faint:     s().Faint(true),
		// A background rather than reverse video: the cells of the selected
		// row keep their own colours (a failed node stays red under the
		// cursor). The "> " gutter marks it where there is no colour.
		Selected:   s().Bold(true).Background(lipgloss.AdaptiveColor{Light: "252", Dark: "238"}),
		Breadcrumb: s().Foreground(lipgloss.Color("14")),
		OK:         s().Foreground(lipgloss.Color("2")),
		Bad:        s().Foreground(lipgloss.Color("1")),
		Warn:       s().Foreground(lipgloss.Color("3")),
		Gone:       s().Foreground(lipgloss.Color("8")),
		Dialog:     s().Border(lipgloss.NormalBorder()).Padding(0, 1).BorderForeground(lipgloss.Color("3")),
		Error:      s().Foreground(lipgloss.Color("1")),
		Info:       s().Foreground(lipgloss.Color("6")),
	}
}

// filteredMark marks a pane whose list ACLs cut: the token could not see
// every entry (X-Consul-Results-Filtered-By-ACLs). It is a note, not an
// error: the rest of the list is right.
func (st Styles) filteredMark() string { return st.Warn.Render("filtered by ACLs") }

// cell is one column of a table row and the style of its text (nil: plain).
type cell struct {
	text  string
	style *lipgloss.Style
}

// row draws a table row: the gutter, then the cells joined by two spaces,
// cut to w. Cells are padded to widths (the last one is not, so rows do
// not end in blanks). On the selected row every part also gets the
// Selected background, so the cells keep their colours under the cursor.
func (st Styles) row(cells []cell, widths []int, selected bool, w int) string {
	// Cut the plain text first (styling cannot change what fits), then
	// style the parts that survived.
	var plain strings.Builder
	plain.WriteString(gutter(selected))
	ends := make([]int, len(cells))
	styled := selected
	for i, c := range cells {
		if i > 0 {
			plain.WriteString("  ")
		}
		t := c.text
		if i < len(cells)-1 && i < len(widths) {
			t = pad(t, widths[i])
		}
		plain.WriteString(t)
		ends[i] = plain.Len()
		styled = styled || c.style != nil
	}
	full := strings.TrimRight(plain.String(), " ")
	line := truncate(full, w)
	if !styled {
		return line
	}
	// A cut line is a prefix of the plain text plus "…": byte offsets into
	// the plain text hold up to the cut.
	limit := len(line)
	if line != full {
		limit = len(line) - len("…")
	}
	var b strings.Builder
	render := func(s *lipgloss.Style, text string) {
		switch {
		case text == "":
		case s == nil && !selected:
			b.WriteString(text)
		case s == nil:
			b.WriteString(st.Selected.Render(text))
		case selected:
			b.WriteString(s.Inherit(st.Selected).Render(text))
		default:
			b.WriteString(s.Render(text))
		}
	}
	pos := 0
	next := func(end int) string {
		end = min(end, limit)
		if pos >= end {
			return ""
		}
		t := line[pos:end]
		pos = end
		return t
	}
	render(nil, next(len(gutter(selected))))
	for i, c := range cells {
		if i > 0 {
			render(nil, next(pos+2))
		}
		render(c.style, next(ends[i]))
	}
	render(nil, line[pos:]) // the "…" of a cut line
	return b.String()
}

// styleOf is a pointer to s, for a cell.
func styleOf(s lipgloss.Style) *lipgloss.Style { return &s }
