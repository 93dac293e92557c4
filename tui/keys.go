package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
)

// KeyMap is every binding of the console. Help, the hint line and
// docs/keys.md are all generated from it, so they cannot drift apart.
type KeyMap struct {
	NextPane, PrevPane, Panes, Refresh, Help, Quit, ForceQuit key.Binding

	Up, Down, Top, Bottom, PageUp, PageDown, Open, Back key.Binding

	Filter, Sort key.Binding

	New, Edit, ExtEdit, Copy, Move, Delete, DeleteTree key.Binding

	Level key.Binding

	Maint key.Binding

	Rerun, CancelJob key.Binding

	Reveal key.Binding

	Yes, Save, Cancel, Submit, NextField, PrevField key.Binding
}

// DefaultKeyMap returns the bindings; readOnly disables (and so hides from
// help) every binding that changes data.
func DefaultKeyMap(readOnly bool) KeyMap {
	km := KeyMap{
		NextPane:  key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next pane")),
		PrevPane:  key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "prev pane")),
		Panes:     key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6", "7", "8", "9"), key.WithHelp("1-9", "pane")),
		Refresh:   key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "refresh")),
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:      key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		ForceQuit: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "force quit")),

		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Top:      key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g", "top")),
		Bottom:   key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "bottom")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+d"), key.WithHelp("pgdn", "page down")),
		Open:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
		Back:     key.NewBinding(key.WithKeys("esc", "backspace"), key.WithHelp("esc", "back")),

		Filter: key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Sort:   key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort")),

		New:        key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "new")),
		Edit:       key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit")),
		ExtEdit:    key.NewBinding(key.WithKeys("E"), key.WithHelp("E", "edit in $EDITOR")),
		Copy:       key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "copy")),
		Move:       key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "rename/move")),
		Delete:     key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "delete")),
		DeleteTree: key.NewBinding(key.WithKeys("D"), key.WithHelp("D", "delete prefix")),

		Level: key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "log level")),

		Maint: key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "maintenance")),

		Rerun:     key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "re-run failed")),
		CancelJob: key.NewBinding(key.WithKeys("x", "ctrl+c"), key.WithHelp("x", "cancel job")),

		Reveal: key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "show/hide secret")),

		Yes:    key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "confirm")),
		Save:   key.NewBinding(key.WithKeys("ctrl+s"), key.WithHelp("ctrl+s", "save")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		Submit: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "accept")),

		NextField: key.NewBinding(key.WithKeys("tab", "down"), key.WithHelp("tab", "next field")),
		PrevField: key.NewBinding(key.WithKeys("shift+tab", "up"), key.WithHelp("shift+tab/↑", "prev field")),
	}
	if readOnly {
		for _, b := range []*key.Binding{&km.New, &km.Edit, &km.ExtEdit, &km.Copy, &km.Move, &km.Delete, &km.DeleteTree, &km.Save, &km.Maint,
			&km.Rerun, &km.CancelJob, &km.NextField, &km.PrevField} {
			b.SetEnabled(false)
		}
		// The Exec pane (8) is not shown; the others keep their numbers.
		km.Panes = key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6", "7", "9"), key.WithHelp("1-7,9", "pane"))
	}
	return km
}

// docKey is a binding with the longer description docs/keys.md gives it
// and, when the binding's own short help would mislead in this group (the
// same key does different things in different panes), the short text the
// ? overlay shows.
type docKey struct {
	b     key.Binding
	doc   string
	short string
}

// desc is the text the ? overlay shows for k.
func (k docKey) desc() string {
	if k.short != "" {
		return k.short
	}
	return k.b.Help().Desc
}

// hint is b with another short description, for a footer where the key
// does something more specific than its general name (enter "next" in a
// prompt rather than "open").
func hint(b key.Binding, desc string) key.Binding {
	b.SetHelp(b.Help().Key, desc)
	return b
}

// anyKeyCancels is the footer hint of a confirmation dialog: every key but
// y cancels. It is bound to esc only so that help shows it (a binding with
// no keys counts as disabled); the dialog itself treats every key alike.
var anyKeyCancels = key.NewBinding(key.WithKeys("esc"), key.WithHelp("other keys", "cancel"))

// arrowsOnly are the up/down hints where j and k are text (a search box or
// a filter being typed into).
var arrowsOnly = key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "select"))

type keyGroup struct {
	name, where string
	keys        []docKey
}

func (g keyGroup) bindings() []key.Binding {
	out := make([]key.Binding, len(g.keys))
	for i, k := range g.keys {
		out[i] = k.b
	}
	return out
}

