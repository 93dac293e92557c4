// Package freeport picks ports on 127.0.0.1 that are free for both TCP
// and UDP (gossip needs both on one number), for `consulx demo` and the
// tests.
//
// Ports come from below the kernel's ephemeral range rather than from
// binding port 0: a port the kernel hands out for :0 comes from the
// ephemeral range, and once released it can be taken as the source port
// of any outgoing connection (HTTP clients, Raft, gossip) before the agent
// binds it, which failed test runs now and then with "address already in
// use". Below that range only listeners that ask for a number compete.
//
// Test binaries run in parallel (go test runs packages at once), and each
// one used to pick at random from the same range: two could hand out the
// same port. Each process now claims blocks of 64 ports with a lock file
// per block (flock in $TMPDIR/consulx-freeport, dropped by the kernel when
// the process exits) and picks only inside its own blocks.
//
// It imports nothing of ours and knows nothing of agents; a port it
// returns is only likely free, so callers retry a bind that lost the race
// (the demo does). Everything is in freeport.go.
package freeport
