package tui

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"consulx/api"
)

// healthFetchers bounds the concurrent HealthService calls of one list poll.
const healthFetchers = 8

type svcMode int

const (
	svcList   svcMode = iota
	svcDetail         // one service's instances and checks
)

type (
	svcListMsg struct {
		seq     int
		tags    map[string][]string
		entries map[string][]api.ServiceEntry
		// filtered: ACLs hid services or instances from the token.
		filtered bool
		err      error
	}
	svcDetailMsg struct {
		seq     int
		name    string
		entries []api.ServiceEntry
		err     error
	}
)

// Health states, worst last.
const (
	healthPassing = iota
	healthWarning
	healthCritical
)

var healthWords = [...]string{"passing", "warning", "critical"}

func checkHealth(status string) int {
	switch status {
	case "critical":
		return healthCritical
	case "warning":
		return healthWarning
	}
	return healthPassing
}

// instanceHealth is critical when any check is, else warning when any is.
func instanceHealth(e api.ServiceEntry) int {
	h := healthPassing
	for _, c := range e.Checks {
		h = max(h, checkHealth(c.Status))
	}
	return h
}

func (p *servicesPane) healthStyle(h int) lipgloss.Style {
	switch h {
	case healthCritical:
		return p.sh.st.Bad
	case healthWarning:
		return p.sh.st.Warn
	}
	return p.sh.st.OK
}

func (p *servicesPane) statusStyle(status string) lipgloss.Style {
	return p.healthStyle(checkHealth(status))
}

var svcCols = []string{"SERVICE", "INSTANCES", "PASSING", "WARNING", "CRITICAL", "TAGS"}

// svcRow is one service, formatted for the list.
type svcRow struct {
	name   string
	counts [3]int // instances by health
	cells  [6]string
	lower  string // name and tags, lower-cased, for the filter
}

// servicesPane lists the catalog's services with their health and drills
// into one service's instances and checks.
type servicesPane struct {
	sh   *shared
	mode svcMode

	w, h int // the body's size (for the scroll windows)

	// list
	list     filterList[svcRow] // by name
	widths   []int              // of the kept rows' columns
	cache    map[string][]api.ServiceEntry
	loaded   bool
	filtered bool // the last list left out what the token may not read
	err      error
	busy     bool
	seq      int
	totals   [3]int
	nInst    int

	// detail
	name    string
	inst    []api.ServiceEntry // sorted by node, then ID
	dloaded bool
	derr    error
	dbusy   bool
	dseq    int
	icursor int
	itop    int

	maint *maintFlow
}

func newServicesPane(sh *shared) *servicesPane {
	p := &servicesPane{sh: sh, maint: newMaintFlow(sh), w: 100, h: 26}
	p.list = newFilterList(func(r svcRow) string { return r.lower }, func(r svcRow) string { return r.name }, p.sizeColumns)
	return p
}

func (p *servicesPane) title() string    { return "Services" }
func (p *servicesPane) showsMaint() bool { return true }
func (p *servicesPane) capturing() bool  { return p.list.typing || p.maint.active() }

func (p *servicesPane) helpKeys() []key.Binding {
	k := p.sh.keys
	switch {
	case p.maint.active():
		return p.maint.helpKeys()
	case p.list.typing:
		return []key.Binding{arrowsOnly, hint(k.Submit, "keep filter"), hint(k.Cancel, "clear filter")}
	case p.mode == svcDetail && p.maintRefusal() != "":
		return []key.Binding{k.Up, k.Down, k.Back}
	case p.mode == svcDetail:
		return []key.Binding{k.Up, k.Down, k.Back, k.Maint}
	}
	return []key.Binding{k.Up, k.Down, hint(k.Open, "instances"), k.Filter}
}

// poll re-reads the list (every service's health: one call per service)
// or, in a service, just that service.
func (p *servicesPane) poll() tea.Cmd {
	if p.mode == svcDetail {
		return p.fetchDetail(false)
	}
	return p.fetchList(false)
}

