// Package testcluster starts real consulx agents in-process on 127.0.0.1
// for tests: free ports (internal/freeport), temporary data dirs, tight
// gossip timings, and bounded waits. Every helper fails the test instead
// of hanging.
//
// Agents are started through agentrun, the same wiring `consulx agent`
// uses, and talked to through api.Client, so tests see what an operator
// sees. Every wait (Eventually, WaitLeader, Scaled deadlines) is stretched
// by CONSULX_TEST_WAIT_SCALE (default 3) for slow machines; waits return as
// soon as their condition holds.
//
// It is test support only: no production package may import it, and it
// holds no rules of the agent's own. Start reading at StartCluster and
// Config in testcluster.go.
package testcluster
