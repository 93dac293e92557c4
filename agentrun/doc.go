// Package agentrun assembles a running agent: a node.Agent plus its HTTP
// listener (and, later, DNS). Both the `consulx agent` command and the
// in-process test cluster start agents through it, so tests exercise the
// same wiring operators run.
package agentrun
