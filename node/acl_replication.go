package node

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"consulx/acl"
	"consulx/store"
)

// ACL replication: the leader of a secondary datacenter copies the
// primary's policies (and, with acl.enable_token_replication, its global
// tokens) into its own Raft state, using the agent's replication token.
// It blocks on the primary's ACL index, so a change there reaches the
// secondary within one round trip.

// ACLReplicationStatus is GET /v1/acl/replication, in Consul's shape.
type ACLReplicationStatus struct {
	Enabled              bool
	Running              bool
	SourceDatacenter     string
	ReplicationType      string
	ReplicatedIndex      uint64
	ReplicatedRoleIndex  uint64
	ReplicatedTokenIndex uint64
	LastSuccess          time.Time
	LastError            time.Time
	LastErrorMessage     string
	QueryMeta            `json:"-"`
}

type aclReplicator struct {
	mu     sync.Mutex
	status ACLReplicationStatus
	stop   context.CancelFunc
	kick   chan struct{}
}

// replicationEnabled: a secondary datacenter's server with ACLs on.
func (s *server) replicationEnabled() bool {
	return s.hooks.acl.enabled() && s.cfg.Datacenter != s.cfg.PrimaryDatacenter
}

func (s *server) replicationStatus() ACLReplicationStatus {
	s.repl.mu.Lock()
	defer s.repl.mu.Unlock()
	st := s.repl.status
	st.Enabled = s.replicationEnabled()
	if st.Enabled {
		st.SourceDatacenter = s.cfg.PrimaryDatacenter
		st.ReplicationType = "policies"
		if s.cfg.ACL.EnableTokenReplication {
			st.ReplicationType = "tokens"
		}
	}
	return st
}

// startACLReplication runs on a new leader; stopACLReplication when
// leadership is lost.
func (s *server) startACLReplication() {
	if !s.replicationEnabled() {
		return
	}
	s.repl.mu.Lock()
	defer s.repl.mu.Unlock()
	if s.repl.stop != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.repl.stop = cancel
	s.repl.kick = make(chan struct{}, 1)
	s.repl.status.Running = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.replicateACLs(ctx, s.repl.kick)
	}()
}

func (s *server) stopACLReplication() {
	s.repl.mu.Lock()
	defer s.repl.mu.Unlock()
	if s.repl.stop != nil {
		s.repl.stop()
		s.repl.stop = nil
	}
	s.repl.status.Running = false
}

// triggerACLReplication wakes the loop (the replication token changed).
func (s *server) triggerACLReplication() {
	s.repl.mu.Lock()
	defer s.repl.mu.Unlock()
	if s.repl.kick != nil {
		select {
		case s.repl.kick <- struct{}{}:
		default:
		}
	}
}

