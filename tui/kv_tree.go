package tui

// The KV pane's tree: the listing of one prefix, kept current by a blocking
// query, and moving through it.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"consulx/api"
)

// kvTreeModel is the listing of one prefix, kept current by a blocking query.
type kvTreeModel struct {
	prefix  string
	entries []string // full keys; folders end in "/"
	// ahead are tree keys typed while the listing of a folder just
	// entered is on its way (enter j j typed together): they act on the
	// listing once it arrives, as they would have had it been there.
	ahead  []tea.KeyMsg
	cursor int
	top    int
	want   string // entry to select when the next listing arrives
	loaded bool
	index  uint64
	err    error
	// filtered: the listing left out keys the token may not read.
	filtered bool
	gen      int
	wctx     context.Context // the current watch; cancelled when the prefix changes
	stop     context.CancelFunc
}

// start (re)starts the watch of the current prefix from scratch.
func (p *kvPane) start() tea.Cmd {
	if p.tree.stop != nil {
		p.tree.stop()
	}
	p.tree.gen++
	p.tree.index = 0
	p.tree.wctx, p.tree.stop = context.WithCancel(p.sh.ctx)
	return p.watch(p.tree.wctx, p.tree.gen, 0)
}

// watch lists the current prefix; with index > 0 it is a blocking query
// that returns when something under the prefix changes (or after kvWait).
func (p *kvPane) watch(ctx context.Context, gen int, index uint64) tea.Cmd {
	src, prefix := p.sh.src, p.tree.prefix
	return func() tea.Msg {
		q := &api.QueryOptions{}
		timeout := pollTimeout
		if index > 0 {
			q.WaitIndex, q.WaitTime = index, kvWait
			timeout = kvWait + pollTimeout
		}
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		began := time.Now()
		keys, meta, err := src.KVKeys(c, prefix, "/", q)
		if ctx.Err() != nil {
			return nil // superseded (navigation) or console closed
		}
		var idx uint64
		if meta != nil {
			idx = meta.LastIndex
		}
		// A server that answers a blocking query at once with nothing new
		// would make this a hot loop; pace it.
		if err == nil && index > 0 && idx == index && time.Since(began) < 10*time.Millisecond {
			select {
			case <-time.After(pollEvery):
			case <-ctx.Done():
				return nil
			}
		}
		return kvKeysMsg{gen: gen, prefix: prefix, keys: keys, index: idx, filtered: meta != nil && meta.ResultsFilteredByACLs, err: err}
	}
}

func (p *kvPane) onKeys(msg kvKeysMsg) tea.Cmd {
	if msg.gen != p.tree.gen {
		return nil
	}
	gen := p.tree.gen
	if msg.err != nil {
		p.tree.err = msg.err
		p.tree.index = 0
		p.tree.ahead = nil // no listing to act on; the operator sees the error
		return p.sh.after(retryAfter, kvRetryMsg{gen: gen})
	}
	p.tree.err = nil
	p.tree.filtered = msg.filtered
	keep := p.tree.want
	if keep == "" && p.tree.cursor < len(p.tree.entries) {
		keep = p.tree.entries[p.tree.cursor]
	}
	p.tree.want = ""
	p.tree.entries = msg.keys
	p.tree.loaded = true
	p.tree.cursor = min(p.tree.cursor, max(len(p.tree.entries)-1, 0))
	for i, e := range p.tree.entries {
		if e == keep {
			p.tree.cursor = i
			break
		}
	}
	p.tree.index = msg.index
	next := p.watchNext()
	if p.tree.index == 0 {
		// No index to block on: fall back to polling.
		next = p.sh.after(pollEvery, kvRetryMsg{gen: gen})
	}
	ahead := p.tree.ahead
	p.tree.ahead = nil
	if len(ahead) == 0 || !p.sh.isActive(p) {
		return next // keys for a pane the operator has left are dropped
	}
	cmds := []tea.Cmd{next}
	for _, k := range ahead {
		cmds = append(cmds, p.update(k))
	}
	return tea.Batch(cmds...)
}

