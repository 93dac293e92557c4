package node

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/hashicorp/go-uuid"

	"consulx/acl"
	"consulx/store"
)

// ACLWriteRequest is one ACL management write: bootstrap, a policy or a
// token set (create or update), or a delete.
type ACLWriteRequest struct {
	Op     store.ACLOp
	Policy *store.ACLPolicy `json:",omitempty"`
	// ACLToken, not Token: that name is WriteOptions.Token, the caller's.
	ACLToken *store.ACLToken `json:",omitempty"`
	// ID names what ACLDelete deletes: a policy ID or a token AccessorID.
	ID       string
	IsPolicy bool
	WriteOptions
}

// ACLWriteResponse is the policy or token as stored.
type ACLWriteResponse struct {
	Policy *store.ACLPolicy
	Token  *store.ACLToken
	Index  uint64
}

// ACLReadRequest reads policies or tokens: one by ID (or a policy by
// Name, or Self: the request's own token), or all of one kind.
type ACLReadRequest struct {
	Policies bool // policies, else tokens
	ID       string
	Name     string
	Self     bool
	QueryOptions
}

// ACLReadResponse lists what was read.
type ACLReadResponse struct {
	Policies []store.ACLPolicy
	Tokens   []store.ACLToken
	QueryMeta
}

var policyNameRe = regexp.MustCompile(`^[A-Za-z0-9\-_]{1,128}$`)

var aclApplyEndpoint = &endpoint[ACLWriteRequest, ACLWriteResponse]{
	name: "ACL.Apply", kind: writeEndpoint,
	authorize: func(s *server, z acl.Authorizer, req *ACLWriteRequest) error {
		if req.Op == store.ACLBootstrap {
			return nil // once only: the state machine refuses a second
		}
		return allowOrDeny(z.ACLWrite(), z, "acl:write", "")
	},
	leader: func(s *server, ctx context.Context, req *ACLWriteRequest) (*ACLWriteResponse, error) {
		if !s.hooks.acl.enabled() {
			return nil, &BadRequestError{Msg: "ACL support disabled"}
		}
		if s.cfg.Datacenter != s.cfg.PrimaryDatacenter && (req.Op == store.ACLBootstrap || req.Policy != nil || req.IsPolicy) {
			// A secondary's policies are the primary's copy, and it is
			// never bootstrapped itself (a request that names it with
			// ?dc must not mint a management token there).
			return nil, &PermissionDeniedError{Msg: fmt.Sprintf("ACL bootstrap and policy writes are only allowed in the primary datacenter (%s)", s.cfg.PrimaryDatacenter)}
		}
		switch req.Op {
		case store.ACLBootstrap:
			return s.aclBootstrap()
		case store.ACLSet:
			if req.Policy != nil {
				return s.aclPolicySet(req.Policy)
			}
			if req.ACLToken != nil {
				return s.aclTokenSet(req.ACLToken)
			}
		case store.ACLDelete:
			if !req.IsPolicy && s.cfg.Datacenter != s.cfg.PrimaryDatacenter && !req.Hopped {
				if t, _, _ := s.store.ACLTokenGet(req.ID, false); t == nil || !t.Local {
					// A global token is deleted where it lives.
					fwd := *req
					fwd.Datacenter = s.cfg.PrimaryDatacenter
					var out ACLWriteResponse
					if err := callPrimary(ctx, s, "ACL.Apply", &fwd, &out); err != nil {
						return nil, err
					}
					return &out, nil
				}
			}
			return s.aclDelete(req)
		}
		return nil, &BadRequestError{Msg: "empty ACL write"}
	},
}

