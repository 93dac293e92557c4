// Package logstream fans the agent's log lines out to live subscribers
// (the /v1/agent/monitor endpoint, the embedded console's log pane) and
// keeps the most recent lines so a new subscriber sees some history.
//
// A Broadcaster is the io.Writer the agent's logger writes to: it splits
// the stream into lines, keeps the last N in a ring, and never blocks the
// logger on a slow subscriber (lines it cannot take are dropped for it).
// LevelOf and AtLeast filter by hclog level.
//
// It imports nothing of ours and must know nothing of HTTP, the agent or
// the console; everything is in logstream.go.
package logstream
