package tui

import (
	"context"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"consulx/api"
)

// kvCopyFlow is the copy (c) and move (R) flow: the destination input, then a
// check, a confirmation and the run.
type kvCopyFlow struct {
	in   textinput.Model
	op   copyOp
	busy bool // a copy or move is being checked, confirmed or run
}

// view is the destination box, under what is copied or moved.
func (c *kvCopyFlow) view(st Styles, w int) string {
	what := c.op.verb() + " key " + quote(c.op.src)
	if c.op.folder {
		what = c.op.verb() + " every key under " + quote(c.op.src) + " (the prefix is replaced by the destination)"
	}
	return st.Header.Render(truncate(what, w)) + "\n" + c.in.View() + "\n" +
		st.Faint.Render("enter: check and confirm · esc cancels")
}

// copyOp is one copy (c) or rename/move (R) of a key or of every key under
// a folder prefix.
type copyOp struct {
	move   bool
	folder bool   // src is a prefix ending in "/": every key under it
	src    string // the key, or the prefix
	dst    string // the destination key, or the prefix replacing src
}

func (o copyOp) verb() string {
	if o.move {
		return "move"
	}
	return "copy"
}

// target is where source key k lands.
func (o copyOp) target(k string) string {
	if !o.folder {
		return o.dst
	}
	return o.dst + strings.TrimPrefix(k, o.src)
}

type (
	// kvCopyPlanMsg is the source listing and the destination check of op.
	kvCopyPlanMsg struct {
		op     copyOp
		pairs  []*api.KVPair // the source keys, with values, flags and indexes
		exists []string      // destination keys that already exist
		err    error
	}
	// kvCopyDoneMsg reports a copy or move that ran.
	kvCopyDoneMsg struct {
		op     copyOp
		total  int
		copied []string // destination keys written, in order
		failed string   // the destination key whose write failed ("" if none)
		err    error    // why it failed (nil with failed set: the key appeared meanwhile)
		// move only, after every copy succeeded:
		deleted int
		kept    []string // sources not deleted (changed since listed, or an error)
		delErr  error
	}
)

// askCopy opens the destination input for the entry under the cursor.
func (p *kvPane) askCopy(cur string, move bool) tea.Cmd {
	if cur == "" {
		return nil
	}
	if p.copy.busy {
		p.sh.flash("a copy is still running", true)
		return nil
	}
	// The folder marker of the current prefix is a key of its own (as d treats it).
	op := copyOp{move: move, folder: strings.HasSuffix(cur, "/") && cur != p.tree.prefix, src: cur}
	p.copy.op = op
	p.mode = kvCopyDest
	p.copy.in.Prompt = op.verb() + " to: "
	p.copy.in.SetValue(cur)
	p.copy.in.CursorEnd()
	return p.copy.in.Focus()
}

func (p *kvPane) copyDestKey(msg tea.KeyMsg) tea.Cmd {
	k := p.sh.keys
	switch {
	case key.Matches(msg, k.Cancel):
		p.copy.in.Blur()
		p.mode = kvTree
		p.sh.flash(p.copy.op.verb()+" cancelled, nothing written", false)
		return nil
	case key.Matches(msg, k.Submit):
		op, refusal := resolveCopy(p.copy.op, p.copy.in.Value())
		if refusal != "" {
			// Stay in the input so the destination can be corrected.
			p.sh.flash("refused: "+refusal+"; nothing written", true)
			return nil
		}
		p.copy.in.Blur()
		p.mode = kvTree
		p.copy.op = op
		p.copy.busy = true
		p.pending = "checking " + quote(op.src) + " and " + quote(op.dst) + "…"
		return p.planCopy(op)
	}
	var cmd tea.Cmd
	p.copy.in, cmd = p.copy.in.Update(msg)
	return cmd
}

// resolveCopy completes op with the typed destination, or says why it is
// refused. A folder's destination always ends in "/"; a key copied to a
// name ending in "/" keeps its own name inside that folder (as cp does).
func resolveCopy(op copyOp, typed string) (copyOp, string) {
	dst := strings.TrimLeft(strings.TrimSpace(typed), "/")
	if dst == "" {
		return op, "the destination needs a name"
	}
	switch {
	case op.folder && !strings.HasSuffix(dst, "/"):
		dst += "/"
	case !op.folder && strings.HasSuffix(dst, "/") && !strings.HasSuffix(op.src, "/"):
		base := op.src
		if i := strings.LastIndexByte(base, '/'); i >= 0 {
			base = base[i+1:]
		}
		dst += base
	}
	op.dst = dst
	switch {
	case dst == op.src:
		return op, "the destination " + quote(dst) + " is the source"
	case op.folder && strings.HasPrefix(dst, op.src):
		return op, "the destination " + quote(dst) + " is inside the source " + quote(op.src)
	}
	return op, ""
}

// planCopy reads the sources (values and flags) and checks that no
// destination key exists yet.
func (p *kvPane) planCopy(op copyOp) tea.Cmd {
	src, parent := p.sh.src, p.sh.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, pollTimeout)
		defer cancel()
		msg := kvCopyPlanMsg{op: op}
		if op.folder {
			msg.pairs, _, msg.err = src.KVList(ctx, op.src, nil)
		} else {
			var pair *api.KVPair
			pair, _, msg.err = src.KVGet(ctx, op.src, nil)
			if pair != nil {
				msg.pairs = []*api.KVPair{pair}
			}
		}
		if msg.err != nil || len(msg.pairs) == 0 {
			return msg
		}
		if !op.folder {
			d, _, err := src.KVGet(ctx, op.dst, nil)
			if d != nil {
				msg.exists = []string{op.dst}
			}
			msg.err = err
			return msg
		}
		have, _, err := src.KVKeys(ctx, op.dst, "", nil)
		if err != nil {
			msg.err = err
			return msg
		}
		set := make(map[string]bool, len(have))
		for _, k := range have {
			set[k] = true
		}
		for _, sp := range msg.pairs {
			if t := op.target(sp.Key); set[t] {
				msg.exists = append(msg.exists, t)
			}
		}
		return msg
	}
}

