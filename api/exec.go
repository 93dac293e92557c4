package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// ExecRequest is a remote exec job as PUT /v1/exec takes it (a consulx
// endpoint: Consul's exec goes through KV and sessions instead).
type ExecRequest struct {
	// Command is run with the target's shell (sh -c); Args, when set
	// instead, is run directly without a shell.
	Command string   `json:",omitempty"`
	Args    []string `json:",omitempty"`
	// NodeFilter, ServiceFilter and TagFilter are regular expressions, as
	// consul exec's -node, -service and -tag.
	NodeFilter    string `json:",omitempty"`
	ServiceFilter string `json:",omitempty"`
	TagFilter     string `json:",omitempty"`
	// Wait is how long to wait for nodes to acknowledge the job, and for
	// a running node's heartbeat (default 2s, consul exec's -wait).
	Wait time.Duration `json:",omitempty"`
	// Timeout kills the command (its whole process group) on each node
	// after this long; 0 means none.
	Timeout time.Duration `json:",omitempty"`
	// MaxOutput caps each node's output in bytes (0 means the default,
	// 1 MiB); what is beyond it is dropped and a marker says so.
	MaxOutput int `json:",omitempty"`
}

// Types of ExecEvent, in the order a node normally sends them.
const (
	ExecStart     = "start"     // the job is announced; Expected lists the nodes that should answer
	ExecAck       = "ack"       // a node took the job
	ExecOutput    = "output"    // a chunk of a node's combined stdout and stderr
	ExecHeartbeat = "heartbeat" // a running node is alive but quiet
	ExecExit      = "exit"      // a node's command ended: Code, TimedOut, Truncated
	ExecRefused   = "refused"   // a node will not run it: Reason (e.g. remote exec disabled)
	ExecLost      = "lost"      // a node that acknowledged went away before its exit code
	ExecNoAck     = "noack"     // an expected node never acknowledged within Wait
	ExecDone      = "done"      // the job is over: Acks and Exits counted
)

// ExecEvent is one line of PUT /v1/exec's streamed answer.
type ExecEvent struct {
	Type string
	Node string `json:",omitempty"`
	// Job is the job's ID (start).
	Job string `json:",omitempty"`
	// Expected are the nodes the job's filters select (start).
	Expected []string `json:",omitempty"`
	// Data is output (output).
	Data []byte `json:",omitempty"`
	// Code is the exit code, 128+signal for a killed process (exit).
	Code int `json:",omitempty"`
	// TimedOut says the Timeout killed the command (exit).
	TimedOut bool `json:",omitempty"`
	// Truncated says output beyond MaxOutput was dropped (exit).
	Truncated bool `json:",omitempty"`
	// Reason explains refused and lost.
	Reason string `json:",omitempty"`
	// Acks and Exits count nodes that acknowledged and that reported an
	// exit code (done).
	Acks  int `json:",omitempty"`
	Exits int `json:",omitempty"`
}

// Exec runs a remote exec job through the agent and calls fn with every
// event as it arrives, ending with the done event. Cancelling ctx cancels
// the job on every node (their commands' process groups are killed).
func (c *Client) Exec(ctx context.Context, req *ExecRequest, datacenter string, fn func(ExecEvent)) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	// Running nodes send a heartbeat every second and the agent ends the
	// job within Wait when nodes go quiet, so a stream silent much longer
	// than that means the agent itself is stuck: give up on it.
	idle := 3*max(req.Wait, 2*time.Second) + 10*time.Second
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stalled atomic.Bool
	watchdog := time.AfterFunc(idle, func() { stalled.Store(true); cancel() })
	defer watchdog.Stop()
	u := c.base + "/v1/exec"
	if datacenter != "" {
		u += "?dc=" + url.QueryEscape(datacenter)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if err := c.setToken(hreq); err != nil {
		return err
	}
	resp, err := c.send(hreq)
	if err != nil {
		if stalled.Load() {
			return fmt.Errorf("exec: the agent sent nothing for %s", idle)
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return &StatusError{Code: resp.StatusCode, Body: string(data)}
	}
	sc := bufio.NewScanner(resp.Body)
	// An output event carries at most one chunk (64 KiB) base64-encoded.
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	done := false
	for sc.Scan() {
		watchdog.Reset(idle)
		var ev ExecEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return fmt.Errorf("decode exec event: %w", err)
		}
		fn(ev)
		done = done || ev.Type == ExecDone
	}
	if err := sc.Err(); err != nil {
		if stalled.Load() {
			return fmt.Errorf("exec: the agent sent nothing for %s", idle)
		}
		return err
	}
	if !done {
		return fmt.Errorf("exec: the agent ended the stream before the job was done")
	}
	return nil
}
