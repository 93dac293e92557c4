// Package acl is Consul's ACL rule language and its evaluation: Parse reads
// a policy document (HCL or JSON, with hashicorp/hcl v1 as Consul does) into
// Rules, and New compiles the policies of one token, over the default
// policy, into an Authorizer that the server asks on every request.
//
// The language: `key_prefix "foo/" { policy = "read" }` and its exact twin
// `key "foo/bar" { ... }`, likewise node, service, session, event, agent
// and query; the scalars `acl`, `operator` and `keyring`. A policy is read,
// write, list (key and key_prefix only) or deny. Consul's mesh, peering,
// intentions, Enterprise (partition, namespace) and deprecated (identity)
// parts are accepted and ignored with a warning, so Consul policies load
// unchanged; anything else unknown is an error, where Consul would silently
// drop a misspelt rule.
//
// Evaluation follows Consul's policy authorizer: for a name, its exact rule
// decides, else the longest prefix rule that matches it, else the default.
// A token's policies are merged first (deny wins, else the most permissive),
// so among rules of equal standing a deny in any policy wins. write grants
// read, list and write; list grants list and read; read grants read only,
// so KeyList (recursive reads and key listings) needs list or write.
// KeyWritePrefix, asked before a recursive delete, also needs every rule
// under the prefix to grant write. ACL read and write are management
// actions: only an acl rule (or Manage) grants them, never the default.
//
// The package knows nothing of tokens, their resolution or the agent's
// configuration; it answers questions about names.
package acl