func (p *kvPane) watchNext() tea.Cmd { return p.watch(p.tree.wctx, p.tree.gen, p.tree.index) }

// entryFor maps a full key to the entry that shows it under the current
// prefix (the key itself or its first folder).
func (t *kvTreeModel) entryFor(k string) string {
	if !strings.HasPrefix(k, t.prefix) {
		return ""
	}
	rest := k[len(t.prefix):]
	if i := strings.IndexByte(rest, '/'); i >= 0 && i < len(rest)-1 {
		return t.prefix + rest[:i+1]
	}
	return k
}

func (p *kvPane) cd(prefix, selectEntry string) tea.Cmd {
	p.tree.prefix = prefix
	p.tree.entries = nil
	p.tree.loaded = false
	p.tree.cursor, p.tree.top = 0, 0
	p.tree.want = selectEntry
	return p.start()
}

func (t *kvTreeModel) current() string {
	if t.cursor < len(t.entries) {
		return t.entries[t.cursor]
	}
	return ""
}

// treeKey is a key in the tree.
func (p *kvPane) treeKey(msg tea.KeyMsg) tea.Cmd {
	k := p.sh.keys
	if !p.tree.loaded && p.tree.err == nil {
		if len(p.tree.ahead) < maxTypeAhead {
			p.tree.ahead = append(p.tree.ahead, msg)
		}
		return nil
	}
	cur := p.tree.current()
	switch {
	case key.Matches(msg, k.Up):
		p.tree.cursor = max(p.tree.cursor-1, 0)
	case key.Matches(msg, k.Down):
		p.tree.cursor = min(p.tree.cursor+1, max(len(p.tree.entries)-1, 0))
	case key.Matches(msg, k.PageUp):
		p.tree.cursor = max(p.tree.cursor-10, 0)
	case key.Matches(msg, k.PageDown):
		p.tree.cursor = min(p.tree.cursor+10, max(len(p.tree.entries)-1, 0))
	case key.Matches(msg, k.Top):
		p.tree.cursor = 0
	case key.Matches(msg, k.Bottom):
		p.tree.cursor = max(len(p.tree.entries)-1, 0)
	case key.Matches(msg, k.Open):
		switch {
		case cur == "":
		case strings.HasSuffix(cur, "/") && cur != p.tree.prefix:
			return p.cd(cur, "")
		default:
			return p.open(cur, kvTree)
		}
	case key.Matches(msg, k.Back):
		if p.tree.prefix == "" {
			return nil
		}
		parent := strings.TrimSuffix(p.tree.prefix, "/")
		if i := strings.LastIndexByte(parent, '/'); i >= 0 {
			parent = parent[:i+1]
		} else {
			parent = ""
		}
		return p.cd(parent, p.tree.prefix)
	case key.Matches(msg, k.Filter):
		p.mode = kvSearch
		p.search.typing, p.search.openLoaded = true, false
		p.search.input.SetValue("")
		p.search.results, p.search.cursor, p.search.top = nil, 0, 0
		p.search.allLoaded, p.search.allErr = false, nil
		return tea.Batch(p.search.input.Focus(), p.loadAll())
	case key.Matches(msg, k.New):
		p.mode = kvNewKey
		p.edit.keyIn.SetValue(p.tree.prefix)
		p.edit.keyIn.CursorEnd()
		return p.edit.keyIn.Focus()
	case key.Matches(msg, k.Edit):
		if cur == "" || strings.HasSuffix(cur, "/") {
			p.sh.flash("e edits a key's value; move to a key", false)
			return nil
		}
		p.value.key, p.value.pair, p.edit.back = cur, nil, kvTree
		return p.loadForEdit(cur)
	case key.Matches(msg, k.ExtEdit):
		if cur == "" || strings.HasSuffix(cur, "/") {
			p.sh.flash("E edits a key's value; move to a key", false)
			return nil
		}
		return p.extEdit(cur, kvTree)
	case key.Matches(msg, k.Copy):
		return p.askCopy(cur, false)
	case key.Matches(msg, k.Move):
		return p.askCopy(cur, true)
	case key.Matches(msg, k.Delete):
		switch {
		case cur == "":
		case strings.HasSuffix(cur, "/") && cur != p.tree.prefix:
			p.sh.flash(quote(cur)+" is a folder: D deletes everything under it", false)
		default:
			p.askDelete(cur)
		}
	case key.Matches(msg, k.DeleteTree):
		switch {
		case cur == "":
		case !strings.HasSuffix(cur, "/"):
			// A plain key is no prefix: a prefix delete of "app/blob"
			// would take "app/blobby" too. D deletes what it names.
			p.askDelete(cur)
		default:
			// A folder (or the marker of the one we are in): everything
			// under it, and only under it (the prefix ends in "/").
			p.pending = "counting keys under " + quote(cur) + "…"
			return p.count(cur)
		}
	}
	return nil
}

