package node

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hashicorp/serf/serf"

	"consulx/store"
)

// Session limits: the maximum TTL (the minimum is session_ttl_min).
const (
	sessionTTLMax = 24 * time.Hour
	// sessionTTLMultiplier: a session expires at twice its TTL, so a
	// client renewing at TTL/2 survives a missed renewal.
	sessionTTLMultiplier = 2
	serfHealthCheck      = "serfHealth"
)

// sessionTimers are the leader's TTL timers; a new leader restarts them all.
type sessionTimers struct {
	mu     sync.Mutex
	timers map[string]*time.Timer
}

func (t *sessionTimers) reset(id string, d time.Duration, expire func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.timers == nil {
		t.timers = map[string]*time.Timer{}
	}
	if old, ok := t.timers[id]; ok {
		old.Stop()
	}
	t.timers[id] = time.AfterFunc(d, expire)
}

func (t *sessionTimers) clear(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.timers[id]; ok {
		old.Stop()
		delete(t.timers, id)
	}
}

func (t *sessionTimers) clearAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, tm := range t.timers {
		tm.Stop()
		delete(t.timers, id)
	}
}

// validateSession normalises a create request the way Consul does.
func (s *server) validateSession(sess *store.Session) error {
	if sess.Node == "" {
		return &BadRequestError{Msg: "Missing node for session"}
	}
	switch sess.Behavior {
	case "":
		sess.Behavior = store.BehaviorRelease
	case store.BehaviorRelease, store.BehaviorDelete:
	default:
		return &BadRequestError{Msg: fmt.Sprintf("Invalid Behavior setting '%s'", sess.Behavior)}
	}
	if sess.TTL != "" {
		ttl, err := time.ParseDuration(sess.TTL)
		if err != nil {
			return &BadRequestError{Msg: fmt.Sprintf("Session TTL '%s' invalid: %v", sess.TTL, err)}
		}
		if ttl != 0 && (ttl < s.cfg.SessionTTLMin || ttl > sessionTTLMax) {
			return &BadRequestError{Msg: fmt.Sprintf("Invalid Session TTL '%d', must be between [%v=%v]", ttl, s.cfg.SessionTTLMin, sessionTTLMax)}
		}
	}
	if sess.Checks != nil && sess.NodeChecks == nil {
		sess.NodeChecks = sess.Checks
	}
	catChecks, _, _ := s.store.Checks(sess.Node, "", "")
	for _, c := range sess.NodeChecks {
		if c == serfHealthCheck {
			continue
		}
		found := false
		for _, cc := range catChecks {
			if cc.CheckID == c {
				found = true
				if cc.Status == store.HealthCritical {
					return fmt.Errorf("Check '%s' is in critical state", c)
				}
			}
		}
		if !found {
			return fmt.Errorf("Missing check '%s' registration", c)
		}
	}
	sess.Checks = sess.NodeChecks
	alive := false
	for _, m := range s.lan.Members() {
		if m.Name == sess.Node {
			alive = m.Status == serf.StatusAlive
		}
	}
	if !alive && slices.Contains(sess.NodeChecks, serfHealthCheck) {
		return fmt.Errorf("Check '%s' is in critical state: node '%s' is not alive", serfHealthCheck, sess.Node)
	}
	return nil
}

// resetSessionTimer (re)starts the TTL timer of a session on the leader.
func (s *server) resetSessionTimer(sess *store.Session) {
	ttl, err := time.ParseDuration(sess.TTL)
	if sess.TTL == "" || err != nil || ttl == 0 {
		return
	}
	id := sess.ID
	s.sessionTimers.reset(id, ttl*sessionTTLMultiplier, func() { s.invalidateSession(id, "TTL expired") })
}

// invalidateSession destroys a session through Raft (leader only).
func (s *server) invalidateSession(id, why string) {
	s.sessionTimers.clear(id)
	if s.raft.State() != raft.Leader {
		return
	}
	if _, _, err := s.raftApply(store.SessionCommand, &store.SessionRequest{Op: store.SessionDestroy, Session: store.Session{ID: id}}); err != nil {
		s.logger.Error("failed to invalidate session; retrying", "session", id, "reason", why, "error", err)
		if s.raft.State() == raft.Leader {
			s.sessionTimers.reset(id, time.Second, func() { s.invalidateSession(id, why) })
		}
		return
	}
	s.logger.Info("session invalidated", "session", id, "reason", why)
}

// startSessionTimers runs when this server becomes leader: every session
// with a TTL gets a fresh timer, as in Consul.
func (s *server) startSessionTimers() {
	sessions, _, err := s.store.SessionList("")
	if err != nil {
		s.logger.Error("cannot list sessions to start TTL timers", "error", err)
		return
	}
	for i := range sessions {
		s.resetSessionTimer(&sessions[i])
	}
}

// invalidateSessionsOfDeadNodes destroys sessions tied (through
// serfHealth) to nodes that failed or left.
func (s *server) invalidateSessionsOfDeadNodes() {
	if s.raft.State() != raft.Leader {
		return
	}
	status := map[string]serf.MemberStatus{}
	for _, m := range s.lan.Members() {
		status[m.Name] = m.Status
	}
	sessions, _, err := s.store.SessionList("")
	if err != nil {
		return
	}
	for _, sess := range sessions {
		if slices.Contains(sess.NodeChecks, serfHealthCheck) {
			// A node gossip does not know (yet) is not judged: a new
			// leader's member list may still be converging, and dropping
			// every lock in the cluster on a guess would be worse than
			// waiting.
			if st, ok := status[sess.Node]; ok && (st == serf.StatusFailed || st == serf.StatusLeft) {
				s.invalidateSession(sess.ID, fmt.Sprintf("node %s is no longer alive", sess.Node))
				continue
			}
		}
		// Any other check of the session going critical (or away)
		// invalidates it too, as in Consul.
		var checks []store.HealthCheck
		for _, c := range sess.NodeChecks {
			if c == serfHealthCheck {
				continue
			}
			if checks == nil {
				checks, _, _ = s.store.Checks(sess.Node, "", "")
			}
			if why := sessionCheckFailure(checks, c); why != "" {
				s.invalidateSession(sess.ID, why)
				break
			}
		}
	}
}

// sessionCheckFailure says why check id invalidates a session ("" if it
// does not): it is critical or no longer registered.
func sessionCheckFailure(checks []store.HealthCheck, id string) string {
	for _, c := range checks {
		if c.CheckID == id {
			if c.Status == store.HealthCritical {
				return fmt.Sprintf("check %s is critical", id)
			}
			return ""
		}
	}
	return fmt.Sprintf("check %s was deregistered", id)
}
