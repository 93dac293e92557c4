package tui

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"consulx/api"
)

// fakeACL is the ACL side of the fake agent, answering as consulx does.
type fakeACL struct {
	// self is the console's token; nil: the agent does not know it.
	self *api.ACLToken
	// secrets says whether the console's token has acl:write: without
	// it the lists carry "<hidden>" for every SecretID, as the agent's.
	secrets  bool
	policies []*api.ACLPolicyListEntry
	tokens   []*api.ACLTokenListEntry
	// listErr refuses both lists (a token without acl:read).
	listErr error
	// selfReads counts the self reads (the header's).
	selfReads int
}

// denied is the agent's 403 for a token lacking perm (on "" for acl).
func denied(perm, on string) error {
	msg := fmt.Sprintf("Permission denied: token with AccessorID 'e1a7c0de-0000-4000-8000-000000000001' lacks permission '%s'", perm)
	if on != "" {
		msg += fmt.Sprintf(" on %q", on)
	}
	return &api.StatusError{Code: http.StatusForbidden, Body: msg}
}

var errACLNotFound = &api.StatusError{Code: http.StatusForbidden, Body: "ACL not found"}

// withACLs turns ACLs on: two policies and three tokens, the console's
// being the one described self (none of them, "unknown": a token the
// agent does not know); secrets: the console's token has acl:write.
func (f *fakeSource) withACLs(self string, secrets bool) *fakeSource {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acl = &fakeACL{secrets: secrets,
		policies: []*api.ACLPolicyListEntry{
			{ID: "00000000-0000-0000-0000-000000000001", Name: "global-management", Description: "Builtin Policy that grants unlimited access"},
			{ID: "9d3c6e1a-2f4b-4c8d-9e0f-1a2b3c4d5e6f", Name: "replication", Description: "acl read, service and key read", Datacenters: []string{"dc1"}},
		},
		tokens: []*api.ACLTokenListEntry{
			{AccessorID: anonymousAccessor, SecretID: "anonymous", Description: "Anonymous Token"},
			{AccessorID: "432b65af-a5d1-dd13-b996-b74274af5639", SecretID: "11111111-2222-4333-8444-555555555555", Description: "Initial Management Token",
				Policies: []api.ACLLink{{ID: "00000000-0000-0000-0000-000000000001", Name: "global-management"}}},
			{AccessorID: "7b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f", SecretID: "a9b8c7d6-e5f4-4321-8fed-cba987654321", Description: "replication token",
				Policies: []api.ACLLink{{ID: "9d3c6e1a-2f4b-4c8d-9e0f-1a2b3c4d5e6f", Name: "replication"}}, Local: true},
		}}
	f.acl.self = f.token(self)
	return f
}

func (f *fakeSource) setFiltered(read string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.filtered == nil {
		f.filtered = map[string]bool{}
	}
	f.filtered[read] = on
}

func (f *fakeSource) selfReads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.acl == nil {
		return 0
	}
	return f.acl.selfReads
}

// ACLTokenReadSelf answers as consulx: "ACL not found" with ACLs off or
// for a token it does not know.
func (f *fakeSource) ACLTokenReadSelf(ctx context.Context, q *api.QueryOptions) (*api.ACLToken, *api.QueryMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, nil, errDown
	}
	if f.acl == nil || f.acl.self == nil {
		return nil, &api.QueryMeta{}, errACLNotFound
	}
	f.acl.selfReads++
	cp := *f.acl.self
	return &cp, &api.QueryMeta{LastIndex: 5}, nil
}

// aclListErr is the lists' refusal: nil with ACLs off (consulx lists
// nothing), "ACL not found" for an unknown token, else listErr.
func (f *fakeSource) aclListErr() error {
	switch {
	case f.down:
		return errDown
	case f.acl == nil:
		return nil
	case f.acl.self == nil:
		return errACLNotFound
	}
	return f.acl.listErr
}

func (f *fakeSource) ACLPolicyList(ctx context.Context, q *api.QueryOptions) ([]*api.ACLPolicyListEntry, *api.QueryMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.aclListErr(); err != nil || f.acl == nil {
		return []*api.ACLPolicyListEntry{}, &api.QueryMeta{}, err
	}
	out := make([]*api.ACLPolicyListEntry, len(f.acl.policies))
	for i, p := range f.acl.policies {
		cp := *p
		out[i] = &cp
	}
	return out, &api.QueryMeta{LastIndex: 5}, nil
}

func (f *fakeSource) ACLTokenList(ctx context.Context, q *api.QueryOptions) ([]*api.ACLTokenListEntry, *api.QueryMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.aclListErr(); err != nil || f.acl == nil {
		return []*api.ACLTokenListEntry{}, &api.QueryMeta{}, err
	}
	out := make([]*api.ACLTokenListEntry, len(f.acl.tokens))
	for i, t := range f.acl.tokens {
		cp := *t
		if !f.acl.secrets {
			cp.SecretID = hiddenSecret
		}
		out[i] = &cp
	}
	return out, &api.QueryMeta{LastIndex: 5}, nil
}

// token is one of the fake's tokens by description, as the console's own.
func (f *fakeSource) token(desc string) *api.ACLToken {
	for _, t := range f.acl.tokens {
		if strings.EqualFold(t.Description, desc) {
			return &api.ACLToken{AccessorID: t.AccessorID, SecretID: t.SecretID, Description: t.Description, Policies: t.Policies, Local: t.Local}
		}
	}
	return nil
}
