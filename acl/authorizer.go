package acl

import (
	"strings"

	iradix "github.com/hashicorp/go-immutable-radix"
)

// New compiles policies over a default (allow: default_policy "allow").
// The policies are merged first, as Consul merges a token's policies: for
// the same resource, name and kind (exact or prefix), deny wins, else the
// most permissive. Each resource then gets a table answering a name in one
// map lookup and one radix walk, since every request asks.
func New(defaultAllow bool, policies ...*Rules) Authorizer {
	merged := map[ruleKey]Access{}
	a := &policyAuthz{defaultAllow: defaultAllow}
	for _, p := range policies {
		if p == nil {
			continue
		}
		for _, r := range p.Rules {
			if resourceIndex(r.Resource) < 0 || r.Access == AccessUnset {
				continue
			}
			k := ruleKey{r.Resource, r.Prefix, r.Name}
			merged[k] = stronger(merged[k], r.Access)
		}
		a.acl = mergeScalar(a.acl, p.ACL)
		a.operator = mergeScalar(a.operator, p.Operator)
		a.keyring = mergeScalar(a.keyring, p.Keyring)
	}
	var txns [len(resources)]*iradix.Txn
	for k, acc := range merged {
		t := &a.tables[resourceIndex(k.res)]
		if !k.prefix {
			if t.exact == nil {
				t.exact = map[string]Access{}
			}
			t.exact[k.name] = acc
			continue
		}
		i := resourceIndex(k.res)
		if txns[i] == nil {
			txns[i] = iradix.New().Txn()
		}
		txns[i].Insert([]byte(k.name), acc)
	}
	for i, txn := range txns {
		if txn != nil {
			a.tables[i].prefix = txn.Commit()
		}
	}
	return a
}

func mergeScalar(a, b Access) Access {
	if b == AccessUnset {
		return a
	}
	return stronger(a, b)
}

// table holds one resource's rules: exact rules by name, prefix rules in a
// radix tree (nil when there are none).
type table struct {
	exact  map[string]Access
	prefix *iradix.Tree
}

// access is the rule that decides name: its exact rule, else the longest
// prefix rule that matches it, else AccessUnset.
func (t *table) access(name string) Access {
	if a, ok := t.exact[name]; ok {
		return a
	}
	if t.prefix == nil {
		return AccessUnset
	}
	if _, v, ok := t.prefix.Root().LongestPrefix([]byte(name)); ok {
		return v.(Access)
	}
	return AccessUnset
}

type policyAuthz struct {
	defaultAllow           bool
	tables                 [len(resources)]table
	acl, operator, keyring Access
}

// grants is Consul's enforce: write grants everything, list grants list
// and read, read grants read only, deny nothing; no rule leaves it to the
// default policy.
func (a *policyAuthz) grants(rule, need Access) bool {
	switch rule {
	case AccessUnset:
		return a.defaultAllow
	case AccessWrite:
		return true
	case AccessList:
		return need == AccessList || need == AccessRead
	case AccessRead:
		return need == AccessRead
	}
	return false
}

func (a *policyAuthz) check(r Resource, name string, need Access) bool {
	return a.grants(a.tables[resourceIndex(r)].access(name), need)
}

func (a *policyAuthz) KeyRead(key string) bool      { return a.check(ResKey, key, AccessRead) }
func (a *policyAuthz) KeyList(prefix string) bool   { return a.check(ResKey, prefix, AccessList) }
func (a *policyAuthz) KeyWrite(key string) bool     { return a.check(ResKey, key, AccessWrite) }
func (a *policyAuthz) NodeRead(name string) bool    { return a.check(ResNode, name, AccessRead) }
func (a *policyAuthz) NodeWrite(name string) bool   { return a.check(ResNode, name, AccessWrite) }
func (a *policyAuthz) ServiceRead(name string) bool { return a.check(ResService, name, AccessRead) }
func (a *policyAuthz) ServiceWrite(name string) bool {
	return a.check(ResService, name, AccessWrite)
}
func (a *policyAuthz) SessionRead(node string) bool  { return a.check(ResSession, node, AccessRead) }
func (a *policyAuthz) SessionWrite(node string) bool { return a.check(ResSession, node, AccessWrite) }
func (a *policyAuthz) EventRead(name string) bool    { return a.check(ResEvent, name, AccessRead) }
func (a *policyAuthz) EventWrite(name string) bool   { return a.check(ResEvent, name, AccessWrite) }
func (a *policyAuthz) AgentRead(node string) bool    { return a.check(ResAgent, node, AccessRead) }
func (a *policyAuthz) AgentWrite(node string) bool   { return a.check(ResAgent, node, AccessWrite) }
func (a *policyAuthz) QueryRead(name string) bool    { return a.check(ResQuery, name, AccessRead) }
func (a *policyAuthz) QueryWrite(name string) bool   { return a.check(ResQuery, name, AccessWrite) }
func (a *policyAuthz) OperatorRead() bool            { return a.grants(a.operator, AccessRead) }
func (a *policyAuthz) OperatorWrite() bool           { return a.grants(a.operator, AccessWrite) }
func (a *policyAuthz) KeyringRead() bool             { return a.grants(a.keyring, AccessRead) }
func (a *policyAuthz) KeyringWrite() bool            { return a.grants(a.keyring, AccessWrite) }

// ACLRead and ACLWrite are management actions: without an acl rule they
// are denied even under default_policy "allow", as in Consul.
func (a *policyAuthz) ACLRead() bool  { return a.acl != AccessUnset && a.grants(a.acl, AccessRead) }
func (a *policyAuthz) ACLWrite() bool { return a.acl != AccessUnset && a.grants(a.acl, AccessWrite) }

func (a *policyAuthz) IsManagement() bool { return false }

// KeyWritePrefix is Consul's check for a recursive delete: the rule that
// decides prefix itself must grant write, and no rule for a key or prefix
// under it (exact or prefix, the prefix's own exact rule included) may
// grant less, since the delete would remove those keys too. Without any
// rule on the way or below, the default decides.
func (a *policyAuthz) KeyWritePrefix(prefix string) bool {
	t := &a.tables[resourceIndex(ResKey)]
	base := AccessUnset
	if t.prefix != nil {
		if _, v, ok := t.prefix.Root().LongestPrefix([]byte(prefix)); ok {
			base = v.(Access)
		}
	}
	if base != AccessUnset && base != AccessWrite {
		return false
	}
	below := true
	if t.prefix != nil {
		t.prefix.Root().WalkPrefix([]byte(prefix), func(_ []byte, v any) bool {
			below = v.(Access) == AccessWrite
			return !below
		})
	}
	if !below {
		return false
	}
	for name, acc := range t.exact {
		if acc != AccessWrite && strings.HasPrefix(name, prefix) {
			return false
		}
	}
	return a.grants(base, AccessWrite)
}
