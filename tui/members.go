package tui

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"consulx/api"
)

type membersMsg struct {
	wan      bool
	members  []api.Member
	filtered bool // ACLs hid some members from the token
	err      error
}

var memberCols = []string{"Node", "Address", "Status", "Type", "Build", "DC"}

// memberRow is a member already formatted for the table.
type memberRow struct {
	cells  [6]string
	status string
	maint  string // "maint · reason" when the node is in maintenance
	lower  string // all cells and the marker, lower-cased, for the filter
}

func toRow(mb api.Member) memberRow {
	typ := "client"
	if mb.Tags["role"] == "consul" {
		typ = "server"
	}
	build := mb.Tags["build"]
	if i := strings.IndexByte(build, ':'); i >= 0 {
		build = build[:i]
	}
	addr := mb.Addr
	if mb.Port != 0 {
		addr += ":" + strconv.Itoa(int(mb.Port))
	}
	st := api.StatusWord(mb.Status)
	return memberRow{cells: [6]string{mb.Name, addr, st, typ, build, mb.Tags["dc"]}, status: st}
}

// maintMarker is the marker of a node or instance in maintenance.
func maintMarker(reason string) string { return "maint · " + reasonText(reason) }

// membersPane is the LAN (or WAN) member table.
type membersPane struct {
	sh  *shared
	wan bool

	raw      []api.Member
	list     filterList[memberRow] // filtered, sorted by sortCol
	loaded   bool
	busy     bool
	err      error
	filtered bool // the last list left out members the token may not see
	sortCol  int
	widths   []int // of the kept rows' columns, computed when they change
	w, h     int   // the body's size (for the scroll window)

	maint   *maintFlow
	inMaint int // nodes in maintenance; the MAINT column shows when > 0
}

func newMembersPane(sh *shared, wan bool) *membersPane {
	p := &membersPane{sh: sh, wan: wan, maint: newMaintFlow(sh), w: 100, h: 26}
	p.list = newFilterList(func(r memberRow) string { return r.lower }, func(r memberRow) string { return r.cells[0] }, p.arrange)
	return p
}

// showsMaint: LAN members are marked when in maintenance (WAN names are
// node.dc, and maintenance is per LAN node).
func (p *membersPane) showsMaint() bool { return !p.wan }

func (p *membersPane) title() string {
	if p.wan {
		return "WAN"
	}
	return "Members"
}

func (p *membersPane) capturing() bool { return p.list.typing || p.maint.active() }

func (p *membersPane) helpKeys() []key.Binding {
	k := p.sh.keys
	if p.maint.active() {
		return p.maint.helpKeys()
	}
	if p.list.typing {
		return []key.Binding{arrowsOnly, hint(k.Submit, "keep filter"), hint(k.Cancel, "clear filter")}
	}
	if p.wan || p.maintRefusal() != "" {
		return []key.Binding{k.Up, k.Down, k.Filter, k.Sort}
	}
	return []key.Binding{k.Up, k.Down, k.Filter, k.Sort, k.Maint}
}

func (p *membersPane) poll() tea.Cmd { return p.refresh() }

func (p *membersPane) refresh() tea.Cmd {
	if p.busy {
		return nil
	}
	p.busy = true
	src, parent, wan := p.sh.src, p.sh.ctx, p.wan
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, pollTimeout)
		defer cancel()
		ms, meta, err := src.MembersMeta(ctx, wan)
		return membersMsg{wan: wan, members: ms, filtered: meta != nil && meta.ResultsFilteredByACLs, err: err}
	}
}

func (p *membersPane) update(msg tea.Msg) tea.Cmd {
	cmd := p.handle(msg)
	p.layout()
	return cmd
}

// layout keeps the cursor's row inside the window the view will draw.
func (p *membersPane) layout() {
	used := 3
	if d := p.maint.view(p.w); d != "" {
		used += strings.Count(d, "\n")
	}
	p.list.scroll(max(p.h-used, 1))
}

