package tui

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textarea"
	"github.com/charmbracelet/bubbles/textinput"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"consulx/api"
)

const kvWait = 30 * time.Second

type kvMode int

const (
	kvTree kvMode = iota
	kvValue
	kvSearch
	kvEdit
	kvNewKey
	kvNewValue
	kvCopyDest // typing the destination of c or R
)

type (
	// kvKeysMsg is one answer of the tree watch for prefix.
	kvKeysMsg struct {
		gen    int
		prefix string
		keys   []string
		index  uint64
		err    error
	}
	kvRetryMsg struct{ gen int }
	kvValueMsg struct {
		key      string
		pair     *api.KVPair
		err      error
		edit     bool // open the editor once loaded
		external bool // open $VISUAL/$EDITOR once loaded
	}
	kvAllKeysMsg struct {
		keys []string
		err  error
	}
	// kvCountMsg lists the keys under a folder that D would delete.
	kvCountMsg struct {
		prefix string
		keys   []string
		err    error
	}
	kvWriteMsg struct {
		done string // what happened, for the status line
		ok   bool
		why  string // when !ok: why nothing changed
		err  error
		key  string
		// deleted: key (or the prefix key) is gone
		deleted bool
		// edited is the value an external editor produced from editOf; when
		// it cannot be saved it opens in the inline editor.
		edited []byte
		editOf *api.KVPair
	}
)

// kvPane browses the KV store as a tree of prefixes folded at "/". It is
// a small root over sub-models, each owning one part of the pane's state
// and its view: the tree, the value view, the search, the editors, the
// copy/move flow, and a confirmation dialog. mode says which one has the
// screen; views only render (layout, called after every update, keeps
// scroll windows and sizes).
type kvPane struct {
	sh   *shared
	mode kvMode
	w, h int

	tree   kvTreeModel
	value  kvValueModel
	search kvSearchModel
	edit   kvEditorModel
	copy   kvCopyFlow

	confirm *confirmDialog
	pending string // shown while a count for D, or a copy, is running
}

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
	gen    int
	wctx   context.Context // the current watch; cancelled when the prefix changes
	stop   context.CancelFunc
}

// kvValueModel is one key's value, shown in a scrolling view.
type kvValueModel struct {
	key    string
	pair   *api.KVPair
	err    error
	vp     viewport.Model
	txt    string // the rendered value, before wrapping
	wrapW  int    // the width txt was wrapped to in vp
	backTo kvMode // where esc leaves the value view for
}

// kvSearchModel is the whole-store search: typing into the box (typing), or,
// once a result was opened and closed, moving through the results with
// the box blurred.
type kvSearchModel struct {
	input  textinput.Model
	typing bool
	// openLoaded: enter came before the key list (typed together with the
	// search text); the first result opens when the list arrives.
	openLoaded bool
	all        []string
	allLower   []string
	allErr     error
	allLoaded  bool
	results    []int // indexes into all
	cursor     int
	top        int
}

// Value is the search text.
func (s *kvSearchModel) Value() string { return s.input.Value() }

// kvEditorModel is the inline editor of a value (e) and the new-key flow (n).
type kvEditorModel struct {
	keyIn textinput.Model
	area  textarea.Model
	of    *api.KVPair // the value being edited; nil: a new key
	back  kvMode      // where the editor returns (the tree or the value view)

	// opening: e was pressed and the value is being read for the editor.
	// Keys typed meanwhile (e and its text arrive together when typed
	// fast) are kept in ahead and go to the editor once it opens.
	opening bool
	ahead   []tea.KeyMsg
}

// kvCopyFlow is the copy (c) and move (R) flow: the destination input, then a
// check, a confirmation and the run.
type kvCopyFlow struct {
	in   textinput.Model
	op   copyOp
	busy bool // a copy or move is being checked, confirmed or run
}

