package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textarea"
	"github.com/charmbracelet/bubbles/textinput"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

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
		// filtered: ACLs hid keys under the prefix from the token.
		filtered bool
		err      error
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
			p.search.filter()
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
			p.sh.flash("count keys under "+quote(msg.prefix)+": "+errText(msg.err), true)
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
			p.sh.flash(kvWriteError(msg.err), true)
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
				p.tree.want = p.tree.entryFor(msg.key)
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

func (p *kvPane) view(w, h int) string {
	st := p.sh.st
	var b strings.Builder
	b.WriteString(st.Breadcrumb.Render(truncate(breadcrumb(p.tree.prefix), w)))
	switch {
	case p.tree.err != nil:
		b.WriteString("  " + st.Error.Render(truncate("watch: "+errText(p.tree.err)+" (retrying)", max(w-lipgloss.Width(breadcrumb(p.tree.prefix))-2, 10))))
	case p.tree.loaded:
		b.WriteString("  " + st.Faint.Render(fmt.Sprintf("%d %s · index %d", len(p.tree.entries), plural(len(p.tree.entries), "entry", "entries"), p.tree.index)))
		if p.tree.filtered {
			b.WriteString(" · " + st.filteredMark())
		}
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
		b.WriteString(p.value.view(p.sh.st, w, rest))
	case kvSearch:
		b.WriteString(p.search.view(p.sh.st, w, rest))
	case kvEdit:
		b.WriteString(p.edit.valueView(st, "editing "+quote(p.value.key)))
	case kvNewValue:
		b.WriteString(p.edit.valueView(st, "value of new key "+quote(p.edit.keyIn.Value())))
	case kvNewKey:
		b.WriteString(p.edit.keyView(st))
	case kvCopyDest:
		b.WriteString(p.copy.view(st, w))
	default:
		b.WriteString(p.tree.view(p.sh.st, w, rest))
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

func quote(s string) string { return `"` + s + `"` }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