func (p *membersPane) handle(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case paneSizeMsg:
		p.w, p.h = msg.w, msg.h
	case membersMsg:
		if msg.wan != p.wan {
			return nil
		}
		p.busy = false
		p.err = msg.err
		if msg.err != nil {
			return nil
		}
		p.loaded = true
		p.raw = msg.members
		p.filtered = msg.filtered
		p.rebuild()
	case maintMsg, maintDoneMsg:
		if !p.wan {
			p.rebuild()
		}
	case tea.KeyMsg:
		if p.maint.active() {
			return p.maint.key(msg)
		}
		return p.key(msg)
	}
	return nil
}

// rebuild formats the members again (new data or maintenance state).
func (p *membersPane) rebuild() {
	all := p.list.all[:0] // reused: the kept rows are copies, not views into it
	p.inMaint = 0
	for _, mb := range p.raw {
		r := toRow(mb)
		if reason, on := p.sh.maint.node(mb.Name); on && !p.wan {
			r.maint = maintMarker(reason)
			p.inMaint++
		}
		r.lower = strings.ToLower(strings.Join(r.cells[:], "\x00") + "\x00" + r.maint)
		all = append(all, r)
	}
	p.list.set(all)
}

// arrange sorts the kept rows by the sort column and sizes the columns.
func (p *membersPane) arrange(rows []memberRow) {
	c := p.sortCol
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i].cells, rows[j].cells
		if a[c] != b[c] {
			return a[c] < b[c]
		}
		return a[0] < b[0]
	})
	// Column widths are computed here, once per data or filter change, so
	// a keypress only draws the visible rows.
	p.widths = make([]int, len(memberCols))
	for i, c := range memberCols {
		p.widths[i] = len(c)
		if i == p.sortCol {
			p.widths[i] += 2 // " ↓"
		}
	}
	for _, r := range rows {
		for i, c := range r.cells {
			p.widths[i] = max(p.widths[i], textWidth(c))
		}
	}
}

func (p *membersPane) key(msg tea.KeyMsg) tea.Cmd {
	k := p.sh.keys
	if p.list.typing {
		return p.list.typingKey(msg, k)
	}
	switch {
	case key.Matches(msg, k.Maint):
		return p.toggleMaint()
	case key.Matches(msg, k.Filter):
		return p.list.startFilter()
	case key.Matches(msg, k.Back):
		p.list.clearFilter()
	case key.Matches(msg, k.Sort):
		p.sortCol = (p.sortCol + 1) % len(memberCols)
		p.list.apply()
		p.sh.flash("sorted by "+memberCols[p.sortCol], false)
	default:
		p.list.cursor = moveCursor(msg, k, p.list.cursor, len(p.list.rows))
	}
	return nil
}

// toggleMaint opens the maintenance dialog for the node under the cursor.
func (p *membersPane) toggleMaint() tea.Cmd {
	switch {
	case p.wan:
		p.sh.flash("maintenance is per LAN node: use pane 1", false)
		return nil
	case p.list.cursor >= len(p.list.rows):
		return nil
	case !p.sh.maint.loaded:
		p.sh.flash("maintenance state not loaded yet; try again", false)
		return nil
	}
	if why := p.maintRefusal(); why != "" {
		p.sh.flash(why, false)
		return nil
	}
	node := p.list.rows[p.list.cursor].cells[0]
	reason, on := p.sh.maint.node(node)
	return p.maint.start(maintTarget{node: node, on: on, reason: reason})
}

// maintRefusal says why m cannot work on the member under the cursor ("":
// it can). Maintenance is set by the node's own agent, reached through the
// cluster, so only an alive member can take it.
func (p *membersPane) maintRefusal() string {
	r, ok := p.list.current()
	if !ok {
		return "no member selected"
	}
	if r.status != "alive" {
		return fmt.Sprintf("node %s is %s: its agent cannot be reached, so its maintenance cannot change", r.cells[0], r.status)
	}
	return ""
}