func (p *servicesPane) refresh() tea.Cmd {
	if p.mode == svcDetail {
		return p.fetchDetail(true)
	}
	return p.fetchList(true)
}

// fetchList reads the catalog's services and each one's instances; force
// starts a new read even while one runs (the older answer is dropped).
func (p *servicesPane) fetchList(force bool) tea.Cmd {
	if p.busy && !force {
		return nil
	}
	p.busy = true
	p.seq++
	seq, src, parent := p.seq, p.sh.src, p.sh.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, pollTimeout)
		defer cancel()
		tags, meta, err := src.CatalogServices(ctx, nil)
		if err != nil {
			return svcListMsg{seq: seq, err: err}
		}
		filtered := meta != nil && meta.ResultsFilteredByACLs
		names := make([]string, 0, len(tags))
		for n := range tags {
			names = append(names, n)
		}
		got := make([][]api.ServiceEntry, len(names))
		errs := make([]error, len(names))
		cut := make([]bool, len(names)) // an instance's node or service hidden
		sem := make(chan struct{}, healthFetchers)
		var wg sync.WaitGroup
		for i, n := range names {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				var m *api.QueryMeta
				got[i], m, errs[i] = src.HealthService(ctx, n, false, nil)
				cut[i] = m != nil && m.ResultsFilteredByACLs
			})
		}
		wg.Wait()
		entries := make(map[string][]api.ServiceEntry, len(names))
		for i, n := range names {
			if errs[i] != nil {
				return svcListMsg{seq: seq, err: fmt.Errorf("service %s: %w", n, errs[i])}
			}
			entries[n] = got[i]
			filtered = filtered || cut[i]
		}
		return svcListMsg{seq: seq, tags: tags, entries: entries, filtered: filtered}
	}
}

func (p *servicesPane) fetchDetail(force bool) tea.Cmd {
	if p.dbusy && !force {
		return nil
	}
	p.dbusy = true
	p.dseq++
	seq, name, src, parent := p.dseq, p.name, p.sh.src, p.sh.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, pollTimeout)
		defer cancel()
		es, _, err := src.HealthService(ctx, name, false, nil)
		return svcDetailMsg{seq: seq, name: name, entries: es, err: err}
	}
}

func (p *servicesPane) update(msg tea.Msg) tea.Cmd {
	cmd := p.handle(msg)
	p.layout()
	return cmd
}

// layout keeps each cursor inside the window its view will draw.
func (p *servicesPane) layout() {
	if p.mode == svcDetail {
		if n := p.instRows(p.w, p.h); n > 0 {
			p.itop = scrollTop(p.itop, p.icursor, n, len(p.inst))
		}
		return
	}
	p.list.scroll(max(p.h-3, 1))
}

func (p *servicesPane) handle(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case paneSizeMsg:
		p.w, p.h = msg.w, msg.h
	case svcListMsg:
		if msg.seq != p.seq {
			return nil
		}
		p.busy = false
		p.err = msg.err
		if msg.err != nil {
			return nil
		}
		p.loaded = true
		p.filtered = msg.filtered
		p.cache = msg.entries
		p.build(msg.tags)
	case svcDetailMsg:
		if msg.seq != p.dseq {
			return nil
		}
		p.dbusy = false
		p.derr = msg.err
		if msg.err != nil || msg.name != p.name {
			return nil
		}
		if p.cache != nil {
			p.cache[msg.name] = msg.entries
		}
		p.setInstances(msg.entries)
		p.dloaded = true
	case tea.KeyMsg:
		if p.maint.active() {
			return p.maint.key(msg)
		}
		return p.key(msg)
	}
	return nil
}

