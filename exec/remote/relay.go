package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// MaxJobs bounds the jobs one relay carries at once.
	MaxJobs = 256
	// MaxStreams bounds the streams (initiators' and targets', including
	// those still saying hello) one relay serves at once.
	MaxStreams = 4096
	// maxNodeName bounds a target's name, which tags each of its frames.
	maxNodeName = 256
	// helloTimeout bounds how long a new stream may take to say who it is.
	helloTimeout = 10 * time.Second
)

// initiatorWriteTimeout bounds a write to an initiator that does not read;
// past it the job ends (the agent's HTTP handler gives its own client a
// minute per event). A variable for tests.
var initiatorWriteTimeout = 2 * time.Minute

// Relay joins targets' streams to their job's initiator. Servers run one;
// it holds nothing of a job but the encoded spec and, per target, one
// frame in flight.
type Relay struct {
	// Authorize, if set, decides whether the job's caller (token) may run
	// it on node; a refusal is the node's answer (refused, with the
	// error). The token stays on the relay: targets never see it.
	Authorize func(token, node string) error
	// VerifyNode, if set, checks that a target's stream comes from the
	// node it names (so no one can answer, or report output, for another).
	VerifyNode func(node string, remote net.Addr) error
	// Datacenter is the relay's own. A job for another one is passed on
	// to a relay there: Route lists that datacenter's servers, nearest
	// first, and DialServer opens an exec stream to one (of dc: TLS checks
	// the server name for it).
	Datacenter string
	Route      func(dc string) ([]string, error)
	DialServer func(dc, addr string) (net.Conn, error)
	// Announce announces a job passed on from another datacenter in this
	// one (gossip) and returns the nodes expected to answer.
	Announce func(job string, filters Filters) ([]string, error)

	streams atomic.Int32

	mu     sync.Mutex
	jobs   map[string]*relayJob
	closed bool
}