func newKVPane(sh *shared) *kvPane {
	s := textinput.New()
	s.Prompt = "search: "
	s.Placeholder = "substring of any key"
	s.Cursor.SetMode(cursor.CursorStatic)
	k := textinput.New()
	k.Prompt = "new key: "
	k.Cursor.SetMode(cursor.CursorStatic)
	d := textinput.New()
	d.Cursor.SetMode(cursor.CursorStatic)
	ta := textarea.New()
	ta.ShowLineNumbers = false
	ta.Cursor.SetMode(cursor.CursorStatic)
	ta.CharLimit = 512 << 10
	p := &kvPane{sh: sh, search: kvSearchModel{input: s}, edit: kvEditorModel{keyIn: k, area: ta}, copy: kvCopyFlow{in: d},
		w: 100, h: 26, value: kvValueModel{vp: viewport.New(100, 22)}}
	return p
}

func (p *kvPane) title() string { return "KV" }

func (p *kvPane) capturing() bool {
	return p.confirm != nil || p.edit.opening || (p.mode == kvSearch && p.search.typing) || p.mode == kvEdit || p.mode == kvNewKey || p.mode == kvNewValue || p.mode == kvCopyDest
}

// helpKeys are the footer: what works in the current mode, named for
// what it does there.
func (p *kvPane) helpKeys() []key.Binding {
	k := p.sh.keys
	switch {
	case p.edit.opening:
		return nil // nothing to do but wait (ctrl+c still quits)
	case p.confirm != nil:
		return []key.Binding{k.Yes, anyKeyCancels}
	case p.mode == kvSearch && p.search.typing:
		return []key.Binding{arrowsOnly, hint(k.Open, "open"), hint(k.Cancel, "close search")}
	case p.mode == kvSearch:
		return []key.Binding{k.Up, k.Down, k.Open, hint(k.Filter, "edit search"), hint(k.Back, "close search")}
	case p.mode == kvEdit || p.mode == kvNewValue:
		return []key.Binding{k.Save, k.Cancel}
	case p.mode == kvNewKey:
		return []key.Binding{hint(k.Submit, "next"), k.Cancel}
	case p.mode == kvCopyDest:
		return []key.Binding{hint(k.Submit, "check"), k.Cancel}
	case p.mode == kvValue:
		return []key.Binding{k.Up, k.Down, k.Back, k.Edit, k.ExtEdit, k.Delete}
	}
	return []key.Binding{k.Open, k.Back, hint(k.Filter, "search"), k.New, k.Edit, k.Delete, k.DeleteTree}
}

// poll leaves the tree to its blocking query; an open value is re-read
// each second, since it may live outside the watched prefix.
func (p *kvPane) poll() tea.Cmd {
	if p.mode == kvValue {
		return p.get(p.value.key, false)
	}
	return nil
}

func (p *kvPane) refresh() tea.Cmd {
	cmds := []tea.Cmd{p.start()}
	if p.mode == kvValue {
		cmds = append(cmds, p.get(p.value.key, false))
	}
	return tea.Batch(cmds...)
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
		return kvKeysMsg{gen: gen, prefix: prefix, keys: keys, index: idx, err: err}
	}
}

func (p *kvPane) get(k string, edit bool) tea.Cmd { return p.load(k, edit, false) }

func (p *kvPane) load(k string, edit, external bool) tea.Cmd {
	src, parent := p.sh.src, p.sh.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, pollTimeout)
		defer cancel()
		pair, _, err := src.KVGet(ctx, k, nil)
		return kvValueMsg{key: k, pair: pair, err: err, edit: edit, external: external}
	}
}

func (p *kvPane) update(msg tea.Msg) tea.Cmd {
	cmd := p.handle(msg)
	p.layout()
	return cmd
}

// bodyRows is how many lines a w×h body leaves the mode's view, under the
// breadcrumb and any dialog or pending note.
func (p *kvPane) bodyRows(w, h int) int {
	used := 1
	if p.confirm != nil {
		used += strings.Count(p.confirm.view(p.sh.st, w), "\n") + 1
	} else if p.pending != "" {
		used++
	}
	return max(h-used, 1)
}

