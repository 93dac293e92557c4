package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// tokensFile is where set-agent-token persists the agent's tokens when
// acl.enable_token_persistence is on (Consul's file name).
const tokensFile = "acl-tokens.json"

type persistedTokens struct {
	Agent         string `json:"agent,omitempty"`
	AgentRecovery string `json:"agent_recovery,omitempty"`
	Default       string `json:"default,omitempty"`
	Replication   string `json:"replication,omitempty"`
}

// loadPersistedTokens applies the tokens set through the API before a
// restart; they win over the config file's, as in Consul.
func (a *Agent) loadPersistedTokens() error {
	if !a.cfg.ACL.EnableTokenPersistence || a.cfg.DataDir == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(a.cfg.DataDir, tokensFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("acl: read persisted tokens: %w", err)
	}
	var p persistedTokens
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("acl: %s: %v", filepath.Join(a.cfg.DataDir, tokensFile), err)
	}
	a.tokens.mu.Lock()
	defer a.tokens.mu.Unlock()
	for _, f := range []struct {
		dst *string
		v   string
	}{{&a.tokens.t.Agent, p.Agent}, {&a.tokens.t.AgentRecovery, p.AgentRecovery},
		{&a.tokens.t.Default, p.Default}, {&a.tokens.t.Replication, p.Replication}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	return nil
}

// AgentTokenKinds maps the names PUT /v1/agent/token/<kind> takes
// (Consul's, with the legacy ones) to the token they set.
var AgentTokenKinds = map[string]string{
	"default": "default", "acl_token": "default",
	"agent": "agent", "acl_agent_token": "agent",
	"agent_recovery": "agent_recovery", "agent_master": "agent_recovery", "acl_agent_master_token": "agent_recovery",
	"replication": "replication", "acl_replication_token": "replication",
}

// SetAgentToken replaces one of the agent's tokens (kind as in
// AgentTokenKinds) and persists them when token persistence is on.
func (a *Agent) SetAgentToken(ctx context.Context, kind, secret string) error {
	k, ok := AgentTokenKinds[kind]
	if !ok {
		return &NotFoundError{Msg: fmt.Sprintf("Token %q is unknown", kind)}
	}
	a.tokens.mu.Lock()
	switch k {
	case "default":
		a.tokens.t.Default = secret
	case "agent":
		a.tokens.t.Agent = secret
	case "agent_recovery":
		a.tokens.t.AgentRecovery = secret
	case "replication":
		a.tokens.t.Replication = secret
	}
	t := a.tokens.t
	a.tokens.gen.Add(1)
	a.tokens.mu.Unlock()
	a.logger.Info("Updated agent's ACL token", "token", k)
	if k == "replication" && a.srv != nil {
		a.srv.triggerACLReplication()
	}
	if !a.cfg.ACL.EnableTokenPersistence || a.cfg.DataDir == "" {
		return nil
	}
	b, _ := json.Marshal(persistedTokens{Agent: t.Agent, AgentRecovery: t.AgentRecovery, Default: t.Default, Replication: t.Replication})
	path := filepath.Join(a.cfg.DataDir, tokensFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("persist tokens: %w", err)
	}
	return os.Rename(tmp, path)
}

// Resolve answers what a request's token may do, for the agent's own
// endpoints (the HTTP layer); "" is the agent's default token.
func (a *Agent) Resolve(ctx context.Context, secret string) (*Identity, error) {
	if secret == "" {
		secret = a.tokens.user()
	}
	return a.hooks.acl.resolve(ctx, secret)
}

// ACLEnabled reports whether ACLs are enforced.
func (a *Agent) ACLEnabled() bool { return a.cfg.ACL.Enabled }

type tokenKey struct{}

// WithToken carries a request's token to calls whose signature has no
// WriteOptions (FireEvent).
func WithToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

// TokenFrom is the token WithToken put in ctx ("" when none).
func TokenFrom(ctx context.Context) string {
	t, _ := ctx.Value(tokenKey{}).(string)
	return t
}