// build turns a list answer into rows.
func (p *servicesPane) build(tags map[string][]string) {
	all := p.list.all[:0] // reused: the kept rows are copies, not views into it
	p.totals, p.nInst = [3]int{}, 0
	for name, es := range p.cache {
		r := svcRow{name: name}
		for _, e := range es {
			r.counts[instanceHealth(e)]++
		}
		t := append([]string(nil), tags[name]...)
		sort.Strings(t)
		r.cells = [6]string{name, strconv.Itoa(len(es)), strconv.Itoa(r.counts[0]), strconv.Itoa(r.counts[1]),
			strconv.Itoa(r.counts[2]), strings.Join(t, ",")}
		r.lower = strings.ToLower(name + "\x00" + r.cells[5])
		for i, n := range r.counts {
			p.totals[i] += n
		}
		p.nInst += len(es)
		all = append(all, r)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	p.list.set(all)
}

// sizeColumns sizes the columns for the kept rows.
func (p *servicesPane) sizeColumns(rows []svcRow) {
	p.widths = make([]int, len(svcCols))
	for i, c := range svcCols {
		p.widths[i] = len(c)
	}
	for _, r := range rows {
		for i, c := range r.cells {
			p.widths[i] = max(p.widths[i], textWidth(c))
		}
	}
}

func instKey(e api.ServiceEntry) maintKey {
	return maintKey{node: e.Node.Node, serviceID: e.Service.ID}
}

// setInstances replaces the instances, keeping the cursor on the same one.
func (p *servicesPane) setInstances(es []api.ServiceEntry) {
	var keep maintKey
	if p.icursor < len(p.inst) {
		keep = instKey(p.inst[p.icursor])
	}
	p.inst = append([]api.ServiceEntry(nil), es...)
	sort.SliceStable(p.inst, func(i, j int) bool {
		a, b := p.inst[i], p.inst[j]
		if a.Node.Node != b.Node.Node {
			return a.Node.Node < b.Node.Node
		}
		return a.Service.ID < b.Service.ID
	})
	p.icursor = min(p.icursor, max(len(p.inst)-1, 0))
	for i, e := range p.inst {
		if instKey(e) == keep {
			p.icursor = i
			break
		}
	}
}

func (p *servicesPane) key(msg tea.KeyMsg) tea.Cmd {
	k := p.sh.keys
	if p.list.typing {
		return p.list.typingKey(msg, k)
	}
	if p.mode == svcDetail {
		return p.detailKey(msg)
	}
	switch {
	case key.Matches(msg, k.Filter):
		return p.list.startFilter()
	case key.Matches(msg, k.Back):
		p.list.clearFilter()
	case key.Matches(msg, k.Open):
		if r, ok := p.list.current(); ok {
			return p.open(r.name)
		}
	case key.Matches(msg, k.Maint):
		p.sh.flash("m acts on a service instance: enter opens the service", false)
	default:
		p.list.cursor = moveCursor(msg, k, p.list.cursor, len(p.list.rows))
	}
	return nil
}

func (p *servicesPane) detailKey(msg tea.KeyMsg) tea.Cmd {
	k := p.sh.keys
	switch {
	case key.Matches(msg, k.Back):
		p.mode = svcList
		return p.fetchList(true)
	case key.Matches(msg, k.Maint):
		return p.toggleMaint()
	default:
		p.icursor = moveCursor(msg, k, p.icursor, len(p.inst))
	}
	return nil
}

// moveCursor applies a navigation key to a cursor over n rows.
func moveCursor(msg tea.KeyMsg, k KeyMap, c, n int) int {
	switch {
	case key.Matches(msg, k.Up):
		c--
	case key.Matches(msg, k.Down):
		c++
	case key.Matches(msg, k.PageUp):
		c -= 10
	case key.Matches(msg, k.PageDown):
		c += 10
	case key.Matches(msg, k.Top):
		c = 0
	case key.Matches(msg, k.Bottom):
		c = n - 1
	}
	return min(max(c, 0), max(n-1, 0))
}

// open shows a service: at once from the list's data, then fresh.
func (p *servicesPane) open(name string) tea.Cmd {
	p.mode, p.name = svcDetail, name
	p.inst, p.icursor, p.itop, p.derr = nil, 0, 0, nil
	es, ok := p.cache[name]
	p.dloaded = ok
	p.setInstances(es)
	return p.fetchDetail(true)
}

func (p *servicesPane) toggleMaint() tea.Cmd {
	switch {
	case p.icursor >= len(p.inst):
		return nil
	case !p.sh.maint.loaded:
		p.sh.flash("maintenance state not loaded yet; try again", false)
		return nil
	}
	if why := p.maintRefusal(); why != "" {
		p.sh.flash(why, false)
		return nil
	}
	e := p.inst[p.icursor]
	reason, on := p.sh.maint.service(e.Node.Node, e.Service.ID)
	return p.maint.start(maintTarget{node: e.Node.Node, serviceID: e.Service.ID, service: e.Service.Service, on: on, reason: reason})
}

// serfCheckID is the node check the leader keeps from gossip: passing
// while the node's agent is alive.
const serfCheckID = "serfHealth"

// maintRefusal says why m cannot work on the instance under the cursor
// ("": it can). Service maintenance is set by the agent the instance is
// registered on, reached through the cluster: the consul service is the
// servers' own (in the catalog, on no agent), a node without serfHealth
// has no agent (registered through the catalog API), and a node whose
// serfHealth is critical cannot be reached.
func (p *servicesPane) maintRefusal() string {
	if p.icursor >= len(p.inst) {
		return "no instance selected"
	}
	e := p.inst[p.icursor]
	if e.Service.Service == "consul" {
		return "consul is the servers' own service: use m on node " + e.Node.Node + " in pane 1"
	}
	for _, c := range e.Checks {
		if c.CheckID != serfCheckID || c.ServiceID != "" {
			continue
		}
		if c.Status == "critical" {
			return "the agent of " + e.Node.Node + " is not reachable (serfHealth critical): its services' maintenance cannot change"
		}
		return ""
	}
	return "node " + e.Node.Node + " has no agent in this cluster (catalog-only registration): there is no agent to put " + e.Service.ID + " in maintenance"
}

func healthSummary(c [3]int) string {
	return fmt.Sprintf("%d passing, %d warning, %d critical", c[0], c[1], c[2])
}

func (p *servicesPane) view(w, h int) string {
	if p.mode == svcDetail {
		return p.detailView(w, h)
	}
	st := p.sh.st
	switch {
	case p.err != nil && !p.loaded:
		return st.Error.Render("services: " + errText(p.err))
	case !p.loaded:
		return st.Faint.Render("loading services…")
	}
	var b strings.Builder
	all := p.list.all
	line := st.Header.Render(fmt.Sprintf("%d %s · %d %s: %s", len(all), plural(len(all), "service", "services"),
		p.nInst, plural(p.nInst, "instance", "instances"), healthSummary(p.totals)))
	if p.filtered {
		line += "  " + st.filteredMark()
	}
	if p.err != nil {
		line += "  " + st.Error.Render("(stale: "+errText(p.err)+")")
	}
	b.WriteString(truncate(line, w) + "\n")
	b.WriteString(p.list.filterLine(st))
	b.WriteByte('\n')
	hdr := make([]string, len(svcCols))
	for i, c := range svcCols {
		hdr[i] = pad(c, p.widths[i])
	}
	b.WriteString(st.Header.Render(truncate(strings.TrimRight(gutter(false)+strings.Join(hdr, "  "), " "), w)) + "\n")

	switch {
	case len(all) == 0 && p.filtered:
		b.WriteString(st.Faint.Render("no service this token may read (service:read)"))
	case len(all) == 0:
		b.WriteString(st.Faint.Render("no services registered"))
	case len(p.list.rows) == 0:
		b.WriteString(st.Faint.Render("no services match"))
	}
	from, to := p.list.window(max(h-3, 1))
	for i := from; i < to; i++ {
		r := p.list.rows[i]
		cells := make([]cell, len(r.cells))
		for j, c := range r.cells {
			cells[j] = cell{text: c}
		}
		for hl, n := range r.counts {
			if n > 0 {
				cells[2+hl].style = styleOf(p.healthStyle(hl))
			}
		}
		b.WriteString(st.row(cells, p.widths, i == p.list.cursor, w))
		b.WriteByte('\n')
	}
	return b.String()
}