// layout sizes the sub-models for the body and keeps their cursors
// inside the windows their views draw, so views only render.
func (p *kvPane) layout() {
	rest := p.bodyRows(p.w, p.h)
	switch p.mode {
	case kvValue:
		p.value.fit(p.w, max(rest-2, 1))
	case kvSearch:
		p.search.top = scrollTop(p.search.top, p.search.cursor, rest-1, len(p.search.results))
	case kvEdit, kvNewValue:
		p.edit.area.SetHeight(max(rest-1, 3))
	case kvTree:
		if p.tree.loaded && len(p.tree.entries) > 0 {
			p.tree.top = scrollTop(p.tree.top, p.tree.cursor, rest, len(p.tree.entries))
		}
	}
}

// fit sizes the value view, re-wrapping the value when the width changed.
func (v *kvValueModel) fit(w, h int) {
	v.vp.Width, v.vp.Height = w, h
	if v.wrapW != w {
		v.wrapW = w
		v.vp.SetContent(wrapText(v.txt, w))
	}
}

func (p *kvPane) handle(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case paneSizeMsg:
		p.w, p.h = msg.w, msg.h
		p.value.vp.Width, p.value.vp.Height = msg.w, max(msg.h-3, 1)
		p.edit.area.SetWidth(max(msg.w-2, 10))
		p.edit.area.SetHeight(max(msg.h-5, 3))
	case kvKeysMsg:
		return p.onKeys(msg)
	case kvRetryMsg:
		if msg.gen == p.tree.gen {
			return p.start()
		}
	case kvValueMsg:
		return p.onValue(msg)
	case kvAllKeysMsg:
		p.search.allErr = msg.err
		if msg.err == nil {
			p.search.all = msg.keys
			p.search.allLower = make([]string, len(msg.keys))
			for i, k := range msg.keys {
				p.search.allLower[i] = strings.ToLower(k)
			}
			p.search.allLoaded = true
			p.filterResults()
			if p.search.openLoaded && p.mode == kvSearch && p.search.typing {
				p.search.openLoaded = false
				return p.openResult()
			}
		}
		p.search.openLoaded = false
	case kvCountMsg:
		p.pending = ""
		switch n := len(msg.keys); {
		case msg.err != nil:
			p.sh.flash("count keys under "+quote(msg.prefix)+": "+msg.err.Error(), true)
		case n == 0:
			p.sh.flash("nothing to delete under "+quote(msg.prefix), false)
		default:
			prefix := msg.prefix
			p.confirm = &confirmDialog{
				prompt: fmt.Sprintf("Delete %d %s under prefix %s?", n, plural(n, "key", "keys"), quote(prefix)),
				lines:  sampleKeys(msg.keys, deleteSample),
				yes: func() tea.Cmd {
					return p.write(func(ctx context.Context, src Source) (bool, error) { return src.KVDeleteTree(ctx, prefix) },
						fmt.Sprintf("deleted %d %s under %s", n, plural(n, "key", "keys"), quote(prefix)), "", prefix, true)
				},
			}
		}
	case kvCopyPlanMsg:
		return p.onCopyPlan(msg)
	case kvCopyDoneMsg:
		return p.onCopyDone(msg)
	case kvExtReadyMsg:
		return p.onExtReady(msg)
	case kvExtDoneMsg:
		return p.saveExternal(msg)
	case kvNoteMsg:
		p.sh.flash(msg.text, msg.isErr)
	case kvWriteMsg:
		switch {
		case msg.err != nil:
			p.sh.flash("error: "+msg.err.Error(), true)
			if msg.editOf != nil {
				return p.keepEdited(msg)
			}
		case !msg.ok:
			p.sh.flash(msg.why, true)
			if msg.editOf != nil {
				return p.keepEdited(msg)
			}
		default:
			p.sh.flash(msg.done, false)
			p.edit.area.Blur()
			p.edit.keyIn.Blur()
			switch {
			case p.mode == kvEdit:
				p.mode = p.edit.back
			case p.mode == kvNewValue || p.mode == kvNewKey:
				p.mode = kvTree
				p.tree.want = p.entryFor(msg.key)
			case p.mode == kvValue && msg.deleted:
				p.mode = kvTree
			}
			// The watch sees the change too; listing now makes it immediate.
			cmds := []tea.Cmd{p.start()}
			if p.mode == kvValue {
				cmds = append(cmds, p.get(p.value.key, false))
			}
			return tea.Batch(cmds...)
		}
	case tea.KeyMsg:
		if p.edit.opening {
			if len(p.edit.ahead) < maxTypeAhead {
				p.edit.ahead = append(p.edit.ahead, msg)
			}
			return nil
		}
		if p.confirm != nil {
			d := p.confirm
			p.confirm = nil
			if key.Matches(msg, p.sh.keys.Yes) {
				return d.yes()
			}
			if d.no != nil {
				d.no()
			}
			p.sh.flash("cancelled", false)
			return nil
		}
		return p.key(msg)
	}
	return nil
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

