package node

// Remote exec, the agent's half (the protocol is exec/remote's). Servers
// relay jobs on their server port; any agent can start a job and run
// jobs. The spec and the output never touch Raft or KV: gossip carries a
// small announcement, the relay a stream.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"

	"consulx/exec/remote"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/go-uuid"
	"github.com/hashicorp/serf/serf"
)

// execEventName is the serf user event that announces a job (outside the
// consul:event: namespace, so it is not listed as a user event).
const execEventName = "consulx:rexec"

// maxAnnouncedFilters bounds a job's encoded filters, so its announcement
// fits a gossip packet with room to spare.
const maxAnnouncedFilters = 900

// maxTargetJobs bounds the jobs one agent runs at once; announcements
// beyond it are logged and dropped (the initiator reports the node as
// not acknowledging).
const maxTargetJobs = 32

// ExecRequest is a remote exec job as the agent takes it.
type ExecRequest struct {
	Spec    remote.Spec
	Filters remote.Filters
}

// ExecAuthorizer is implemented by an Authorizer that guards remote exec:
// a target node asks it before running a job with the caller's token.
type ExecAuthorizer interface {
	AuthorizeExec(ctx context.Context, token, node string) error
}

// verifyNodeWait bounds how long the relay waits for a node it does not
// know yet to appear in its gossip pool.
const verifyNodeWait = 2 * time.Second

// serveRelay hands the server port's exec streams to the relay.
func serveRelay(ln net.Listener, relay *remote.Relay) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go relay.ServeConn(c)
	}
}

// dialExec opens an exec stream to a server's port (through TLS with
// verify_outgoing).
func (a *Agent) dialExec(ctx context.Context, addr string) (net.Conn, error) {
	return a.dialer.dial(ctx, addr, rpcExec)
}

// Exec runs a job on every node its filters select and calls fn with each
// event as it arrives, the last being remote.EventDone. Cancelling ctx
// cancels the job on every node.
func (a *Agent) Exec(ctx context.Context, req *ExecRequest, datacenter string, fn func(remote.Event)) error {
	if datacenter == a.cfg.Datacenter {
		datacenter = ""
	}
	if req.Spec.Token == "" {
		req.Spec.Token = a.tokens.user()
	}
	if err := remote.Validate(&req.Spec, req.Filters); err != nil {
		return &BadRequestError{Msg: err.Error()}
	}
	if a.hooks.acl.enabled() {
		// Before anything is announced: a token that may not fire the
		// job's event learns nothing of which nodes would have run it.
		id, err := a.Resolve(ctx, req.Spec.Token)
		if err != nil {
			return err
		}
		if !id.Authz.EventWrite("_rexec") {
			return Denied(id.Authz, "event:write", "_rexec")
		}
	}
	// Gossip carries a user event in one UDP packet (about 1400 bytes);
	// a larger one would spread only with the occasional full sync, so
	// nodes would seem not to answer.
	if f, _ := json.Marshal(req.Filters); len(f) > maxAnnouncedFilters {
		return &BadRequestError{Msg: fmt.Sprintf("The node, service and tag filters are too long to announce over gossip (%d bytes, at most %d): use a shorter regular expression", len(f), maxAnnouncedFilters)}
	}
	id, err := uuid.GenerateUUID()
	if err != nil {
		return err
	}
	spec := req.Spec
	spec.Origin = a.cfg.NodeName + "@" + a.cfg.Datacenter
	job, relay, err := a.openJob(ctx, id, spec, datacenter, req.Filters)
	if err != nil {
		var re *remote.RefusedError
		if errors.As(err, &re) && re.Reason == ErrNoPathToDatacenter.Error() {
			return ErrNoPathToDatacenter
		}
		return err
	}
	if job.Announced {
		// Another datacenter's relay announced it there.
		a.logger.Info("remote exec job started in another datacenter", "job", id, "datacenter", datacenter, "expected", len(job.Expected))
		job.Collect(ctx, job.Expected, fn)
		return nil
	}
	expected, err := a.announceJob(ctx, id, relay, spec.Origin, req.Filters)
	if err != nil {
		job.Close()
		return err
	}
	job.Reannounce = func() {
		ann, _ := json.Marshal(remote.Announcement{Job: id, Relay: relay, Origin: spec.Origin, Filters: req.Filters})
		if err := a.lan.UserEvent(execEventName, ann, false); err != nil {
			a.logger.Warn("remote exec: could not announce the job again", "job", id, "error", err)
		}
	}
	a.logger.Info("remote exec job started", "job", id, "relay", relay, "expected", len(expected))
	job.Collect(ctx, expected, fn)
	return nil
}

