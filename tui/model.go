package tui

import (
	"consulx/internal/termbg"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"consulx/api"
)

// Options configure the console.
type Options struct {
	// ReadOnly disables (and hides) every key that changes data.
	ReadOnly bool
	// Embedded means the console runs inside the agent: quitting stops the
	// agent, so q asks first. The caller performs the graceful leave after
	// Run returns.
	Embedded bool
	// Addr is the agent address shown in the header.
	Addr string
	// Stop, when closed, quits the console (the embedding agent got a
	// signal); the terminal is restored before Run returns.
	Stop <-chan struct{}
}

const (
	pollEvery    = time.Second
	pollTimeout  = 5 * time.Second
	writeTimeout = 10 * time.Second
	retryAfter   = 2 * time.Second
)

// shared is what every pane gets from the root.
type shared struct {
	src   Source
	keys  KeyMap
	st    Styles
	opts  Options
	ctx   context.Context // ends when the console quits
	now   func() time.Time
	flash func(text string, isErr bool)
	// after delivers msg once d has passed (tea.Tick; tests replace it).
	after func(d time.Duration, msg tea.Msg) tea.Cmd
	// exec runs an external program on the terminal (tea.ExecProcess;
	// tests replace it) and getenv reads the environment (os.Getenv).
	exec   func(c *exec.Cmd, fn tea.ExecCallback) tea.Cmd
	getenv func(key string) string
	// maint is what is in maintenance (the root polls it while a pane
	// that shows nodes is active).
	maint maintState
	// isActive reports that p is the pane on screen.
	isActive func(p pane) bool
}

func tickAfter(d time.Duration, msg tea.Msg) tea.Cmd {
	return tea.Tick(d, func(time.Time) tea.Msg { return msg })
}

// gutter marks the cursor row in a way that survives a terminal without colour.
func gutter(selected bool) string {
	if selected {
		return "> "
	}
	return "  "
}

// pane is one tab of the console.
type pane interface {
	title() string
	update(msg tea.Msg) tea.Cmd
	view(w, h int) string
	// capturing reports that a text input or dialog has focus, so keys go
	// to the pane before any global binding (q types a q).
	capturing() bool
	helpKeys() []key.Binding
	// poll is the once-a-second refresh of the active pane, nil when the
	// pane needs none (it watches) or one is still in flight.
	poll() tea.Cmd
	// refresh reloads now (the r key).
	refresh() tea.Cmd
}

// maintViewer is a pane that marks nodes in maintenance: while it is
// active the root polls the maintenance state.
type maintViewer interface{ showsMaint() bool }

type (
	tickMsg   struct{}
	statusMsg struct {
		self   *api.Self
		leader string // the leader's Raft address
		// leaderName is the leader's node name from the Raft
		// configuration ("" when it could not be read).
		leaderName string
		err        error
		// selfDenied is the agent's refusal of the self read (a token
		// without agent:read): the agent answered, so the console is
		// connected and every pane that needs less still works.
		selfDenied string
	}
)

// consolePanes are the panes, by name.
type consolePanes struct {
	members, wan *membersPane
	kv           *kvPane
	raft         *raftPane
	log          *logPane
	services     *servicesPane
	events       *eventsPane
	exec         *execPane // not among the tabs with -readonly
	acl          *aclPane
}

// Model is the root of the console: a header, one pane per tab, a footer.
type Model struct {
	sh     *shared
	cancel context.CancelFunc
	named  consolePanes
	panes  []pane // the tabs, in order
	nums   []int  // each tab's number (its key): fixed, so -readonly's missing Exec pane renumbers nothing
	active int
	help   help.Model
	full   bool // full help shown

	w, h int

	connected  bool
	everAnswer bool
	statusErr  error
	statusBusy bool
	dc, node   string
	leader     string
	leaderName string
	selfDenied string // why the agent refused its self read ("" when it did not)
	token      tokenInfo

	quitAsk  *confirmDialog // the embedded console's quit confirmation
	quitting bool           // quit was returned: later keys of a burst are dropped
	flashed  string
	flashErr bool

	helpTop int // first line of the ? overlay shown (it scrolls when it does not fit)

	maintBusy bool
	maintSeq  int // the latest maintenance fetch; older answers are dropped
}

