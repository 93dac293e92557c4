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

	Yes, Save, Cancel key.Binding
}

// DefaultKeyMap returns the bindings; readOnly disables (and so hides from
// help) every binding that changes data.
func DefaultKeyMap(readOnly bool) KeyMap {
	km := KeyMap{
		NextPane:  key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next pane")),
		PrevPane:  key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "prev pane")),
		Panes:     key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6"), key.WithHelp("1-6", "pane")),
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

		Yes:    key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "confirm")),
		Save:   key.NewBinding(key.WithKeys("ctrl+s"), key.WithHelp("ctrl+s", "save")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
	if readOnly {
		for _, b := range []*key.Binding{&km.New, &km.Edit, &km.ExtEdit, &km.Copy, &km.Move, &km.Delete, &km.DeleteTree, &km.Save, &km.Maint} {
			b.SetEnabled(false)
		}
	}
	return km
}

// docKey is a binding with the longer description docs/keys.md gives it.
type docKey struct {
	b   key.Binding
	doc string
}

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
	return []keyGroup{
		{"Global", "everywhere, except that while a filter, search, editor or dialog has focus keys go to it (only ctrl+c stays global)", []docKey{
			{k.NextPane, "next pane"},
			{k.PrevPane, "previous pane"},
			{k.Panes, "jump to pane 1 Members, 2 WAN, 3 KV, 4 Raft, 5 Log, 6 Services"},
			{k.Refresh, "reload the current pane now"},
			{k.Help, "toggle the full help (esc also closes it)"},
			{k.Quit, "quit; in the agent's embedded console, asks first (quitting stops the agent with a graceful leave)"},
			{k.ForceQuit, "quit at once, from anywhere, even while typing"},
		}},
		{"Navigation", "lists, the KV value view, the service instances and the log", []docKey{
			{k.Up, "move up / scroll up"},
			{k.Down, "move down / scroll down"},
			{k.Top, "go to the top"},
			{k.Bottom, "go to the bottom"},
			{k.PageUp, "page up"},
			{k.PageDown, "page down"},
			{k.Open, "open: enter a KV folder, view a key's value, open a search result, show a service's instances"},
			{k.Back, "back: up one KV folder, close the value view, clear a members or services filter, back to the service list"},
		}},
		{"Members and WAN", "panes 1 and 2; m works in pane 1 and is disabled and hidden with -readonly", []docKey{
			{k.Filter, "filter rows by substring (enter keeps it, esc clears it); maint matches the nodes in maintenance"},
			{k.Sort, "cycle the sort column (Node, Address, Status, Type, Build, DC)"},
			{k.Maint, "toggle maintenance of the node under the cursor: type a reason (may be empty), enter, then confirm; a node already in maintenance (marked maint) is taken out after a confirmation"},
		}},
		{"KV", "pane 3; n, e, E, c, R, d and D are disabled and hidden with -readonly", []docKey{
			{k.Filter, "search the whole tree by key substring; enter opens the result"},
			{k.New, "new key: type its name (ending in / makes a folder), enter, then its value"},
			{k.Edit, "edit the value of the key under the cursor (check-and-set: a concurrent change is not overwritten)"},
			{k.ExtEdit, "edit the value of the key under the cursor in $VISUAL or $EDITOR (via a private temp file); saved with check-and-set only when it changed, and on a conflict or error the edited text opens in the inline editor; without either variable, the same as e"},
			{k.Copy, "copy the key or folder under the cursor: type the destination (prefilled with the source), enter, then confirm; a folder copies every key (value and flags) under it with the prefix replaced by the destination (which gets a final / if it lacks one), a key copied to a name ending in / keeps its own name there; keys are only created, never overwritten; refused, writing nothing, when the destination is the source, lies inside it, or any destination key exists"},
			{k.Move, "rename/move: copy as c does, then delete the sources, only once every copy succeeded (a failed write stops and keeps every source; a source changed meanwhile is kept)"},
			{k.Delete, "delete the key under the cursor (asks, naming the key)"},
			{k.DeleteTree, "delete every key under the prefix under the cursor (asks, counting the keys)"},
		}},
		{"Log", "pane 5", []docKey{
			{k.Level, "cycle the minimum level shown: debug, info, warn, error"},
		}},
		{"Services", "pane 6: services with instance counts and health (an instance is critical when any check is, else warning when any is); m is disabled and hidden with -readonly", []docKey{
			{k.Filter, "filter services by name or tag substring (enter keeps it, esc clears it)"},
			{k.Open, "show the service's instances (node, address, tags, status) and the checks of the instance under the cursor"},
			{k.Back, "back to the service list"},
			{k.Maint, "on an instance: toggle its service maintenance, as m does for a node in pane 1 (reason, then confirm; an instance in maintenance is taken out after a confirmation)"},
		}},
		{"Dialogs and editors", "confirmation dialogs, the KV editor, the filter and search inputs", []docKey{
			{k.Yes, "confirm a destructive action or a maintenance change; any other key cancels (No is the default)"},
			{k.Save, "save the value being edited"},
			{k.Cancel, "cancel the editor, search, filter, copy destination or maintenance reason"},
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
	b.WriteString("1 Members, 2 WAN, 3 KV, 4 Raft, 5 Log, 6 Services. Typing in a filter, search or editor ")
	b.WriteString("types the letter (so `q` there is a `q`); `ctrl+c` always quits. ")
	b.WriteString("Every destructive action asks first, with No as the default. ")
	b.WriteString("Nodes and service instances in maintenance are marked `maint`, with the reason. ")
	b.WriteString("In the agent's embedded console `q` asks before stopping the agent.\n")
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
