package tui

// The Exec pane: remote exec across nodes. A form takes the command and
// its targets (with a live preview of the nodes they select), a dialog
// confirms, then the job's events stream in: each node's state on the
// left, the selected node's output on the right.

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"consulx/api"
)

const (
	// execQueue is how many events wait between the stream and Update;
	// when it is full the stream waits (and so, through the agent, do the
	// nodes' commands) rather than anything being dropped.
	execQueue = 256
	// A batch is what one Update takes: the events that come within
	// execBatchWindow of the first one, up to execBatchEvents events or
	// execBatchBytes of output. A flood makes a few dozen Updates a
	// second, not one per chunk.
	execBatchWindow = 16 * time.Millisecond
	execBatchEvents = 512
	execBatchBytes  = 1 << 20
)

type execMode int

const (
	execIdle    execMode = iota // nothing run yet
	execCompose                 // the command form and the preview
	execResults                 // a job, running or over
)

// Fields of the command form.
const (
	exFieldCommand = iota
	exFieldNode
	exFieldService
	exFieldTag
)

type (
	// execStream carries a job's events from the Exec goroutine to Update.
	execStream struct {
		events chan api.ExecEvent
		err    error // Exec's result, set before events is closed
	}
	execStreamMsg struct {
		gen int
		s   *execStream
	}
	// execBatchMsg is a batch of a job's events; end says the stream is
	// over (err is how it ended).
	execBatchMsg struct {
		gen    int
		events []api.ExecEvent
		end    bool
		err    error
	}
)

type execNodeState int

const (
	nodeWaiting execNodeState = iota // expected, no ack yet
	nodeRunning
	// Final states.
	nodeExited
	nodeTimedOut
	nodeRefused
	nodeLost
	nodeNoAck
	nodeCancelled
)

// execNode is one node of a job.
type execNode struct {
	name      string
	state     execNodeState
	code      int
	truncated bool // the agent cut the output at its limit
	reason    string
	out       execOutput
	top       int  // first output row shown
	follow    bool // the output view stays on the newest rows
}

func (n *execNode) finished() bool { return n.state >= nodeExited }

// failed: what R runs again.
func (n *execNode) failed() bool {
	switch n.state {
	case nodeExited:
		return n.code != 0
	case nodeTimedOut, nodeLost, nodeNoAck:
		return true
	}
	return false
}

func (n *execNode) stateText() string {
	switch n.state {
	case nodeWaiting:
		return "waiting"
	case nodeRunning:
		return "running"
	case nodeExited:
		return "exit " + strconv.Itoa(n.code)
	case nodeTimedOut:
		return "timed out"
	case nodeRefused:
		return "refused"
	case nodeLost:
		return "lost"
	case nodeNoAck:
		return "no ack"
	}
	return "cancelled"
}

// execJob is the job shown (the last one run).
type execJob struct {
	req    api.ExecRequest
	gen    int
	id     string
	nodes  []*execNode // by name
	byName map[string]*execNode
	stream *execStream
	cancel context.CancelFunc

	running    bool // the stream is open
	cancelling bool // x was pressed
	cancelled  bool
	done       bool // the done event came
	err        error
}

func (j *execJob) node(name string) *execNode {
	if n := j.byName[name]; n != nil {
		return n
	}
	n := &execNode{name: name, follow: true, out: execOutput{partOf: -1}}
	j.byName[name] = n
	i := sort.Search(len(j.nodes), func(i int) bool { return j.nodes[i].name >= name })
	j.nodes = append(j.nodes, nil)
	copy(j.nodes[i+1:], j.nodes[i:])
	j.nodes[i] = n
	return n
}

// counts are the nodes that completed (cancelled ones did not), exited
// 0, failed and were refused.
func (j *execJob) counts() (completed, ok, failed, refused int) {
	for _, n := range j.nodes {
		if n.finished() && n.state != nodeCancelled {
			completed++
		}
		if n.state == nodeExited && n.code == 0 {
			ok++
		}
		if n.failed() {
			failed++
		}
		if n.state == nodeRefused {
			refused++
		}
	}
	return
}

func (j *execJob) what() string {
	c := j.req.Command
	if c == "" {
		c = strings.Join(j.req.Args, " ")
	}
	return quote(oneLine(c))
}

