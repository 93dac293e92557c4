package node

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"consulx/acl"
	"consulx/store"
)

// Identity is a resolved token: the token (nil when ACLs are off or for
// the agent's recovery token) and what it may do.
type Identity struct {
	Token *store.ACLToken
	Authz acl.Authorizer
}

// aclResolver turns a request's secret into an Identity. A server that is
// authoritative for tokens (the primary datacenter's, or a secondary's
// with token replication) reads its own replicated state; everyone else
// asks a server (which asks the primary) and caches the answer for
// acl.token_ttl, falling back on acl.down_policy when nobody answers.
type aclResolver struct {
	cfg *Config
	// local is this server's store (nil on a client agent).
	local *store.Store
	// remote resolves a secret through a server: set by the agent.
	remote func(ctx context.Context, secret string) (*ResolveTokenResponse, error)
	// tokens are the agent's own tokens (set-agent-token changes them).
	tokens *agentTokens
	// tokensReplicated says a secondary's token replication has completed
	// a round (set by its server): from then on a token it does not hold
	// does not exist, and the primary is not asked.
	tokensReplicated func() bool

	mu sync.Mutex
	// byIndex caches local resolutions for one generation of the ACL
	// tables: any ACL write (or a snapshot restore) closes changed, and
	// the next resolution starts a new generation with an empty cache.
	// Checking a channel costs far less per request than reading the
	// ACL index from the store.
	byIndex      map[string]*Identity
	byIndexIndex uint64 // the generation
	changed      <-chan struct{}
	// remoteCache holds remote resolutions with their fetch time.
	remoteCache map[string]remoteEntry
	// rules caches parsed policies by ID and ModifyIndex: parsing HCL on
	// every request would cost more than the request.
	rules map[string]parsedPolicy
}

type remoteEntry struct {
	id      *Identity
	err     error // a resolved "ACL not found" is cached too
	fetched time.Time
}

type parsedPolicy struct {
	modify uint64
	rules  *acl.Rules
}

func newACLResolver(cfg *Config, tokens *agentTokens) *aclResolver {
	return &aclResolver{cfg: cfg, tokens: tokens, byIndex: map[string]*Identity{},
		remoteCache: map[string]remoteEntry{}, rules: map[string]parsedPolicy{}}
}

func (r *aclResolver) enabled() bool { return r != nil && r.cfg.ACL.Enabled }

// authoritative says this server resolves tokens from its own state.
func (r *aclResolver) authoritative() bool {
	return r.local != nil && (r.cfg.Datacenter == r.cfg.PrimaryDatacenter || r.cfg.ACL.EnableTokenReplication)
}

func (r *aclResolver) defaultAllow() bool { return r.cfg.ACL.DefaultPolicy != "deny" }

// resolve answers what secret may do. With ACLs off everything is allowed.
func (r *aclResolver) resolve(ctx context.Context, secret string) (*Identity, error) {
	if !r.enabled() {
		return &Identity{Authz: acl.AllowAll()}, nil
	}
	if secret == "" {
		secret = store.AnonymousTokenSecretID
	}
	if rec := r.tokens.get().AgentRecovery; rec != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(rec)) == 1 {
		// The recovery token works without any server: it may manage
		// this agent only (Consul's agent_recovery).
		return &Identity{Authz: acl.New(false, &acl.Rules{Rules: []acl.Rule{
			{Resource: acl.ResAgent, Name: r.cfg.NodeName, Access: acl.AccessWrite},
			{Resource: acl.ResNode, Prefix: true, Access: acl.AccessRead},
		}})}, nil
	}
	if r.authoritative() {
		id, err := r.resolveLocal(secret)
		if errors.Is(err, ErrACLNotFound) && r.askPrimary() {
			// Not replicated here yet: the primary knows, as in Consul
			// before a secondary's first token replication.
			return r.resolveRemote(ctx, secret)
		}
		return id, err
	}
	if r.local != nil {
		// A secondary without token replication still holds its own
		// local tokens (and the policies, which always replicate).
		if res, err := r.lookupLocal(secret); err == nil && res.Token != nil && res.Token.Local {
			return r.identity(res)
		}
	}
	return r.resolveRemote(ctx, secret)
}

// askPrimary: a secondary whose token replication has not completed a
// round yet asks the primary about a token it does not hold.
func (r *aclResolver) askPrimary() bool {
	return r.cfg.Datacenter != r.cfg.PrimaryDatacenter && (r.tokensReplicated == nil || !r.tokensReplicated())
}

