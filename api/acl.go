package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// The types below follow Consul's Go client field for field and in the
// same order, so `-format=json` output marshalled from them is the text
// Consul's CLI prints. Fields Consul omits when empty are omitempty here;
// the others (Name, Rules, Datacenters: null...) Consul prints even when
// empty.

// ACLLink names a policy attached to a token: by ID, by Name, or both
// (the agent resolves a Name it is given and answers with both).
type ACLLink struct {
	ID   string
	Name string
}

// ACLToken is a token as /v1/acl/token returns it.
type ACLToken struct {
	CreateIndex uint64
	ModifyIndex uint64
	// Name is in Consul's Go client (and so in its CLI's output) although
	// the agent's JSON does not carry it.
	Name        string
	AccessorID  string
	SecretID    string
	Description string
	Policies    []ACLLink `json:",omitempty"`
	Local       bool
	// ExpirationTTL, on create only, asks the agent to set ExpirationTime
	// to CreateTime plus this; it goes on the wire as a duration string
	// ("1h0m0s"), the form the API documents (Consul also takes
	// nanoseconds).
	ExpirationTTL  time.Duration `json:",omitempty"`
	ExpirationTime *time.Time    `json:",omitempty"`
	CreateTime     time.Time
	Hash           []byte `json:",omitempty"`
}

// MarshalJSON writes ExpirationTTL as a duration string; every other
// field as encoding/json would.
func (t ACLToken) MarshalJSON() ([]byte, error) {
	type plain ACLToken // no methods: no recursion
	var ttl string
	if t.ExpirationTTL != 0 {
		ttl = t.ExpirationTTL.String()
	}
	return json.Marshal(struct {
		plain
		ExpirationTTL string `json:",omitempty"`
	}{plain(t), ttl})
}

// UnmarshalJSON reads ExpirationTTL as a duration string or as
// nanoseconds, the two forms Consul accepts.
func (t *ACLToken) UnmarshalJSON(data []byte) error {
	type plain ACLToken
	aux := struct {
		*plain
		ExpirationTTL json.RawMessage
	}{plain: (*plain)(t)}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	t.ExpirationTTL = 0
	if len(aux.ExpirationTTL) == 0 || string(aux.ExpirationTTL) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(aux.ExpirationTTL, &s); err == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("ExpirationTTL: %w", err)
		}
		t.ExpirationTTL = d
		return nil
	}
	var n int64
	if err := json.Unmarshal(aux.ExpirationTTL, &n); err != nil {
		return fmt.Errorf("ExpirationTTL: want a duration string or nanoseconds, got %s", aux.ExpirationTTL)
	}
	t.ExpirationTTL = time.Duration(n)
	return nil
}

// ACLTokenListEntry is a token as /v1/acl/tokens lists it.
type ACLTokenListEntry struct {
	Name           string
	CreateIndex    uint64
	ModifyIndex    uint64
	AccessorID     string
	SecretID       string
	Description    string
	Policies       []ACLLink `json:",omitempty"`
	Local          bool
	ExpirationTime *time.Time `json:",omitempty"`
	CreateTime     time.Time
	Hash           []byte
}

// ACLPolicy is a policy as /v1/acl/policy returns it.
type ACLPolicy struct {
	ID          string
	Name        string
	Description string
	Rules       string
	Datacenters []string
	Hash        []byte
	CreateIndex uint64
	ModifyIndex uint64
}

// ACLPolicyListEntry is a policy as /v1/acl/policies lists it (no rules).
type ACLPolicyListEntry struct {
	ID          string
	Name        string
	Description string
	Datacenters []string
	Hash        []byte
	CreateIndex uint64
	ModifyIndex uint64
}

// ACLReplicationStatus is /v1/acl/replication.
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
}

