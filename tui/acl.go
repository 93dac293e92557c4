package tui

// The ACL pane: the agent's policies and tokens, read again each second
// while the pane is shown. Secrets are masked; v shows the selected
// token's SecretID as the agent returned it, and the agent hides every
// secret ("<hidden>") from a token without acl:write, so the console
// never decides who may see one.

import (
	"context"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"consulx/api"
)

// aclListMsg is one read of both lists.
type aclListMsg struct {
	policies []*api.ACLPolicyListEntry
	tokens   []*api.ACLTokenListEntry
	err      error
}

// What the pane can show.
type aclView int

const (
	aclLoading aclView = iota
	aclLists
	aclOff          // the agent does not enforce ACLs
	aclNoRead       // the console's token lacks acl:read
	aclUnknownToken // the agent does not know the console's token
)

const (
	secretMask = "********"
	// hiddenSecret is what the agent lists instead of a secret for a token
	// without acl:write (Consul's word).
	hiddenSecret = "<hidden>"
	// aclDescCell is how much of a description the tables show.
	aclDescCell = 48
)

var (
	policyCols = []string{"NAME", "DESCRIPTION", "ID"}
	tokenCols  = []string{"DESCRIPTION", "ACCESSOR ID", "POLICIES", "LOCAL", "SECRET"}
)

// aclTokenRow is a token formatted for its table, its secret apart.
type aclTokenRow struct {
	cells    [4]string
	accessor string
	secret   string
}

// aclPane lists policies, then tokens; one cursor runs through both.
type aclPane struct {
	sh   *shared
	w, h int

	state    aclView
	reason   string // the refusal, when the token lacks acl:read
	err      error  // the last read's failure (the lists shown are older)
	busy     bool
	policies [][3]string
	polInfo  []string // the selected policy's line, by row
	tokens   []aclTokenRow
	pw, tw   []int // column widths

	cursor     int    // over the policies, then the tokens
	ptop, ttop int    // the first row of each table on screen
	revealed   string // the AccessorID whose secret is shown ("" none)
}

func newACLPane(sh *shared) *aclPane { return &aclPane{sh: sh, w: 100, h: 26} }

func (p *aclPane) title() string   { return "ACL" }
func (p *aclPane) capturing() bool { return false }

func (p *aclPane) helpKeys() []key.Binding {
	k := p.sh.keys
	if p.state != aclLists {
		return []key.Binding{k.Refresh}
	}
	return []key.Binding{k.Up, k.Down, k.Reveal}
}

func (p *aclPane) poll() tea.Cmd { return p.refresh() }

func (p *aclPane) refresh() tea.Cmd {
	if p.busy {
		return nil
	}
	p.busy = true
	src, parent := p.sh.src, p.sh.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, pollTimeout)
		defer cancel()
		pols, _, err := src.ACLPolicyList(ctx, nil)
		if err != nil {
			return aclListMsg{err: err}
		}
		toks, _, err := src.ACLTokenList(ctx, nil)
		return aclListMsg{policies: pols, tokens: toks, err: err}
	}
}

func (p *aclPane) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case paneSizeMsg:
		p.w, p.h = msg.w, msg.h
	case aclListMsg:
		p.busy = false
		p.onLists(msg)
	case tea.KeyMsg:
		p.key(msg)
	}
	p.layout()
	return nil
}

func (p *aclPane) onLists(msg aclListMsg) {
	p.err = nil
	switch err := msg.err; {
	case err == nil && len(msg.policies) == 0 && len(msg.tokens) == 0:
		// consulx without ACLs lists nothing; with ACLs there are always
		// the anonymous token and the global-management policy.
		p.state = aclOff
	case err == nil:
		p.state = aclLists
		p.set(msg.policies, msg.tokens)
	case aclsDisabled(err):
		p.state = aclOff
	case permissionDenied(err):
		p.state, p.reason = aclNoRead, errText(err)
	case aclNotFound(err):
		p.state = aclUnknownToken
	default:
		p.err = err // the agent is down or failing: keep what is shown
	}
}

