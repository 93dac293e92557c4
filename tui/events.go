package tui

// The Events pane: the agent's recent user events, kept current by a
// blocking list, and a form that fires a new one.

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"consulx/api"
)

const (
	// eventWait is how long one blocking list waits for a new event.
	eventWait = 30 * time.Second
	// eventMaxPayload is the agent's limit on a payload (Consul's).
	eventMaxPayload = 512
	// eventPayloadCell is how much of a payload the list shows.
	eventPayloadCell = 40
)

type (
	// evListMsg is one answer of the event watch.
	evListMsg struct {
		gen    int
		events []api.UserEvent
		index  uint64
		// filtered: ACLs hid events from the token (event:read).
		filtered bool
		err      error
	}
	evRetryMsg struct{ gen int }
	// evFiredMsg is the answer of a fire.
	evFiredMsg struct {
		name string
		ev   *api.UserEvent
		err  error
	}
)

var eventCols = []string{"ID", "NAME", "PAYLOAD", "FILTERS", "LTIME"}

// Fields of the fire form.
const (
	evFieldName = iota
	evFieldPayload
	evFieldNode
	evFieldService
	evFieldTag
)

// eventRow is an event formatted for the list.
type eventRow struct {
	id      string
	cells   [5]string
	payload string // printable, whole
	size    int    // payload bytes
	lower   string // the cells, lower-cased, for the filter
}

func toEventRow(ev api.UserEvent) eventRow {
	var filters []string
	for _, f := range []struct{ k, v string }{{"node", ev.NodeFilter}, {"service", ev.ServiceFilter}, {"tag", ev.TagFilter}} {
		if f.v != "" {
			filters = append(filters, f.k+"="+f.v)
		}
	}
	short := ev.ID
	if len(short) > 8 {
		short = short[:8]
	}
	pl := printable(ev.Payload)
	r := eventRow{id: ev.ID, payload: pl, size: len(ev.Payload),
		cells: [5]string{short, oneLine(ev.Name), truncate(pl, eventPayloadCell), strings.Join(filters, " "), strconv.FormatUint(ev.LTime, 10)}}
	r.lower = strings.ToLower(ev.ID + "\x00" + strings.Join(r.cells[1:], "\x00") + "\x00" + pl)
	return r
}

// printable shows bytes as text: printable characters as they are, other
// runes and invalid bytes escaped (\n, \t, \x00, \u2028).
func printable(b []byte) string {
	var s strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&s, `\x%02x`, b[0])
		case r == '\n':
			s.WriteString(`\n`)
		case r == '\t':
			s.WriteString(`\t`)
		case r == '\r':
			s.WriteString(`\r`)
		case r < 0x80 && !unicode.IsPrint(r):
			fmt.Fprintf(&s, `\x%02x`, r)
		case !unicode.IsPrint(r):
			fmt.Fprintf(&s, `\u%04x`, r)
		default:
			s.WriteRune(r)
		}
		b = b[n:]
	}
	return s.String()
}

// eventsPane lists the agent's recent user events, newest first.
type eventsPane struct {
	sh   *shared
	w, h int

	list     filterList[eventRow]
	widths   []int
	loaded   bool
	filtered bool // the last list left out events the token may not read
	err      error
	gen      int
	index    uint64
	wctx     context.Context
	stop     context.CancelFunc
	started  bool

	firing  bool // the fire form has focus
	sending bool // a fire is on its way
	form    formModel
	fired   string // what the last fire returned
}

func newEventsPane(sh *shared) *eventsPane {
	p := &eventsPane{sh: sh, w: 100, h: 26,
		form: newForm([]string{"name", "payload", "node", "service", "tag"},
			[]string{"event name", fmt.Sprintf("optional, at most %d bytes", eventMaxPayload), "optional regexp of node names",
				"optional regexp of service names", "optional regexp of tags (needs a service)"})}
	p.list = newFilterList(func(r eventRow) string { return r.lower }, func(r eventRow) string { return r.id }, p.sizeColumns)
	return p
}

func (p *eventsPane) title() string   { return "Events" }
func (p *eventsPane) capturing() bool { return p.list.typing || p.firing }

func (p *eventsPane) helpKeys() []key.Binding {
	k := p.sh.keys
	switch {
	case p.firing:
		return []key.Binding{hint(k.Submit, "fire"), k.NextField, k.Cancel}
	case p.list.typing:
		return []key.Binding{arrowsOnly, hint(k.Submit, "keep filter"), hint(k.Cancel, "clear filter")}
	}
	return []key.Binding{k.Up, k.Down, k.Filter, hint(k.New, "fire event")}
}

// poll starts the watch the first time the pane is shown; after that the
// blocking list keeps it current.
func (p *eventsPane) poll() tea.Cmd {
	if p.started {
		return nil
	}
	return p.start()
}

func (p *eventsPane) refresh() tea.Cmd { return p.start() }