func (k KeyMap) groups() []keyGroup {
	filterShort := "filter / find output"
	if !k.CancelJob.Enabled() {
		filterShort = "filter events" // no Exec pane
	}
	return []keyGroup{
		{"Global", "everywhere, except that while a filter, search, editor or dialog has focus keys go to it (only ctrl+c stays global)", []docKey{
			{b: k.NextPane, doc: "next pane"},
			{b: k.PrevPane, doc: "previous pane"},
			{b: k.Panes, doc: "jump to pane 1 Members, 2 WAN, 3 KV, 4 Raft, 5 Log, 6 Services, 7 Events, 8 Exec (not shown with -readonly), 9 ACL"},
			{b: k.Refresh, doc: "reload the current pane now"},
			{b: k.Help, doc: "toggle this help (esc also closes it; j/k scroll it when it does not fit)"},
			{b: k.Quit, doc: "quit; in the agent's embedded console, asks first in a dialog (quitting stops the agent with a graceful leave)"},
			{b: k.ForceQuit, doc: "quit at once, from anywhere, even while typing; in the Exec pane while a job runs it cancels the job instead (a second ctrl+c quits)"},
		}},
		{"Navigation", "lists, the KV value view, the search results, the service instances and the log; long values and log lines wrap", []docKey{
			{b: k.Up, doc: "move up / scroll up"},
			{b: k.Down, doc: "move down / scroll down"},
			{b: k.Top, doc: "go to the top"},
			{b: k.Bottom, doc: "go to the bottom"},
			{b: k.PageUp, doc: "page up"},
			{b: k.PageDown, doc: "page down"},
			{b: k.Open, doc: "open: enter a KV folder, view a key's value, open a search result, show a service's instances"},
			{b: k.Back, doc: "back: up one KV folder, close the value view (to the search results when it was opened from them), clear a members or services filter, back to the service list"},
		}},
		{"Members and WAN", "panes 1 and 2; m works in pane 1 and is disabled and hidden with -readonly", []docKey{
			{b: k.Filter, doc: "filter rows by substring (enter keeps it, esc clears it); maint matches the nodes in maintenance"},
			{b: k.Sort, doc: "cycle the sort column (Node, Address, Status, Type, Build, DC)"},
			{b: k.Maint, doc: "toggle maintenance of the node under the cursor: type a reason (may be empty), enter, then confirm; a node already in maintenance (marked maint) is taken out after a confirmation; offered only on alive members (a failed or departed node's agent cannot be reached)"},
		}},
		{"KV", "pane 3; n, e, E, c, R, d and D are disabled and hidden with -readonly", []docKey{
			{b: k.Filter, short: "search all keys", doc: "search the whole tree by key substring: type to narrow, ↑/↓ select, enter opens the result; esc from an opened result returns to the results (j/k move, / edits the search, esc leaves it)"},
			{b: k.New, doc: "new key: type its name (ending in / makes a folder), enter, then its value (ctrl+s saves)"},
			{b: k.Edit, doc: "edit the value of the key under the cursor (check-and-set: a concurrent change is not overwritten)"},
			{b: k.ExtEdit, doc: "edit the value of the key under the cursor in $VISUAL or $EDITOR (via a private temp file); saved with check-and-set only when it changed, and on a conflict or error the edited text opens in the inline editor; without either variable, the same as e"},
			{b: k.Copy, doc: "copy the key or folder under the cursor: type the destination (prefilled with the source), enter, then confirm; a folder copies every key (value and flags) under it with the prefix replaced by the destination (which gets a final / if it lacks one), a key copied to a name ending in / keeps its own name there; keys are only created, never overwritten; refused, writing nothing, when the destination is the source, lies inside it, or any destination key exists"},
			{b: k.Move, doc: "rename/move: copy as c does, then delete the sources, only once every copy succeeded (a failed write stops and keeps every source; a source changed meanwhile is kept)"},
			{b: k.Delete, doc: "delete the key under the cursor (asks, naming the key)"},
			{b: k.DeleteTree, doc: "on a folder, delete every key under it: the folder app/blob/ (never app/blobby); asks, counting the keys and naming the first few; on a plain key, the same as d (exactly that key)"},
		}},
		{"Log and ACL", "pane 5 Log; pane 9 ACL: the agent's policies (name, description, ID) and tokens (description, AccessorID, policies, local), read again each second while shown, ↑/↓ moving through both lists; " +
			"SecretIDs are masked (********); without ACLs on the agent the pane says so, and for a token without acl:read it says that the token may not read ACLs", []docKey{
			{b: k.Level, doc: "pane 5: cycle the minimum level shown: debug, info, warn, error"},
			{b: k.Reveal, doc: "pane 9: show the selected token's SecretID, as the agent lists it: the agent hides every secret from a token without acl:write, so only such a token sees one (v again, or moving, masks it)"},
		}},
		{"Services", "pane 6: services with instance counts and health (an instance is critical when any check is, else warning when any is); m is disabled and hidden with -readonly", []docKey{
			{b: k.Filter, doc: "filter services by name or tag substring (enter keeps it, esc clears it)"},
			{b: k.Open, short: "instances", doc: "show the service's instances (node, address, tags, status) and the checks of the instance under the cursor"},
			{b: k.Back, doc: "back to the service list"},
			{b: k.Maint, doc: "on an instance: toggle its service maintenance, as m does for a node in pane 1 (reason, then confirm; an instance in maintenance is taken out after a confirmation); offered only on instances registered on a reachable agent (not the consul service, which the servers provide, nor catalog-only or unreachable nodes)"},
		}},
		{"Events and Exec", "pane 7 Events: the agent's recent user events, newest first, kept current by a blocking query (↑/↓ select one, its ID and payload show below); " +
			"pane 8 Exec (not shown with -readonly): remote exec across nodes, as consul exec, each node's state on the left and the selected node's output on the right: " +
			"↑/↓ select a node, pgup/pgdn scroll its output, g/G go to its beginning/end (G follows new output again); n, x, R and tab are disabled and hidden with -readonly", []docKey{
			{b: k.New, short: "new event / command", doc: "pane 7: fire a user event: a form with its name, payload (at most 512 bytes) and optional node, service and tag filters (regular expressions; a tag filter needs a service filter); enter fires it and the pane shows the Event ID the agent returned. " +
				"Pane 8: compose a command and its targets: node, service and tag regular expressions (as consul exec's -node, -service and -tag; a tag needs a service) with a live preview of the alive nodes they match and their count; enter asks for a confirmation naming the command and the node count, y runs it"},
			{b: k.Filter, short: filterShort, doc: "pane 7: filter events by ID, name, payload or filter substring (enter keeps it, esc clears it). Pane 8: search the selected node's output (case-insensitive): type to find, ↑/↓ previous/next match, enter keeps the search (matching lines stay marked), esc clears it"},
			{b: k.CancelJob, doc: "pane 8: cancel the running job, killing its command on every node; ctrl+c does the same while a job runs (q asks first, then quits and cancels it)"},
			{b: k.Rerun, doc: "pane 8, once the job is over: run the same command again on the nodes that failed (non-zero exit, timed out, lost, no ack) only, targeted by a node regexp that matches exactly their names, after a confirmation"},
			{b: k.NextField, short: "next form field", doc: "the next field of the fire and exec forms; shift+tab or ↑ the previous one"},
		}},
		{"Dialogs and editors", "confirmation dialogs, the KV editor, the filter and search inputs, the maintenance reason, the event and exec forms", []docKey{
			{b: k.Yes, doc: "confirm a destructive action, a maintenance change, a remote exec or quitting; any other key cancels (No is the default)"},
			{b: k.Save, doc: "save the value being edited (enter in the editor is a new line)"},
			{b: k.Cancel, doc: "cancel the editor, search, filter, copy destination, maintenance reason or form"},
			{b: k.Submit, doc: "accept what was typed: keep a filter, go on from a key name, a copy destination or a maintenance reason to the next step, fire the event, review the exec command"},
		}},
	}
}

