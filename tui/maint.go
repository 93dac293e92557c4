package tui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"consulx/api"
)

// Maintenance shows up as a critical check with one of these IDs; its
// Notes hold the reason.
const (
	nodeMaintCheckID   = "_node_maintenance"
	serviceMaintPrefix = "_service_maintenance:"
	// maintSettle is how long a toggle the console made is shown even
	// though the health endpoint does not reflect it yet (the catalog
	// syncs from the agents).
	maintSettle = 15 * time.Second
)

// maintKey names a node (serviceID "") or one service instance on a node.
type maintKey struct{ node, serviceID string }

type maintPending struct {
	on     bool
	reason string
	at     time.Time
}

// maintState is what is in maintenance, from the HealthState("critical")
// poll, plus the toggles made here that the poll does not show yet.
type maintState struct {
	loaded  bool
	on      map[maintKey]string // key → reason
	pending map[maintKey]maintPending
}

func (s *maintState) get(k maintKey) (reason string, on bool) {
	if p, ok := s.pending[k]; ok {
		return p.reason, p.on
	}
	reason, on = s.on[k]
	return reason, on
}

func (s *maintState) node(name string) (string, bool) { return s.get(maintKey{node: name}) }

func (s *maintState) service(node, id string) (string, bool) {
	return s.get(maintKey{node: node, serviceID: id})
}

// set replaces the polled state with the maintenance checks among checks.
func (s *maintState) set(checks []api.HealthCheck, now time.Time) {
	on := map[maintKey]string{}
	for _, c := range checks {
		switch {
		case c.CheckID == nodeMaintCheckID:
			on[maintKey{node: c.Node}] = c.Notes
		case strings.HasPrefix(c.CheckID, serviceMaintPrefix):
			id := c.ServiceID
			if id == "" {
				id = strings.TrimPrefix(c.CheckID, serviceMaintPrefix)
			}
			on[maintKey{node: c.Node, serviceID: id}] = c.Notes
		}
	}
	s.on, s.loaded = on, true
	for k, p := range s.pending {
		if _, got := on[k]; got == p.on || now.Sub(p.at) > maintSettle {
			delete(s.pending, k)
		}
	}
}

// expect records a toggle that succeeded, so it shows before the poll sees it.
func (s *maintState) expect(k maintKey, on bool, reason string, now time.Time) {
	if s.pending == nil {
		s.pending = map[maintKey]maintPending{}
	}
	s.pending[k] = maintPending{on: on, reason: reason, at: now}
}

// reasonText is a reason as shown; the agent stores a default text when
// none was given, a toggle made here shows that until the poll catches up.
func reasonText(r string) string {
	if r = oneLine(r); r == "" {
		return "(no reason given)"
	}
	return r
}

// oneLine folds runs of whitespace (newlines included) into single spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

type (
	maintMsg struct {
		seq    int
		checks []api.HealthCheck
		err    error
	}
	// maintDoneMsg is the answer of a maintenance toggle.
	maintDoneMsg struct {
		target maintTarget
		enable bool
		reason string
		err    error
	}
)

// maintTarget is what m acts on.
type maintTarget struct {
	node      string
	serviceID string // "" = the node itself
	service   string // the service's name, for the prompts
	on        bool   // in maintenance now
	reason    string // the current reason, when on
}

func (t maintTarget) key() maintKey { return maintKey{node: t.node, serviceID: t.serviceID} }

func (t maintTarget) what() string {
	if t.serviceID == "" {
		return "node " + t.node
	}
	if t.service != "" && t.service != t.serviceID {
		return fmt.Sprintf("service %s (%s) on %s", t.serviceID, t.service, t.node)
	}
	return fmt.Sprintf("service %s on %s", t.serviceID, t.node)
}

// maintFlow is the m dialog shared by the Members and Services panes:
// a reason input then a confirmation to enable, a confirmation to disable.
type maintFlow struct {
	sh      *shared
	target  maintTarget
	asking  bool // typing the reason
	reason  textinput.Model
	confirm *confirmDialog
}

func newMaintFlow(sh *shared) *maintFlow {
	ti := textinput.New()
	ti.Prompt = "reason: "
	ti.Placeholder = "optional"
	ti.CharLimit = 512
	ti.Cursor.SetMode(cursor.CursorStatic)
	return &maintFlow{sh: sh, reason: ti}
}

