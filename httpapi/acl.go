package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"consulx/node"
	"consulx/store"
)

// aclRoutes are Consul's /v1/acl endpoints: every decision is the
// servers' (ACL.Apply needs acl:write, ACL.Read acl:read or the token
// itself).
func (h *Handler) aclRoutes(srv routeAccess) {
	// With ACLs off every ACL route answers Consul's 401.
	off := func(fn handlerFunc) handlerFunc {
		return func(w http.ResponseWriter, r *http.Request) (any, error) {
			if !h.agent.ACLEnabled() {
				return nil, &statusError{code: http.StatusUnauthorized, msg: "ACL support disabled"}
			}
			return fn(w, r)
		}
	}
	h.handle("/v1/acl/bootstrap", []string{"PUT", "POST"}, viaServers("once only; later calls are refused"), off(h.aclBootstrap))
	h.handle("/v1/acl/policy", []string{"PUT"}, srv, off(h.aclPolicyCreate))
	h.handle("/v1/acl/policy/", []string{"GET", "PUT", "DELETE"}, srv, off(h.aclPolicy))
	h.handle("/v1/acl/policies", []string{"GET"}, srv, off(h.aclPolicies))
	h.handle("/v1/acl/token", []string{"PUT"}, srv, off(h.aclTokenCreate))
	h.handle("/v1/acl/token/", []string{"GET", "PUT", "DELETE"}, srv, off(h.aclToken))
	h.handle("/v1/acl/tokens", []string{"GET"}, srv, off(h.aclTokens))
	h.handle("/v1/acl/replication", []string{"GET"}, public("Consul asks no permission for the replication status"), h.aclReplication)
}

func (h *Handler) aclBootstrap(w http.ResponseWriter, r *http.Request) (any, error) {
	out, err := h.agent.ACLApply(r.Context(), &node.ACLWriteRequest{Op: store.ACLBootstrap, WriteOptions: writeOptions(r)})
	if err != nil {
		return nil, err
	}
	return tokenJSON(out.Token), nil
}

type policyBody struct {
	ID          string
	Name        string
	Description string
	Rules       string
	Datacenters []string
}

func decodeACLBody(r *http.Request, v any) error {
	raw, err := readBody(r, 1<<20)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return badRequest("Request decode failed: %v", err)
	}
	return nil
}

func (h *Handler) aclPolicyCreate(w http.ResponseWriter, r *http.Request) (any, error) {
	return h.aclPolicyWrite(r, "")
}

func (h *Handler) aclPolicyWrite(r *http.Request, id string) (any, error) {
	var b policyBody
	if err := decodeACLBody(r, &b); err != nil {
		return nil, err
	}
	if id != "" {
		if b.ID != "" && b.ID != id {
			return nil, badRequest("Policy ID in URL and payload do not match")
		}
		b.ID = id
	}
	p := &store.ACLPolicy{ID: b.ID, Name: b.Name, Description: b.Description, Rules: b.Rules, Datacenters: b.Datacenters}
	out, err := h.agent.ACLApply(r.Context(), &node.ACLWriteRequest{Op: store.ACLSet, Policy: p, WriteOptions: writeOptions(r)})
	if err != nil {
		return nil, err
	}
	return out.Policy, nil
}

// aclPolicy is /v1/acl/policy/<id> and /v1/acl/policy/name/<name>.
func (h *Handler) aclPolicy(w http.ResponseWriter, r *http.Request) (any, error) {
	id := pathTail(r, "/v1/acl/policy/")
	if id == "" {
		return nil, badRequest("Missing policy ID")
	}
	switch r.Method {
	case http.MethodPut:
		return h.aclPolicyWrite(r, id)
	case http.MethodDelete:
		_, err := h.agent.ACLApply(r.Context(), &node.ACLWriteRequest{Op: store.ACLDelete, ID: id, IsPolicy: true, WriteOptions: writeOptions(r)})
		return true, err
	}
	req := &node.ACLReadRequest{Policies: true, ID: id}
	if name, ok := strings.CutPrefix(id, "name/"); ok {
		req.ID, req.Name = "", name
	}
	out, err := h.aclRead(w, r, req)
	if err != nil {
		return nil, err
	}
	if len(out.Policies) == 0 {
		return nil, &statusError{code: http.StatusForbidden, msg: "ACL not found"}
	}
	return out.Policies[0], nil
}