// selectNode is the footer's hint for the node list's moves.
var selectNode = key.NewBinding(key.WithKeys("up", "down", "k", "j"), key.WithHelp("↑/↓", "node"))

// execPane runs remote exec jobs and shows their output.
type execPane struct {
	sh   *shared
	w, h int
	mode execMode

	form    formModel
	targets execTargets
	tloaded bool
	terr    error
	tbusy   bool
	tseq    int
	preview []string // the nodes the form's filters select
	perr    error

	confirm *confirmDialog

	gen    int
	job    *execJob
	cursor int // the selected node
	ntop   int // first node row shown

	searching bool // the search box has focus
	search    textinput.Model
	matches   []int // lines of the selected node's output that match
	mcur      int   // the current match
	mfor      string

	// Sizes computed by layout.
	nameW, leftW, outW, outH int
	// wrapped is the node whose output rows are kept (the selected one;
	// another's are dropped when the selection moves).
	wrapped *execNode
}

func newExecPane(sh *shared) *execPane {
	s := textinput.New()
	s.Prompt = "/"
	s.Placeholder = "search output"
	s.Cursor.SetMode(cursor.CursorStatic)
	return &execPane{sh: sh, w: 100, h: 26, search: s,
		form: newForm([]string{"command", "node", "service", "tag"},
			[]string{"run with sh -c on each node", "regexp of node names (empty: all)", "regexp of service names", "regexp of tags (needs a service)"})}
}

func (p *execPane) title() string { return "Exec" }

func (p *execPane) capturing() bool { return p.confirm != nil || p.mode == execCompose || p.searching }

func (p *execPane) running() bool { return p.job != nil && p.job.running }

// runningJob names the running job ("" when none), for the quit question.
func (p *execPane) runningJob() string {
	if !p.running() {
		return ""
	}
	return "the exec job " + p.job.what()
}

// interrupt is ctrl+c in this pane: it cancels a running job (ok) unless
// it is already being cancelled.
func (p *execPane) interrupt() (tea.Cmd, bool) {
	if !p.running() || p.job.cancelling {
		return nil, false
	}
	p.cancelJob()
	p.layout()
	return nil, true
}

func (p *execPane) helpKeys() []key.Binding {
	k := p.sh.keys
	switch {
	case p.confirm != nil:
		return []key.Binding{k.Yes, anyKeyCancels}
	case p.mode == execCompose:
		return []key.Binding{hint(k.Submit, "review"), k.NextField, k.Cancel}
	case p.searching:
		return []key.Binding{hint(arrowsOnly, "prev/next match"), hint(k.Submit, "keep search"), hint(k.Cancel, "clear search")}
	case p.mode == execIdle:
		return []key.Binding{hint(k.New, "new command")}
	}
	keys := []key.Binding{selectNode, hint(k.PageUp, "scroll"), hint(k.Filter, "search output")}
	if p.running() {
		return append(keys, k.CancelJob)
	}
	if _, _, failed, _ := p.job.counts(); failed > 0 {
		keys = append(keys, k.Rerun)
	}
	return append(keys, hint(k.New, "new command"))
}

// poll refreshes the preview's members and catalog while the form is open.
func (p *execPane) poll() tea.Cmd {
	if p.mode == execCompose {
		return p.fetchTargets(false)
	}
	return nil
}

func (p *execPane) refresh() tea.Cmd {
	if p.mode == execCompose {
		return p.fetchTargets(true)
	}
	return nil
}

func (p *execPane) update(msg tea.Msg) tea.Cmd {
	cmd := p.handle(msg)
	p.layout()
	return cmd
}

func (p *execPane) handle(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case paneSizeMsg:
		p.w, p.h = msg.w, msg.h
	case execTargetsMsg:
		if msg.seq != p.tseq {
			return nil
		}
		p.tbusy = false
		p.terr = msg.err
		if msg.err == nil {
			p.targets, p.tloaded = msg.t, true
		}
		p.recompute()
	case execStreamMsg:
		if p.job == nil || msg.gen != p.job.gen {
			return nil
		}
		p.job.stream = msg.s
		return p.read(msg.s, msg.gen)
	case execBatchMsg:
		if p.job == nil || msg.gen != p.job.gen {
			return nil
		}
		for _, ev := range msg.events {
			p.apply(ev)
		}
		if msg.end {
			p.finish(msg.err)
			return nil
		}
		return p.read(p.job.stream, msg.gen)
	case tea.KeyMsg:
		return p.key(msg)
	}
	return nil
}