// start (re)starts the watch from scratch.
func (p *eventsPane) start() tea.Cmd {
	if p.stop != nil {
		p.stop()
	}
	p.started = true
	p.gen++
	p.index = 0
	p.wctx, p.stop = context.WithCancel(p.sh.ctx)
	return p.watch(p.wctx, p.gen, 0)
}

// watch lists the events; with index > 0 it is a blocking list that
// returns when a new event arrives (or after eventWait).
func (p *eventsPane) watch(ctx context.Context, gen int, index uint64) tea.Cmd {
	src := p.sh.src
	return func() tea.Msg {
		q := &api.QueryOptions{}
		timeout := pollTimeout
		if index > 0 {
			q.WaitIndex, q.WaitTime = index, eventWait
			timeout = eventWait + pollTimeout
		}
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		began := time.Now()
		evs, meta, err := src.EventList(c, "", q)
		if ctx.Err() != nil {
			return nil // restarted, or the console closed
		}
		var idx uint64
		if meta != nil {
			idx = meta.LastIndex
		}
		// An agent that answers a blocking list at once with nothing new
		// would make this a hot loop; pace it.
		if err == nil && index > 0 && idx == index && time.Since(began) < 10*time.Millisecond {
			select {
			case <-time.After(pollEvery):
			case <-ctx.Done():
				return nil
			}
		}
		return evListMsg{gen: gen, events: evs, index: idx, filtered: meta != nil && meta.ResultsFilteredByACLs, err: err}
	}
}

func (p *eventsPane) update(msg tea.Msg) tea.Cmd {
	cmd := p.handle(msg)
	p.layout()
	return cmd
}

// top is what the pane draws above the table: the counts, the last fire,
// the form or the filter box.
func (p *eventsPane) top(w int) string {
	st := p.sh.st
	var b strings.Builder
	n := len(p.list.all)
	hdr := fmt.Sprintf("%d %s, newest first · live", n, plural(n, "event", "events"))
	b.WriteString(st.Header.Render(truncate(hdr, w)))
	if p.filtered {
		b.WriteString("  " + st.filteredMark())
	}
	if p.err != nil {
		b.WriteString("  " + st.Error.Render(truncate("(watch: "+errText(p.err)+"; retrying)", max(w-len(hdr)-2, 10))))
	}
	b.WriteByte('\n')
	if p.fired != "" {
		b.WriteString(st.Info.Render(truncate(p.fired, w)) + "\n")
	}
	switch {
	case p.firing:
		title := "Fire a user event"
		if p.sending {
			title += " · firing…"
		}
		b.WriteString(st.Header.Render(truncate(title, w)) + "\n")
		b.WriteString(p.form.view(st, w))
		b.WriteString(st.Faint.Render(truncate("enter fires · tab/↓ next field · esc cancels", w)) + "\n")
	case p.list.filterLine(st) != "":
		b.WriteString(p.list.filterLine(st) + "\n")
	}
	return b.String()
}

// rows is how many table rows a w×h body shows under the top part, the
// column header and the selected event's line.
func (p *eventsPane) rows(w, h int) int {
	return max(h-strings.Count(p.top(w), "\n")-2, 1)
}

// layout keeps the cursor inside the window the view draws.
func (p *eventsPane) layout() {
	p.form.fit(p.w)
	p.list.scroll(p.rows(p.w, p.h))
}

func (p *eventsPane) handle(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case paneSizeMsg:
		p.w, p.h = msg.w, msg.h
	case evListMsg:
		if msg.gen != p.gen {
			return nil
		}
		gen := p.gen
		if msg.err != nil {
			p.err = msg.err
			p.index = 0
			return p.sh.after(retryAfter, evRetryMsg{gen: gen})
		}
		p.err = nil
		p.loaded = true
		p.filtered = msg.filtered
		p.index = msg.index
		all := p.list.all[:0] // reused: the kept rows are copies
		for i := len(msg.events) - 1; i >= 0; i-- {
			all = append(all, toEventRow(msg.events[i]))
		}
		p.list.set(all)
		if p.index == 0 {
			return p.sh.after(pollEvery, evRetryMsg{gen: gen}) // no index to block on: poll
		}
		return p.watch(p.wctx, gen, p.index)
	case evRetryMsg:
		if msg.gen == p.gen {
			return p.start()
		}
	case evFiredMsg:
		p.sending = false
		if msg.err != nil {
			p.form.err = "fire " + quote(msg.name) + ": " + errText(msg.err)
			p.sh.flash(p.form.err, true)
			return nil
		}
		p.firing = false
		p.form.close()
		p.fired = fmt.Sprintf("fired %s · Event ID %s", quote(msg.ev.Name), msg.ev.ID)
		p.sh.flash(p.fired, false)
	case tea.KeyMsg:
		if p.firing {
			return p.formKey(msg)
		}
		return p.key(msg)
	}
	return nil
}