// KeyDocs returns markdown documenting every key binding, generated from
// the default (read-write) key map. docs/keys.md is its output.
func KeyDocs() string {
	var b strings.Builder
	b.WriteString("# consulx console keys\n\n")
	b.WriteString("<!-- Generated by tui.KeyDocs; regenerate with `go test ./tui -run TestKeysDoc -update`. -->\n\n")
	b.WriteString("`consulx tui` (and `consulx agent` on a terminal) open the console. Panes: ")
	b.WriteString("1 Members, 2 WAN, 3 KV, 4 Raft, 5 Log, 6 Services, 7 Events, 8 Exec, 9 ACL. Typing in a filter, search, form or editor ")
	b.WriteString("types the letter (so `q` there is a `q`); `ctrl+c` always quits (except that in the Exec pane, while a job runs, it cancels the job first). ")
	b.WriteString("Every destructive action asks first, with No as the default. ")
	b.WriteString("Nodes and service instances in maintenance are marked `maint`, with the reason. ")
	b.WriteString("With ACLs on the agent, the header names the console's token (`token: anonymous` without one). ")
	b.WriteString("`consulx tui` takes it from `-token-file`, `-token`, `CONSUL_HTTP_TOKEN_FILE` or `CONSUL_HTTP_TOKEN`, as every command does; ")
	b.WriteString("the console of `consulx agent` from the two variables, never from the agent's own tokens. ")
	b.WriteString("A pane whose list the token could not see in full says `filtered by ACLs`, a refused action shows the agent's reason (`Permission denied: ...`), ")
	b.WriteString("and a token that may not read the agent itself (agent:read) still gets the panes it may read. ")
	b.WriteString("In the agent's embedded console `q` asks before stopping the agent, and anywhere it asks before cancelling a running exec job. ")
	b.WriteString("Keys that arrive together (typed fast, or sent by `tmux send-keys`) count one by one, as typed; ")
	b.WriteString("pasted text goes into the focused input as text and never runs a key.\n")
	for _, g := range DefaultKeyMap(false).groups() {
		fmt.Fprintf(&b, "\n## %s\n\n_%s_\n\n| Key | Action |\n| --- | --- |\n", g.name, g.where)
		for _, k := range g.keys {
			keys := make([]string, len(k.b.Keys()))
			for i, s := range k.b.Keys() {
				keys[i] = "`" + s + "`"
			}
			fmt.Fprintf(&b, "| %s | %s |\n", strings.Join(keys, ", "), k.doc)
		}
	}
	return b.String()
}
