package acl

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

// Parse parses a policy document in Consul's rule language, HCL or JSON.
func Parse(src string) (*Rules, error) { panic("todo") }

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

// New compiles policies over a default (allow: default_policy "allow").
func New(defaultAllow bool, policies ...*Rules) Authorizer { panic("todo") }

// Manage is the global-management authorizer: everything allowed.
func Manage() Authorizer { return fixed{allow: true, manage: true} }

// AllowAll allows everything but is not management; DenyAll denies everything.
func AllowAll() Authorizer { return fixed{allow: true} }
func DenyAll() Authorizer  { return fixed{} }

type fixed struct{ allow, manage bool }

func (f fixed) KeyRead(string) bool        { return f.allow }
func (f fixed) KeyList(string) bool        { return f.allow }
func (f fixed) KeyWrite(string) bool       { return f.allow }
func (f fixed) KeyWritePrefix(string) bool { return f.allow }
func (f fixed) NodeRead(string) bool       { return f.allow }
func (f fixed) NodeWrite(string) bool      { return f.allow }
func (f fixed) ServiceRead(string) bool    { return f.allow }
func (f fixed) ServiceWrite(string) bool   { return f.allow }
func (f fixed) SessionRead(string) bool    { return f.allow }
func (f fixed) SessionWrite(string) bool   { return f.allow }
func (f fixed) EventRead(string) bool      { return f.allow }
func (f fixed) EventWrite(string) bool     { return f.allow }
func (f fixed) AgentRead(string) bool      { return f.allow }
func (f fixed) AgentWrite(string) bool     { return f.allow }
func (f fixed) QueryRead(string) bool      { return f.allow }
func (f fixed) QueryWrite(string) bool     { return f.allow }
func (f fixed) OperatorRead() bool         { return f.allow }
func (f fixed) OperatorWrite() bool        { return f.allow }
func (f fixed) ACLRead() bool              { return f.allow }
func (f fixed) ACLWrite() bool             { return f.allow }
func (f fixed) KeyringRead() bool          { return f.allow }
func (f fixed) KeyringWrite() bool         { return f.allow }
func (f fixed) IsManagement() bool         { return f.manage }