func (p *execPane) key(msg tea.KeyMsg) tea.Cmd {
	k := p.sh.keys
	if d := p.confirm; d != nil {
		p.confirm = nil
		if key.Matches(msg, k.Yes) {
			return d.yes()
		}
		p.sh.flash("cancelled: nothing run", false)
		return nil
	}
	switch {
	case p.mode == execCompose:
		return p.formKey(msg)
	case p.searching:
		return p.searchKey(msg)
	case key.Matches(msg, k.New):
		if p.running() {
			p.sh.flash("a job is running: x cancels it", false)
			return nil
		}
		p.mode = execCompose
		p.recompute()
		return tea.Batch(p.form.open(), p.fetchTargets(true))
	case p.mode != execResults:
		return nil
	case key.Matches(msg, k.CancelJob):
		if !p.running() {
			p.sh.flash("no job is running", false)
			return nil
		}
		p.cancelJob()
	case key.Matches(msg, k.Rerun):
		return p.askRerun()
	case key.Matches(msg, k.Filter):
		p.searching = true
		return p.search.Focus()
	case key.Matches(msg, k.Back):
		p.search.SetValue("")
	default:
		return p.resultsKey(msg)
	}
	return nil
}

func (p *execPane) resultsKey(msg tea.KeyMsg) tea.Cmd {
	k := p.sh.keys
	n := p.selected()
	page := max(p.outH-1, 1)
	switch {
	case n == nil:
	case key.Matches(msg, k.PageUp):
		n.top, n.follow = max(n.top-page, 0), false
	case key.Matches(msg, k.PageDown):
		n.top += page // layout clamps it, and follows again at the end
		n.follow = n.top >= n.out.rowCount()-p.outH
	case key.Matches(msg, k.Top):
		n.top, n.follow = 0, false
	case key.Matches(msg, k.Bottom):
		n.follow = true
	default:
		p.cursor = moveCursor(msg, k, p.cursor, len(p.job.nodes))
	}
	return nil
}

// selected is the node under the cursor (nil when there is none).
func (p *execPane) selected() *execNode {
	if p.job == nil || p.cursor >= len(p.job.nodes) {
		return nil
	}
	return p.job.nodes[p.cursor]
}

// --- the form ---

func (p *execPane) formKey(msg tea.KeyMsg) tea.Cmd {
	k := p.sh.keys
	switch {
	case key.Matches(msg, k.Cancel):
		p.form.close()
		p.mode = execIdle
		if p.job != nil {
			p.mode = execResults
		}
		return nil
	case key.Matches(msg, k.Submit):
		return p.review()
	}
	cmd, changed := p.form.key(msg, k)
	if changed {
		p.recompute()
	}
	return cmd
}

// recompute is the preview for the form's filters.
func (p *execPane) recompute() {
	f := &p.form
	p.preview, p.perr = p.targets.match(f.value(exFieldNode), f.value(exFieldService), f.value(exFieldTag))
}

func (p *execPane) request() *api.ExecRequest {
	f := &p.form
	return &api.ExecRequest{Command: strings.TrimSpace(f.value(exFieldCommand)),
		NodeFilter: f.value(exFieldNode), ServiceFilter: f.value(exFieldService), TagFilter: f.value(exFieldTag)}
}

// review asks to run the form's command on the nodes it selects.
func (p *execPane) review() tea.Cmd {
	req := p.request()
	switch {
	case req.Command == "":
		p.form.err = "type a command"
		return nil
	case p.perr != nil:
		p.form.err = p.perr.Error()
		return nil
	case !p.tloaded:
		p.form.err = "the members and the catalog are still loading; try again"
		return nil
	case len(p.preview) == 0:
		p.form.err = "no alive node matches the filters"
		return nil
	}
	n := len(p.preview)
	p.confirm = &confirmDialog{
		prompt: fmt.Sprintf("Run %s on %d %s?", quote(oneLine(req.Command)), n, plural(n, "node", "nodes")),
		lines:  []string{"command: " + oneLine(req.Command), "targets: " + filtersText(req), "nodes: " + strings.Join(p.preview, ", ")},
		yes:    func() tea.Cmd { return p.start(req) },
	}
	return nil
}