func (p *kvPane) onCopyPlan(msg kvCopyPlanMsg) tea.Cmd {
	p.pending = ""
	op, n := msg.op, len(msg.pairs)
	switch {
	case msg.err != nil:
		p.copy.busy = false
		p.sh.flash(op.verb()+" "+quote(op.src)+": "+errText(msg.err)+"; nothing written", true)
		return nil
	case n == 0 && op.folder:
		p.copy.busy = false
		p.sh.flash("nothing to "+op.verb()+" under "+quote(op.src), false)
		return nil
	case n == 0:
		p.copy.busy = false
		p.sh.flash(quote(op.src)+" no longer exists; nothing written", true)
		return nil
	case len(msg.exists) > 0:
		p.copy.busy = false
		e := len(msg.exists)
		p.sh.flash(fmt.Sprintf("refused: %d of %d destination %s already %s (first %s); nothing written",
			e, n, plural(n, "key", "keys"), plural(e, "exists", "exist"), quote(msg.exists[0])), true)
		return nil
	}
	pairs := msg.pairs
	prompt := fmt.Sprintf("Copy %d %s from %s to %s?", n, plural(n, "key", "keys"), quote(op.src), quote(op.dst))
	if op.move {
		prompt = fmt.Sprintf("Move %d %s from %s to %s (sources deleted once all are copied)?", n, plural(n, "key", "keys"), quote(op.src), quote(op.dst))
	}
	p.confirm = &confirmDialog{
		prompt: prompt,
		yes: func() tea.Cmd {
			p.pending = fmt.Sprintf("%sing %d %s…", strings.TrimSuffix(op.verb(), "e"), n, plural(n, "key", "keys"))
			return p.runCopy(op, pairs)
		},
		no: func() { p.copy.busy = false },
	}
	return nil
}

// runCopy writes every destination (create-only: check-and-set on index 0),
// stopping at the first write that fails; a move then deletes each source
// with check-and-set on the index it was copied at, so a source changed
// meanwhile is kept.
func (p *kvPane) runCopy(op copyOp, pairs []*api.KVPair) tea.Cmd {
	src, parent := p.sh.src, p.sh.ctx
	return func() tea.Msg {
		res := kvCopyDoneMsg{op: op, total: len(pairs)}
		for _, sp := range pairs {
			dk := op.target(sp.Key)
			ctx, cancel := context.WithTimeout(parent, writeTimeout)
			ok, err := src.KVPut(ctx, &api.KVPair{Key: dk, Flags: sp.Flags, Value: sp.Value}, &api.WriteOptions{CAS: true})
			cancel()
			if err != nil || !ok {
				res.failed, res.err = dk, err
				return res
			}
			res.copied = append(res.copied, dk)
		}
		if !op.move {
			return res
		}
		for i, sp := range pairs {
			idx := sp.ModifyIndex
			ctx, cancel := context.WithTimeout(parent, writeTimeout)
			ok, err := src.KVDelete(ctx, sp.Key, &idx)
			cancel()
			switch {
			case err != nil:
				res.delErr = err
				for _, rest := range pairs[i:] {
					res.kept = append(res.kept, rest.Key)
				}
				return res
			case !ok:
				res.kept = append(res.kept, sp.Key)
			default:
				res.deleted++
			}
		}
		return res
	}
}

func (p *kvPane) onCopyDone(msg kvCopyDoneMsg) tea.Cmd {
	p.pending = ""
	p.copy.busy = false
	op, n := msg.op, msg.total
	keys := plural(n, "key", "keys")
	switch {
	case msg.failed != "":
		why := "it exists now"
		if msg.err != nil {
			why = errText(msg.err)
		}
		copied := "nothing copied"
		if c := len(msg.copied); c > 0 {
			copied = fmt.Sprintf("copied %d of %d (%s)", c, n, quoteAll(msg.copied))
		}
		kept := ""
		if op.move {
			kept = "; no source deleted"
		}
		p.sh.flash(fmt.Sprintf("%s stopped: %s not written (%s); %s%s", op.verb(), quote(msg.failed), why, copied, kept), true)
	case !op.move:
		p.sh.flash(fmt.Sprintf("copied %d %s from %s to %s", n, keys, quote(op.src), quote(op.dst)), false)
	case len(msg.kept) == 0:
		p.sh.flash(fmt.Sprintf("moved %d %s from %s to %s", n, keys, quote(op.src), quote(op.dst)), false)
	default:
		why := "changed since the copy began"
		if msg.delErr != nil {
			why = errText(msg.delErr)
		}
		p.sh.flash(fmt.Sprintf("copied %d %s to %s, but kept %d %s (%s): %s", n, keys, quote(op.dst),
			len(msg.kept), plural(len(msg.kept), "source", "sources"), why, quoteAll(msg.kept)), true)
	}
	if len(msg.copied) > 0 {
		p.tree.want = p.tree.entryFor(op.dst)
	}
	return p.start()
}

func quoteAll(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = quote(k)
	}
	return strings.Join(q, ", ")
}
