package tui

import (
	"context"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"consulx/api"
)

type raftMsg struct {
	cfg *api.RaftConfiguration
	err error
}

const maxLeaderChanges = 50

// raftPane shows the leader, the peers and this server's Raft counters.
type raftPane struct {
	sh *shared

	stats   map[string]string // Self().Stats["raft"]; nil on clients
	denied  string            // why the agent would not tell its stats (agent:read)
	leader  string            // Raft address
	name    string            // the leader's node name, "" when unknown
	known   bool              // leader observed at least once
	changes []string

	cfg  *api.RaftConfiguration
	err  error
	busy bool
}

func newRaftPane(sh *shared) *raftPane { return &raftPane{sh: sh} }

func (p *raftPane) title() string           { return "Raft" }
func (p *raftPane) capturing() bool         { return false }
func (p *raftPane) helpKeys() []key.Binding { return []key.Binding{p.sh.keys.Refresh} }
func (p *raftPane) poll() tea.Cmd           { return p.refresh() }

func (p *raftPane) refresh() tea.Cmd {
	if p.busy {
		return nil
	}
	p.busy = true
	src, parent := p.sh.src, p.sh.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, pollTimeout)
		defer cancel()
		cfg, err := src.RaftConfiguration(ctx, true)
		return raftMsg{cfg: cfg, err: err}
	}
}

func (p *raftPane) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case statusMsg:
		if msg.err != nil {
			return nil
		}
		if msg.self != nil {
			p.stats = msg.self.Stats["raft"]
		}
		p.denied = msg.selfDenied
		if p.known && msg.leader != p.leader {
			line := fmt.Sprintf("%s leader changed: %s -> %s", p.sh.now().Format("15:04:05"),
				leaderLabel(p.name, p.leader), leaderLabel(msg.leaderName, msg.leader))
			p.changes = append(p.changes, line)
			if len(p.changes) > maxLeaderChanges {
				p.changes = p.changes[len(p.changes)-maxLeaderChanges:]
			}
		}
		p.leader, p.name, p.known = msg.leader, msg.leaderName, true
	case raftMsg:
		p.busy = false
		p.err = msg.err
		if msg.err == nil {
			p.cfg = msg.cfg
		}
	}
	return nil
}

func (p *raftPane) view(w, h int) string {
	st := p.sh.st
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", st.Header.Render("Leader:"), leaderLabel(p.name, p.leader))
	switch {
	case p.denied != "":
		b.WriteString(st.Warn.Render(truncate("Raft counters: "+p.denied, w)) + "\n")
	case p.stats == nil:
		b.WriteString(st.Faint.Render("This agent is not a server: Raft counters are on server agents.") + "\n")
	default:
		s := p.stats
		fmt.Fprintf(&b, "state %s · term %s · commit_index %s · applied_index %s · last_contact %s\n",
			orDash(s["state"]), orDash(s["term"]), orDash(s["commit_index"]), orDash(s["applied_index"]), orDash(s["last_contact"]))
	}
	b.WriteByte('\n')
	switch {
	case p.cfg == nil && p.err != nil:
		b.WriteString(st.Error.Render(truncate("raft configuration: "+errText(p.err), w)) + "\n")
	case p.cfg == nil:
		b.WriteString(st.Faint.Render("loading peers…") + "\n")
	default:
		if p.err != nil {
			b.WriteString(st.Error.Render(truncate("(stale) "+errText(p.err), w)) + "\n")
		}
		rows := [][]string{{"NODE", "ID", "ADDRESS", "STATE", "VOTER"}}
		for _, s := range p.cfg.Servers {
			state := "follower"
			if s.Leader {
				state = "leader"
			}
			rows = append(rows, []string{s.Node, s.ID, s.Address, state, fmt.Sprint(s.Voter)})
		}
		fmt.Fprintf(&b, "%s\n", st.Header.Render(fmt.Sprintf("Peers (%d, configuration index %d)", len(p.cfg.Servers), p.cfg.Index)))
		b.WriteString(table(rows, w))
	}
	b.WriteByte('\n')
	b.WriteString(st.Header.Render("Leader changes") + "\n")
	if len(p.changes) == 0 {
		b.WriteString(st.Faint.Render("none seen since the console started") + "\n")
	}
	// Newest last; keep the ones that fit.
	room := max(h-strings.Count(b.String(), "\n"), 1)
	start := max(len(p.changes)-room, 0)
	for _, c := range p.changes[start:] {
		b.WriteString(truncate(c, w) + "\n")
	}
	return b.String()
}

// table lays rows out in columns with two-space glue.
func table(rows [][]string, w int) string {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], textWidth(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = pad(c, widths[i])
		}
		b.WriteString(truncate(strings.TrimRight(strings.Join(cells, "  "), " "), w) + "\n")
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// leaderLabel is "name (address)", or whichever of the two is known.
func leaderLabel(name, addr string) string {
	switch {
	case addr == "":
		return "(none)"
	case name == "":
		return addr
	}
	return name + " (" + addr + ")"
}