// New builds the console for src. Call Init (or Run) to start its polls.
func New(src Source, opts Options) *Model {
	ctx, cancel := context.WithCancel(context.Background())
	m := &Model{cancel: cancel, help: help.New(), w: 100, h: 30}
	m.sh = &shared{src: src, keys: DefaultKeyMap(opts.ReadOnly), st: defaultStyles(), opts: opts, ctx: ctx, now: time.Now, after: tickAfter,
		exec: tea.ExecProcess, getenv: os.Getenv}
	m.sh.flash = func(text string, isErr bool) { m.flashed, m.flashErr = text, isErr }
	m.sh.isActive = func(p pane) bool { return m.panes[m.active] == p }
	m.named = consolePanes{members: newMembersPane(m.sh, false), wan: newMembersPane(m.sh, true), kv: newKVPane(m.sh),
		raft: newRaftPane(m.sh), log: newLogPane(m.sh), services: newServicesPane(m.sh), events: newEventsPane(m.sh), exec: newExecPane(m.sh),
		acl: newACLPane(m.sh)}
	n := &m.named
	m.panes = []pane{n.members, n.wan, n.kv, n.raft, n.log, n.services, n.events}
	m.nums = []int{1, 2, 3, 4, 5, 6, 7}
	if !opts.ReadOnly {
		m.panes = append(m.panes, n.exec) // remote exec changes things on every node it runs on
		m.nums = append(m.nums, 8)
	}
	m.panes = append(m.panes, n.acl)
	m.nums = append(m.nums, 9)
	return m
}

// Run runs the console on the terminal's alternate screen until the user quits.
func Run(src Source, opts Options) error {
	// The background query is skipped at program start (internal/termbg);
	// ask now, before Bubble Tea takes the terminal.
	termbg.Detect()
	m := New(src, opts)
	defer m.Close()
	p := tea.NewProgram(m, tea.WithAltScreen())
	if opts.Stop != nil {
		finished := make(chan struct{})
		defer close(finished)
		go func() {
			select {
			case <-opts.Stop:
				p.Quit()
			case <-finished:
			}
		}()
	}
	_, err := p.Run()
	return err
}

// Quitting reports that the console has quit (q, y to the quit question,
// ctrl+c): it returned tea.Quit, and keys after that are not its own.
func (m *Model) Quitting() bool { return m.quitting }

// Close stops the console's background work (polls, watches, log stream).
func (m *Model) Close() { m.cancel() }

// Init starts the status poll, the KV watch and the log stream.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.fetchStatus(), m.fetchToken(), m.sh.after(pollEvery, tickMsg{}), m.panes[0].poll(), m.fetchMaint(false), m.kv().start(), m.log().start())
}

func (m *Model) kv() *kvPane             { return m.named.kv }
func (m *Model) log() *logPane           { return m.named.log }
func (m *Model) services() *servicesPane { return m.named.services }

// wantsMaint reports that the active pane marks nodes in maintenance.
func (m *Model) wantsMaint() bool {
	v, ok := m.panes[m.active].(maintViewer)
	return ok && v.showsMaint()
}

// fetchMaint reads what is in maintenance (the critical checks); force
// starts a new fetch even while one runs, whose answer is then dropped.
func (m *Model) fetchMaint(force bool) tea.Cmd {
	if m.maintBusy && !force {
		return nil
	}
	m.maintBusy = true
	m.maintSeq++
	seq, src, parent := m.maintSeq, m.sh.src, m.sh.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, pollTimeout)
		defer cancel()
		checks, _, err := src.HealthState(ctx, "critical", nil)
		return maintMsg{seq: seq, checks: checks, err: err}
	}
}

