// Package remote is consulx's remote exec: the job spec, the wire
// protocol, the relay that servers run, the runner on each target node
// and the initiator that collects a job's answers.
//
// The design keeps Consul's command line and output but not its
// transport. Consul stores the spec, acks, every output chunk and exit
// codes in KV, so each chunk is a Raft write: collecting logs with exec
// bloats the servers' memory and Raft data. Here nothing of a job passes
// through Raft or KV:
//
//   - the initiating agent opens a stream to a server's RPC port (8300)
//     and registers the job there; that server is the job's relay;
//   - a gossip user event (8301) announces the job ID, the relay's address
//     and the node/service/tag filters, never the command or the token;
//   - each matching node dials the relay (agents already reach servers on
//     8300), receives the spec, acknowledges, runs the command through
//     consulx/exec and streams output chunks, heartbeats and its exit code;
//   - the relay forwards each node's frames onto the initiator's stream,
//     one frame at a time: it holds at most one frame (≤ 64 KiB) per node,
//     so a slow initiator slows the targets' commands through TCP
//     backpressure instead of growing anyone's memory;
//   - the initiator closing its stream (the job is over, or cancelled)
//     makes the relay close every target's stream, and each target kills
//     its command's whole process group.
//
// The package knows nothing of serf, Raft or HTTP: the agent (package
// node) dials, announces over gossip, decides who is expected to answer
// and where output goes. It depends only on consulx/exec.
package remote