func (h *Handler) aclRead(w http.ResponseWriter, r *http.Request, req *node.ACLReadRequest) (*node.ACLReadResponse, error) {
	opts, err := readOptions(r)
	if err != nil {
		return nil, err
	}
	req.QueryOptions = opts
	out, err := h.agent.ACLRead(r.Context(), req)
	if err != nil {
		return nil, err
	}
	setMeta(w, out.QueryMeta)
	return out, nil
}

// policyListEntry is a policy without its rules, as Consul lists them.
type policyListEntry struct {
	ID          string
	Name        string
	Description string
	Datacenters []string `json:",omitempty"`
	CreateIndex uint64
	ModifyIndex uint64
}

func (h *Handler) aclPolicies(w http.ResponseWriter, r *http.Request) (any, error) {
	out, err := h.aclRead(w, r, &node.ACLReadRequest{Policies: true})
	if err != nil {
		return nil, err
	}
	list := make([]policyListEntry, 0, len(out.Policies))
	for _, p := range out.Policies {
		list = append(list, policyListEntry{ID: p.ID, Name: p.Name, Description: p.Description, Datacenters: p.Datacenters,
			CreateIndex: p.CreateIndex, ModifyIndex: p.ModifyIndex})
	}
	return list, nil
}

// tokenBody is a token create or update, as the official client sends
// it (ExpirationTTL as nanoseconds) or as curl users write it ("1h").
type tokenBody struct {
	AccessorID     string
	SecretID       string
	Description    string
	Policies       []store.ACLLink
	Local          bool
	ExpirationTime *time.Time
	ExpirationTTL  json.RawMessage
}

func (b *tokenBody) token() (*store.ACLToken, error) {
	t := &store.ACLToken{AccessorID: b.AccessorID, SecretID: b.SecretID, Description: b.Description,
		Policies: b.Policies, Local: b.Local, ExpirationTime: b.ExpirationTime}
	if len(b.ExpirationTTL) > 0 && string(b.ExpirationTTL) != "null" {
		var s string
		if json.Unmarshal(b.ExpirationTTL, &s) == nil {
			d, err := time.ParseDuration(s)
			if err != nil {
				return nil, badRequest("Invalid ExpirationTTL %q", s)
			}
			t.ExpirationTTL = d
		} else if n, err := strconv.ParseInt(string(b.ExpirationTTL), 10, 64); err == nil {
			t.ExpirationTTL = time.Duration(n)
		} else {
			return nil, badRequest("Invalid ExpirationTTL %s", b.ExpirationTTL)
		}
		if t.ExpirationTTL < 0 {
			return nil, badRequest("Token Expiration TTL '%s' should be > 0", t.ExpirationTTL)
		}
	}
	return t, nil
}

func (h *Handler) aclTokenCreate(w http.ResponseWriter, r *http.Request) (any, error) {
	return h.aclTokenWrite(r, "")
}

func (h *Handler) aclTokenWrite(r *http.Request, id string) (any, error) {
	var b tokenBody
	if err := decodeACLBody(r, &b); err != nil {
		return nil, err
	}
	if id != "" {
		if b.AccessorID != "" && b.AccessorID != id {
			return nil, badRequest("Token Accessor ID in URL and payload do not match")
		}
		b.AccessorID = id
	}
	t, err := b.token()
	if err != nil {
		return nil, err
	}
	if id == "" && t.AccessorID != "" {
		// A create with a chosen AccessorID must not update another token.
		if out, _ := h.agent.ACLRead(r.Context(), &node.ACLReadRequest{ID: t.AccessorID, QueryOptions: node.QueryOptions{Token: requestToken(r)}}); out != nil && len(out.Tokens) > 0 {
			return nil, badRequest("Invalid Token: AccessorID is already in use")
		}
		if t.SecretID == "" {
			return nil, badRequest("a token created with an AccessorID needs a SecretID")
		}
	}
	out, err := h.agent.ACLApply(r.Context(), &node.ACLWriteRequest{Op: store.ACLSet, ACLToken: t, WriteOptions: writeOptions(r)})
	if err != nil {
		return nil, err
	}
	return tokenJSON(out.Token), nil
}

