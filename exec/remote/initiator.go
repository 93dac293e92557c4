package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"time"
)

// Job is a job as its initiator sees it.
type Job struct {
	ID   string
	Spec Spec
	// Announced says the relay announced the job (one in another
	// datacenter), expecting Expected to answer.
	Announced bool
	Expected  []string
	// Reannounce, if set, is called once, half-way through Wait, when
	// some expected nodes have not answered yet: gossip is best effort,
	// and a second announcement reaches nodes the first was slow to
	// (targets ignore a job they already took).
	Reannounce func()
	conn       net.Conn
	fr         *frameReader
}

// Open registers job id with spec on the relay reached through c (already
// dialled, mux byte written) and returns once the relay is ready for the
// targets; only then may the job be announced.
func Open(c net.Conn, id string, spec Spec) (*Job, error) {
	return open(c, hello{Role: "initiator", Job: id}, spec)
}

// OpenIn registers a job that runs in another datacenter, dc: the relay
// reached through c (a server of ours) passes the stream on to a relay of
// dc, which announces the job there with filters. Job.Expected then holds
// the nodes that relay expects to answer.
func OpenIn(c net.Conn, id string, spec Spec, dc string, filters Filters) (*Job, error) {
	return open(c, hello{Role: "initiator", Job: id, Datacenter: dc, Filters: &filters}, spec)
}

