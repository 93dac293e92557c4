package acl

import (
	"fmt"
	"strings"
)

// Access is what a rule grants on a resource.
type Access int

const (
	// AccessUnset: no rule matched (the default policy decides).
	AccessUnset Access = iota
	AccessDeny
	AccessRead
	AccessList
	AccessWrite
)

// ParseAccess reads a policy disposition as Consul does: "read", "write",
// "list" or "deny", in any case.
func ParseAccess(s string) (Access, error) {
	switch strings.ToLower(s) {
	case "deny":
		return AccessDeny, nil
	case "read":
		return AccessRead, nil
	case "list":
		return AccessList, nil
	case "write":
		return AccessWrite, nil
	}
	return AccessUnset, fmt.Errorf("invalid policy %q: want read, write, list or deny", s)
}

// String is the policy's spelling in the rule language ("unset" for
// AccessUnset).
func (a Access) String() string {
	switch a {
	case AccessUnset:
		return "unset"
	case AccessDeny:
		return "deny"
	case AccessRead:
		return "read"
	case AccessList:
		return "list"
	case AccessWrite:
		return "write"
	}
	return fmt.Sprintf("Access(%d)", int(a))
}

// stronger merges two rules for the same thing as Consul's policy merger
// does: deny wins, else the more permissive (write > list > read).
func stronger(a, b Access) Access {
	if a == AccessDeny || b == AccessDeny {
		return AccessDeny
	}
	return max(a, b)
}

// Resource names a prefix/exact rule family of Consul's rule language.
type Resource string

const (
	ResKey     Resource = "key"
	ResNode    Resource = "node"
	ResService Resource = "service"
	ResSession Resource = "session"
	ResEvent   Resource = "event"
	ResAgent   Resource = "agent"
	ResQuery   Resource = "query"
)

// resources lists the families in a fixed order: the index of each is its
// table in a compiled authorizer and its rank when Rules are sorted.
var resources = [...]Resource{ResKey, ResNode, ResService, ResSession, ResEvent, ResAgent, ResQuery}

func resourceIndex(r Resource) int {
	for i, x := range resources {
		if x == r {
			return i
		}
	}
	return -1
}

// Rule is one `<resource>[_prefix] "<name>" { policy = "..." }`.
type Rule struct {
	Resource Resource
	Name     string
	Prefix   bool
	Access   Access
}

// Rules is one parsed policy document.
type Rules struct {
	Rules []Rule
	// Scalar rules: acl, operator, keyring (AccessUnset when absent).
	ACL, Operator, Keyring Access
	// Warnings: accepted but ignored parts (mesh, peering, ...), one line each.
	Warnings []string
}

// Authorizer answers what a resolved token may do.
type Authorizer interface {
	KeyRead(key string) bool
	KeyList(prefix string) bool
	KeyWrite(key string) bool
	KeyWritePrefix(prefix string) bool
	NodeRead(name string) bool
	NodeWrite(name string) bool
	ServiceRead(name string) bool
	ServiceWrite(name string) bool
	SessionRead(node string) bool
	SessionWrite(node string) bool
	EventRead(name string) bool
	EventWrite(name string) bool
	AgentRead(node string) bool
	AgentWrite(node string) bool
	QueryRead(name string) bool
	QueryWrite(name string) bool
	OperatorRead() bool
	OperatorWrite() bool
	ACLRead() bool
	ACLWrite() bool
	KeyringRead() bool
	KeyringWrite() bool
	// IsManagement: the global-management policy (everything, and
	// snapshot save/restore).
	IsManagement() bool
}

// AllowSnapshot tells whether a may save and restore snapshots: Consul
// asks for acl = "write" (which the management policy has), since a
// snapshot holds every token.
func AllowSnapshot(a Authorizer) bool {
	return a.IsManagement() || a.ACLWrite()
}

// Manage is the global-management authorizer: everything allowed.
func Manage() Authorizer { return manageAll }

// AllowAll allows everything but the management actions (ACL read and
// write, hence snapshots), as Consul's default_policy "allow" does: a
// token without an acl rule must not be able to mint a management token.
// DenyAll denies everything.
func AllowAll() Authorizer { return allowAll }
func DenyAll() Authorizer  { return denyAll }

var (
	manageAll = static{allow: true, manage: true}
	allowAll  = static{allow: true}
	denyAll   = static{}
)

// static answers every question the same way, as Consul's static
// authorizers: ACL management needs manage, everything else allow.
type static struct{ allow, manage bool }

func (s static) KeyRead(string) bool        { return s.allow }
func (s static) KeyList(string) bool        { return s.allow }
func (s static) KeyWrite(string) bool       { return s.allow }
func (s static) KeyWritePrefix(string) bool { return s.allow }
func (s static) NodeRead(string) bool       { return s.allow }
func (s static) NodeWrite(string) bool      { return s.allow }
func (s static) ServiceRead(string) bool    { return s.allow }
func (s static) ServiceWrite(string) bool   { return s.allow }
func (s static) SessionRead(string) bool    { return s.allow }
func (s static) SessionWrite(string) bool   { return s.allow }
func (s static) EventRead(string) bool      { return s.allow }
func (s static) EventWrite(string) bool     { return s.allow }
func (s static) AgentRead(string) bool      { return s.allow }
func (s static) AgentWrite(string) bool     { return s.allow }
func (s static) QueryRead(string) bool      { return s.allow }
func (s static) QueryWrite(string) bool     { return s.allow }
func (s static) OperatorRead() bool         { return s.allow }
func (s static) OperatorWrite() bool        { return s.allow }
func (s static) ACLRead() bool              { return s.manage }
func (s static) ACLWrite() bool             { return s.manage }
func (s static) KeyringRead() bool          { return s.allow }
func (s static) KeyringWrite() bool         { return s.allow }
func (s static) IsManagement() bool         { return s.manage }