func (p *kvPane) onValue(msg kvValueMsg) tea.Cmd {
	if msg.key != p.value.key {
		return nil
	}
	changed := msg.pair == nil || p.value.pair == nil || msg.pair.ModifyIndex != p.value.pair.ModifyIndex
	p.value.pair, p.value.err = msg.pair, msg.err
	if changed {
		p.setValueText(renderValue(msg.pair))
	}
	if msg.edit {
		return p.openEditor(msg.err)
	}
	if msg.external {
		if msg.err != nil {
			p.sh.flash("get "+quote(msg.key)+": "+msg.err.Error(), true)
			return nil
		}
		return p.startExternal()
	}
	return nil
}

// entryFor maps a full key to the entry that shows it under the current
// prefix (the key itself or its first folder).
func (p *kvPane) entryFor(k string) string {
	if !strings.HasPrefix(k, p.tree.prefix) {
		return ""
	}
	rest := k[len(p.tree.prefix):]
	if i := strings.IndexByte(rest, '/'); i >= 0 && i < len(rest)-1 {
		return p.tree.prefix + rest[:i+1]
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

func (p *kvPane) current() string {
	if p.tree.cursor < len(p.tree.entries) {
		return p.tree.entries[p.tree.cursor]
	}
	return ""
}

func (p *kvPane) open(k string, from kvMode) tea.Cmd {
	p.mode, p.value.backTo = kvValue, from
	p.value.key, p.value.pair, p.value.err = k, nil, nil
	p.setValueText("")
	p.value.vp.GotoTop()
	return p.get(k, false)
}

func (p *kvPane) key(msg tea.KeyMsg) tea.Cmd {
	switch p.mode {
	case kvSearch:
		return p.searchKey(msg)
	case kvEdit, kvNewValue:
		return p.editKey(msg)
	case kvCopyDest:
		return p.copyDestKey(msg)
	case kvNewKey:
		return p.newKeyKey(msg)
	case kvValue:
		return p.valueKey(msg)
	}
	return p.treeKey(msg)
}

// editKey is a key in the inline editor (e, or the value of a new key).
func (p *kvPane) editKey(msg tea.KeyMsg) tea.Cmd {
	k := p.sh.keys
	switch {
	case key.Matches(msg, k.Cancel):
		p.edit.area.Blur()
		if p.mode == kvEdit && p.edit.back == kvValue {
			p.mode = kvValue
		} else {
			p.mode = kvTree
		}
		p.sh.flash("edit cancelled, nothing saved", false)
		return nil
	case key.Matches(msg, k.Save):
		return p.save()
	}
	var cmd tea.Cmd
	p.edit.area, cmd = p.edit.area.Update(msg)
	return cmd
}

// newKeyKey is a key while the name of a new key is typed (n).
func (p *kvPane) newKeyKey(msg tea.KeyMsg) tea.Cmd {
	k := p.sh.keys
	switch {
	case key.Matches(msg, k.Cancel):
		p.edit.keyIn.Blur()
		p.mode = kvTree
		return nil
	case key.Matches(msg, k.Submit):
		name := strings.TrimLeft(p.edit.keyIn.Value(), "/")
		if name == "" {
			p.sh.flash("a key needs a name", true)
			return nil
		}
		p.edit.keyIn.Blur()
		if strings.HasSuffix(name, "/") {
			// A folder marker: no value to ask for.
			return p.put(&api.KVPair{Key: name}, "created folder "+quote(name))
		}
		p.mode = kvNewValue
		p.edit.of = nil
		p.edit.area.Placeholder = "value of " + name
		p.edit.area.SetValue("")
		return p.edit.area.Focus()
	}
	var cmd tea.Cmd
	p.edit.keyIn, cmd = p.edit.keyIn.Update(msg)
	return cmd
}

// valueKey is a key in the value view.
func (p *kvPane) valueKey(msg tea.KeyMsg) tea.Cmd {
	k := p.sh.keys
	switch {
	case key.Matches(msg, k.Back):
		// From a search result, back to the results, not into the
		// box: j and k move there, / edits the search.
		p.mode = p.value.backTo
		return nil
	case key.Matches(msg, k.Edit):
		p.edit.back = kvValue
		if p.value.pair == nil && p.value.err == nil {
			// Still loading (enter and e typed together): open the
			// editor when it arrives.
			return p.loadForEdit(p.value.key)
		}
		return p.startEdit()
	case key.Matches(msg, k.ExtEdit):
		return p.extEdit(p.value.key, kvValue)
	case key.Matches(msg, k.Delete):
		p.askDelete(p.value.key)
		return nil
	case key.Matches(msg, k.Top):
		p.value.vp.GotoTop()
		return nil
	case key.Matches(msg, k.Bottom):
		p.value.vp.GotoBottom()
		return nil
	}
	var cmd tea.Cmd
	p.value.vp, cmd = p.value.vp.Update(msg)
	return cmd
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
	cur := p.current()
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

func (p *kvPane) loadAll() tea.Cmd {
	src, parent := p.sh.src, p.sh.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, pollTimeout)
		defer cancel()
		keys, _, err := src.KVKeys(ctx, "", "", nil)
		return kvAllKeysMsg{keys: keys, err: err}
	}
}

// write runs a change off the UI loop; ok=false answers get why.
func (p *kvPane) write(fn func(context.Context, Source) (bool, error), done, why, k string, deleted bool) tea.Cmd {
	src, parent := p.sh.src, p.sh.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, writeTimeout)
		defer cancel()
		ok, err := fn(ctx, src)
		if why == "" {
			why = "the agent refused the change"
		}
		return kvWriteMsg{done: done, ok: ok, why: why, err: err, key: k, deleted: deleted}
	}
}