func open(c net.Conn, h hello, spec Spec) (*Job, error) {
	spec = spec.withDefaults()
	h.Spec = &spec
	if err := (frameWriter{c}).writeJSON(frameHello, h); err != nil {
		c.Close()
		return nil, fmt.Errorf("remote exec: register the job with the relay: %w", err)
	}
	fr := newFrameReader(c)
	_ = c.SetReadDeadline(time.Now().Add(2 * helloTimeout))
	typ, p, err := fr.read()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("remote exec: register the job with the relay: %w", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	if typ != frameReady {
		c.Close()
		return nil, &RefusedError{Reason: string(p)}
	}
	var r ready
	if len(p) > 0 {
		_ = json.Unmarshal(p, &r)
	}
	return &Job{ID: h.Job, Spec: spec, Expected: r.Expected, Announced: r.Announced, conn: c, fr: fr}, nil
}

// RefusedError is a relay's refusal of a job (its text is the relay's).
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

// Close abandons the job: every target's command is killed.
func (j *Job) Close() error { return j.conn.Close() }

// nodeState is what the initiator knows of one node.
type nodeState struct {
	acked, over bool
}

// incoming is a frame from a target, forwarded by the relay.
type incoming struct {
	typ  byte
	node string
	body []byte
}

// Collect follows the job until it is over, calling fn with every event
// in order, the last being EventDone, which it also returns. expected
// are the nodes the filters select (nil when unknown): the job ends as
// soon as each of them and every node that acknowledged has finished,
// else Spec.Wait after the start (always Wait when none is expected). An
// expected node silent for Wait is reported noack (once the stream is
// quiet: its ack may be queued behind others' output). A running node is
// reported lost by the relay, which sees its stream break or go silent
// (no output, no heartbeat) for Wait plus a heartbeat period; time the
// relay spends waiting for us to read does not count, so a slow reader
// slows the nodes down and never makes them lost. If the relay itself
// goes silent that long while nodes run, they are reported lost here.
// Cancelling ctx ends the job on every node. The job's stream is closed
// when Collect returns.
func (j *Job) Collect(ctx context.Context, expected []string, fn func(Event)) Event {
	defer j.conn.Close()
	start := time.Now()
	fn(Event{Type: EventStart, Job: j.ID, Expected: expected})

	// The reader hands frames over until the stream ends (then readErr
	// gets why, before frames is closed) or Collect returns (stop).
	frames := make(chan incoming, 16)
	readErr := make(chan error, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(frames)
		for {
			typ, p, err := j.fr.read()
			var node string
			var body []byte
			if err == nil {
				node, body, err = untag(p)
			}
			if err != nil {
				readErr <- err
				return
			}
			select {
			case frames <- incoming{typ: typ, node: node, body: append([]byte(nil), body...)}:
			case <-stop:
				return
			}
		}
	}()

	nodes := map[string]*nodeState{}
	var acks, exits int
	relaySilence := 2 * (j.Spec.Wait + j.Spec.heartbeatEvery())
	ackDeadline := start.Add(j.Spec.Wait)
	lastFrame := start
	quietLink := min(j.Spec.Wait/4, 100*time.Millisecond)
	finish := func(node string, ev Event) {
		st := nodes[node]
		if st == nil {
			st = &nodeState{}
			nodes[node] = st
		}
		st.over = true
		fn(ev)
	}
	done := func() Event {
		ev := Event{Type: EventDone, Job: j.ID, Acks: acks, Exits: exits}
		fn(ev)
		return ev
	}
	// over says every node we wait for has finished.
	over := func(now time.Time) bool {
		for _, st := range nodes {
			if !st.over {
				return false
			}
		}
		// With no node expected (or the list unknown, or the catalog not
		// yet showing a node's services) only the wait ends the job:
		// nodes the filters select may still acknowledge.
		if len(expected) == 0 {
			return !now.Before(ackDeadline)
		}
		for _, n := range expected {
			if st := nodes[n]; st == nil || !st.over {
				return false
			}
		}
		return true
	}
	tick := time.NewTicker(min(j.Spec.Wait/4, 100*time.Millisecond))
	defer tick.Stop()
	reannounceAt := start.Add(j.Spec.Wait / 2)
	for {
		select {
		case <-ctx.Done():
			j.conn.Close()
			return done()
		case f, ok := <-frames:
			if !ok {
				err := <-readErr
				reason := "relay connection lost"
				if err != nil && !errors.Is(err, net.ErrClosed) {
					reason += ": " + err.Error()
				}
				for _, n := range sortedOpen(nodes, expected) {
					finish(n, Event{Type: EventLost, Node: n, Reason: reason})
				}
				return done()
			}
			lastFrame = time.Now()
			st := nodes[f.node]
			if st == nil {
				st = &nodeState{}
				nodes[f.node] = st
			}
			if st.over {
				continue // reported already; late frames change nothing
			}
			switch f.typ {
			case frameAck:
				if !st.acked {
					st.acked = true
					acks++
					fn(Event{Type: EventAck, Node: f.node})
				}
			case frameOutput:
				fn(Event{Type: EventOutput, Node: f.node, Data: f.body})
			case frameHeartbeat:
				fn(Event{Type: EventHeartbeat, Node: f.node})
			case frameExit:
				var es exitStatus
				if err := json.Unmarshal(f.body, &es); err != nil {
					es.Code = 1
				}
				exits++
				finish(f.node, Event{Type: EventExit, Node: f.node, Code: es.Code, TimedOut: es.TimedOut, Truncated: es.Truncated})
			case frameRefused:
				finish(f.node, Event{Type: EventRefused, Node: f.node, Reason: string(f.body)})
			case frameLost:
				finish(f.node, Event{Type: EventLost, Node: f.node, Reason: string(f.body)})
			}
		case now := <-tick.C:
			if j.Reannounce != nil && !now.Before(reannounceAt) {
				for _, n := range expected {
					if nodes[n] == nil {
						j.Reannounce()
						break
					}
				}
				j.Reannounce = nil
			}
			// An ack may wait behind other nodes' output when we read
			// slowly; the relay has sent everything it holds once the
			// stream has been quiet for a moment.
			if !now.Before(ackDeadline) && now.Sub(lastFrame) >= quietLink {
				for _, n := range expected {
					if nodes[n] == nil {
						finish(n, Event{Type: EventNoAck, Node: n})
					}
				}
			}
			// Running nodes send a heartbeat at least every second, so a
			// relay silent this long has stopped relaying.
			if open := sortedOpen(nodes, nil); len(open) > 0 && now.Sub(lastFrame) > relaySilence {
				for _, n := range open {
					finish(n, Event{Type: EventLost, Node: n, Reason: fmt.Sprintf("the relay sent nothing for %s", relaySilence)})
				}
			}
		}
		if over(time.Now()) {
			return done()
		}
	}
}

// sortedOpen lists the nodes not yet finished, known or expected, sorted.
func sortedOpen(nodes map[string]*nodeState, expected []string) []string {
	var out []string
	for n, st := range nodes {
		if !st.over {
			out = append(out, n)
		}
	}
	for _, n := range expected {
		if nodes[n] == nil {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