func (p *eventsPane) key(msg tea.KeyMsg) tea.Cmd {
	k := p.sh.keys
	if p.list.typing {
		return p.list.typingKey(msg, k)
	}
	switch {
	case key.Matches(msg, k.New):
		p.firing = true
		return p.form.open()
	case key.Matches(msg, k.Filter):
		return p.list.startFilter()
	case key.Matches(msg, k.Back):
		p.list.clearFilter()
	default:
		p.list.cursor = moveCursor(msg, k, p.list.cursor, len(p.list.rows))
	}
	return nil
}

func (p *eventsPane) formKey(msg tea.KeyMsg) tea.Cmd {
	k := p.sh.keys
	switch {
	case key.Matches(msg, k.Cancel):
		p.firing = false
		p.form.close()
		p.sh.flash("cancelled: no event fired", false)
		return nil
	case key.Matches(msg, k.Submit):
		if p.sending {
			return nil
		}
		ev, why := p.event()
		if why != "" {
			p.form.err = why
			return nil
		}
		p.sending = true
		return p.fire(ev)
	}
	cmd, _ := p.form.key(msg, k)
	return cmd
}

// event is the event the form describes, or why it cannot be fired.
func (p *eventsPane) event() (*api.UserEvent, string) {
	f := &p.form
	ev := &api.UserEvent{
		Name:          strings.TrimSpace(f.value(evFieldName)),
		NodeFilter:    f.value(evFieldNode),
		ServiceFilter: f.value(evFieldService),
		TagFilter:     f.value(evFieldTag),
	}
	if pl := f.value(evFieldPayload); pl != "" {
		ev.Payload = []byte(pl)
	}
	switch {
	case ev.Name == "":
		return nil, "an event needs a name"
	case len(ev.Payload) > eventMaxPayload:
		return nil, fmt.Sprintf("the payload is %d bytes; the limit is %d", len(ev.Payload), eventMaxPayload)
	case ev.TagFilter != "" && ev.ServiceFilter == "":
		return nil, "a tag filter needs a service filter"
	}
	if why := badRegexps("node", ev.NodeFilter, "service", ev.ServiceFilter, "tag", ev.TagFilter); why != "" {
		return nil, why
	}
	return ev, ""
}

// badRegexps says which of the (what, expression) pairs does not compile
// ("" when all do).
func badRegexps(pairs ...string) string {
	for i := 0; i+1 < len(pairs); i += 2 {
		if _, err := regexp.Compile(pairs[i+1]); err != nil {
			return pairs[i] + " filter: " + err.Error()
		}
	}
	return ""
}

func (p *eventsPane) fire(ev *api.UserEvent) tea.Cmd {
	src, parent := p.sh.src, p.sh.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, writeTimeout)
		defer cancel()
		out, err := src.EventFire(ctx, ev, "")
		if err == nil && out == nil {
			err = fmt.Errorf("the agent returned no event")
		}
		return evFiredMsg{name: ev.Name, ev: out, err: err}
	}
}

// sizeColumns sizes the columns for the kept rows.
func (p *eventsPane) sizeColumns(rows []eventRow) {
	p.widths = make([]int, len(eventCols))
	for i, c := range eventCols {
		p.widths[i] = len(c)
	}
	for _, r := range rows {
		for i, c := range r.cells {
			p.widths[i] = max(p.widths[i], textWidth(c))
		}
	}
}

func (p *eventsPane) view(w, h int) string {
	st := p.sh.st
	switch {
	case p.err != nil && !p.loaded:
		return st.Error.Render("events: " + errText(p.err) + " (retrying)")
	case !p.loaded && !p.firing:
		return st.Faint.Render("loading events…")
	}
	var b strings.Builder
	b.WriteString(p.top(w))
	hdr := make([]string, len(eventCols))
	for i, c := range eventCols {
		hdr[i] = pad(c, p.widths[i])
	}
	b.WriteString(st.Header.Render(truncate(strings.TrimRight(gutter(false)+strings.Join(hdr, "  "), " "), w)) + "\n")
	switch {
	case len(p.list.all) == 0:
		b.WriteString(st.Faint.Render(truncate("no events yet (the agent lists the events whose filters matched its node; n fires one)", w)) + "\n")
	case len(p.list.rows) == 0:
		b.WriteString(st.Faint.Render("no events match") + "\n")
	}
	rows := p.rows(w, h)
	from, to := p.list.window(rows)
	for i := from; i < to; i++ {
		r := p.list.rows[i]
		cells := make([]cell, len(r.cells))
		for j, c := range r.cells {
			cells[j] = cell{text: c}
		}
		b.WriteString(st.row(cells, p.widths, i == p.list.cursor, w) + "\n")
	}
	for i := to - from; i < rows; i++ {
		b.WriteByte('\n')
	}
	if r, ok := p.list.current(); ok {
		b.WriteString(st.Faint.Render(truncate(fmt.Sprintf("ID %s · payload %d %s: %s", r.id, r.size, plural(r.size, "byte", "bytes"), r.payload), w)))
	}
	return b.String()
}
