package node

import (
	"fmt"
	"time"
)

// ACLConfig is the agent's `acl` block (and the legacy top-level acl_*
// keys), resolved.
type ACLConfig struct {
	Enabled bool
	// DefaultPolicy is "allow" or "deny": what a token may do where no
	// rule of its policies speaks.
	DefaultPolicy string
	// DownPolicy says what to do when a token cannot be resolved because
	// the primary datacenter (or every server) is unreachable: "allow",
	// "deny", "extend-cache" (keep using expired cache entries, unknown
	// tokens get the default policy) or "async-cache".
	DownPolicy             string
	TokenTTL               time.Duration
	EnableTokenPersistence bool
	EnableTokenReplication bool
	Tokens                 ACLTokens
}

// ACLTokens are the agent's configured tokens (acl.tokens).
type ACLTokens struct {
	InitialManagement string
	Agent             string
	AgentRecovery     string
	Replication       string
	Default           string
}

// aclFile is the `acl` block of a config file.
type aclFile struct {
	Enabled                *bool     `json:"enabled"`
	DefaultPolicy          *string   `json:"default_policy"`
	DownPolicy             *string   `json:"down_policy"`
	TokenTTL               *Duration `json:"token_ttl"`
	EnableTokenPersistence *bool     `json:"enable_token_persistence"`
	EnableTokenReplication *bool     `json:"enable_token_replication"`
	Tokens                 *struct {
		InitialManagement *string `json:"initial_management"`
		Master            *string `json:"master"`
		Agent             *string `json:"agent"`
		AgentRecovery     *string `json:"agent_recovery"`
		AgentMaster       *string `json:"agent_master"`
		Replication       *string `json:"replication"`
		Default           *string `json:"default"`
	} `json:"tokens"`
}

// aclLegacyFile holds the deprecated top-level spellings Consul still
// accepts (acl_datacenter is primary_datacenter's old name).
type aclLegacyFile struct {
	ACLDatacenter        *string   `json:"acl_datacenter"`
	ACLDefaultPolicy     *string   `json:"acl_default_policy"`
	ACLDownPolicy        *string   `json:"acl_down_policy"`
	ACLTTL               *Duration `json:"acl_ttl"`
	ACLMasterToken       *string   `json:"acl_master_token"`
	ACLAgentToken        *string   `json:"acl_agent_token"`
	ACLAgentMasterToken  *string   `json:"acl_agent_master_token"`
	ACLReplicationToken  *string   `json:"acl_replication_token"`
	ACLToken             *string   `json:"acl_token"`
	EnableACLReplication *bool     `json:"enable_acl_replication"`
}

// mergeACL applies one source's ACL keys; the acl block wins over the
// legacy keys of the same source, as in Consul.
func (c *Config) mergeACL(fc *FileConfig) {
	setStr(&c.PrimaryDatacenter, fc.ACLDatacenter)
	setStr(&c.PrimaryDatacenter, fc.PrimaryDatacenter)
	l, a := &fc.aclLegacyFile, &c.ACL
	setStr(&a.DefaultPolicy, l.ACLDefaultPolicy)
	setStr(&a.DownPolicy, l.ACLDownPolicy)
	if l.ACLTTL != nil {
		a.TokenTTL = time.Duration(*l.ACLTTL)
	}
	setStr(&a.Tokens.InitialManagement, l.ACLMasterToken)
	setStr(&a.Tokens.Agent, l.ACLAgentToken)
	setStr(&a.Tokens.AgentRecovery, l.ACLAgentMasterToken)
	setStr(&a.Tokens.Replication, l.ACLReplicationToken)
	setStr(&a.Tokens.Default, l.ACLToken)
	setBool(&a.EnableTokenReplication, l.EnableACLReplication)
	if l.ACLDatacenter != nil && *l.ACLDatacenter != "" {
		// Before the acl block, naming the ACL datacenter turned ACLs on.
		a.Enabled = true
	}
	f := fc.ACL
	if f == nil {
		return
	}
	setBool(&a.Enabled, f.Enabled)
	setStr(&a.DefaultPolicy, f.DefaultPolicy)
	setStr(&a.DownPolicy, f.DownPolicy)
	if f.TokenTTL != nil {
		a.TokenTTL = time.Duration(*f.TokenTTL)
	}
	setBool(&a.EnableTokenPersistence, f.EnableTokenPersistence)
	setBool(&a.EnableTokenReplication, f.EnableTokenReplication)
	if t := f.Tokens; t != nil {
		setStr(&a.Tokens.InitialManagement, t.Master)
		setStr(&a.Tokens.InitialManagement, t.InitialManagement)
		setStr(&a.Tokens.Agent, t.Agent)
		setStr(&a.Tokens.AgentRecovery, t.AgentMaster)
		setStr(&a.Tokens.AgentRecovery, t.AgentRecovery)
		setStr(&a.Tokens.Replication, t.Replication)
		setStr(&a.Tokens.Default, t.Default)
	}
}

// finalizeACL checks the ACL settings and fills defaults.
func (c *Config) finalizeACL() error {
	a := &c.ACL
	switch a.DefaultPolicy {
	case "":
		a.DefaultPolicy = "allow"
	case "allow", "deny":
	default:
		return fmt.Errorf("config: acl.default_policy: invalid value %q: want \"allow\" or \"deny\"", a.DefaultPolicy)
	}
	switch a.DownPolicy {
	case "":
		a.DownPolicy = "extend-cache"
	case "allow", "deny", "extend-cache", "async-cache":
	default:
		return fmt.Errorf("config: acl.down_policy: invalid value %q: want \"allow\", \"deny\", \"extend-cache\" or \"async-cache\"", a.DownPolicy)
	}
	if a.TokenTTL == 0 {
		a.TokenTTL = 30 * time.Second
	}
	if a.TokenTTL < 0 {
		return fmt.Errorf("config: acl.token_ttl: must be positive")
	}
	if c.PrimaryDatacenter == "" {
		c.PrimaryDatacenter = c.Datacenter
	}
	return nil
}