// set formats both lists; the cursor stays on the same row when it still
// exists (by ID), and a shown secret stays shown only on its token.
func (p *aclPane) set(pols []*api.ACLPolicyListEntry, toks []*api.ACLTokenListEntry) {
	keep := p.selectedID()
	p.policies, p.polInfo, p.tokens = p.policies[:0], p.polInfo[:0], p.tokens[:0]
	for _, pl := range pols {
		p.policies = append(p.policies, [3]string{oneLine(pl.Name), truncate(oneLine(pl.Description), aclDescCell), pl.ID})
		dcs := "all datacenters"
		if len(pl.Datacenters) > 0 {
			dcs = "datacenters " + strings.Join(pl.Datacenters, ", ")
		}
		p.polInfo = append(p.polInfo, fmt.Sprintf("policy %s · ID %s · %s", oneLine(pl.Name), pl.ID, dcs))
	}
	revealedFound := false
	for _, t := range toks {
		names := make([]string, len(t.Policies))
		for i, l := range t.Policies {
			names[i] = l.Name
			if names[i] == "" {
				names[i] = l.ID
			}
		}
		p.tokens = append(p.tokens, aclTokenRow{accessor: t.AccessorID, secret: t.SecretID,
			cells: [4]string{truncate(oneLine(t.Description), aclDescCell), t.AccessorID, strings.Join(names, ","), fmt.Sprint(t.Local)}})
		revealedFound = revealedFound || t.AccessorID == p.revealed
	}
	if !revealedFound {
		p.revealed = ""
	}
	p.cursor = min(p.cursor, max(p.rowCount()-1, 0))
	for i := range p.rowCount() {
		if keep != "" && p.rowID(i) == keep {
			p.cursor = i
			break
		}
	}
	p.sizeColumns()
}

func (p *aclPane) rowCount() int { return len(p.policies) + len(p.tokens) }

// rowID is the ID of row i of the combined list.
func (p *aclPane) rowID(i int) string {
	if i < len(p.policies) {
		return "policy " + p.policies[i][2]
	}
	if i -= len(p.policies); i < len(p.tokens) {
		return "token " + p.tokens[i].accessor
	}
	return ""
}

func (p *aclPane) selectedID() string { return p.rowID(p.cursor) }

// selectedToken is the token under the cursor (ok false on a policy).
func (p *aclPane) selectedToken() (aclTokenRow, bool) {
	if i := p.cursor - len(p.policies); i >= 0 && i < len(p.tokens) {
		return p.tokens[i], true
	}
	return aclTokenRow{}, false
}

func (p *aclPane) sizeColumns() {
	p.pw = make([]int, len(policyCols))
	for i, c := range policyCols {
		p.pw[i] = len(c)
	}
	for _, r := range p.policies {
		for i, c := range r {
			p.pw[i] = max(p.pw[i], textWidth(c))
		}
	}
	p.tw = make([]int, len(tokenCols))
	for i, c := range tokenCols {
		p.tw[i] = len(c)
	}
	for _, r := range p.tokens {
		for i, c := range r.cells {
			p.tw[i] = max(p.tw[i], textWidth(c))
		}
	}
	p.tw[4] = max(p.tw[4], len(secretMask))
}

func (p *aclPane) key(msg tea.KeyMsg) {
	if p.state != aclLists {
		return
	}
	if key.Matches(msg, p.sh.keys.Reveal) {
		p.reveal()
		return
	}
	if c := moveCursor(msg, p.sh.keys, p.cursor, p.rowCount()); c != p.cursor {
		p.cursor = c
		p.revealed = "" // a secret stays on screen only while its row is selected
	}
}

// reveal toggles the selected token's secret.
func (p *aclPane) reveal() {
	t, ok := p.selectedToken()
	switch {
	case !ok:
		p.sh.flash("v shows a token's SecretID: move to a token", false)
	case p.revealed == t.accessor:
		p.revealed = ""
	case t.secret == hiddenSecret || t.secret == "":
		p.sh.flash("the agent hides SecretIDs from tokens without acl:write", true)
	default:
		p.revealed = t.accessor
	}
}

