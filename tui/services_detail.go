package tui

// The Services pane's detail view: one service's instances, and the checks
// of the instance under the cursor.

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"consulx/api"
)

var instCols = []string{"NODE", "ID", "ADDRESS", "STATUS", "TAGS"}

// instMaint is the marker and the reason lines of an instance whose
// service or node is in maintenance.
func (p *servicesPane) instMaint(e api.ServiceEntry) (marker string, why []string) {
	var marks []string
	if r, on := p.sh.maint.service(e.Node.Node, e.Service.ID); on {
		marks = append(marks, "maint")
		why = append(why, "service "+e.Service.ID+" in maintenance: "+reasonText(r))
	}
	if r, on := p.sh.maint.node(e.Node.Node); on {
		marks = append(marks, "node maint")
		why = append(why, "node "+e.Node.Node+" in maintenance: "+reasonText(r))
	}
	return strings.Join(marks, ", "), why
}

func instAddress(e api.ServiceEntry) string {
	addr := e.Service.Address
	if addr == "" {
		addr = e.Node.Address
	}
	if e.Service.Port != 0 {
		addr += ":" + strconv.Itoa(e.Service.Port)
	}
	return addr
}

func (p *servicesPane) detailView(w, h int) string {
	st := p.sh.st
	var b strings.Builder
	var counts [3]int
	for _, e := range p.inst {
		counts[instanceHealth(e)]++
	}
	crumb := truncate("services / "+p.name, w)
	b.WriteString(st.Breadcrumb.Render(crumb))
	rest := w - textWidth(crumb) - 2
	if p.dloaded && rest > 0 {
		sum := truncate(fmt.Sprintf("%d %s: %s", len(p.inst), plural(len(p.inst), "instance", "instances"), healthSummary(counts)), rest)
		b.WriteString("  " + st.Faint.Render(sum))
		rest -= textWidth(sum) + 2
	}
	if p.derr != nil && rest > 0 {
		b.WriteString("  " + st.Error.Render(truncate("(stale: "+errText(p.derr)+")", rest)))
	}
	b.WriteByte('\n')
	used := 1
	if d := p.maint.view(w); d != "" {
		b.WriteString(d + "\n")
		used += strings.Count(d, "\n") + 1
	}
	switch {
	case !p.dloaded && p.derr != nil:
		return b.String() + st.Error.Render("service "+p.name+": "+errText(p.derr))
	case !p.dloaded:
		return b.String() + st.Faint.Render("loading instances…")
	case len(p.inst) == 0:
		return b.String() + st.Faint.Render("no instances (esc goes back)")
	}

	rows := make([][]string, len(p.inst))
	marks := make([]string, len(p.inst))
	health := make([]int, len(p.inst))
	widths := make([]int, len(instCols))
	for i, c := range instCols {
		widths[i] = len(c)
	}
	anyMaint := false
	for i, e := range p.inst {
		health[i] = instanceHealth(e)
		tags := append([]string(nil), e.Service.Tags...)
		sort.Strings(tags)
		rows[i] = []string{e.Node.Node, e.Service.ID, instAddress(e), healthWords[health[i]], strings.Join(tags, ",")}
		for j, c := range rows[i] {
			widths[j] = max(widths[j], textWidth(c))
		}
		marks[i], _ = p.instMaint(e)
		anyMaint = anyMaint || marks[i] != ""
	}
	hdr := make([]string, len(instCols))
	for i, c := range instCols {
		hdr[i] = pad(c, widths[i])
	}
	if anyMaint {
		hdr = append(hdr, "MAINT")
	}
	b.WriteString(st.Header.Render(truncate(strings.TrimRight(gutter(false)+strings.Join(hdr, "  "), " "), w)) + "\n")
	used++

	sel := p.inst[p.icursor]
	_, why := p.instMaint(sel)
	instH := p.instRows(w, h)
	itop := scrollTop(p.itop, p.icursor, instH, len(p.inst))
	for i := itop; i < len(p.inst) && i < itop+instH; i++ {
		cells := make([]cell, len(rows[i]), len(rows[i])+1)
		for j, c := range rows[i] {
			cells[j] = cell{text: c}
		}
		cells[3].style = styleOf(p.healthStyle(health[i]))
		if anyMaint {
			cells = append(cells, cell{text: marks[i], style: styleOf(st.Warn)})
		}
		b.WriteString(st.row(cells, widths, i == p.icursor, w))
		b.WriteByte('\n')
	}

	b.WriteByte('\n')
	b.WriteString(st.Header.Render(truncate(fmt.Sprintf("Checks of %s on %s (%d)", sel.Service.ID, sel.Node.Node, len(sel.Checks)), w)) + "\n")
	for _, line := range why {
		b.WriteString(st.Warn.Render(truncate(line, w)) + "\n")
	}
	if len(sel.Checks) == 0 {
		b.WriteString(st.Faint.Render("no checks: the instance counts as passing") + "\n")
		return b.String()
	}
	checks := append([]api.HealthCheck(nil), sel.Checks...)
	sort.SliceStable(checks, func(i, j int) bool {
		if a, b := checkHealth(checks[i].Status), checkHealth(checks[j].Status); a != b {
			return a > b // worst first
		}
		return checks[i].CheckID < checks[j].CheckID
	})
	nameW := len("NAME")
	names := make([]string, len(checks))
	for i, c := range checks {
		names[i] = c.Name
		if names[i] == "" {
			names[i] = c.CheckID
		}
		if c.ServiceID == "" {
			names[i] += " (node)"
		}
		names[i] = truncate(names[i], 40)
		nameW = max(nameW, textWidth(names[i]))
	}
	b.WriteString(st.Header.Render(truncate(gutter(false)+pad("STATUS", 8)+"  "+pad("NAME", nameW)+"  OUTPUT", w)) + "\n")
	for i, c := range checks {
		out := oneLine(c.Output)
		if out == "" {
			out = oneLine(c.Notes)
		}
		status := pad(c.Status, 8)
		plain := gutter(false) + status + "  " + pad(names[i], nameW) + "  " + out
		line := truncate(strings.TrimRight(plain, " "), w)
		// Colour the status word only; the rest stays as truncated.
		if strings.HasPrefix(line, gutter(false)+status) {
			line = gutter(false) + p.statusStyle(c.Status).Render(status) + line[len(gutter(false)+status):]
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// instRows is how many instance rows the detail view of a w×h body shows
// (0 when it shows none): what the checks of the selected instance leave.
func (p *servicesPane) instRows(w, h int) int {
	if !p.dloaded || len(p.inst) == 0 {
		return 0
	}
	used := 2 // breadcrumb, table header
	if d := p.maint.view(w); d != "" {
		used += strings.Count(d, "\n") + 1
	}
	sel := p.inst[min(p.icursor, len(p.inst)-1)]
	_, why := p.instMaint(sel)
	checksLines := 3 + len(why) + len(sel.Checks) // blank, title, header
	room := max(h-used, 1)
	return min(len(p.inst), max(room-checksLines, min(room/2, len(p.inst)), 1))
}