func (r *aclResolver) resolveLocal(secret string) (*Identity, error) {
	r.mu.Lock()
	fresh := r.changed != nil
	if fresh {
		select {
		case <-r.changed:
			fresh = false
		default:
		}
	}
	if !fresh {
		// Armed before anything of the new generation is read, so a
		// write after this point closes it and drops what it caches.
		r.byIndexIndex++
		r.byIndex = map[string]*Identity{}
		r.changed, _ = r.local.Watches().WatchACL()
	}
	idx := r.byIndexIndex
	id, ok := r.byIndex[secret]
	r.mu.Unlock()
	if ok && (id.Token == nil || id.Token.ExpirationTime == nil || !id.Token.Expired(time.Now())) {
		return id, nil
	}
	res, err := r.lookupLocal(secret)
	if err != nil {
		return nil, err
	}
	id, err = r.identity(res)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.byIndexIndex == idx {
		r.byIndex[secret] = id
	}
	r.mu.Unlock()
	return id, nil
}

// lookupLocal reads a token and its policies from this server's state.
func (r *aclResolver) lookupLocal(secret string) (*ResolveTokenResponse, error) {
	t, _, err := r.local.ACLTokenGet(secret, true)
	if err != nil {
		return nil, err
	}
	if t == nil || t.Expired(time.Now()) {
		if secret == store.AnonymousTokenSecretID {
			// Before the leader created it (or replication copied it),
			// the anonymous token has no policies.
			return &ResolveTokenResponse{Token: &store.ACLToken{AccessorID: store.AnonymousTokenAccessorID,
				SecretID: secret, Description: "Anonymous Token"}}, nil
		}
		return nil, ErrACLNotFound
	}
	ids := make([]string, len(t.Policies))
	for i, l := range t.Policies {
		ids[i] = l.ID
	}
	pols, err := r.local.ACLPoliciesByID(ids)
	if err != nil {
		return nil, err
	}
	return &ResolveTokenResponse{Token: t, Policies: pols}, nil
}

// identity compiles a token's policies.
func (r *aclResolver) identity(res *ResolveTokenResponse) (*Identity, error) {
	var rules []*acl.Rules
	for _, p := range res.Policies {
		if p.ID == store.GlobalManagementPolicyID {
			return &Identity{Token: res.Token, Authz: acl.Manage()}, nil
		}
		if len(p.Datacenters) > 0 && !slices.Contains(p.Datacenters, r.cfg.Datacenter) {
			continue // the policy is not valid here
		}
		pr, err := r.parsed(&p)
		if err != nil {
			return nil, err
		}
		rules = append(rules, pr)
	}
	return &Identity{Token: res.Token, Authz: named(res.Token, acl.New(r.defaultAllow(), rules...))}, nil
}

// named carries the token's AccessorID along with what it may do, for
// the refusal text (Denied).
func named(t *store.ACLToken, z acl.Authorizer) acl.Authorizer {
	if t == nil {
		return z
	}
	return accessorNamed{Authorizer: z, accessor: t.AccessorID}
}

func (r *aclResolver) parsed(p *store.ACLPolicy) (*acl.Rules, error) {
	r.mu.Lock()
	c, ok := r.rules[p.ID]
	r.mu.Unlock()
	if ok && c.modify == p.ModifyIndex {
		return c.rules, nil
	}
	rules, err := acl.Parse(p.Rules)
	if err != nil {
		// Stored policies were checked when written; a policy that no
		// longer parses grants nothing rather than failing every request.
		rules = &acl.Rules{}
	}
	r.mu.Lock()
	r.rules[p.ID] = parsedPolicy{modify: p.ModifyIndex, rules: rules}
	r.mu.Unlock()
	return rules, nil
}