// editable says (and flashes why not) whether the loaded value can be
// edited as text.
func (p *kvPane) editable() bool {
	if p.value.pair == nil {
		p.sh.flash(quote(p.value.key)+" no longer exists", true)
		return false
	}
	if isBinary(p.value.pair.Value) {
		p.sh.flash("binary value: not editable in the console", true)
		return false
	}
	return true
}

// maxTypeAhead bounds the keys kept while the editor opens.
const maxTypeAhead = 4096

// loadForEdit reads k and opens the editor on it; keys typed until then
// are kept for the editor.
func (p *kvPane) loadForEdit(k string) tea.Cmd {
	p.edit.opening, p.edit.ahead = true, nil
	return p.get(k, true)
}

// openEditor opens the editor on the value just read (err: reading it
// failed) and replays the keys typed while it was read.
func (p *kvPane) openEditor(err error) tea.Cmd {
	ahead := p.edit.ahead
	p.edit.opening, p.edit.ahead = false, nil
	dropped := ""
	if len(ahead) > 0 {
		dropped = fmt.Sprintf(" (%d typed %s dropped)", len(ahead), plural(len(ahead), "key", "keys"))
	}
	if err != nil {
		p.sh.flash("get "+quote(p.value.key)+": "+err.Error()+dropped, true)
		return nil
	}
	cmds := []tea.Cmd{p.startEdit()}
	if p.mode != kvEdit {
		return cmds[0] // not editable: startEdit said why; the keys were for the editor
	}
	for _, k := range ahead {
		cmds = append(cmds, p.update(k))
	}
	return tea.Batch(cmds...)
}