// ACLBootstrap creates the first management token. secret, when not
// empty, becomes its SecretID (Consul's `acl bootstrap SECRET`);
// otherwise the agent generates one. Once done, the agent answers 403.
func (c *Client) ACLBootstrap(ctx context.Context, secret string) (*ACLToken, error) {
	var body []byte
	if secret != "" {
		body, _ = json.Marshal(struct{ BootstrapSecret string }{secret})
	}
	var out ACLToken
	if err := c.putJSON(ctx, "/v1/acl/bootstrap", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ACLPolicyCreate creates p (its ID must be empty) and returns it as
// stored, ID and Hash filled in.
func (c *Client) ACLPolicyCreate(ctx context.Context, p *ACLPolicy, w *WriteOptions) (*ACLPolicy, error) {
	if p.ID != "" {
		return nil, fmt.Errorf("cannot specify an ID in policy creation")
	}
	return c.writePolicy(ctx, "/v1/acl/policy", p, w)
}

// ACLPolicyUpdate replaces the policy p.ID with p.
func (c *Client) ACLPolicyUpdate(ctx context.Context, p *ACLPolicy, w *WriteOptions) (*ACLPolicy, error) {
	if p.ID == "" {
		return nil, fmt.Errorf("must specify an ID in policy update")
	}
	return c.writePolicy(ctx, "/v1/acl/policy/"+url.PathEscape(p.ID), p, w)
}

func (c *Client) writePolicy(ctx context.Context, path string, p *ACLPolicy, w *WriteOptions) (*ACLPolicy, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var out ACLPolicy
	if err := c.putJSON(ctx, path, w.params(), body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ACLPolicyRead reads a policy by ID; an unknown ID is an error (the
// agent's 404), as in Consul's client.
func (c *Client) ACLPolicyRead(ctx context.Context, id string, q *QueryOptions) (*ACLPolicy, *QueryMeta, error) {
	var out ACLPolicy
	meta, err := c.getJSON(ctx, "/v1/acl/policy/"+url.PathEscape(id), q.params(), &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// ACLPolicyReadByName reads a policy by name: nil, and no error, when no
// policy has that name.
func (c *Client) ACLPolicyReadByName(ctx context.Context, name string, q *QueryOptions) (*ACLPolicy, *QueryMeta, error) {
	var out ACLPolicy
	// Built-in names contain a slash (builtin/global-read-only): escape
	// each segment, keep the slashes, as the agent reads the rest of
	// the path as the name.
	meta, err := c.getJSON(ctx, "/v1/acl/policy/name/"+escapeKey(name), q.params(), &out)
	if IsNotFound(err) {
		return nil, meta, nil
	}
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// ACLPolicyDelete deletes a policy by ID.
func (c *Client) ACLPolicyDelete(ctx context.Context, id string, w *WriteOptions) error {
	_, _, err := c.do(ctx, http.MethodDelete, "/v1/acl/policy/"+url.PathEscape(id), w.params(), nil)
	return err
}

// ACLPolicyList lists every policy the token may read, as the agent
// orders them (by name).
func (c *Client) ACLPolicyList(ctx context.Context, q *QueryOptions) ([]*ACLPolicyListEntry, *QueryMeta, error) {
	var out []*ACLPolicyListEntry
	meta, err := c.getJSON(ctx, "/v1/acl/policies", q.params(), &out)
	return out, meta, err
}

// ACLTokenCreate creates t and returns it as stored. AccessorID and
// SecretID may be given (UUIDs) or left for the agent to generate; a
// policy link may name the policy by ID or by Name.
func (c *Client) ACLTokenCreate(ctx context.Context, t *ACLToken, w *WriteOptions) (*ACLToken, error) {
	return c.writeToken(ctx, "/v1/acl/token", t, w)
}

// ACLTokenUpdate replaces the token t.AccessorID with t (Local and the
// secret cannot change).
func (c *Client) ACLTokenUpdate(ctx context.Context, t *ACLToken, w *WriteOptions) (*ACLToken, error) {
	if t.AccessorID == "" {
		return nil, fmt.Errorf("must specify an AccessorID for token updating")
	}
	return c.writeToken(ctx, "/v1/acl/token/"+url.PathEscape(t.AccessorID), t, w)
}

// ACLTokenClone copies the token accessorID (policies, locality,
// expiry) into a new token with new IDs; description replaces the
// copy's description unless empty.
func (c *Client) ACLTokenClone(ctx context.Context, accessorID, description string, w *WriteOptions) (*ACLToken, error) {
	if accessorID == "" {
		return nil, fmt.Errorf("must specify a token AccessorID for Token Cloning")
	}
	body, _ := json.Marshal(struct{ Description string }{description})
	var out ACLToken
	if err := c.putJSON(ctx, "/v1/acl/token/"+url.PathEscape(accessorID)+"/clone", w.params(), body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) writeToken(ctx context.Context, path string, t *ACLToken, w *WriteOptions) (*ACLToken, error) {
	body, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	var out ACLToken
	if err := c.putJSON(ctx, path, w.params(), body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ACLTokenRead reads a token by AccessorID. Consul answers an unknown
// accessor with 403 ("ACL not found"), returned as a *StatusError.
func (c *Client) ACLTokenRead(ctx context.Context, accessorID string, q *QueryOptions) (*ACLToken, *QueryMeta, error) {
	return c.readToken(ctx, "/v1/acl/token/"+url.PathEscape(accessorID), q)
}

// ACLTokenReadSelf reads the token the client sends (Client.Token).
func (c *Client) ACLTokenReadSelf(ctx context.Context, q *QueryOptions) (*ACLToken, *QueryMeta, error) {
	return c.readToken(ctx, "/v1/acl/token/self", q)
}

func (c *Client) readToken(ctx context.Context, path string, q *QueryOptions) (*ACLToken, *QueryMeta, error) {
	var out ACLToken
	meta, err := c.getJSON(ctx, path, q.params(), &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// ACLTokenDelete deletes a token by AccessorID.
func (c *Client) ACLTokenDelete(ctx context.Context, accessorID string, w *WriteOptions) error {
	_, _, err := c.do(ctx, http.MethodDelete, "/v1/acl/token/"+url.PathEscape(accessorID), w.params(), nil)
	return err
}

// ACLTokenList lists every token the client's token may read.
func (c *Client) ACLTokenList(ctx context.Context, q *QueryOptions) ([]*ACLTokenListEntry, *QueryMeta, error) {
	var out []*ACLTokenListEntry
	meta, err := c.getJSON(ctx, "/v1/acl/tokens", q.params(), &out)
	return out, meta, err
}

// ACLReplication reports the agent's ACL replication (Enabled false in
// the primary datacenter).
func (c *Client) ACLReplication(ctx context.Context, q *QueryOptions) (*ACLReplicationStatus, *QueryMeta, error) {
	var out ACLReplicationStatus
	meta, err := c.getJSON(ctx, "/v1/acl/replication", q.params(), &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Kinds of AgentSetToken, the agent's names. Consul's agent also takes
// the legacy names (agent_master, acl_token, acl_agent_token,
// acl_agent_master_token, acl_replication_token); kind is passed through
// as given, and the agent answers 404 to a name it does not know.
const (
	AgentTokenDefault                       = "default"
	AgentTokenAgent                         = "agent"
	AgentTokenAgentRecovery                 = "agent_recovery"
	AgentTokenReplication                   = "replication"
	AgentTokenConfigFileServiceRegistration = "config_file_service_registration"
	AgentTokenDNS                           = "dns"
)

// AgentSetToken sets one of the agent's own tokens (PUT
// /v1/agent/token/<kind>).
func (c *Client) AgentSetToken(ctx context.Context, kind, token string) error {
	if kind == "" {
		return fmt.Errorf("agent token kind is empty")
	}
	body, _ := json.Marshal(struct{ Token string }{token})
	_, err := c.put(ctx, "/v1/agent/token/"+url.PathEscape(kind), nil, body)
	return err
}

// putJSON PUTs body and decodes the answer into out.
func (c *Client) putJSON(ctx context.Context, path string, params url.Values, body []byte, out any) error {
	if body == nil {
		body = []byte{}
	}
	data, err := c.put(ctx, path, params, body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// params is the query string of q (nil-safe).
func (q *QueryOptions) params() url.Values {
	v := url.Values{}
	q.apply(v)
	return v
}

// params is the query string of w (nil-safe): ACL writes take only the
// datacenter.
func (w *WriteOptions) params() url.Values {
	v := url.Values{}
	if w != nil && w.Datacenter != "" {
		v.Set("dc", w.Datacenter)
	}
	return v
}