func filtersText(req *api.ExecRequest) string {
	var parts []string
	for _, f := range []struct{ k, v string }{{"node", req.NodeFilter}, {"service", req.ServiceFilter}, {"tag", req.TagFilter}} {
		if f.v != "" {
			parts = append(parts, f.k+" "+f.v)
		}
	}
	if len(parts) == 0 {
		return "every node"
	}
	return strings.Join(parts, " · ")
}

// --- the job ---

// start runs req: the Exec goroutine feeds a stream that read batches.
func (p *execPane) start(req *api.ExecRequest) tea.Cmd {
	p.gen++
	ctx, cancel := context.WithCancel(p.sh.ctx)
	p.job = &execJob{req: *req, gen: p.gen, byName: map[string]*execNode{}, running: true, cancel: cancel}
	p.mode, p.cursor, p.ntop, p.wrapped = execResults, 0, 0, nil
	p.matches, p.mfor = nil, ""
	p.form.close()
	gen, src := p.gen, p.sh.src
	return func() tea.Msg {
		s := &execStream{events: make(chan api.ExecEvent, execQueue)}
		go func() {
			err := src.Exec(ctx, req, "", func(ev api.ExecEvent) {
				select {
				case s.events <- ev:
				case <-ctx.Done():
				}
			})
			s.err = err
			close(s.events)
		}()
		return execStreamMsg{gen: gen, s: s}
	}
}

// read waits for the next batch of s's events.
func (p *execPane) read(s *execStream, gen int) tea.Cmd {
	ctx := p.sh.ctx
	return func() tea.Msg {
		var batch []api.ExecEvent
		select {
		case ev, ok := <-s.events:
			if !ok {
				return execBatchMsg{gen: gen, end: true, err: s.err}
			}
			batch = append(batch, ev)
		case <-ctx.Done():
			return nil
		}
		size := len(batch[0].Data)
		timer := time.NewTimer(execBatchWindow)
		defer timer.Stop()
		for len(batch) < execBatchEvents && size < execBatchBytes {
			select {
			case ev, ok := <-s.events:
				if !ok {
					return execBatchMsg{gen: gen, events: batch, end: true, err: s.err}
				}
				batch = append(batch, ev)
				size += len(ev.Data)
			case <-timer.C:
				return execBatchMsg{gen: gen, events: batch}
			}
		}
		return execBatchMsg{gen: gen, events: batch}
	}
}

// apply takes one event into the job.
func (p *execPane) apply(ev api.ExecEvent) {
	j := p.job
	var keep string
	if n := p.selected(); n != nil {
		keep = n.name
	}
	switch ev.Type {
	case api.ExecStart:
		j.id = ev.Job
		for _, name := range ev.Expected {
			j.node(name)
		}
	case api.ExecAck:
		if n := j.node(ev.Node); n.state == nodeWaiting {
			n.state = nodeRunning
		}
	case api.ExecOutput:
		n := j.node(ev.Node)
		if n.state == nodeWaiting {
			n.state = nodeRunning
		}
		n.out.write(ev.Data)
	case api.ExecHeartbeat:
		j.node(ev.Node)
	case api.ExecExit:
		n := j.node(ev.Node)
		n.state, n.code, n.truncated = nodeExited, ev.Code, ev.Truncated
		if ev.TimedOut {
			n.state = nodeTimedOut
		}
	case api.ExecRefused:
		n := j.node(ev.Node)
		n.state, n.reason = nodeRefused, ev.Reason
	case api.ExecLost:
		n := j.node(ev.Node)
		n.state, n.reason = nodeLost, ev.Reason
	case api.ExecNoAck:
		n := j.node(ev.Node)
		n.state, n.reason = nodeNoAck, "did not acknowledge the job in time"
	case api.ExecDone:
		j.done = true
	}
	// Keep the cursor on the node it was on as nodes are added.
	for i, n := range j.nodes {
		if n.name == keep {
			p.cursor = i
			break
		}
	}
}

// cancelJob cancels the running job: the stream's context ends, which
// cancels it on every node.
func (p *execPane) cancelJob() {
	p.job.cancelling = true
	p.job.cancel()
	p.sh.flash("cancelling "+p.job.what()+" on every node…", false)
}