func (p *membersPane) counts() string {
	var alive, failed, left, other, servers, clients int
	all := p.list.all
	for _, r := range all {
		switch r.status {
		case "alive":
			alive++
		case "failed":
			failed++
		case "left":
			left++
		default:
			other++
		}
		if r.cells[3] == "server" {
			servers++
		} else {
			clients++
		}
	}
	s := fmt.Sprintf("%d %s: %d alive, %d failed, %d left", len(all), plural(len(all), "member", "members"), alive, failed, left)
	if other > 0 {
		s += fmt.Sprintf(", %d other", other)
	}
	s += fmt.Sprintf(" · %d %s, %d %s", servers, plural(servers, "server", "servers"), clients, plural(clients, "client", "clients"))
	if p.inMaint > 0 {
		s += fmt.Sprintf(" · %d in maintenance", p.inMaint)
	}
	return s
}

func (p *membersPane) view(w, h int) string {
	st := p.sh.st
	var b strings.Builder
	switch {
	case p.err != nil && !p.loaded:
		return st.Error.Render("members: " + errText(p.err))
	case !p.loaded:
		return st.Faint.Render("loading members…")
	case p.wan && len(p.list.all) == 0 && !p.filtered:
		return st.Faint.Render("WAN membership is visible from server agents only")
	}
	line := st.Header.Render(p.counts())
	if p.filtered {
		line += "  " + st.filteredMark()
	}
	if p.err != nil {
		line += "  " + st.Error.Render("(stale: "+errText(p.err)+")")
	}
	b.WriteString(truncate(line, w) + "\n")
	used := 3
	if d := p.maint.view(w); d != "" {
		b.WriteString(d + "\n")
		used += strings.Count(d, "\n")
	} else {
		b.WriteString(p.list.filterLine(st))
		b.WriteByte('\n')
	}

	widths := p.widths
	hdr := make([]string, len(memberCols))
	for i, c := range memberCols {
		if i == p.sortCol {
			c += " ↓"
		}
		hdr[i] = pad(strings.ToUpper(c), widths[i])
	}
	if p.inMaint > 0 {
		hdr = append(hdr, "MAINT")
	}
	b.WriteString(st.Header.Render(truncate(strings.TrimRight(gutter(false)+strings.Join(hdr, "  "), " "), w)))
	b.WriteByte('\n')

	switch {
	case len(p.list.all) == 0 && p.filtered:
		b.WriteString(st.Faint.Render("no member this token may read (node:read)"))
	case len(p.list.rows) == 0:
		b.WriteString(st.Faint.Render("no members match"))
	}
	from, to := p.list.window(max(h-used, 1))
	for i := from; i < to; i++ {
		r := p.list.rows[i]
		cells := make([]cell, len(r.cells), len(r.cells)+1)
		for j, c := range r.cells {
			cells[j] = cell{text: c}
		}
		cells[2].style = styleOf(p.statusStyle(r.status))
		if p.inMaint > 0 {
			cells = append(cells, cell{text: r.maint, style: styleOf(st.Warn)})
		}
		b.WriteString(st.row(cells, widths, i == p.list.cursor, w))
		b.WriteByte('\n')
	}
	return b.String()
}

func (p *membersPane) statusStyle(s string) lipgloss.Style {
	switch s {
	case "alive":
		return p.sh.st.OK
	case "failed":
		return p.sh.st.Bad
	case "left":
		return p.sh.st.Gone
	}
	return p.sh.st.Warn
}

func pad(s string, w int) string {
	if d := w - textWidth(s); d > 0 {
		return s + strings.Repeat(" ", d)
	}
	return s
}

// textWidth is lipgloss.Width with a fast path for plain ASCII.
func textWidth(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] == 0x1b {
			return lipgloss.Width(s)
		}
	}
	return len(s)
}