// announceJob tells this datacenter's agents about a job relayed by
// relay: a serf user event, and the same event pushed straight to each
// node expected to answer, which it returns.
func (a *Agent) announceJob(ctx context.Context, id, relay, origin string, filters remote.Filters) ([]string, error) {
	expected, err := a.execTargets(ctx, filters)
	if err != nil {
		// Without the list the job still runs; it just waits for Wait.
		a.logger.Warn("remote exec: could not list the target nodes", "error", err)
	}
	ann, err := json.Marshal(remote.Announcement{Job: id, Relay: relay, Origin: origin, Filters: filters})
	if err != nil {
		return nil, err
	}
	ltime, _ := strconv.ParseUint(a.lan.Stats()["event_time"], 10, 64)
	if err := a.lan.UserEvent(execEventName, ann, false); err != nil {
		return nil, fmt.Errorf("announce remote exec job: %w", err)
	}
	a.pushAnnouncement(serf.LamportTime(ltime), ann, expected)
	return expected, nil
}

// serfUserEventMsg is serf's wire form of a user event (its
// messageUserEvent, after the message type byte 3): the protocol every
// serf version speaks, so peers take a copy sent straight to them as the
// event gossip brings.
type serfUserEventMsg struct {
	LTime   serf.LamportTime
	Name    string
	Payload []byte
	CC      bool
}

const serfUserEventType = 3

// pushAnnouncement hands a job's announcement straight to each expected
// node over the gossip port (one UDP packet each, best effort), as the
// very user event gossip is spreading: with Consul's LAN gossip (3 nodes
// every 200 ms) reaching 100 nodes takes about a second, a packet each
// takes milliseconds. Gossip still covers a lost packet; serf drops the
// copy it has already seen (same time, name and payload), and a target
// takes a job once anyway.
func (a *Agent) pushAnnouncement(ltime serf.LamportTime, payload []byte, nodes []string) {
	var buf bytes.Buffer
	buf.WriteByte(serfUserEventType)
	if err := codec.NewEncoder(&buf, &codec.MsgpackHandle{}).Encode(&serfUserEventMsg{LTime: ltime, Name: execEventName, Payload: payload}); err != nil {
		return
	}
	want := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		want[n] = n != a.cfg.NodeName // serf delivered it here already
	}
	for _, m := range a.lan.Memberlist().Members() {
		if want[m.Name] {
			_ = a.lan.Memberlist().SendBestEffort(m, buf.Bytes())
		}
	}
}

// recentJobs remembers the jobs this agent took, so a job announced again
// (or delivered twice by gossip) runs once.
type recentJobs struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// first reports whether job is new, and remembers it.
func (r *recentJobs) first(job string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.seen == nil {
		r.seen = map[string]time.Time{}
	}
	if _, ok := r.seen[job]; ok {
		return false
	}
	if len(r.seen) >= 1024 {
		for id, at := range r.seen {
			if now.Sub(at) > 10*time.Minute {
				delete(r.seen, id)
			}
		}
	}
	r.seen[job] = now
	return true
}