// finish closes the job when its stream ended.
func (p *execPane) finish(err error) {
	j := p.job
	j.running = false
	j.cancel()
	left := nodeLost
	switch {
	case j.cancelling:
		j.cancelled = true
		left = nodeCancelled
	case err != nil:
		j.err = err
	}
	for _, n := range j.nodes {
		if !n.finished() {
			n.state = left
			if left == nodeLost {
				n.reason = "the job's stream ended before its exit code"
			}
		}
	}
	completed, _, failed, _ := j.counts()
	switch {
	case j.cancelled:
		p.sh.flash(fmt.Sprintf("cancelled %s: %d / %d completed", j.what(), completed, len(j.nodes)), false)
	case err != nil:
		p.sh.flash("exec "+j.what()+": "+errText(err), true)
	case failed > 0:
		p.sh.flash(fmt.Sprintf("%s done: %d / %d completed, %d failed (R re-runs them)", j.what(), completed, len(j.nodes), failed), false)
	default:
		p.sh.flash(fmt.Sprintf("%s done: %d / %d completed", j.what(), completed, len(j.nodes)), false)
	}
}

// failedNodes are the nodes R runs again.
func (j *execJob) failedNodes() []string {
	var out []string
	for _, n := range j.nodes {
		if n.failed() {
			out = append(out, n.name)
		}
	}
	return out
}

// exactNodes is a node filter that selects exactly names.
func exactNodes(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = regexp.QuoteMeta(n)
	}
	return "^(" + strings.Join(q, "|") + ")$"
}

func (p *execPane) askRerun() tea.Cmd {
	if p.running() {
		p.sh.flash("the job is still running (x cancels it)", false)
		return nil
	}
	failed := p.job.failedNodes()
	if len(failed) == 0 {
		p.sh.flash("no node failed: nothing to re-run", false)
		return nil
	}
	req := p.job.req
	req.NodeFilter, req.ServiceFilter, req.TagFilter = exactNodes(failed), "", ""
	n := len(failed)
	p.confirm = &confirmDialog{
		prompt: fmt.Sprintf("Re-run %s on %d failed %s?", p.job.what(), n, plural(n, "node", "nodes")),
		lines:  []string{"nodes: " + strings.Join(failed, ", ")},
		yes:    func() tea.Cmd { return p.start(&req) },
	}
	return nil
}

// --- search ---

func (p *execPane) searchKey(msg tea.KeyMsg) tea.Cmd {
	k := p.sh.keys
	switch {
	case key.Matches(msg, k.Cancel):
		p.searching = false
		p.search.Blur()
		p.search.SetValue("")
		return nil
	case key.Matches(msg, k.Submit):
		p.searching = false
		p.search.Blur()
		return nil
	case msg.Type == tea.KeyUp:
		p.jump(-1)
		return nil
	case msg.Type == tea.KeyDown:
		p.jump(1)
		return nil
	}
	before := p.search.Value()
	var cmd tea.Cmd
	p.search, cmd = p.search.Update(msg)
	if p.search.Value() != before {
		p.findMatches()
		p.mcur = -1
		p.jump(1) // to the first match
	}
	return cmd
}

// findMatches finds the search in the selected node's output again when
// either changed.
func (p *execPane) findMatches() {
	n := p.selected()
	q := strings.ToLower(p.search.Value())
	if n == nil || q == "" {
		p.matches, p.mfor = nil, ""
		return
	}
	key := fmt.Sprintf("%s\x00%d\x00%d\x00%s", n.name, n.out.version, n.out.dropped, q)
	if key == p.mfor {
		return
	}
	p.matches, p.mfor = n.out.find(q), key
	p.mcur = min(p.mcur, len(p.matches)-1)
}

// jump moves to the next (d > 0) or previous match, scrolling the output to it.
func (p *execPane) jump(d int) {
	p.findMatches()
	n := p.selected()
	if n == nil || len(p.matches) == 0 {
		return
	}
	p.mcur = (p.mcur + d + len(p.matches)) % len(p.matches)
	n.out.fit(p.outW)
	n.top, n.follow = max(n.out.rowOfLine(p.matches[p.mcur])-p.outH/3, 0), false
}

// --- layout and view ---

