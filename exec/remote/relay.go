package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// MaxJobs bounds the jobs one relay carries at once.
const MaxJobs = 256

// helloTimeout bounds how long a new stream may take to say who it is.
const helloTimeout = 10 * time.Second

// Relay joins targets' streams to their job's initiator. Servers run one;
// it holds nothing of a job but the encoded spec and, per target, one
// frame in flight.
type Relay struct {
	mu     sync.Mutex
	jobs   map[string]*relayJob
	closed bool
}

// relayJob is one registered job.
type relayJob struct {
	spec []byte // encoded Spec, sent to each target

	wmu sync.Mutex // serialises frames onto the initiator's stream
	out frameWriter

	mu    sync.Mutex
	conns map[net.Conn]struct{} // the initiator's and the targets'
	nodes map[string]bool       // the targets that said hello
	over  bool
}

// NewRelay returns an empty relay.
func NewRelay() *Relay { return &Relay{jobs: map[string]*relayJob{}} }

// Jobs is how many jobs the relay carries now.
func (r *Relay) Jobs() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.jobs)
}

// Close ends every job it carries.
func (r *Relay) Close() {
	r.mu.Lock()
	r.closed = true
	jobs := r.jobs
	r.jobs = map[string]*relayJob{}
	r.mu.Unlock()
	for _, j := range jobs {
		j.end()
	}
}

// ServeConn serves one stream (its mux byte already read) until it ends.
func (r *Relay) ServeConn(c net.Conn) {
	defer c.Close()
	fr := newFrameReader(c)
	_ = c.SetReadDeadline(time.Now().Add(helloTimeout))
	typ, p, err := fr.read()
	if err != nil || typ != frameHello {
		return
	}
	var h hello
	if err := json.Unmarshal(p, &h); err != nil || h.Job == "" {
		_ = frameWriter{c}.write(frameError, []byte("bad hello"))
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	switch h.Role {
	case "initiator":
		r.serveInitiator(c, fr, &h)
	case "target":
		r.serveTarget(c, fr, &h)
	default:
		_ = frameWriter{c}.write(frameError, []byte("bad role"))
	}
}

func (r *Relay) serveInitiator(c net.Conn, fr *frameReader, h *hello) {
	if h.Spec == nil {
		_ = frameWriter{c}.write(frameError, []byte("no spec"))
		return
	}
	spec, err := json.Marshal(h.Spec)
	if err != nil || len(spec) > maxSpec {
		_ = frameWriter{c}.write(frameError, []byte(fmt.Sprintf("spec too large (%d bytes, at most %d)", len(spec), maxSpec)))
		return
	}
	j := &relayJob{spec: spec, out: frameWriter{c}, conns: map[net.Conn]struct{}{c: {}}, nodes: map[string]bool{}}
	r.mu.Lock()
	switch {
	case r.closed:
		err = errors.New("relay shutting down")
	case len(r.jobs) >= MaxJobs:
		err = fmt.Errorf("too many remote exec jobs (%d) on this server", MaxJobs)
	case r.jobs[h.Job] != nil:
		err = errors.New("job already registered")
	default:
		r.jobs[h.Job] = j
	}
	r.mu.Unlock()
	if err != nil {
		_ = frameWriter{c}.write(frameError, []byte(err.Error()))
		return
	}
	defer func() {
		r.mu.Lock()
		if r.jobs[h.Job] == j {
			delete(r.jobs, h.Job)
		}
		r.mu.Unlock()
		j.end()
	}()
	j.wmu.Lock()
	err = j.out.write(frameReady)
	j.wmu.Unlock()
	if err != nil {
		return
	}
	// The initiator sends nothing more: its stream ending (done or
	// cancelled) ends the job.
	for {
		if _, _, err := fr.read(); err != nil {
			return
		}
	}
}

func (r *Relay) serveTarget(c net.Conn, fr *frameReader, h *hello) {
	r.mu.Lock()
	j := r.jobs[h.Job]
	r.mu.Unlock()
	if j == nil {
		_ = frameWriter{c}.write(frameError, []byte("no such job (it may be over)"))
		return
	}
	if err := j.add(c, h.Node); err != nil {
		_ = frameWriter{c}.write(frameError, []byte(err.Error()))
		return
	}
	defer j.remove(c)
	if err := (frameWriter{c}).write(frameSpec, j.spec); err != nil {
		j.forward(frameLost, h.Node, []byte("stream failed: "+err.Error()))
		return
	}
	node := tag(h.Node)
	finished := false
	for {
		typ, p, err := fr.read()
		if err != nil {
			if !finished {
				reason := "connection lost before an exit code"
				if !errors.Is(err, io.EOF) {
					reason += ": " + err.Error()
				}
				j.forwardTagged(frameLost, node, []byte(reason))
			}
			return
		}
		switch typ {
		case frameAck, frameOutput, frameHeartbeat:
		case frameExit, frameRefused:
			finished = true
		default:
			continue
		}
		if err := j.forwardTagged(typ, node, p); err != nil {
			return // the initiator is gone; ending the job closes us
		}
	}
}

// add records a target's stream, unless the job is over or the node has
// answered already (a job runs at most once per node).
func (j *relayJob) add(c net.Conn, node string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch {
	case j.over:
		return errors.New("no such job (it may be over)")
	case j.nodes[node]:
		return fmt.Errorf("node %q already answered this job", node)
	}
	j.conns[c] = struct{}{}
	j.nodes[node] = true
	return nil
}

func (j *relayJob) remove(c net.Conn) {
	j.mu.Lock()
	delete(j.conns, c)
	j.mu.Unlock()
}

// end closes every stream of the job: targets take it as cancellation.
func (j *relayJob) end() {
	j.mu.Lock()
	j.over = true
	conns := j.conns
	j.conns = map[net.Conn]struct{}{}
	j.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

func (j *relayJob) forward(typ byte, node string, body []byte) error {
	return j.forwardTagged(typ, tag(node), body)
}

// forwardTagged writes one frame onto the initiator's stream. It blocks
// while the initiator reads slowly: that is the backpressure that holds
// targets back, so the relay never queues a job's output.
func (j *relayJob) forwardTagged(typ byte, node, body []byte) error {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	return j.out.write(typ, node, body)
}