func (m *Model) fetchStatus() tea.Cmd {
	if m.statusBusy {
		return nil
	}
	m.statusBusy = true
	src, parent := m.sh.src, m.sh.ctx
	lastAddr, lastName := m.leader, m.leaderName
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, pollTimeout)
		defer cancel()
		self, err := src.Self(ctx)
		denied := ""
		if err != nil {
			if !isDenied(err) {
				return statusMsg{err: err}
			}
			// The token lacks agent:read: the rest of the console may
			// still work (KV, services...), so go on without the agent's
			// own details.
			self, denied = nil, errText(err)
		}
		leader, err := src.Leader(ctx)
		if err != nil && !isStatus(err) {
			return statusMsg{err: err, selfDenied: denied}
		}
		// The status endpoint names the leader by its Raft address; the
		// operator thinks in node names. The Raft configuration maps one
		// to the other; it is read again only when the leader changes.
		name := ""
		switch {
		case leader == "":
		case leader == lastAddr && lastName != "":
			name = lastName
		default:
			if cfg, err := src.RaftConfiguration(ctx, true); err == nil {
				for _, s := range cfg.Servers {
					if s.Address == leader {
						name = s.Node
					}
				}
			}
		}
		return statusMsg{self: self, leader: leader, leaderName: name, selfDenied: denied}
	}
}

// Update routes keys to the focused thing and data to the panes. It never
// blocks: all I/O is in the returned commands.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if f, ok := msg.(failedMsg); ok && isDenied(f.failure()) {
		m.tokenSoon() // the token may have just changed
	}
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		m.help.Width = msg.Width
		m.clampHelp()
		return m, m.broadcast(paneSizeMsg{w: m.w, h: m.bodyHeight()})
	case tea.KeyMsg:
		return m, m.handleKeys(msg)
	case tickMsg:
		cmds := []tea.Cmd{m.sh.after(pollEvery, tickMsg{}), m.fetchStatus(), m.tokenDue()}
		if m.connected {
			cmds = append(cmds, m.panes[m.active].poll())
			if m.wantsMaint() {
				cmds = append(cmds, m.fetchMaint(false))
			}
		}
		return m, tea.Batch(cmds...)
	case maintMsg:
		if msg.seq != m.maintSeq {
			return m, nil // superseded by a fetch after a toggle
		}
		m.maintBusy = false
		if msg.err != nil {
			return m, nil // keep the last state; the header shows an unreachable agent
		}
		m.sh.maint.set(msg.checks, m.sh.now())
	case maintDoneMsg:
		m.sh.flash(msg.doneText(), msg.err != nil)
		if msg.err != nil {
			return m, nil
		}
		m.sh.maint.expect(msg.target.key(), msg.enable, msg.reason, m.sh.now())
		// Show it at once: reload the state and the active pane.
		return m, tea.Batch(m.broadcast(msg), m.fetchMaint(true), m.panes[m.active].refresh())
	case tokenMsg:
		m.onToken(msg)
		return m, nil
	case statusMsg:
		m.statusBusy = false
		m.connected = msg.err == nil
		m.statusErr = msg.err
		if msg.err == nil {
			m.everAnswer = true
			if msg.self != nil {
				m.dc = cfgString(msg.self.Config, "Datacenter")
				m.node = cfgString(msg.self.Config, "NodeName")
			}
			m.leader, m.leaderName = msg.leader, msg.leaderName
			m.selfDenied = msg.selfDenied
		}
	}
	return m, m.broadcast(msg)
}

// paneSizeMsg tells panes the size of the body they draw into.
type paneSizeMsg struct{ w, h int }

func (m *Model) bodyHeight() int { return max(m.h-4, 1) }

// concerned lists the panes a message is for: a pane's own data goes to
// that pane only, the agent's status to the Raft pane (its leader
// changes), maintenance to the panes that mark it (LAN members, services),
// sizes and anything else to all. Keys never come here: they go to the
// active pane (handleKey).
func (m *Model) concerned(msg tea.Msg) []pane {
	n := &m.named
	switch msg := msg.(type) {
	case statusMsg:
		return []pane{n.raft}
	case maintMsg, maintDoneMsg:
		return []pane{n.members, n.services}
	case membersMsg:
		if msg.wan {
			return []pane{n.wan}
		}
		return []pane{n.members}
	case kvKeysMsg, kvRetryMsg, kvValueMsg, kvAllKeysMsg, kvCountMsg, kvWriteMsg,
		kvCopyPlanMsg, kvCopyDoneMsg, kvExtReadyMsg, kvExtDoneMsg, kvNoteMsg:
		return []pane{n.kv}
	case logStreamMsg, logLinesMsg, logEndMsg, logRetryMsg:
		return []pane{n.log}
	case raftMsg:
		return []pane{n.raft}
	case svcListMsg, svcDetailMsg:
		return []pane{n.services}
	case evListMsg, evRetryMsg, evFiredMsg:
		return []pane{n.events}
	case execTargetsMsg, execStreamMsg, execBatchMsg:
		return []pane{n.exec}
	case aclListMsg:
		return []pane{n.acl}
	}
	return m.panes
}