func (p *kvPane) startEdit() tea.Cmd {
	if !p.editable() {
		return nil
	}
	p.edit.of = p.value.pair
	p.mode = kvEdit
	p.edit.area.Placeholder = ""
	p.edit.area.SetValue(string(p.value.pair.Value))
	return p.edit.area.Focus()
}

func (p *kvPane) save() tea.Cmd {
	v := []byte(p.edit.area.Value())
	if p.edit.of != nil {
		pair := &api.KVPair{Key: p.edit.of.Key, Flags: p.edit.of.Flags, Value: v, ModifyIndex: p.edit.of.ModifyIndex}
		k := pair.Key
		return p.write(func(ctx context.Context, src Source) (bool, error) {
			return src.KVPut(ctx, pair, &api.WriteOptions{CAS: true})
		}, "saved "+quote(k), conflictWhy(k), k, false)
	}
	name := strings.TrimLeft(p.edit.keyIn.Value(), "/")
	return p.put(&api.KVPair{Key: name, Value: v}, "created "+quote(name))
}

// put creates a key that must not exist yet (CAS on index 0).
func (p *kvPane) put(pair *api.KVPair, done string) tea.Cmd {
	return p.write(func(ctx context.Context, src Source) (bool, error) {
		return src.KVPut(ctx, pair, &api.WriteOptions{CAS: true})
	}, done, "not created: "+quote(pair.Key)+" already exists", pair.Key, false)
}

func (p *kvPane) searchKey(msg tea.KeyMsg) tea.Cmd {
	k := p.sh.keys
	if !p.search.typing {
		// The results, the box blurred: keys navigate.
		switch {
		case key.Matches(msg, k.Back):
			p.mode = kvTree
		case key.Matches(msg, k.Filter):
			p.search.typing = true
			return p.search.input.Focus()
		case key.Matches(msg, k.Open):
			return p.openResult()
		default:
			p.search.cursor = moveCursor(msg, k, p.search.cursor, len(p.search.results))
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Cancel):
		p.search.input.Blur()
		p.search.typing = false
		p.mode = kvTree
		return nil
	case msg.Type == tea.KeyUp || msg.Type == tea.KeyCtrlP:
		p.search.cursor = max(p.search.cursor-1, 0)
		return nil
	case msg.Type == tea.KeyDown || msg.Type == tea.KeyCtrlN:
		p.search.cursor = min(p.search.cursor+1, max(len(p.search.results)-1, 0))
		return nil
	case key.Matches(msg, k.Open):
		if !p.search.allLoaded && p.search.allErr == nil {
			p.search.openLoaded = true
			return nil
		}
		return p.openResult()
	}
	var cmd tea.Cmd
	before := p.search.input.Value()
	p.search.input, cmd = p.search.input.Update(msg)
	if p.search.input.Value() != before {
		p.filterResults()
	}
	return cmd
}

// openResult opens the selected search result: a folder in the tree, a
// key in the value view (esc there returns to the results).
func (p *kvPane) openResult() tea.Cmd {
	if p.search.cursor >= len(p.search.results) {
		return nil
	}
	hit := p.search.all[p.search.results[p.search.cursor]]
	p.search.input.Blur()
	p.search.typing = false
	if strings.HasSuffix(hit, "/") {
		p.mode = kvTree
		return p.cd(hit, "")
	}
	return p.open(hit, kvSearch)
}

// filterResults keeps the keys containing the query (case-insensitive).
func (p *kvPane) filterResults() {
	q := strings.ToLower(p.search.input.Value())
	p.search.results = p.search.results[:0]
	if q == "" {
		p.search.cursor, p.search.top = 0, 0
		return
	}
	for i, l := range p.search.allLower {
		if strings.Contains(l, q) {
			p.search.results = append(p.search.results, i)
		}
	}
	p.search.cursor = min(p.search.cursor, max(len(p.search.results)-1, 0))
}

