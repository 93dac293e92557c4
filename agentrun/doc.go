// Package agentrun assembles a running agent: a node.Agent plus its HTTP
// listener (httpapi, with parked blocking queries handed back to the
// listener for keep-alive), its DNS server and the log stream that feeds
// /v1/agent/monitor. The `consulx agent` and `consulx demo` commands and
// the in-process test cluster all start agents through it, so tests
// exercise the same wiring operators run.
//
// It wires packages together and owns the listeners' lifecycle; it holds
// no API logic and no state rules of its own (those are httpapi's and
// node's).
package agentrun