func (s *server) replicateACLs(ctx context.Context, kick <-chan struct{}) {
	var index uint64
	backoff := 250 * time.Millisecond
	for ctx.Err() == nil {
		idx, err := s.replicateOnce(ctx, index)
		if ctx.Err() != nil {
			return
		}
		s.repl.mu.Lock()
		if err != nil {
			s.repl.status.LastError = time.Now().UTC()
			s.repl.status.LastErrorMessage = err.Error()
		} else {
			s.repl.status.LastSuccess = time.Now().UTC()
			s.repl.status.ReplicatedIndex = idx
			if s.cfg.ACL.EnableTokenReplication {
				s.repl.status.ReplicatedTokenIndex = idx
			}
		}
		s.repl.mu.Unlock()
		if err != nil {
			s.logger.Warn("ACL replication failed", "error", err)
			index = 0
			select {
			case <-ctx.Done():
				return
			case <-kick:
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = 250 * time.Millisecond
		index = idx
		select {
		case <-kick:
			index = 0
		default:
		}
	}
}

var errNoReplicationToken = errors.New("no replication token: set acl.tokens.replication or `consulx acl set-agent-token replication <token>`")

// replicateOnce waits for the primary's ACL state to pass index, then
// brings ours in line with it; it returns the primary's index.
func (s *server) replicateOnce(ctx context.Context, index uint64) (uint64, error) {
	tok := s.hooks.acl.tokens.get().Replication
	if tok == "" {
		return 0, errNoReplicationToken
	}
	wait := 5 * time.Minute
	if index == 0 {
		wait = 0
	}
	q := QueryOptions{Datacenter: s.cfg.PrimaryDatacenter, Token: tok, MinIndex: index, MaxWait: wait}
	var pols ACLReadResponse
	if err := callPrimary(ctx, s, aclReadName, &ACLReadRequest{Policies: true, QueryOptions: q}, &pols); err != nil {
		return 0, fmt.Errorf("read policies from %s: %w", s.cfg.PrimaryDatacenter, err)
	}
	req := &store.ACLRequest{Op: store.ACLSet}
	del := &store.ACLRequest{Op: store.ACLDelete}
	local, _, err := s.store.ACLPolicyList()
	if err != nil {
		return 0, err
	}
	have := map[string]store.ACLPolicy{}
	for _, p := range local {
		have[p.ID] = p
	}
	for _, p := range pols.Policies {
		if old, ok := have[p.ID]; !ok || !samePolicy(&old, &p) {
			req.Policies = append(req.Policies, p)
		}
		delete(have, p.ID)
	}
	for id := range have {
		del.PolicyIDs = append(del.PolicyIDs, id)
	}
	if s.cfg.ACL.EnableTokenReplication {
		q.MinIndex, q.MaxWait = 0, 0
		var toks ACLReadResponse
		if err := callPrimary(ctx, s, aclReadName, &ACLReadRequest{QueryOptions: q}, &toks); err != nil {
			return 0, fmt.Errorf("read tokens from %s: %w", s.cfg.PrimaryDatacenter, err)
		}
		localToks, _, err := s.store.ACLTokenList()
		if err != nil {
			return 0, err
		}
		haveT := map[string]store.ACLToken{}
		for _, t := range localToks {
			if !t.Local {
				haveT[t.AccessorID] = t
			}
		}
		for _, t := range toks.Tokens {
			if t.Local {
				continue
			}
			if t.SecretID == "<hidden>" || t.SecretID == "" {
				return 0, fmt.Errorf("the replication token may not read token secrets: it needs acl = \"write\"")
			}
			if old, ok := haveT[t.AccessorID]; !ok || !sameToken(&old, &t) {
				req.Tokens = append(req.Tokens, t)
			}
			delete(haveT, t.AccessorID)
		}
		for id := range haveT {
			del.TokenIDs = append(del.TokenIDs, id)
		}
	}
	// Deletes first: a policy renamed in the primary frees its name.
	if len(del.PolicyIDs)+len(del.TokenIDs) > 0 {
		if _, err := s.aclApply(del); err != nil {
			return 0, err
		}
	}
	if len(req.Policies)+len(req.Tokens) > 0 {
		if _, err := s.aclApply(req); err != nil {
			return 0, err
		}
		s.logger.Debug("ACL replication applied", "policies", len(req.Policies), "tokens", len(req.Tokens))
	}
	return pols.Index, nil
}

func samePolicy(a, b *store.ACLPolicy) bool {
	return a.Name == b.Name && a.Description == b.Description && a.Rules == b.Rules && reflect.DeepEqual(a.Datacenters, b.Datacenters)
}

func sameToken(a, b *store.ACLToken) bool {
	return a.SecretID == b.SecretID && a.Description == b.Description && reflect.DeepEqual(a.Policies, b.Policies) &&
		reflect.DeepEqual(a.ExpirationTime, b.ExpirationTime)
}

// callPrimary sends one request to the primary datacenter's servers,
// nearest first, trying the next only when one cannot be reached.
func callPrimary(ctx context.Context, s *server, name string, req routed, reply any) error {
	req.hop() // local there: never forwarded again
	addrs, err := s.hooks.serversIn(s.cfg.PrimaryDatacenter)
	if err != nil {
		return err
	}
	for _, addr := range addrs {
		err = s.pool.call(ctx, addr, name, req, reply)
		var de *dialError
		if err == nil || !errors.As(err, &de) {
			return err
		}
	}
	return err
}

const aclReadName = "ACL.Read"

var aclReplicationEndpoint = &endpoint[StatusRequest, ACLReplicationStatus]{
	name: "ACL.ReplicationStatus", kind: readEndpoint,
	read: func(s *server, _ *StatusRequest, _ *watchArm) (*ACLReplicationStatus, uint64, error) {
		st := s.replicationStatus()
		return &st, st.ReplicatedIndex, nil
	},
	filter: func(acl.Authorizer, *StatusRequest, *ACLReplicationStatus) (bool, error) {
		return false, nil // Consul asks no permission for the replication status
	},
}

// ACLReplication reports the ACL replication status of this datacenter's leader.
func (a *Agent) ACLReplication(ctx context.Context, opts QueryOptions) (*ACLReplicationStatus, error) {
	return aclReplicationEndpoint.call(ctx, a, &StatusRequest{QueryOptions: opts})
}
