package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/tidwall/buntdb"
)

// The ACL tables: policies by ID with a name index, tokens by AccessorID
// with a SecretID index. The whole ACL state moves with one index
// (m:acl), which resolvers use to drop their caches and replication uses
// to block on.
const (
	aclPolicyPrefix     = "acl:p:"
	aclPolicyNamePrefix = "acl:n:"
	aclTokenPrefix      = "acl:t:"
	aclSecretPrefix     = "acl:s:"
	aclIndexKey         = "m:acl"
	aclBootstrapKey     = "m:acl-bootstrap"
)

// Built-in ACL objects, with Consul's fixed IDs.
const (
	GlobalManagementPolicyID   = "00000000-0000-0000-0000-000000000001"
	GlobalManagementPolicyName = "global-management"
	AnonymousTokenAccessorID   = "00000000-0000-0000-0000-000000000002"
	AnonymousTokenSecretID     = "anonymous"
)

// ACLPolicy is Consul's ACL policy, in its JSON shape.
type ACLPolicy struct {
	ID          string
	Name        string
	Description string
	Rules       string
	Datacenters []string `json:",omitempty"`
	Hash        []byte   `json:",omitempty"`
	CreateIndex uint64
	ModifyIndex uint64
}

// ACLLink names a policy a token holds.
type ACLLink struct {
	ID   string
	Name string `json:",omitempty"`
}

// ACLToken is Consul's ACL token, in its JSON shape.
type ACLToken struct {
	AccessorID     string
	SecretID       string
	Description    string
	Policies       []ACLLink `json:",omitempty"`
	Local          bool
	ExpirationTime *time.Time    `json:",omitempty"`
	ExpirationTTL  time.Duration `json:",omitempty"`
	CreateTime     time.Time
	Hash           []byte `json:",omitempty"`
	CreateIndex    uint64
	ModifyIndex    uint64
}

// Expired reports whether the token has passed its expiration time.
func (t *ACLToken) Expired(now time.Time) bool {
	return t.ExpirationTime != nil && !now.Before(*t.ExpirationTime)
}

// ACLOp names an ACL write.
type ACLOp string

const (
	// ACLBootstrap stores Tokens[0] unless bootstrap already happened.
	ACLBootstrap ACLOp = "bootstrap"
	// ACLSet upserts Policies and Tokens.
	ACLSet ACLOp = "set"
	// ACLDelete deletes the policies PolicyIDs and the tokens TokenIDs
	// (accessors).
	ACLDelete ACLOp = "delete"
)

// ACLRequest is one ACL write: a batch, so replication applies a whole
// diff in one Raft entry.
type ACLRequest struct {
	Op        ACLOp
	Policies  []ACLPolicy `json:",omitempty"`
	Tokens    []ACLToken  `json:",omitempty"`
	PolicyIDs []string    `json:",omitempty"`
	TokenIDs  []string    `json:",omitempty"`
}

// ErrACLBootstrapDone refuses a second bootstrap.
var ErrACLBootstrapDone = errors.New("ACL bootstrap no longer allowed")