// head is what the results view draws above the columns.
func (p *execPane) head(w int) string {
	st := p.sh.st
	j := p.job
	completed, ok, failed, refused := j.counts()
	parts := []string{"exec " + j.what()}
	if j.id != "" {
		id := j.id
		if len(id) > 8 {
			id = id[:8]
		}
		parts = append(parts, "job "+id)
	}
	parts = append(parts, fmt.Sprintf("%d / %d completed", completed, len(j.nodes)), fmt.Sprintf("%d ok", ok), fmt.Sprintf("%d failed", failed))
	if refused > 0 {
		parts = append(parts, fmt.Sprintf("%d refused", refused))
	}
	var status string
	switch {
	case j.running && j.cancelling:
		status = st.Warn.Render("cancelling…")
	case j.running && j.id == "":
		status = st.Info.Render("starting…")
	case j.running:
		status = st.Info.Render("running (x cancels)")
	case j.cancelled:
		status = st.Warn.Render("cancelled")
	case j.err != nil:
		status = st.Error.Render("error: " + errText(j.err))
	default:
		status = st.OK.Render("done")
	}
	var b strings.Builder
	b.WriteString(truncate(st.Header.Render(strings.Join(parts, " · "))+" · "+status, w) + "\n")
	b.WriteString(st.Faint.Render(truncate("targets: "+filtersText(&j.req), w)) + "\n")
	if p.confirm != nil {
		b.WriteString(p.confirm.view(st, w) + "\n")
	}
	return b.String()
}

// layout sizes the columns, wraps the selected node's output to its
// column and keeps the scroll windows (views only render).
func (p *execPane) layout() {
	p.form.fit(p.w)
	if p.mode != execResults || p.job == nil {
		return
	}
	nameW := len("NODE")
	for _, n := range p.job.nodes {
		nameW = max(nameW, textWidth(n.name))
	}
	const stateW = len("timed out")
	p.nameW = min(nameW, max(p.w/3, 8))
	p.leftW = len(gutter(false)) + p.nameW + 2 + stateW
	p.outW = max(p.w-p.leftW-3, 10)
	rows := max(p.h-strings.Count(p.head(p.w), "\n")-1, 1)
	p.outH = rows
	p.cursor = min(p.cursor, max(len(p.job.nodes)-1, 0))
	p.ntop = scrollTop(p.ntop, p.cursor, rows, len(p.job.nodes))
	n := p.selected()
	if n != p.wrapped && p.wrapped != nil {
		p.wrapped.out.unwrap()
	}
	p.wrapped = n
	if n == nil {
		return
	}
	n.out.fit(p.outW)
	last := max(n.out.rowCount()-p.outH, 0)
	if n.follow {
		n.top = last
	}
	n.top = min(max(n.top, 0), last)
	if n.top == last && !p.searching {
		n.follow = true
	}
	p.findMatches()
}

func (p *execPane) view(w, h int) string {
	switch p.mode {
	case execCompose:
		return p.composeView(w, h)
	case execResults:
		return p.resultsView(w, h)
	}
	st := p.sh.st
	return st.Header.Render(truncate("Remote exec: run a command on many nodes and watch their output side by side", w)) + "\n" +
		st.Faint.Render(truncate("n composes a command and picks its targets (node, service and tag regexps, as consul exec's -node, -service, -tag)", w))
}

func (p *execPane) composeView(w, h int) string {
	st := p.sh.st
	var b strings.Builder
	if p.confirm != nil {
		b.WriteString(p.confirm.view(st, w) + "\n")
	}
	b.WriteString(st.Header.Render(truncate("Run a command on nodes (remote exec)", w)) + "\n")
	b.WriteString(p.form.view(st, w))
	alive := len(p.targets.alive)
	switch {
	case p.perr != nil:
		b.WriteString(st.Error.Render(truncate("preview: "+p.perr.Error(), w)) + "\n")
	case p.terr != nil && !p.tloaded:
		b.WriteString(st.Error.Render(truncate("preview: "+errText(p.terr)+" (retrying)", w)) + "\n")
	case !p.tloaded:
		b.WriteString(st.Faint.Render("preview: loading members and catalog…") + "\n")
	default:
		n := len(p.preview)
		line := fmt.Sprintf("preview: %d of %d alive %s %s", n, alive, plural(alive, "node", "nodes"), plural(n, "matches", "match"))
		style := st.OK
		if n == 0 {
			style = st.Warn
		}
		b.WriteString(style.Render(truncate(line, w)) + "\n")
		used := strings.Count(b.String(), "\n") + 1
		if room := h - used; room > 0 && n > 0 {
			names := strings.Split(ansi.Wrap(strings.Join(p.preview, "  "), max(w-2, 10), ""), "\n")
			if len(names) > room {
				names = append(names[:room-1], fmt.Sprintf("… (%d nodes in all)", n))
			}
			for _, l := range names {
				b.WriteString("  " + l + "\n")
			}
		}
	}
	b.WriteString(st.Faint.Render(truncate("enter reviews and asks · tab/↓ next field · esc cancels", w)))
	return b.String()
}