func (p *kvPane) view(w, h int) string {
	st := p.sh.st
	var b strings.Builder
	b.WriteString(st.Breadcrumb.Render(truncate(breadcrumb(p.tree.prefix), w)))
	switch {
	case p.tree.err != nil:
		b.WriteString("  " + st.Error.Render(truncate("watch: "+p.tree.err.Error()+" (retrying)", max(w-lipgloss.Width(breadcrumb(p.tree.prefix))-2, 10))))
	case p.tree.loaded:
		b.WriteString("  " + st.Faint.Render(fmt.Sprintf("%d %s · index %d", len(p.tree.entries), plural(len(p.tree.entries), "entry", "entries"), p.tree.index)))
	}
	b.WriteByte('\n')
	if p.confirm != nil {
		b.WriteString(p.confirm.view(st, w) + "\n")
	} else if p.pending != "" {
		b.WriteString(st.Info.Render(p.pending) + "\n")
	}
	rest := p.bodyRows(w, h)
	switch p.mode {
	case kvValue:
		b.WriteString(p.valueView(w, rest))
	case kvSearch:
		b.WriteString(p.searchView(w, rest))
	case kvEdit, kvNewValue:
		what := "editing " + quote(p.value.key)
		if p.mode == kvNewValue {
			what = "value of new key " + quote(p.edit.keyIn.Value())
		}
		b.WriteString(st.Header.Render(what) + "  " + st.Faint.Render("ctrl+s saves · esc cancels") + "\n")
		b.WriteString(p.edit.area.View())
	case kvNewKey:
		b.WriteString(p.edit.keyIn.View() + "\n" + st.Faint.Render("enter: next (a name ending in / creates a folder) · esc cancels"))
	case kvCopyDest:
		what := p.copy.op.verb() + " key " + quote(p.copy.op.src)
		if p.copy.op.folder {
			what = p.copy.op.verb() + " every key under " + quote(p.copy.op.src) + " (the prefix is replaced by the destination)"
		}
		b.WriteString(st.Header.Render(truncate(what, w)) + "\n" + p.copy.in.View() + "\n" +
			st.Faint.Render("enter: check and confirm · esc cancels"))
	default:
		b.WriteString(p.treeView(w, rest))
	}
	return b.String()
}