func (s *Store) applyACL(w *wtx, idx uint64, req *ACLRequest) error {
	switch req.Op {
	case ACLBootstrap:
		if v, ok := w.get(aclBootstrapKey); ok {
			return fmt.Errorf("%w (reset index: %s)", ErrACLBootstrapDone, v)
		}
		if len(req.Tokens) != 1 {
			return fmt.Errorf("bootstrap takes one token")
		}
		if err := w.set(aclBootstrapKey, strconv.FormatUint(idx, 10)); err != nil {
			return err
		}
		fallthrough
	case ACLSet:
		for i := range req.Policies {
			if err := putPolicy(w, idx, &req.Policies[i]); err != nil {
				return err
			}
		}
		for i := range req.Tokens {
			if err := putToken(w, idx, &req.Tokens[i]); err != nil {
				return err
			}
		}
	case ACLDelete:
		for _, id := range req.PolicyIDs {
			if v, ok := w.get(aclPolicyPrefix + id); ok {
				var p ACLPolicy
				if err := json.Unmarshal([]byte(v), &p); err != nil {
					return err
				}
				if err := w.del(aclPolicyNamePrefix + p.Name); err != nil {
					return err
				}
				if err := w.del(aclPolicyPrefix + id); err != nil {
					return err
				}
			}
		}
		for _, id := range req.TokenIDs {
			if v, ok := w.get(aclTokenPrefix + id); ok {
				var t ACLToken
				if err := json.Unmarshal([]byte(v), &t); err != nil {
					return err
				}
				if err := w.del(aclSecretPrefix + t.SecretID); err != nil {
					return err
				}
				if err := w.del(aclTokenPrefix + id); err != nil {
					return err
				}
			}
		}
	default:
		return fmt.Errorf("unknown ACL operation %q", req.Op)
	}
	w.aclChanged = true
	return w.set(aclIndexKey, strconv.FormatUint(idx, 10))
}

func putPolicy(w *wtx, idx uint64, p *ACLPolicy) error {
	if p.ID == "" || p.Name == "" {
		return fmt.Errorf("policy needs an ID and a name")
	}
	if other, ok := w.get(aclPolicyNamePrefix + p.Name); ok && other != p.ID {
		return fmt.Errorf("Invalid Policy: A Policy with Name %q already exists", p.Name)
	}
	p.CreateIndex = idx
	if v, ok := w.get(aclPolicyPrefix + p.ID); ok {
		var old ACLPolicy
		if err := json.Unmarshal([]byte(v), &old); err != nil {
			return err
		}
		p.CreateIndex = old.CreateIndex
		if old.Name != p.Name {
			if err := w.del(aclPolicyNamePrefix + old.Name); err != nil {
				return err
			}
		}
	}
	p.ModifyIndex = idx
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := w.set(aclPolicyNamePrefix+p.Name, p.ID); err != nil {
		return err
	}
	return w.set(aclPolicyPrefix+p.ID, string(b))
}

func putToken(w *wtx, idx uint64, t *ACLToken) error {
	if t.AccessorID == "" || t.SecretID == "" {
		return fmt.Errorf("token needs an AccessorID and a SecretID")
	}
	if other, ok := w.get(aclSecretPrefix + t.SecretID); ok && other != t.AccessorID {
		return fmt.Errorf("Invalid Token: SecretID is already in use")
	}
	t.CreateIndex = idx
	if v, ok := w.get(aclTokenPrefix + t.AccessorID); ok {
		var old ACLToken
		if err := json.Unmarshal([]byte(v), &old); err != nil {
			return err
		}
		if old.SecretID != t.SecretID {
			return fmt.Errorf("Invalid Token: SecretID cannot be changed")
		}
		t.CreateIndex = old.CreateIndex
	}
	t.ModifyIndex = idx
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := w.set(aclSecretPrefix+t.SecretID, t.AccessorID); err != nil {
		return err
	}
	return w.set(aclTokenPrefix+t.AccessorID, string(b))
}

// ACLIndex is the index of the last ACL change (0: none yet).
func (s *Store) ACLIndex() uint64 {
	var idx uint64
	_ = s.view(func(tx *buntdb.Tx) error { idx = getUint(tx, aclIndexKey); return nil })
	return idx
}

// ACLBootstrapped reports whether bootstrap happened, and at which index.
func (s *Store) ACLBootstrapped() (bool, uint64) {
	var idx uint64
	ok := false
	_ = s.view(func(tx *buntdb.Tx) error {
		if _, err := tx.Get(aclBootstrapKey); err == nil {
			ok, idx = true, getUint(tx, aclBootstrapKey)
		}
		return nil
	})
	return ok, idx
}