func (t *kvTreeModel) view(st Styles, w, h int) string {
	if !t.loaded {
		if t.err != nil {
			return st.Faint.Render("waiting for the agent…")
		}
		return st.Faint.Render("loading…")
	}
	if len(t.entries) == 0 {
		switch {
		case t.filtered:
			// Not empty: the token may read none of it.
			return st.Faint.Render("no key here that this token may read (n creates one, if it may write)")
		case t.prefix == "":
			return st.Faint.Render("the KV store is empty (n creates a key)")
		}
		return st.Faint.Render("nothing under " + quote(t.prefix) + " (esc goes up)")
	}
	top := scrollTop(t.top, t.cursor, h, len(t.entries))
	var b strings.Builder
	for i := top; i < len(t.entries) && i < top+h; i++ {
		e := t.entries[i]
		name := strings.TrimPrefix(e, t.prefix)
		if e == t.prefix {
			name = "(folder marker) " + e
		}
		line := "  " + name
		if strings.HasSuffix(e, "/") {
			line = "▸ " + name
		}
		line = truncate(gutter(i == t.cursor)+line, w)
		switch folder := strings.HasSuffix(e, "/"); {
		case i == t.cursor && folder:
			line = st.Breadcrumb.Inherit(st.Selected).Render(line)
		case i == t.cursor:
			line = st.Selected.Render(line)
		case folder:
			line = st.Breadcrumb.Render(line)
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

func breadcrumb(prefix string) string {
	if prefix == "" {
		return "kv: /"
	}
	parts := strings.Split(strings.TrimSuffix(prefix, "/"), "/")
	return "kv: / " + strings.Join(parts, " / ") + " /"
}

// deleteSample is how many keys the D dialog names.
const deleteSample = 5

// sampleKeys is the first n keys, one a line, and how many more there are.
func sampleKeys(keys []string, n int) []string {
	var out []string
	for i, k := range keys {
		if i == n {
			out = append(out, fmt.Sprintf("… and %d more", len(keys)-n))
			break
		}
		out = append(out, "  "+k)
	}
	return out
}

func (p *kvPane) askDelete(k string) {
	p.confirm = &confirmDialog{
		prompt: "Delete key " + quote(k) + "?",
		yes: func() tea.Cmd {
			return p.write(func(ctx context.Context, src Source) (bool, error) { return src.KVDelete(ctx, k, nil) },
				"deleted "+quote(k), "", k, true)
		},
	}
}

func (p *kvPane) count(prefix string) tea.Cmd {
	src, parent := p.sh.src, p.sh.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, pollTimeout)
		defer cancel()
		keys, _, err := src.KVKeys(ctx, prefix, "", nil)
		return kvCountMsg{prefix: prefix, keys: keys, err: err}
	}
}
