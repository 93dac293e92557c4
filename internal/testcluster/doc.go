// Package testcluster starts real consulx agents in-process on 127.0.0.1
// for tests: free ports, temporary data dirs, tight gossip timings, and
// bounded waits. Every helper fails the test instead of hanging.
package testcluster