var aclReadEndpoint = &endpoint[ACLReadRequest, ACLReadResponse]{
	name: "ACL.Read", kind: readEndpoint,
	read: func(s *server, req *ACLReadRequest, arm *watchArm) (*ACLReadResponse, uint64, error) {
		arm.ACL()
		out := &ACLReadResponse{Policies: []store.ACLPolicy{}, Tokens: []store.ACLToken{}}
		var idx uint64
		var err error
		switch {
		case req.Policies && (req.ID != "" || req.Name != ""):
			var p *store.ACLPolicy
			p, idx, err = s.store.ACLPolicyGet(cmpOr(req.ID, req.Name), req.ID == "")
			if p != nil {
				out.Policies = append(out.Policies, *p)
			}
		case req.Policies:
			out.Policies, idx, err = s.store.ACLPolicyList()
		case req.ID != "" || req.Self:
			var t *store.ACLToken
			if req.Self {
				t, idx, err = s.store.ACLTokenGet(cmpOr(req.Token, store.AnonymousTokenSecretID), true)
			} else {
				t, idx, err = s.store.ACLTokenGet(req.ID, false)
			}
			if t != nil {
				out.Tokens = append(out.Tokens, *t)
			}
		default:
			out.Tokens, idx, err = s.store.ACLTokenList()
		}
		return out, idx, err
	},
	filter: func(z acl.Authorizer, req *ACLReadRequest, resp *ACLReadResponse) (bool, error) {
		if req.Self && !req.Policies && req.ID == "" && req.Name == "" {
			return false, nil // a token may always read itself
		}
		if !z.ACLRead() {
			return false, denied(z, "acl:read", "")
		}
		if !z.ACLWrite() && len(resp.Tokens) > 0 {
			// Secrets are for acl:write only, as in Consul.
			toks := slices.Clone(resp.Tokens)
			for i := range toks {
				toks[i].SecretID = "<hidden>"
			}
			resp.Tokens = toks
		}
		return false, nil
	},
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func newID() (string, error) { return uuid.GenerateUUID() }

func (s *server) aclApply(req *store.ACLRequest) (uint64, error) {
	// No cache to drop: local resolutions follow the ACL tables' watch,
	// and tokens cached from the primary are the primary's.
	_, idx, err := s.raftApply(store.ACLCommand, req)
	return idx, err
}

// aclBootstrap creates the first management token.
func (s *server) aclBootstrap() (*ACLWriteResponse, error) {
	if ok, idx := s.store.ACLBootstrapped(); ok {
		return nil, &PermissionDeniedError{Msg: fmt.Sprintf("ACL bootstrap no longer allowed (reset index: %d)", idx)}
	}
	acc, err := newID()
	if err != nil {
		return nil, err
	}
	sec, err := newID()
	if err != nil {
		return nil, err
	}
	t := store.ACLToken{AccessorID: acc, SecretID: sec, Description: "Bootstrap Token (Global Management)",
		Policies: []store.ACLLink{{ID: store.GlobalManagementPolicyID, Name: store.GlobalManagementPolicyName}}, CreateTime: time.Now().UTC()}
	req := &store.ACLRequest{Op: store.ACLBootstrap, Tokens: []store.ACLToken{t}}
	if p, _, _ := s.store.ACLPolicyGet(store.GlobalManagementPolicyID, false); p == nil {
		req.Policies = []store.ACLPolicy{globalManagementPolicy()}
	}
	if _, err := s.aclApply(req); err != nil {
		if isBootstrapDone(err) {
			return nil, &PermissionDeniedError{Msg: err.Error()}
		}
		return nil, err
	}
	got, _, err := s.store.ACLTokenGet(acc, false)
	return &ACLWriteResponse{Token: got}, err
}

func isBootstrapDone(err error) bool {
	return err != nil && regexp.MustCompile(`bootstrap no longer allowed`).MatchString(err.Error())
}

func globalManagementPolicy() store.ACLPolicy {
	return store.ACLPolicy{ID: store.GlobalManagementPolicyID, Name: store.GlobalManagementPolicyName,
		Description: "Builtin Policy that grants unlimited access", Rules: globalManagementRules}
}

// globalManagementRules are the rules Consul shows for its builtin
// policy (the policy ID, not these rules, is what grants management).
const globalManagementRules = `
acl = "write"
agent_prefix "" {
  policy = "write"
}
event_prefix "" {
  policy = "write"
}
key_prefix "" {
  policy = "write"
}
keyring = "write"
node_prefix "" {
  policy = "write"
}
operator = "write"
query_prefix "" {
  policy = "write"
}
service_prefix "" {
  policy = "write"
  intentions = "write"
}
session_prefix "" {
  policy = "write"
}`

func (s *server) aclPolicySet(in *store.ACLPolicy) (*ACLWriteResponse, error) {
	p := *in
	if !policyNameRe.MatchString(p.Name) {
		return nil, &BadRequestError{Msg: fmt.Sprintf("Invalid Policy: invalid Name %q: use letters, digits, '-' and '_', at most 128", p.Name)}
	}
	if _, err := acl.Parse(p.Rules); err != nil {
		return nil, &BadRequestError{Msg: fmt.Sprintf("Invalid Policy: failed to parse rules: %v", err)}
	}
	if p.ID == "" {
		if other, _, _ := s.store.ACLPolicyGet(p.Name, true); other != nil {
			return nil, &BadRequestError{Msg: fmt.Sprintf("Invalid Policy: A Policy with Name %q already exists", p.Name)}
		}
		id, err := newID()
		if err != nil {
			return nil, err
		}
		p.ID = id
	} else {
		old, _, err := s.store.ACLPolicyGet(p.ID, false)
		if err != nil {
			return nil, err
		}
		if old == nil {
			return nil, &BadRequestError{Msg: fmt.Sprintf("Invalid Policy: Cannot find policy %s", p.ID)}
		}
		if p.ID == store.GlobalManagementPolicyID && (p.Rules != old.Rules || p.Name != old.Name) {
			return nil, &BadRequestError{Msg: "Changing the Rules for the builtin global-management policy is not permitted"}
		}
	}
	if _, err := s.aclApply(&store.ACLRequest{Op: store.ACLSet, Policies: []store.ACLPolicy{p}}); err != nil {
		return nil, &BadRequestError{Msg: err.Error()}
	}
	got, _, err := s.store.ACLPolicyGet(p.ID, false)
	return &ACLWriteResponse{Policy: got}, err
}

// aclTokenSet creates (no AccessorID) or updates a token; policies may be
// named by ID or by name.
func (s *server) aclTokenSet(in *store.ACLToken) (*ACLWriteResponse, error) {
	t := *in
	links := make([]store.ACLLink, 0, len(t.Policies))
	for _, l := range t.Policies {
		var p *store.ACLPolicy
		if l.ID != "" {
			p, _, _ = s.store.ACLPolicyGet(l.ID, false)
		} else {
			p, _, _ = s.store.ACLPolicyGet(l.Name, true)
		}
		if p == nil {
			return nil, &BadRequestError{Msg: fmt.Sprintf("Invalid Token: cannot find policy %s", cmpOr(l.ID, l.Name))}
		}
		if !slices.ContainsFunc(links, func(x store.ACLLink) bool { return x.ID == p.ID }) {
			links = append(links, store.ACLLink{ID: p.ID, Name: p.Name})
		}
	}
	t.Policies = links
	if t.AccessorID == "" {
		var err error
		if t.AccessorID, err = newID(); err != nil {
			return nil, err
		}
		if t.SecretID == "" {
			if t.SecretID, err = newID(); err != nil {
				return nil, err
			}
		}
		t.CreateTime = time.Now().UTC()
		if t.ExpirationTTL > 0 {
			exp := t.CreateTime.Add(t.ExpirationTTL)
			t.ExpirationTime = &exp
		}
	} else {
		old, _, err := s.store.ACLTokenGet(t.AccessorID, false)
		if err != nil {
			return nil, err
		}
		if old == nil {
			if t.SecretID == "" {
				return nil, &BadRequestError{Msg: fmt.Sprintf("Cannot find token %q", t.AccessorID)}
			}
			t.CreateTime = time.Now().UTC() // a token created with a chosen AccessorID
			if t.ExpirationTTL > 0 {
				exp := t.CreateTime.Add(t.ExpirationTTL)
				t.ExpirationTime = &exp
			}
		} else {
			if t.SecretID != "" && t.SecretID != old.SecretID {
				return nil, &BadRequestError{Msg: "Changing a token's SecretID is not permitted"}
			}
			if t.Local != old.Local {
				return nil, &BadRequestError{Msg: "cannot toggle local mode of " + t.AccessorID}
			}
			t.SecretID, t.CreateTime, t.ExpirationTime, t.ExpirationTTL = old.SecretID, old.CreateTime, old.ExpirationTime, old.ExpirationTTL
		}
	}
	if !t.Local && s.cfg.Datacenter != s.cfg.PrimaryDatacenter {
		return nil, &BadRequestError{Msg: "Cannot create or update global tokens outside the primary datacenter"}
	}
	if _, err := s.aclApply(&store.ACLRequest{Op: store.ACLSet, Tokens: []store.ACLToken{t}}); err != nil {
		return nil, &BadRequestError{Msg: err.Error()}
	}
	got, _, err := s.store.ACLTokenGet(t.AccessorID, false)
	return &ACLWriteResponse{Token: got}, err
}

func (s *server) aclDelete(req *ACLWriteRequest) (*ACLWriteResponse, error) {
	r := &store.ACLRequest{Op: store.ACLDelete}
	if req.IsPolicy {
		if req.ID == store.GlobalManagementPolicyID {
			return nil, &BadRequestError{Msg: "Delete operation not permitted on the builtin global-management policy"}
		}
		r.PolicyIDs = []string{req.ID}
	} else {
		if req.ID == store.AnonymousTokenAccessorID {
			return nil, &BadRequestError{Msg: "Delete operation not permitted on the anonymous token"}
		}
		if t, _, _ := s.store.ACLTokenGet(req.ID, false); t != nil && t.SecretID == req.WriteOptions.Token {
			return nil, &BadRequestError{Msg: "Deletion of the request's authorization token is not permitted"}
		}
		r.TokenIDs = []string{req.ID}
	}
	idx, err := s.aclApply(r)
	return &ACLWriteResponse{Index: idx}, err
}

// initACLs runs on a new leader of the primary datacenter: the builtin
// policy, the anonymous token and the configured initial management
// token exist once ACLs are on.
func (s *server) initACLs() {
	if !s.hooks.acl.enabled() || s.cfg.Datacenter != s.cfg.PrimaryDatacenter {
		return
	}
	req := &store.ACLRequest{Op: store.ACLSet}
	if p, _, _ := s.store.ACLPolicyGet(store.GlobalManagementPolicyID, false); p == nil {
		req.Policies = append(req.Policies, globalManagementPolicy())
	}
	if t, _, _ := s.store.ACLTokenGet(store.AnonymousTokenAccessorID, false); t == nil {
		req.Tokens = append(req.Tokens, store.ACLToken{AccessorID: store.AnonymousTokenAccessorID,
			SecretID: store.AnonymousTokenSecretID, Description: "Anonymous Token", CreateTime: time.Now().UTC()})
	}
	if len(req.Policies)+len(req.Tokens) > 0 {
		if _, err := s.aclApply(req); err != nil {
			s.logger.Error("failed to create the builtin ACL objects", "error", err)
			return
		}
	}
	if sec := s.cfg.ACL.Tokens.InitialManagement; sec != "" {
		if t, _, _ := s.store.ACLTokenGet(sec, true); t == nil {
			acc, err := newID()
			if err != nil {
				return
			}
			tok := store.ACLToken{AccessorID: acc, SecretID: sec, Description: "Initial Management Token",
				Policies:   []store.ACLLink{{ID: store.GlobalManagementPolicyID, Name: store.GlobalManagementPolicyName}},
				CreateTime: time.Now().UTC()}
			// As in Consul, the configured token is the bootstrap: a later
			// `acl bootstrap` is refused.
			op := store.ACLBootstrap
			if done, _ := s.store.ACLBootstrapped(); done {
				op = store.ACLSet
			}
			if _, err := s.aclApply(&store.ACLRequest{Op: op, Tokens: []store.ACLToken{tok}}); err != nil {
				s.logger.Error("failed to create the initial management token", "error", err)
				return
			}
			req.Tokens = append(req.Tokens, tok)
		}
	}
	if len(req.Policies) == 0 && len(req.Tokens) == 0 {
		return
	}
	s.logger.Info("ACLs initialised", "policies", len(req.Policies), "tokens", len(req.Tokens))
}

// ACLApply makes an ACL management write. Policies and global tokens
// live in the primary datacenter: the write goes there.
func (a *Agent) ACLApply(ctx context.Context, req *ACLWriteRequest) (*ACLWriteResponse, error) {
	global := req.Op == store.ACLBootstrap || req.Policy != nil || req.IsPolicy ||
		(req.ACLToken != nil && !req.ACLToken.Local)
	if req.Op == store.ACLDelete && !req.IsPolicy {
		// A token's locality is known where it lives: try here first.
		global = false
	}
	if global {
		// Whatever ?dc says: bootstrap, policies and global tokens
		// live in the primary only.
		req.Datacenter = a.cfg.PrimaryDatacenter
	}
	return aclApplyEndpoint.call(ctx, a, req)
}

// ACLRead reads policies or tokens.
func (a *Agent) ACLRead(ctx context.Context, req *ACLReadRequest) (*ACLReadResponse, error) {
	return aclReadEndpoint.call(ctx, a, req)
}