// openJob registers the job with a relay: this server, or a live server of
// the datacenter for a client (trying the next one if one cannot be
// reached).
func (a *Agent) openJob(ctx context.Context, id string, spec remote.Spec, dc string, filters remote.Filters) (*remote.Job, string, error) {
	open := func(c net.Conn) (*remote.Job, error) {
		if dc != "" {
			return remote.OpenIn(c, id, spec, dc, filters)
		}
		return remote.Open(c, id, spec)
	}
	if a.srv != nil {
		c, err := a.dialExec(ctx, a.srv.execAddr)
		if err != nil {
			return nil, "", fmt.Errorf("remote exec: reach this server's relay: %w", err)
		}
		job, err := open(c)
		return job, a.srv.execAddr, err
	}
	tried := map[string]bool{}
	var lastErr error = ErrNoServers
	for range 3 {
		addr := a.pickServer(tried)
		if addr == "" {
			break
		}
		tried[addr] = true
		c, err := a.dialExec(ctx, addr)
		if err != nil {
			lastErr = err
			continue
		}
		job, err := open(c)
		var re *remote.RefusedError
		if errors.As(err, &re) {
			return nil, "", err // the relay's answer, not a failure to reach it
		}
		if err != nil {
			lastErr = err
			continue
		}
		return job, addr, nil
	}
	return nil, "", fmt.Errorf("remote exec: no server to relay the job: %w", lastErr)
}

