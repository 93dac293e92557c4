// Package tui is consulx's terminal ops console: the Bubble Tea program
// behind `consulx tui` and the console `consulx agent` shows on a terminal.
//
// It owns the panes (LAN members, WAN members, KV browser, Raft status,
// log, services with their instances and checks), their key map, the
// generated key documentation (KeyDocs) and the confirmation dialogs in
// front of every destructive action and maintenance toggle.
//
// While a pane that shows nodes is active (Members, Services) the root
// polls the critical checks (HealthState) for the maintenance checks and
// marks nodes and instances in maintenance; m toggles it through
// NodeMaintenanceOn / ServiceMaintenanceOn. The Services list polls
// CatalogServices and one HealthService per service each second (a bounded
// number at a time); inside a service only that service is polled.
//
// Keys are taken as typed even when they arrive together: Bubble Tea v1
// reads a burst of printable input (a fast typist, tmux send-keys) as one
// key message, which the root splits into its keys (Model.handleKeys);
// keys typed while the editor or a folder listing is still loading wait
// for it. Pasted text is text, never keys.
//
// It must not know how the agent works: it sees the agent only through the
// Source interface, which *api.Client satisfies, so tests and benchmarks
// pass a fake. All I/O happens in tea.Cmd functions with context timeouts;
// Update never blocks.
package tui