// relayJob is one registered job.
type relayJob struct {
	spec  []byte // encoded Spec without the token, sent to each target
	token string
	// silence is how long a running target may send nothing.
	silence time.Duration

	wmu       sync.Mutex // serialises frames onto the initiator's stream
	initiator net.Conn

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
	if r.streams.Add(1) > MaxStreams {
		r.streams.Add(-1)
		_ = frameWriter{c}.write(frameError, []byte("too many remote exec streams on this server"))
		return
	}
	defer r.streams.Add(-1)
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
	if h.Datacenter != "" && h.Datacenter != r.Datacenter {
		if h.Announce {
			// Passed on once already and still not there: a wrong route;
			// refuse rather than loop.
			_ = frameWriter{c}.write(frameError, []byte("No path to datacenter"))
			return
		}
		r.passOn(c, fr, h)
		return
	}
	spec := h.Spec.withDefaults()
	token := spec.Token
	spec.Token = ""
	encoded, err := json.Marshal(&spec)
	if err != nil || len(encoded) > maxSpec {
		_ = frameWriter{c}.write(frameError, []byte(fmt.Sprintf("spec too large (%d bytes, at most %d)", len(encoded), maxSpec)))
		return
	}
	j := &relayJob{spec: encoded, token: token, silence: spec.Wait + spec.heartbeatEvery(), initiator: c,
		conns: map[net.Conn]struct{}{c: {}}, nodes: map[string]bool{}}
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
	if err := r.ready(j, h); err != nil {
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

// ready tells the initiator the job is registered. A job from another
// datacenter is announced here first; the stream to the initiator stays
// locked meanwhile, so the targets' answers cannot overtake the ready.
func (r *Relay) ready(j *relayJob, h *hello) error {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	write := func(typ byte, payload []byte) error {
		_ = j.initiator.SetWriteDeadline(time.Now().Add(initiatorWriteTimeout))
		return frameWriter{j.initiator}.write(typ, payload)
	}
	var rd ready
	if h.Announce {
		if r.Announce == nil || h.Filters == nil {
			_ = write(frameError, []byte("this relay cannot announce jobs"))
			return errors.New("cannot announce")
		}
		expected, err := r.Announce(h.Job, *h.Filters)
		if err != nil {
			_ = write(frameError, []byte(err.Error()))
			return err
		}
		rd = ready{Announced: true, Expected: expected}
	}
	payload, _ := json.Marshal(&rd)
	return write(frameReady, payload)
}

// passOn carries a job for another datacenter to a relay there (its
// nearest live server that can be dialled), which announces it in its
// datacenter, and then copies the two streams into each other until
// either ends. It holds nothing but the copy buffers.
func (r *Relay) passOn(c net.Conn, fr *frameReader, h *hello) {
	refuse := func(why string) { _ = frameWriter{c}.write(frameError, []byte(why)) }
	if r.Route == nil || r.DialServer == nil {
		refuse("No path to datacenter")
		return
	}
	addrs, err := r.Route(h.Datacenter)
	if err != nil {
		refuse(err.Error())
		return
	}
	var remote net.Conn
	for _, addr := range addrs {
		if remote, err = r.DialServer(h.Datacenter, addr); err == nil {
			break
		}
	}
	if remote == nil {
		refuse(fmt.Sprintf("no server of %s could be reached: %v", h.Datacenter, err))
		return
	}
	defer remote.Close()
	fwd := *h
	fwd.Announce = true
	if err := (frameWriter{remote}).writeJSON(frameHello, fwd); err != nil {
		refuse(err.Error())
		return
	}
	done := make(chan struct{}, 2)
	go func() {
		// What the initiator sent after its hello (nothing, until it
		// hangs up) is still in fr's buffer.
		_, _ = io.Copy(remote, fr.r)
		remote.Close()
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(c, remote)
		c.Close()
		done <- struct{}{}
	}()
	<-done
	<-done
}

func (r *Relay) serveTarget(c net.Conn, fr *frameReader, h *hello) {
	refuse := func(why string) { _ = frameWriter{c}.write(frameError, []byte(why)) }
	if h.Node == "" || len(h.Node) > maxNodeName {
		refuse("bad node name")
		return
	}
	if r.VerifyNode != nil {
		if err := r.VerifyNode(h.Node, c.RemoteAddr()); err != nil {
			refuse(err.Error())
			return
		}
	}
	r.mu.Lock()
	j := r.jobs[h.Job]
	r.mu.Unlock()
	if j == nil {
		refuse("no such job (it may be over)")
		return
	}
	if err := j.add(c, h.Node); err != nil {
		refuse(err.Error())
		return
	}
	defer j.remove(c)
	node := tag(h.Node)
	if r.Authorize != nil {
		if err := r.Authorize(j.token, h.Node); err != nil {
			refuse(err.Error())
			_ = j.forward(frameRefused, node, []byte(err.Error()))
			return
		}
	}
	if err := (frameWriter{c}).write(frameSpec, j.spec); err != nil {
		_ = j.forward(frameLost, node, []byte("stream failed: "+err.Error()))
		return
	}
	finished := false
	for {
		// A running target sends output or a heartbeat at least every
		// heartbeat period; the deadline is set after the last forward
		// returned, so time spent waiting for a slow initiator does not
		// count against the target.
		_ = c.SetReadDeadline(time.Now().Add(j.silence))
		typ, p, err := fr.read()
		if err != nil {
			if !finished {
				var ne net.Error
				reason := "connection lost before an exit code"
				switch {
				case errors.As(err, &ne) && ne.Timeout():
					reason = fmt.Sprintf("no heartbeat for %s", j.silence)
				case !errors.Is(err, io.EOF):
					reason += ": " + err.Error()
				}
				_ = j.forward(frameLost, node, []byte(reason))
			}
			return
		}
		switch typ {
		case frameAck, frameHeartbeat:
		case frameOutput:
			if len(p) > MaxChunk {
				_ = j.forward(frameLost, node, []byte("protocol error: output chunk too large"))
				return
			}
		case frameExit, frameRefused:
			finished = true
		default:
			continue
		}
		if err := j.forward(typ, node, p); err != nil {
			return // the job is over (ended by the failed write)
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

// send writes one frame onto the initiator's stream. It blocks while the
// initiator reads slowly: that is the backpressure that holds targets
// back, so the relay never queues a job's output. An initiator that
// reads nothing for initiatorWriteTimeout ends the job.
func (j *relayJob) send(typ byte, payload ...[]byte) error {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	_ = j.initiator.SetWriteDeadline(time.Now().Add(initiatorWriteTimeout))
	err := frameWriter{j.initiator}.write(typ, payload...)
	if err != nil {
		j.end()
	}
	return err
}

// forward sends a target's frame, tagged with its node.
func (j *relayJob) forward(typ byte, node, body []byte) error {
	return j.send(typ, node, body)
}