// aclToken is /v1/acl/token/<accessor>, /self and /<accessor>/clone.
func (h *Handler) aclToken(w http.ResponseWriter, r *http.Request) (any, error) {
	id := pathTail(r, "/v1/acl/token/")
	if id == "" {
		return nil, badRequest("Missing token ID")
	}
	if src, ok := strings.CutSuffix(id, "/clone"); ok && r.Method == http.MethodPut {
		return h.aclTokenClone(w, r, src)
	}
	switch r.Method {
	case http.MethodPut:
		return h.aclTokenWrite(r, id)
	case http.MethodDelete:
		_, err := h.agent.ACLApply(r.Context(), &node.ACLWriteRequest{Op: store.ACLDelete, ID: id, WriteOptions: writeOptions(r)})
		return true, err
	}
	req := &node.ACLReadRequest{ID: id}
	if id == "self" {
		req = &node.ACLReadRequest{Self: true}
	}
	out, err := h.aclRead(w, r, req)
	if err != nil {
		return nil, err
	}
	if len(out.Tokens) == 0 {
		return nil, &statusError{code: http.StatusForbidden, msg: "ACL not found"}
	}
	return tokenJSON(&out.Tokens[0]), nil
}

func (h *Handler) aclTokenClone(w http.ResponseWriter, r *http.Request, src string) (any, error) {
	var b struct{ Description string }
	if r.ContentLength != 0 {
		if err := decodeACLBody(r, &b); err != nil {
			return nil, err
		}
	}
	out, err := h.aclRead(w, r, &node.ACLReadRequest{ID: src})
	if err != nil {
		return nil, err
	}
	if len(out.Tokens) == 0 {
		return nil, &statusError{code: http.StatusForbidden, msg: "ACL not found"}
	}
	old := out.Tokens[0]
	t := &store.ACLToken{Description: old.Description, Policies: old.Policies, Local: old.Local}
	if b.Description != "" {
		t.Description = b.Description
	}
	res, err := h.agent.ACLApply(r.Context(), &node.ACLWriteRequest{Op: store.ACLSet, ACLToken: t, WriteOptions: writeOptions(r)})
	if err != nil {
		return nil, err
	}
	return tokenJSON(res.Token), nil
}

func (h *Handler) aclTokens(w http.ResponseWriter, r *http.Request) (any, error) {
	out, err := h.aclRead(w, r, &node.ACLReadRequest{})
	if err != nil {
		return nil, err
	}
	list := make([]*store.ACLToken, 0, len(out.Tokens))
	for i := range out.Tokens {
		list = append(list, tokenJSON(&out.Tokens[i]))
	}
	return list, nil
}

// tokenJSON is a token as Consul shows it (no TTL: the expiration time
// says it; Policies always a list).
func tokenJSON(t *store.ACLToken) *store.ACLToken {
	if t == nil {
		return nil
	}
	c := *t
	c.ExpirationTTL = 0
	if c.Policies == nil {
		c.Policies = []store.ACLLink{}
	}
	return &c
}

func (h *Handler) aclReplication(w http.ResponseWriter, r *http.Request) (any, error) {
	opts, err := queryOptions(r)
	if err != nil {
		return nil, err
	}
	out, err := h.agent.ACLReplication(r.Context(), opts)
	if err != nil {
		return nil, err
	}
	setMeta(w, out.QueryMeta)
	return out, nil
}

// agentToken is PUT /v1/agent/token/<kind> {"Token": "..."}.
func (h *Handler) agentToken(w http.ResponseWriter, r *http.Request) (any, error) {
	kind := pathTail(r, "/v1/agent/token/")
	var b struct{ Token string }
	if err := decodeACLBody(r, &b); err != nil {
		return nil, err
	}
	return nil, h.agent.SetAgentToken(r.Context(), kind, b.Token)
}