func (p *execPane) stateStyle(n *execNode) *cell {
	st := p.sh.st
	c := &cell{text: n.stateText()}
	switch {
	case n.state == nodeExited && n.code == 0:
		c.style = styleOf(st.OK)
	case n.failed():
		c.style = styleOf(st.Bad)
	case n.state == nodeRefused || n.state == nodeWaiting:
		c.style = styleOf(st.Warn)
	case n.state == nodeCancelled:
		c.style = styleOf(st.Gone)
	}
	return c
}

func (p *execPane) resultsView(w, h int) string {
	st := p.sh.st
	j := p.job
	var b strings.Builder
	b.WriteString(p.head(w))
	rows := max(h-strings.Count(b.String(), "\n")-1, 1)

	left := make([]string, 0, rows+1)
	left = append(left, st.Header.Render(pad(gutter(false)+pad("NODE", p.nameW)+"  STATE", p.leftW)))
	from, to := p.ntop, min(p.ntop+rows, len(j.nodes))
	for i := from; i < to; i++ {
		n := j.nodes[i]
		name := truncate(n.name, p.nameW)
		line := st.row([]cell{{text: name}, *p.stateStyle(n)}, []int{p.nameW}, i == p.cursor, p.leftW)
		left = append(left, line+strings.Repeat(" ", max(p.leftW-textWidth(ansi.Strip(line)), 0)))
	}
	if len(j.nodes) == 0 {
		left = append(left, pad(st.Faint.Render("  waiting for the job to start"), p.leftW))
	}

	right := p.outputLines(rows)
	sep := st.Faint.Render(" │ ")
	for i := 0; i < rows+1; i++ {
		l := strings.Repeat(" ", p.leftW)
		if i < len(left) {
			l = left[i]
		}
		r := ""
		if i < len(right) {
			r = right[i]
		}
		b.WriteString(truncate(l+sep+r, w) + "\n")
	}
	return b.String()
}

// outputLines are the right column: a header line, then rows of the
// selected node's output.
func (p *execPane) outputLines(rows int) []string {
	st := p.sh.st
	n := p.selected()
	if n == nil {
		return nil
	}
	var hdr string
	if p.searching || p.search.Value() != "" {
		found := "no match"
		if len(p.matches) > 0 {
			found = fmt.Sprintf("match %d of %d", max(p.mcur, 0)+1, len(p.matches))
		}
		hdr = p.search.View() + "  " + st.Faint.Render(found)
	} else {
		parts := []string{n.name, n.stateText()}
		if c := n.out.count(); c > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c, plural(c, "line", "lines")))
		}
		if n.reason != "" {
			parts = append(parts, oneLine(n.reason))
		}
		if n.truncated {
			parts = append(parts, "output cut by the agent")
		}
		if n.out.dropped > 0 {
			parts = append(parts, fmt.Sprintf("oldest %d KiB dropped (1 MiB kept)", (n.out.dropped+1023)/1024))
		}
		if !n.follow {
			parts = append(parts, "G follows")
		}
		hdr = st.Header.Render(strings.Join(parts, " · "))
	}
	out := []string{truncate(hdr, p.outW)}
	if n.out.rowCount() == 0 {
		return append(out, st.Faint.Render("(no output yet)"))
	}
	cur := -1
	if p.mcur >= 0 && p.mcur < len(p.matches) {
		cur = p.matches[p.mcur]
	}
	for r := n.top; r < min(n.top+rows, n.out.rowCount()); r++ {
		text := n.out.row(r)
		if len(p.matches) > 0 {
			line := n.out.lineOfRow(r)
			switch i := sort.SearchInts(p.matches, line); {
			case line == cur:
				text = st.Selected.Render(text)
			case i < len(p.matches) && p.matches[i] == line:
				text = st.Warn.Render(text)
			}
		}
		out = append(out, text)
	}
	return out
}