func readJSON[T any](tx *buntdb.Tx, key string) (*T, error) {
	v, err := tx.Get(key)
	if err == buntdb.ErrNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out T
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ACLPolicyGet returns a policy by ID, or by name when byName (nil: none).
func (s *Store) ACLPolicyGet(idOrName string, byName bool) (*ACLPolicy, uint64, error) {
	var p *ACLPolicy
	var idx uint64
	err := s.view(func(tx *buntdb.Tx) error {
		idx = getUint(tx, aclIndexKey)
		id := idOrName
		if byName {
			v, err := tx.Get(aclPolicyNamePrefix + idOrName)
			if err == buntdb.ErrNotFound {
				return nil
			}
			id = v
		}
		var err error
		p, err = readJSON[ACLPolicy](tx, aclPolicyPrefix+id)
		return err
	})
	return p, idx, err
}

// ACLPolicyList returns every policy, by name.
func (s *Store) ACLPolicyList() ([]ACLPolicy, uint64, error) {
	out := []ACLPolicy{}
	var idx uint64
	err := s.view(func(tx *buntdb.Tx) error {
		idx = getUint(tx, aclIndexKey)
		var err error
		_ = ascendPrefix(tx, "", aclPolicyPrefix, func(_, v string) bool {
			var p ACLPolicy
			if err = json.Unmarshal([]byte(v), &p); err != nil {
				return false
			}
			out = append(out, p)
			return true
		})
		return err
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, idx, err
}

// ACLTokenGet returns a token by AccessorID, or by SecretID when bySecret,
// with its policy links' names filled in (nil: none).
func (s *Store) ACLTokenGet(id string, bySecret bool) (*ACLToken, uint64, error) {
	var t *ACLToken
	var idx uint64
	err := s.view(func(tx *buntdb.Tx) error {
		idx = getUint(tx, aclIndexKey)
		acc := id
		if bySecret {
			v, err := tx.Get(aclSecretPrefix + id)
			if err == buntdb.ErrNotFound {
				return nil
			}
			acc = v
		}
		var err error
		if t, err = readJSON[ACLToken](tx, aclTokenPrefix+acc); err != nil || t == nil {
			return err
		}
		fillPolicyNames(tx, t)
		return nil
	})
	return t, idx, err
}

// fillPolicyNames names each policy link by its current name; a link to
// a deleted policy is dropped, as Consul does when it reads a token.
func fillPolicyNames(tx *buntdb.Tx, t *ACLToken) {
	links := make([]ACLLink, 0, len(t.Policies))
	for _, l := range t.Policies {
		p, err := readJSON[ACLPolicy](tx, aclPolicyPrefix+l.ID)
		if err != nil || p == nil {
			continue
		}
		links = append(links, ACLLink{ID: p.ID, Name: p.Name})
	}
	t.Policies = links
}

// ACLTokenList returns every token (local and global), by AccessorID.
func (s *Store) ACLTokenList() ([]ACLToken, uint64, error) {
	out := []ACLToken{}
	var idx uint64
	err := s.view(func(tx *buntdb.Tx) error {
		idx = getUint(tx, aclIndexKey)
		var err error
		_ = ascendPrefix(tx, "", aclTokenPrefix, func(_, v string) bool {
			var t ACLToken
			if err = json.Unmarshal([]byte(v), &t); err != nil {
				return false
			}
			fillPolicyNames(tx, &t)
			out = append(out, t)
			return true
		})
		return err
	})
	return out, idx, err
}

// ACLPoliciesByID returns the policies with these IDs that exist.
func (s *Store) ACLPoliciesByID(ids []string) ([]ACLPolicy, error) {
	var out []ACLPolicy
	err := s.view(func(tx *buntdb.Tx) error {
		for _, id := range ids {
			p, err := readJSON[ACLPolicy](tx, aclPolicyPrefix+id)
			if err != nil {
				return err
			}
			if p != nil {
				out = append(out, *p)
			}
		}
		return nil
	})
	return out, err
}
