// Package exec is consulx's one way to run another program: script
// checks, the child of `consulx lock`, watch handlers and remote exec
// (package exec/remote, which streams a command's output with Spec.Stream)
// all go through it.
//
// It owns what is easy to get wrong with os/exec:
//
//   - every process runs in its own process group, so a timeout, a
//     cancelled context or Process.Stop reaches the grandchildren that
//     `sh -c` leaves behind, not just the shell;
//   - waiting is bounded: a grandchild that keeps the output pipe open
//     after the process exits holds Run up for WaitDelay at most, then its
//     group is killed and the pipe closed;
//   - output is captured up to a byte cap and the rest is read and
//     dropped, so a flood neither blocks the child nor grows memory; or
//     it is handed to Spec.Stream as it is read, where a slow stream
//     slows the child (its pipe fills) and drops nothing;
//   - the result says how the process ended: exit code, or the signal that
//     killed it, whether it timed out, whether output was dropped.
//
// Run is for short jobs whose combined output is wanted (checks, handlers);
// Start is for a long-running child with its own stdio that the caller
// signals (lock).
//
// It must not know who runs what or why: nothing about checks, health
// states, locks, sessions, the agent or the API belongs here; callers map a
// Result to their own meaning. Process groups and the parent-death signal
// make it Linux-specific, as consulx is.
package exec
