// Package logstream fans the agent's log lines out to live subscribers
// (the /v1/agent/monitor endpoint, the embedded console's log pane) and
// keeps the most recent lines so a new subscriber sees some history.
// It knows nothing of HTTP or of the console.
package logstream