// tableRows splits the body's rows between the two tables: each gets
// what it needs when both fit, else at least half.
func (p *aclPane) tableRows(h int) (pr, tr int) {
	avail := max(h-6, 2) // two titles, two column headers, a blank line, the selected row's line
	pr = min(len(p.policies), max(avail-len(p.tokens), avail/2))
	pr = max(pr, 1)
	return pr, max(avail-pr, 1)
}

// layout keeps the cursor inside the window of its table.
func (p *aclPane) layout() {
	pr, tr := p.tableRows(p.h)
	if p.cursor < len(p.policies) {
		p.ptop = scrollTop(p.ptop, p.cursor, pr, len(p.policies))
	} else {
		p.ttop = scrollTop(p.ttop, p.cursor-len(p.policies), tr, len(p.tokens))
	}
}

func (p *aclPane) view(w, h int) string {
	st := p.sh.st
	switch p.state {
	case aclLoading:
		if p.err != nil {
			return st.Error.Render(truncate("acl: "+errText(p.err)+" (retrying)", w))
		}
		return st.Faint.Render("loading ACLs…")
	case aclOff:
		return st.Faint.Render("ACLs are not enabled on this agent")
	case aclNoRead:
		return st.Warn.Render("this token may not read ACLs (acl:read)") + "\n" + st.Faint.Render(truncate(p.reason, w))
	case aclUnknownToken:
		return st.Bad.Render("the agent does not know this console's token (ACL not found)")
	}
	pr, tr := p.tableRows(h)
	var b strings.Builder
	title := fmt.Sprintf("Policies (%d)", len(p.policies))
	if p.err != nil {
		title += "  " + st.Error.Render("(stale: "+errText(p.err)+")")
	}
	b.WriteString(truncate(st.Header.Render(title), w) + "\n")
	b.WriteString(p.header(policyCols, p.pw, w))
	// layout keeps each table's window; a shorter body only clamps it.
	top := max(min(p.ptop, len(p.policies)-pr), 0)
	for i := 0; i < pr; i++ {
		if r := top + i; r < len(p.policies) {
			b.WriteString(st.row(plainCells(p.policies[r][:]), p.pw, r == p.cursor, w))
		}
		b.WriteByte('\n')
	}
	b.WriteString("\n" + st.Header.Render(truncate(fmt.Sprintf("Tokens (%d) · secrets masked", len(p.tokens)), w)) + "\n")
	b.WriteString(p.header(tokenCols, p.tw, w))
	tc := p.cursor - len(p.policies)
	top = max(min(p.ttop, len(p.tokens)-tr), 0)
	for i := 0; i < tr; i++ {
		r := top + i
		if r >= len(p.tokens) {
			b.WriteByte('\n')
			continue
		}
		t := p.tokens[r]
		cells := plainCells(t.cells[:])
		if t.accessor == p.revealed {
			cells = append(cells, cell{text: t.secret, style: styleOf(st.Warn)})
		} else {
			cells = append(cells, cell{text: secretMask})
		}
		b.WriteString(st.row(cells, p.tw, r == tc, w) + "\n")
	}
	b.WriteString(st.Faint.Render(truncate(p.selectedLine(), w)))
	return b.String()
}

func (p *aclPane) header(cols []string, widths []int, w int) string {
	hdr := make([]string, len(cols))
	for i, c := range cols {
		hdr[i] = pad(c, widths[i])
	}
	return p.sh.st.Header.Render(truncate(strings.TrimRight(gutter(false)+strings.Join(hdr, "  "), " "), w)) + "\n"
}

// selectedLine says more about the row under the cursor.
func (p *aclPane) selectedLine() string {
	if p.cursor < len(p.policies) {
		return p.polInfo[p.cursor]
	}
	t, ok := p.selectedToken()
	switch {
	case !ok:
		return ""
	case p.revealed == t.accessor:
		// First, so that a narrow terminal cuts the rest, not the secret.
		return "SecretID " + t.secret + " · token " + t.accessor + " (v or moving hides it)"
	}
	return "token " + t.accessor + " · SecretID " + secretMask + " (v shows it)"
}

func plainCells(texts []string) []cell {
	cells := make([]cell, len(texts))
	for i, t := range texts {
		cells[i] = cell{text: t}
	}
	return cells
}