// execTargets lists the alive nodes the filters select, as the targets
// themselves decide: node name, and a local service (and tag) matching.
func (a *Agent) execTargets(ctx context.Context, f remote.Filters) ([]string, error) {
	nodeRe, err := regexp.Compile(f.Node)
	if err != nil {
		return nil, err
	}
	alive := map[string]bool{}
	for _, m := range a.lan.Members() {
		if m.Status == serf.StatusAlive && nodeRe.MatchString(m.Name) {
			alive[m.Name] = true
		}
	}
	if f.Service != "" {
		withService, err := a.nodesWithService(ctx, f.Service, f.Tag)
		if err != nil {
			return nil, err
		}
		for n := range alive {
			if !withService[n] {
				delete(alive, n)
			}
		}
	}
	out := make([]string, 0, len(alive))
	for n := range alive {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// nodesWithService finds the nodes with a service whose name matches
// service and, if tag is set, with a tag matching it (a stale catalog
// read: the filters are applied by gossip anyway).
func (a *Agent) nodesWithService(ctx context.Context, service, tag string) (map[string]bool, error) {
	svcRe, err := regexp.Compile(service)
	if err != nil {
		return nil, err
	}
	var tagRe *regexp.Regexp
	if tag != "" {
		if tagRe, err = regexp.Compile(tag); err != nil {
			return nil, err
		}
	}
	stale := QueryOptions{Consistency: ModeStale}
	svcs, err := a.reads.Services.Read(ctx, &ServicesRequest{QueryOptions: stale})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for name := range svcs.Services {
		if !svcRe.MatchString(name) {
			continue
		}
		inst, err := a.reads.ServiceNodes.Read(ctx, &ServiceNodesRequest{Service: name, QueryOptions: stale})
		if err != nil {
			return nil, err
		}
		for _, in := range inst.Instances {
			if tagRe == nil || anyMatch(tagRe, in.Service.Tags) {
				out[in.Node.Node] = true
			}
		}
	}
	return out, nil
}

func anyMatch(re *regexp.Regexp, ss []string) bool {
	for _, s := range ss {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// handleExecAnnouncement runs a job gossip announced, when its filters
// select this node: it dials the relay named in the announcement, which
// must be a live server of our datacenter, and runs or refuses the job.
func (a *Agent) handleExecAnnouncement(e serf.UserEvent) {
	var ann remote.Announcement
	if err := json.Unmarshal(e.Payload, &ann); err != nil {
		a.logger.Warn("dropping a remote exec announcement that does not decode", "error", err)
		return
	}
	if !a.matchesFilters(ann.Filters.Node, ann.Filters.Service, ann.Filters.Tag) || !a.execSeen.first(ann.Job) {
		return
	}
	if !a.isLiveServer(ann.Relay) {
		a.logger.Warn("remote exec: ignoring a job whose relay is not a live server of this datacenter", "job", ann.Job, "relay", ann.Relay, "origin", ann.Origin)
		return
	}
	if a.execJobs.Add(1) > maxTargetJobs {
		a.execJobs.Add(-1)
		a.logger.Warn("remote exec: too many jobs running, not taking this one", "job", ann.Job, "origin", ann.Origin, "limit", maxTargetJobs)
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer a.execJobs.Add(-1)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-a.shutdownCh:
				cancel()
			case <-ctx.Done():
			}
		}()
		c, err := a.dialExec(ctx, ann.Relay)
		if err != nil {
			a.logger.Warn("remote exec: cannot reach the job's relay", "job", ann.Job, "relay", ann.Relay, "error", err)
			return
		}
		t := &remote.Target{Node: a.cfg.NodeName, Enabled: !a.cfg.DisableRemoteExec, Logger: a.logger.Named("exec")}
		if err := t.Serve(ctx, c, ann.Job); err != nil && !errors.Is(err, context.Canceled) {
			a.logger.Warn("remote exec job ended with an error", "job", ann.Job, "origin", ann.Origin, "error", err)
		}
	}()
}

// newRelay is a server's relay: the installed authorizer, if it guards
// exec, decides per node with the caller's token (which never leaves the
// server), and a target must be the member it names, from its address.
func newRelay(h *hooks, d *serverDialer, dc string, lan func() memberLister, announce func(job string, f remote.Filters) ([]string, error)) *remote.Relay {
	r := remote.NewRelay()
	r.Datacenter = dc
	r.Route = h.serversIn
	r.DialServer = func(dc, addr string) (net.Conn, error) {
		return d.dial(withServerDC(context.Background(), dc), addr, rpcExec)
	}
	r.Announce = announce
	r.Authorize = func(token, node string) error {
		if h.acl.enabled() {
			// agent:write on the target and event:write for the job's
			// announcement (Consul's "_rexec" event).
			id, err := h.acl.resolve(context.Background(), token)
			if err != nil {
				return err
			}
			if !id.Authz.AgentWrite(node) {
				return denied(id.Authz, "agent:write", node)
			}
			if !id.Authz.EventWrite("_rexec") {
				return denied(id.Authz, "event:write", "_rexec")
			}
		}
		z := h.authorizer.Load()
		if z == nil {
			return nil
		}
		if ea, ok := (*z).(ExecAuthorizer); ok {
			return ea.AuthorizeExec(context.Background(), token, node)
		}
		return nil
	}
	r.VerifyNode = func(node string, remoteAddr net.Addr) error {
		tcp, _ := remoteAddr.(*net.TCPAddr)
		// A node that joined a moment ago may not have reached this
		// server's view of the pool yet: wait for it, briefly (bounded),
		// rather than refuse the first job after a join.
		deadline := time.Now().Add(verifyNodeWait)
		for {
			pool := lan()
			if pool == nil {
				return errors.New("gossip is not up yet")
			}
			for _, m := range pool.Members() {
				if m.Name != node {
					continue
				}
				if tcp != nil && m.Addr.Equal(tcp.IP) {
					return nil
				}
				return fmt.Errorf("node %q is not at %s", node, remoteAddr)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("node %q is not a member of this datacenter", node)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return r
}

// isLiveServer says addr is the server port of a live server of our
// datacenter.
func (a *Agent) isLiveServer(addr string) bool {
	for _, m := range a.lan.Members() {
		if info, ok := a.parseServer(m); ok && m.Status == serf.StatusAlive && info.addr == addr {
			return true
		}
	}
	return false
}
