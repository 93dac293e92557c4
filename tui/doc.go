// Package tui is consulx's terminal ops console: the Bubble Tea program
// behind `consulx tui` and the console `consulx agent` shows on a terminal.
//
// It owns the panes (LAN members, WAN members, KV browser, Raft status,
// log, services with their instances and checks, user events, remote
// exec, ACL policies and tokens), their key map, the
// generated key documentation (KeyDocs) and the confirmation dialogs in
// front of every destructive action and maintenance toggle.
//
// Structure: the root (model.go) holds the panes by name (consolePanes),
// draws the header, tabs and footer (the ? overlay in helpview.go), splits
// key bursts, and routes each message to the panes it concerns
// (Model.concerned: a pane's own data to that pane only, keys to the
// active pane only, the agent's status to the Raft pane, maintenance to
// the panes that mark it, sizes to all). Every pane
// updates in update and only renders in view: a layout step after each
// update (and each resize) keeps scroll windows and sizes, and a view that
// draws a shorter body (a dialog over it) renders a copy. The Members and
// Services panes share one filter-list component (filterlist.go: the /
// filter, a cursor kept on the same row, the scroll window). The KV pane
// (kv.go) is a small root that says which sub-model has the screen (its
// mode) and hands it keys; each sub-model owns its state and renders
// itself, in its own file: the tree (kv_tree.go), the value view
// (kv_value.go), the search (kv_search.go), the editors (kv_editor.go), the
// copy/move flow (kvcopy.go) and the external editor (kvextedit.go), with
// the confirmation dialog (confirm.go).
//
// While a pane that shows nodes is active (Members, Services) the root
// polls the critical checks (HealthState) for the maintenance checks and
// marks nodes and instances in maintenance; m toggles it through
// NodeMaintenanceOn / ServiceMaintenanceOn. The Services list polls
// CatalogServices and one HealthService per service each second (a bounded
// number at a time); inside a service only that service is polled.
//
// The Events pane (events.go) keeps the agent's recent user events
// current with a blocking EventList and fires new ones from a small form
// (form.go, shared by the panes that need several fields).
//
// The Exec pane (exec.go; not shown with -readonly) composes a remote exec
// job with a live preview of the alive nodes its filters select
// (exec_targets.go: the members and the catalog), asks, then runs it
// through Source.Exec: the callback's events go through a bounded channel
// (a full one holds the stream back, nothing is dropped) and reach Update
// in batches (one per execBatchWindow at most per read), so a flood of
// output makes a few Updates a second, not one per chunk. Each node's
// output is kept to its last ~1 MiB, made safe to draw, wrapped for the
// selected node only and searched (exec_output.go). ctrl+c in the pane
// cancels a running job (its context) rather than quitting; q asks first
// while one runs.
//
// Keys are taken as typed even when they arrive together: Bubble Tea v1
// reads a burst of printable input (a fast typist, tmux send-keys) as one
// key message, which the root splits into its keys (Model.handleKeys);
// keys typed while the editor or a folder listing is still loading wait
// for it. Pasted text is text, never keys.
//
// ACLs (denied.go, token.go, acl.go): the root reads the console's own
// token (ACLTokenReadSelf) at start, each minute, and soon after a pane's
// answer carries a refusal (failedMsg), and the header names it; with
// ACLs off (Consul answers 401, consulx "ACL not found" and empty lists)
// it says nothing. errText shows a refusal as the agent's reason. A read
// whose QueryMeta says ResultsFilteredByACLs marks its pane. A token the
// agent refuses agent:read still counts as connected. The ACL pane polls
// both lists each second while shown; secrets are masked, and v shows one
// as the agent lists it (it hides them from tokens without acl:write).
//
// It must not know how the agent works: it sees the agent only through the
// Source interface, which *api.Client satisfies, so tests and benchmarks
// pass a fake. All I/O happens in tea.Cmd functions with context timeouts;
// Update never blocks.
package tui
