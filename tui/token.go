package tui

// Whose token the console sends, for the header: read once at start, then
// rarely (it changes only when an operator edits or deletes the token),
// and soon after the agent refuses something (the refusal may be because
// the token just changed).

import (
	"context"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"consulx/api"
)

const (
	// tokenRefresh is how often the header's token is read again.
	tokenRefresh = time.Minute
	// tokenRetry is the wait after a read that failed for another reason
	// (the agent down), and the least time between two reads refusals
	// trigger (an operator retrying a refused write must not make it a poll).
	tokenRetry = 5 * time.Second
)

// anonymousAccessor is the AccessorID of Consul's anonymous token, the
// one a request without a token is given.
const anonymousAccessor = "00000000-0000-0000-0000-000000000002"

// tokenMsg is the answer of the header's self read.
type tokenMsg struct {
	tok *api.ACLToken
	err error
	off bool // ACLs are not enabled on the agent
}

// tokenInfo is what the header says about the token.
type tokenInfo struct {
	label string // "" when there is nothing to say (ACLs off, not read yet)
	bad   bool   // the agent does not know the token
	busy  bool
	next  time.Time // the next read is due
	last  time.Time // the last read started
}

// fetchToken reads the console's own token (a token may always read
// itself, whatever its policies).
func (m *Model) fetchToken() tea.Cmd {
	t := &m.token
	if t.busy {
		return nil
	}
	t.busy, t.last = true, m.sh.now()
	src, parent := m.sh.src, m.sh.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, pollTimeout)
		defer cancel()
		tok, _, err := src.ACLTokenReadSelf(ctx, nil)
		if aclNotFound(err) {
			// consulx with ACLs off answers a self read "ACL not found",
			// as it answers an unknown token with ACLs on. A list tells
			// them apart: with ACLs off it is empty (Consul: 401), while
			// an unknown token is refused again.
			pols, _, lerr := src.ACLPolicyList(ctx, nil)
			if (lerr == nil && len(pols) == 0) || aclsDisabled(lerr) {
				return tokenMsg{off: true}
			}
		}
		return tokenMsg{tok: tok, err: err}
	}
}

// onToken takes the self read's answer into the header.
func (m *Model) onToken(msg tokenMsg) {
	t := &m.token
	now := m.sh.now()
	t.busy = false
	t.next = now.Add(tokenRefresh)
	switch {
	case msg.off || aclsDisabled(msg.err):
		t.label, t.bad = "", false
	case msg.err == nil && msg.tok != nil:
		t.label, t.bad = tokenLabel(msg.tok), false
	case aclNotFound(msg.err):
		t.label, t.bad = "not found (ACL not found)", true
	default:
		// The agent is down or failing: keep what was known, ask again soon.
		t.next = now.Add(tokenRetry)
	}
}

// tokenDue starts a read when one is due (the root's tick).
func (m *Model) tokenDue() tea.Cmd {
	if m.sh.now().Before(m.token.next) {
		return nil
	}
	return m.fetchToken()
}

// tokenSoon brings the next read forward after a refusal, but not to
// less than tokenRetry after the last one.
func (m *Model) tokenSoon() {
	t := &m.token
	if soon := t.last.Add(tokenRetry); soon.Before(t.next) {
		t.next = soon
	}
}

// tokenLabel names a token: the anonymous token as such, another by its
// description, or by its AccessorID when it has none.
func tokenLabel(t *api.ACLToken) string {
	switch {
	case t.AccessorID == anonymousAccessor:
		return "anonymous"
	case strings.TrimSpace(t.Description) != "":
		return oneLine(t.Description)
	}
	return "AccessorID " + t.AccessorID
}

// failedMsg is the outcome of an operator's action that the agent may
// refuse; the root reads the token again soon after a refusal (failure is
// nil when all went well). Polled reads are not among them: one refused
// each second (the ACL pane without acl:read) would make the reread a
// poll, and it tells nothing new.
type failedMsg interface{ failure() error }

func (m kvWriteMsg) failure() error   { return m.err }
func (m maintDoneMsg) failure() error { return m.err }
func (m evFiredMsg) failure() error   { return m.err }
func (m execBatchMsg) failure() error { return m.err }