func (p *kvPane) treeView(w, h int) string {
	st := p.sh.st
	if !p.tree.loaded {
		if p.tree.err != nil {
			return st.Faint.Render("waiting for the agent…")
		}
		return st.Faint.Render("loading…")
	}
	if len(p.tree.entries) == 0 {
		if p.tree.prefix == "" {
			return st.Faint.Render("the KV store is empty (n creates a key)")
		}
		return st.Faint.Render("nothing under " + quote(p.tree.prefix) + " (esc goes up)")
	}
	top := scrollTop(p.tree.top, p.tree.cursor, h, len(p.tree.entries))
	var b strings.Builder
	for i := top; i < len(p.tree.entries) && i < top+h; i++ {
		e := p.tree.entries[i]
		name := strings.TrimPrefix(e, p.tree.prefix)
		if e == p.tree.prefix {
			name = "(folder marker) " + e
		}
		line := "  " + name
		if strings.HasSuffix(e, "/") {
			line = "▸ " + name
		}
		line = truncate(gutter(i == p.tree.cursor)+line, w)
		switch folder := strings.HasSuffix(e, "/"); {
		case i == p.tree.cursor && folder:
			line = st.Breadcrumb.Inherit(st.Selected).Render(line)
		case i == p.tree.cursor:
			line = st.Selected.Render(line)
		case folder:
			line = st.Breadcrumb.Render(line)
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

func (p *kvPane) valueView(w, h int) string {
	st := p.sh.st
	var b strings.Builder
	switch {
	case p.value.err != nil:
		return st.Error.Render("get " + quote(p.value.key) + ": " + p.value.err.Error())
	case p.value.pair == nil:
		return st.Header.Render(p.value.key) + "\n" + st.Faint.Render("(no such key, or loading…)")
	}
	v := p.value.pair
	sess := v.Session
	if sess == "" {
		sess = "-"
	}
	b.WriteString(st.Header.Render(truncate(v.Key, w)) + "\n")
	b.WriteString(st.Faint.Render(truncate(fmt.Sprintf("%d bytes, %s · flags %d · create %d · modify %d · lock %d · session %s",
		len(v.Value), valueKind(v.Value), v.Flags, v.CreateIndex, v.ModifyIndex, v.LockIndex, sess), w)) + "\n")
	vp := p.value.vp // sized by layout; a copy, so a shorter body (a dialog over it) changes nothing
	vp.Height = max(h-2, 1)
	b.WriteString(vp.View())
	return b.String()
}

func (p *kvPane) searchView(w, h int) string {
	st := p.sh.st
	var b strings.Builder
	b.WriteString(p.search.input.View())
	switch {
	case p.search.allErr != nil:
		b.WriteString("  " + st.Error.Render(p.search.allErr.Error()))
	case !p.search.allLoaded:
		b.WriteString("  " + st.Faint.Render("loading all keys…"))
	case p.search.input.Value() != "":
		b.WriteString("  " + st.Faint.Render(fmt.Sprintf("%d of %d %s", len(p.search.results), len(p.search.all), plural(len(p.search.all), "key", "keys"))))
	default:
		b.WriteString("  " + st.Faint.Render(fmt.Sprintf("%d %s; type to search", len(p.search.all), plural(len(p.search.all), "key", "keys"))))
	}
	b.WriteByte('\n')
	h--
	top := scrollTop(p.search.top, p.search.cursor, h, len(p.search.results))
	for i := top; i < len(p.search.results) && i < top+h; i++ {
		line := truncate(gutter(i == p.search.cursor)+p.search.all[p.search.results[i]], w)
		if i == p.search.cursor {
			line = st.Selected.Render(line)
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// scrollTop keeps cursor inside a window of h rows starting at top.
func scrollTop(top, cursor, h, n int) int {
	h = max(h, 1)
	if cursor < top {
		top = cursor
	}
	if cursor >= top+h {
		top = cursor - h + 1
	}
	return max(min(top, n-h), 0)
}

func breadcrumb(prefix string) string {
	if prefix == "" {
		return "kv: /"
	}
	parts := strings.Split(strings.TrimSuffix(prefix, "/"), "/")
	return "kv: / " + strings.Join(parts, " / ") + " /"
}

func isBinary(v []byte) bool {
	if !utf8.Valid(v) {
		return true
	}
	for _, r := range string(v) {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' {
			return true
		}
	}
	return false
}

func valueKind(v []byte) string {
	t := bytes.TrimSpace(v)
	switch {
	case len(v) == 0:
		return "empty"
	case isBinary(v):
		return "binary"
	case len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t):
		return "json"
	}
	return "text"
}

// setValueText shows s in the value view, wrapped to the view's width.
func (p *kvPane) setValueText(s string) {
	p.value.txt = s
	p.value.wrapW = max(p.value.vp.Width, 1)
	p.value.vp.SetContent(wrapText(s, p.value.wrapW))
}

// wrapText breaks every line longer than w columns, at a space where
// there is one (a word longer than w is cut), so a long one-line value is
// shown whole instead of running off the screen.
func wrapText(s string, w int) string {
	if w <= 0 {
		return s
	}
	return ansi.Wrap(s, w, "")
}

// renderValue shows JSON pretty-printed, text as is and binary as a hex dump.
func renderValue(p *api.KVPair) string {
	if p == nil {
		return ""
	}
	switch valueKind(p.Value) {
	case "empty":
		return "(empty value)"
	case "binary":
		return hex.Dump(p.Value)
	case "json":
		var out bytes.Buffer
		if json.Indent(&out, bytes.TrimSpace(p.Value), "", "  ") == nil {
			return out.String()
		}
	}
	return string(p.Value)
}

func quote(s string) string { return `"` + s + `"` }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