// broadcast gives a message to the panes it concerns.
func (m *Model) broadcast(msg tea.Msg) tea.Cmd {
	var cmds []tea.Cmd
	for _, p := range m.concerned(msg) {
		cmds = append(cmds, p.update(msg))
	}
	return tea.Batch(cmds...)
}

func (m *Model) quit() tea.Cmd {
	m.cancel()
	m.quitting = true
	return tea.Quit
}

// handleKeys takes one key message as the keys it stands for. Bubble Tea
// v1 reads printable input that arrives together (typed faster than it
// reads, a tmux send-keys, a terminal that batches) into ONE KeyMsg with
// several runes; matched as a whole, "jjj" is no binding and "/ser" loses
// its text. Each rune is processed as its own key, in order, exactly as if
// typed slowly. A paste is the exception: it is text, never keys, and a
// focused input inserts it whole (its String() is "[...]", which matches
// no binding, so it cannot trigger one).
//
// Likewise esc followed at once by another key reads as alt+key (esc esc
// as alt+esc). No binding of the console uses alt, so outside a text
// input (where alt+b, alt+left... move by words) it is the two keys it was
// typed as.
func (m *Model) handleKeys(msg tea.KeyMsg) tea.Cmd {
	if msg.Paste {
		return m.handleKey(msg)
	}
	var cmds []tea.Cmd
	if msg.Alt && !m.panes[m.active].capturing() {
		cmds = append(cmds, m.handleKey(tea.KeyMsg{Type: tea.KeyEsc}))
		msg.Alt = false
	}
	if msg.Type != tea.KeyRunes || len(msg.Runes) <= 1 {
		if !m.quitting {
			cmds = append(cmds, m.handleKey(msg))
		}
		return tea.Batch(cmds...)
	}
	for _, r := range msg.Runes {
		if m.quitting {
			break // the rest would go to the shell in a real terminal; drop it
		}
		cmds = append(cmds, m.handleKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt}))
	}
	return tea.Batch(cmds...)
}

func (m *Model) handleKey(msg tea.KeyMsg) tea.Cmd {
	k := m.sh.keys
	if key.Matches(msg, k.ForceQuit) {
		// In the Exec pane, while a job runs, ctrl+c cancels the job (as
		// it would stop consul exec); a second one quits.
		if m.quitAsk == nil && m.panes[m.active] == m.named.exec {
			if cmd, ok := m.named.exec.interrupt(); ok {
				return cmd
			}
		}
		return m.quit()
	}
	if d := m.quitAsk; d != nil {
		m.quitAsk = nil
		if key.Matches(msg, k.Yes) {
			return d.yes()
		}
		m.sh.flash("quit cancelled", false)
		return nil
	}
	p := m.panes[m.active]
	if p.capturing() {
		return p.update(msg)
	}
	if m.full {
		if cmd, ok := m.helpKey(msg); ok {
			return cmd
		}
	}
	switch {
	case key.Matches(msg, k.Quit):
		job := m.named.exec.runningJob()
		if m.sh.opts.Embedded || job != "" {
			m.full = false // the dialog shows over the pane
			m.quitAsk = &confirmDialog{prompt: "Quit and stop the agent (graceful leave)?", yes: m.quit}
			switch {
			case job != "" && m.sh.opts.Embedded:
				m.quitAsk.detail = "and cancel " + job + " on every node"
			case job != "":
				m.quitAsk.prompt = "Quit and cancel " + job + " on every node?"
			}
			return nil
		}
		return m.quit()
	case key.Matches(msg, k.Help):
		m.full = !m.full
		m.helpTop = 0
		return nil
	case key.Matches(msg, k.NextPane):
		return m.switchTo((m.active + 1) % len(m.panes))
	case key.Matches(msg, k.PrevPane):
		return m.switchTo((m.active + len(m.panes) - 1) % len(m.panes))
	case key.Matches(msg, k.Panes):
		return m.switchTo(slices.Index(m.nums, int(msg.String()[0]-'0')))
	case key.Matches(msg, k.Refresh):
		m.sh.flash("", false)
		cmds := []tea.Cmd{m.fetchStatus(), p.refresh()}
		if m.wantsMaint() {
			cmds = append(cmds, m.fetchMaint(false))
		}
		return tea.Batch(cmds...)
	}
	if m.full {
		return nil
	}
	m.flashed = ""
	return p.update(msg)
}