// resolveRemote asks a server, caching for token_ttl; when no server (or
// no primary) answers, down_policy decides.
func (r *aclResolver) resolveRemote(ctx context.Context, secret string) (*Identity, error) {
	ttl := r.cfg.ACL.TokenTTL
	r.mu.Lock()
	e, cached := r.remoteCache[secret]
	r.mu.Unlock()
	if cached && e.id != nil && e.id.Token != nil && e.id.Token.Expired(time.Now()) {
		// An expired token is gone, whatever the cache or the primary's
		// reachability says.
		return nil, ErrACLNotFound
	}
	if cached && time.Since(e.fetched) < ttl {
		return e.id, e.err
	}
	if cached && r.cfg.ACL.DownPolicy == "async-cache" {
		// Serve the stale entry now and refresh it behind the request.
		go func() {
			c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _ = r.fetchRemote(c, secret)
		}()
		return e.id, e.err
	}
	id, err := r.fetchRemote(ctx, secret)
	if err == nil || errors.Is(err, ErrACLNotFound) {
		return id, err
	}
	// Down: nobody could answer.
	switch r.cfg.ACL.DownPolicy {
	case "allow":
		return &Identity{Authz: acl.AllowAll()}, nil
	case "deny":
		return &Identity{Authz: acl.DenyAll()}, nil
	}
	if cached {
		return e.id, e.err // extend-cache: the expired entry still holds
	}
	return &Identity{Authz: acl.New(r.defaultAllow())}, nil
}

func (r *aclResolver) fetchRemote(ctx context.Context, secret string) (*Identity, error) {
	if r.remote == nil {
		return nil, fmt.Errorf("no server to resolve the token")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := r.remote(ctx, secret)
	var id *Identity
	if err == nil {
		id, err = r.identity(res)
	}
	if err == nil || errors.Is(err, ErrACLNotFound) {
		r.mu.Lock()
		r.remoteCache[secret] = remoteEntry{id: id, err: err, fetched: time.Now()}
		r.mu.Unlock()
	}
	return id, err
}

// ResolveTokenRequest asks a server what a token may do: the token to
// resolve is the request's own (QueryOptions.Token).
type ResolveTokenRequest struct {
	QueryOptions
}

// ResolveTokenResponse is a token and its policies.
type ResolveTokenResponse struct {
	Token    *store.ACLToken
	Policies []store.ACLPolicy
}

// aclResolveEndpoint resolves a token on a server: from its own state
// when it is authoritative, else from the primary datacenter. Anyone may
// ask: the caller already holds the secret it asks about.
var aclResolveEndpoint = &endpoint[ResolveTokenRequest, ResolveTokenResponse]{
	name: aclResolveName, kind: directEndpoint,
	public: "the caller holds the secret it asks about",
	direct: func(s *server, ctx context.Context, req *ResolveTokenRequest) (*ResolveTokenResponse, error) {
		r := s.hooks.acl
		if !r.enabled() {
			return nil, &BadRequestError{Msg: "ACL support disabled"}
		}
		secret := req.Token
		if secret == "" {
			secret = store.AnonymousTokenSecretID
		}
		if r.authoritative() {
			res, err := r.lookupLocal(secret)
			if err == nil || !errors.Is(err, ErrACLNotFound) || !r.askPrimary() {
				return res, err
			}
		} else if res, err := r.lookupLocal(secret); err == nil && res.Token != nil && res.Token.Local {
			return res, nil
		}
		return resolveAtPrimary(ctx, s, req)
	},
}

// resolveAtPrimary asks the primary datacenter's servers.
func resolveAtPrimary(ctx context.Context, s *server, req *ResolveTokenRequest) (*ResolveTokenResponse, error) {
	fwd := *req
	if fwd.Hopped {
		return nil, ErrNoPathToDatacenter
	}
	fwd.Datacenter = s.cfg.PrimaryDatacenter
	var reply ResolveTokenResponse
	if err := callPrimary(ctx, s, aclResolveName, &fwd, &reply); err != nil {
		return nil, err
	}
	return &reply, nil
}

const aclResolveName = "ACL.ResolveToken"

// agentTokens are the agent's own tokens: from the config, replaced at
// run time by PUT /v1/agent/token/<kind> (persisted when
// acl.enable_token_persistence).
type agentTokens struct {
	mu sync.RWMutex
	t  ACLTokens
	// gen counts changes of t, for caches of answers made with them.
	gen atomic.Uint64
}

func (t *agentTokens) get() ACLTokens {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.t
}

// user is the token of a request that carries none (acl.tokens.default).
func (t *agentTokens) user() string { return t.get().Default }

// agent is the token the agent's own writes use (acl.tokens.agent, else
// the default token), as in Consul.
func (t *agentTokens) agent() string {
	c := t.get()
	if c.Agent != "" {
		return c.Agent
	}
	return c.Default
}