func (f *maintFlow) active() bool { return f.asking || f.confirm != nil }

func (f *maintFlow) helpKeys() []key.Binding {
	k := f.sh.keys
	if f.confirm != nil {
		return []key.Binding{k.Yes, anyKeyCancels}
	}
	return []key.Binding{hint(k.Submit, "next"), k.Cancel}
}

// start begins the dialog for t: a reason when t is not in maintenance,
// straight to the confirmation when it is.
func (f *maintFlow) start(t maintTarget) tea.Cmd {
	f.target = t
	if t.on {
		f.confirm = &confirmDialog{
			prompt: "Take " + t.what() + " out of maintenance?",
			detail: "reason was: " + reasonText(t.reason),
			yes:    func() tea.Cmd { return f.call(t, false, "") },
		}
		return nil
	}
	f.asking = true
	f.reason.SetValue("")
	return f.reason.Focus()
}

func (f *maintFlow) key(msg tea.KeyMsg) tea.Cmd {
	k := f.sh.keys
	if f.confirm != nil {
		d := f.confirm
		f.confirm = nil
		if key.Matches(msg, k.Yes) {
			return d.yes()
		}
		f.sh.flash("cancelled: maintenance of "+f.target.what()+" unchanged", false)
		return nil
	}
	switch {
	case key.Matches(msg, k.Cancel):
		f.asking = false
		f.reason.Blur()
		f.sh.flash("cancelled: maintenance of "+f.target.what()+" unchanged", false)
		return nil
	case key.Matches(msg, k.Submit):
		f.asking = false
		f.reason.Blur()
		t, reason := f.target, strings.TrimSpace(f.reason.Value())
		f.confirm = &confirmDialog{
			prompt: "Put " + t.what() + " in maintenance?",
			detail: "reason: " + reasonText(reason),
			yes:    func() tea.Cmd { return f.call(t, true, reason) },
		}
		return nil
	}
	var cmd tea.Cmd
	f.reason, cmd = f.reason.Update(msg)
	return cmd
}

// view is the dialog (empty when none is open).
func (f *maintFlow) view(w int) string {
	st := f.sh.st
	switch {
	case f.confirm != nil:
		return f.confirm.view(st, w)
	case f.asking:
		return st.Header.Render(truncate("Put "+f.target.what()+" in maintenance", w)) + "\n" +
			f.reason.View() + "\n" + st.Faint.Render("enter: confirm next · esc cancels")
	}
	return ""
}

func (f *maintFlow) call(t maintTarget, enable bool, reason string) tea.Cmd {
	src, parent := f.sh.src, f.sh.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, writeTimeout)
		defer cancel()
		var err error
		if t.serviceID == "" {
			err = src.NodeMaintenanceOn(ctx, t.node, enable, reason)
		} else {
			err = src.ServiceMaintenanceOn(ctx, t.node, t.serviceID, enable, reason)
		}
		return maintDoneMsg{target: t, enable: enable, reason: reason, err: err}
	}
}

// maintErrText says what a failed toggle means ("": nothing more than the
// error itself). The agent answers 404 when
// the node is no alive member, or when the service is not registered on
// that node's agent (it is in the catalog only); a remote agent's refusal
// comes back as a 500 with the same text.
func maintErrText(t maintTarget, err error) string {
	var se *api.StatusError
	if !errors.As(err, &se) {
		return err.Error()
	}
	body := strings.TrimSpace(se.Body)
	switch {
	case t.serviceID != "" && (strings.Contains(body, "No service registered") || strings.Contains(body, "Unknown service")):
		return "not registered on its agent (catalog only)"
	case strings.Contains(body, "No alive member"):
		return "not an alive member, its agent cannot be reached"
	case se.Code == http.StatusNotFound:
		return "not found (" + body + ")"
	}
	return ""
}

// doneText is the status line after a toggle.
func (d maintDoneMsg) doneText() string {
	if d.err != nil {
		verb := "put " + d.target.what() + " in maintenance"
		if !d.enable {
			verb = "take " + d.target.what() + " out of maintenance"
		}
		if why := maintErrText(d.target, d.err); why != "" {
			return d.target.what() + ": " + why + "; maintenance unchanged"
		}
		return "could not " + verb + ": " + errText(d.err)
	}
	if d.enable {
		return d.target.what() + " is in maintenance"
	}
	return d.target.what() + " is out of maintenance"
}