func (m *Model) switchTo(i int) tea.Cmd {
	if i < 0 || i >= len(m.panes) || i == m.active {
		return nil
	}
	m.active = i
	m.flashed = ""
	if m.wantsMaint() {
		return tea.Batch(m.panes[i].poll(), m.fetchMaint(false))
	}
	return m.panes[i].poll()
}

// View draws header, tabs, the active pane (or full help) and the footer.
func (m *Model) View() string {
	st := m.sh.st
	var b strings.Builder
	b.WriteString(m.headerLine())
	b.WriteByte('\n')
	var tabs []string
	for i, p := range m.panes {
		t := fmt.Sprintf(" %d %s ", m.nums[i], p.title())
		if i == m.active {
			tabs = append(tabs, st.TabActive.Render(t))
		} else {
			tabs = append(tabs, st.Tab.Render(t))
		}
	}
	// No glue between tabs: their own padding separates them, and nine
	// tabs then fit 80 columns.
	b.WriteString(truncate(strings.Join(tabs, ""), m.w))
	b.WriteByte('\n')

	bodyH := m.bodyHeight()
	var body string
	switch {
	case m.full:
		body = m.fullHelp(bodyH)
	case m.quitAsk != nil:
		// The dialog sits on top of the pane, as the panes' own dialogs do.
		box := m.quitAsk.view(st, m.w)
		body = box + "\n" + m.panes[m.active].view(m.w, max(bodyH-lipgloss.Height(box), 1))
	default:
		body = m.panes[m.active].view(m.w, bodyH)
	}
	b.WriteString(fitLines(body, bodyH))
	b.WriteByte('\n')

	switch {
	case m.flashed != "" && m.flashErr:
		b.WriteString(st.Error.Render(truncate(m.flashed, m.w)))
	case m.flashed != "":
		b.WriteString(st.Info.Render(truncate(m.flashed, m.w)))
	case !m.connected && m.statusErr != nil:
		b.WriteString(st.Error.Render(truncate("last error: "+errText(m.statusErr), m.w)))
	}
	b.WriteByte('\n')
	b.WriteString(m.help.ShortHelpView(m.shortHelp()))
	return b.String()
}

func (m *Model) headerLine() string {
	st := m.sh.st
	conn := st.Warn.Render("connecting…")
	switch {
	case m.connected:
		conn = st.OK.Render("● connected")
	case m.statusErr != nil:
		conn = st.Bad.Render("agent unreachable, retrying…")
	}
	leader := m.leaderName // the address is on the Raft pane
	if leader == "" {
		leader = m.leader
	}
	parts := []string{st.Title.Render("consulx"), "dc " + orDash(m.dc), "node " + orDash(m.node), "leader " + orNone(leader), conn}
	switch t := m.token; {
	case t.bad:
		parts = append(parts, st.Bad.Render("token: "+t.label))
	case t.label != "":
		parts = append(parts, "token: "+t.label)
	}
	if m.sh.opts.Addr != "" {
		parts = append(parts, st.Faint.Render(m.sh.opts.Addr))
	}
	if m.sh.opts.ReadOnly {
		parts = append(parts, st.Warn.Render("read-only"))
	}
	return truncate(strings.Join(parts, "  "), m.w)
}

// fitLines pads or cuts s to exactly h lines so the footer stays put.
func fitLines(s string, h int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

func truncate(s string, w int) string {
	if w <= 0 || lipgloss.Width(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cfgString(m map[string]any, k string) string {
	if v, ok := m[k].(string); ok {
		return v
	}
	return ""
}

// isStatus reports an HTTP answer (the agent is up, the call failed).
func isStatus(err error) bool {
	var se *api.StatusError
	return errors.As(err, &se)
}
