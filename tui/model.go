package tui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
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
		leader string
		err    error
	}
)

// Model is the root of the console: a header, one pane per tab, a footer.
type Model struct {
	sh     *shared
	cancel context.CancelFunc
	panes  []pane
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

	quitAsk  bool
	flashed  string
	flashErr bool

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
	m.panes = []pane{
		newMembersPane(m.sh, false),
		newMembersPane(m.sh, true),
		newKVPane(m.sh),
		newRaftPane(m.sh),
		newLogPane(m.sh),
		newServicesPane(m.sh),
	}
	return m
}

// Run runs the console on the terminal's alternate screen until the user quits.
func Run(src Source, opts Options) error {
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

// Close stops the console's background work (polls, watches, log stream).
func (m *Model) Close() { m.cancel() }

// Init starts the status poll, the KV watch and the log stream.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.fetchStatus(), m.sh.after(pollEvery, tickMsg{}), m.panes[0].poll(), m.fetchMaint(false), m.kv().start(), m.log().start())
}

func (m *Model) kv() *kvPane             { return m.panes[2].(*kvPane) }
func (m *Model) log() *logPane           { return m.panes[4].(*logPane) }
func (m *Model) services() *servicesPane { return m.panes[5].(*servicesPane) }

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
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, pollTimeout)
		defer cancel()
		self, err := src.Self(ctx)
		if err != nil {
			return statusMsg{err: err}
		}
		leader, err := src.Leader(ctx)
		if err != nil && !isStatus(err) {
			return statusMsg{err: err}
		}
		return statusMsg{self: self, leader: leader}
	}
}

// Update routes keys to the focused thing and data to the panes. It never
// blocks: all I/O is in the returned commands.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		m.help.Width = msg.Width
		return m, m.broadcast(paneSizeMsg{w: m.w, h: m.bodyHeight()})
	case tea.KeyMsg:
		return m, m.handleKey(msg)
	case tickMsg:
		cmds := []tea.Cmd{m.sh.after(pollEvery, tickMsg{}), m.fetchStatus()}
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
			m.leader = msg.leader
		}
	}
	return m, m.broadcast(msg)
}

// paneSizeMsg tells panes the size of the body they draw into.
type paneSizeMsg struct{ w, h int }

func (m *Model) bodyHeight() int { return max(m.h-4, 1) }

// broadcast gives a data message to every pane; each ignores what is not its own.
func (m *Model) broadcast(msg tea.Msg) tea.Cmd {
	var cmds []tea.Cmd
	for _, p := range m.panes {
		cmds = append(cmds, p.update(msg))
	}
	return tea.Batch(cmds...)
}

func (m *Model) quit() tea.Cmd {
	m.cancel()
	return tea.Quit
}

func (m *Model) handleKey(msg tea.KeyMsg) tea.Cmd {
	k := m.sh.keys
	if key.Matches(msg, k.ForceQuit) {
		return m.quit()
	}
	if m.quitAsk {
		m.quitAsk = false
		if key.Matches(msg, k.Yes) {
			return m.quit()
		}
		m.sh.flash("quit cancelled", false)
		return nil
	}
	p := m.panes[m.active]
	if p.capturing() {
		return p.update(msg)
	}
	switch {
	case key.Matches(msg, k.Quit):
		if m.sh.opts.Embedded {
			m.quitAsk = true
			return nil
		}
		return m.quit()
	case key.Matches(msg, k.Help):
		m.full = !m.full
		return nil
	case m.full && key.Matches(msg, k.Back):
		m.full = false
		return nil
	case key.Matches(msg, k.NextPane):
		return m.switchTo((m.active + 1) % len(m.panes))
	case key.Matches(msg, k.PrevPane):
		return m.switchTo((m.active + len(m.panes) - 1) % len(m.panes))
	case key.Matches(msg, k.Panes):
		return m.switchTo(int(msg.String()[0] - '1'))
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
		t := fmt.Sprintf(" %d %s ", i+1, p.title())
		if i == m.active {
			tabs = append(tabs, st.TabActive.Render(t))
		} else {
			tabs = append(tabs, st.Tab.Render(t))
		}
	}
	b.WriteString(strings.Join(tabs, " "))
	b.WriteByte('\n')

	bodyH := m.bodyHeight()
	var body string
	if m.full {
		body = m.fullHelp()
	} else {
		body = m.panes[m.active].view(m.w, bodyH)
	}
	b.WriteString(fitLines(body, bodyH))
	b.WriteByte('\n')

	switch {
	case m.quitAsk:
		b.WriteString(st.Warn.Render("Quit and stop the agent (graceful leave)? y/N"))
	case m.flashed != "" && m.flashErr:
		b.WriteString(st.Error.Render(truncate(m.flashed, m.w)))
	case m.flashed != "":
		b.WriteString(st.Info.Render(truncate(m.flashed, m.w)))
	case !m.connected && m.statusErr != nil:
		b.WriteString(st.Error.Render(truncate("last error: "+m.statusErr.Error(), m.w)))
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
	parts := []string{st.Title.Render("consulx"), "dc " + orDash(m.dc), "node " + orDash(m.node), "leader " + orNone(m.leader), conn}
	if m.sh.opts.Addr != "" {
		parts = append(parts, st.Faint.Render(m.sh.opts.Addr))
	}
	if m.sh.opts.ReadOnly {
		parts = append(parts, st.Warn.Render("read-only"))
	}
	return truncate(strings.Join(parts, "  "), m.w)
}

func (m *Model) shortHelp() []key.Binding {
	k := m.sh.keys
	if m.panes[m.active].capturing() {
		return append(m.panes[m.active].helpKeys(), k.ForceQuit)
	}
	return append(m.panes[m.active].helpKeys(), k.Help, k.Quit)
}

// fullHelp lays the key groups out as blocks flowed across the width;
// disabled (read-only) bindings are left out.
func (m *Model) fullHelp() string {
	st := m.sh.st
	var blocks []string
	for _, g := range m.sh.keys.groups() {
		var rows [][]string
		for _, k := range g.keys {
			if k.b.Enabled() {
				rows = append(rows, []string{k.b.Help().Key, k.b.Help().Desc})
			}
		}
		if len(rows) == 0 {
			continue
		}
		blocks = append(blocks, st.Header.Render(g.name)+"\n"+table(rows, m.w))
	}
	var out []string
	var line []string
	width := 0
	for _, b := range blocks {
		pb := lipgloss.NewStyle().PaddingRight(4).Render(b)
		bw := lipgloss.Width(pb)
		if width+bw > m.w && len(line) > 0 {
			out = append(out, lipgloss.JoinHorizontal(lipgloss.Top, line...))
			line, width = nil, 0
		}
		line = append(line, pb)
		width += bw
	}
	if len(line) > 0 {
		out = append(out, lipgloss.JoinHorizontal(lipgloss.Top, line...))
	}
	return "Keys (? or esc closes)\n\n" + strings.Join(out, "\n")
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
