package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"consulx/api"
)

// `consulx acl` is Consul 1.22's `consul acl` for policies, tokens,
// bootstrap and the agent's tokens: the same flags, the same output (the
// pretty blocks and the -format=json text are Consul's byte for byte,
// checked against a real 1.22.7) and the same error lines, written
// against the documented HTTP API so it drives Consul and consulx alike.
// Roles, auth methods, binding rules, templated policies, service and
// node identities, namespaces and partitions are not implemented.

func runACL(args []string, env *cliEnv) int {
	return dispatch("acl", []subcommand{{"bootstrap", runACLBootstrap}, {"policy", runACLPolicy},
		{"token", runACLToken}, {"set-agent-token", runACLSetAgentToken}}, args, env)
}

func runACLPolicy(args []string, env *cliEnv) int {
	return dispatch("acl policy", []subcommand{{"create", runACLPolicyCreate}, {"read", runACLPolicyRead},
		{"update", runACLPolicyUpdate}, {"delete", runACLPolicyDelete}, {"list", runACLPolicyList}}, args, env)
}

func runACLToken(args []string, env *cliEnv) int {
	return dispatch("acl token", []subcommand{{"create", runACLTokenCreate}, {"read", runACLTokenRead},
		{"update", runACLTokenUpdate}, {"delete", runACLTokenDelete}, {"list", runACLTokenList},
		{"clone", runACLTokenClone}}, args, env)
}

// ---- output ----

// formatACLToken is Consul's pretty token block (command/acl/token's
// formatter): fixed-width labels, Expiration Time only when set, the
// hash in hex and the indexes with -meta, then the policy links.
func formatACLToken(t *api.ACLToken, meta bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Name:             %s\n", t.Name)
	fmt.Fprintf(&b, "AccessorID:       %s\n", t.AccessorID)
	fmt.Fprintf(&b, "SecretID:         %s\n", t.SecretID)
	fmt.Fprintf(&b, "Description:      %s\n", t.Description)
	fmt.Fprintf(&b, "Local:            %t\n", t.Local)
	fmt.Fprintf(&b, "Create Time:      %v\n", t.CreateTime)
	if t.ExpirationTime != nil && !t.ExpirationTime.IsZero() {
		fmt.Fprintf(&b, "Expiration Time:  %v\n", *t.ExpirationTime)
	}
	if meta {
		fmt.Fprintf(&b, "Hash:             %x\n", t.Hash)
		fmt.Fprintf(&b, "Create Index:     %d\n", t.CreateIndex)
		fmt.Fprintf(&b, "Modify Index:     %d\n", t.ModifyIndex)
	}
	if len(t.Policies) > 0 {
		b.WriteString("Policies:\n")
		for _, p := range t.Policies {
			fmt.Fprintf(&b, "   %s - %s\n", p.ID, p.Name)
		}
	}
	return b.String()
}

// formatACLTokenList is the token blocks separated by blank lines.
func formatACLTokenList(ts []*api.ACLTokenListEntry, meta bool) string {
	var b strings.Builder
	for i, t := range ts {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(formatACLToken(&api.ACLToken{
			Name: t.Name, AccessorID: t.AccessorID, SecretID: t.SecretID, Description: t.Description,
			Local: t.Local, CreateTime: t.CreateTime, ExpirationTime: t.ExpirationTime, Hash: t.Hash,
			CreateIndex: t.CreateIndex, ModifyIndex: t.ModifyIndex, Policies: t.Policies,
		}, meta))
	}
	return b.String()
}

// formatACLPolicy is Consul's pretty policy block; the rules come last,
// verbatim.
func formatACLPolicy(p *api.ACLPolicy, meta bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ID:           %s\n", p.ID)
	fmt.Fprintf(&b, "Name:         %s\n", p.Name)
	fmt.Fprintf(&b, "Description:  %s\n", p.Description)
	fmt.Fprintf(&b, "Datacenters:  %s\n", strings.Join(p.Datacenters, ", "))
	if meta {
		fmt.Fprintf(&b, "Hash:         %x\n", p.Hash)
		fmt.Fprintf(&b, "Create Index: %d\n", p.CreateIndex)
		fmt.Fprintf(&b, "Modify Index: %d\n", p.ModifyIndex)
	}
	b.WriteString("Rules:\n")
	b.WriteString(p.Rules)
	return b.String()
}

// formatACLPolicyList is one "name:" block per policy, fields indented
// by three spaces.
func formatACLPolicyList(ps []*api.ACLPolicyListEntry, meta bool) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%s:\n", p.Name)
		fmt.Fprintf(&b, "   ID:           %s\n", p.ID)
		fmt.Fprintf(&b, "   Description:  %s\n", p.Description)
		fmt.Fprintf(&b, "   Datacenters:  %s\n", strings.Join(p.Datacenters, ", "))
		if meta {
			fmt.Fprintf(&b, "   Hash:         %x\n", p.Hash)
			fmt.Fprintf(&b, "   Create Index: %d\n", p.CreateIndex)
			fmt.Fprintf(&b, "   Modify Index: %d\n", p.ModifyIndex)
		}
	}
	return b.String()
}

// aclJSON is Consul's -format=json text: json.MarshalIndent with four
// spaces. Unlike writeJSON it keeps HTML escaping (a rule with "<" reads
// "\u003c"), because that is what Consul prints.
func aclJSON(v any) (string, error) {
	b, err := json.MarshalIndent(v, "", "    ")
	return string(b), err
}

// aclOutput prints v as -format asks, pretty through the formatter,
// followed by the newline Consul's UI adds.
func aclOutput(x *cmdRun, v any, pretty func() string) int {
	out := ""
	if x.json() {
		var err error
		if out, err = aclJSON(v); err != nil {
			return x.errorf("Error encoding JSON: %v", err)
		}
	} else {
		out = pretty()
	}
	// Consul prints nothing at all for an empty pretty list.
	if out != "" {
		fmt.Fprintln(x.stdout, out)
	}
	return 0
}

// aclFail prints an API failure the way Consul's acl commands do,
// "<what>: <error>" (so "Failed to create new token: Unexpected response
// code: 403 (Permission denied: ...)"), except that an unreachable agent
// gets consulx's usual connection hint.
func aclFail(x *cmdRun, what string, err error) int {
	var se *api.StatusError
	var ne net.Error
	if !errors.As(err, &se) && (errors.As(err, &ne) || strings.Contains(err.Error(), "connection refused")) {
		return x.fail(what, err)
	}
	return x.errorf("%s: %v", what, err)
}

// noArgs refuses positional arguments: Go's flag parsing stops at the
// first one, so anything after it (a flag included) would be dropped
// silently.
func noArgs(x *cmdRun) bool {
	if n := len(x.args()); n > 0 {
		x.errorf("Too many arguments (expected 0, got %d): %q", n, x.args()[0])
		return false
	}
	return true
}

// writeOptions is the write parameters the flags ask for (-datacenter).
func (x *cmdRun) writeOptions() *api.WriteOptions {
	return &api.WriteOptions{Datacenter: x.datacenter()}
}

// loadDataSource reads a flag value as Consul does for -rules and the
// set-agent-token TOKEN: "@path" is the file's contents, "-" is stdin,
// anything else (including "-x") is the value itself.
func loadDataSource(v string, stdin io.Reader) (string, error) {
	switch {
	case v == "":
		return "", nil
	case v[0] == '@':
		b, err := os.ReadFile(v[1:])
		if err != nil {
			return "", fmt.Errorf("Failed to read file: %s", err)
		}
		return string(b), nil
	case v == "-":
		var b bytes.Buffer
		if _, err := io.Copy(&b, stdin); err != nil {
			return "", fmt.Errorf("Failed to read stdin: %s", err)
		}
		return b.String(), nil
	}
	return v, nil
}

// ---- ID resolution, as Consul's command/acl helpers ----

// Well-known IDs Consul's helpers accept by name.
const (
	anonymousTokenID         = "00000000-0000-0000-0000-000000000002"
	globalManagementPolicyID = "00000000-0000-0000-0000-000000000001"
)

// tokenAccessorID expands a unique prefix of an AccessorID (a full UUID
// is taken as is, "anonymous" is the anonymous token).
func tokenAccessorID(x *cmdRun, partial string) (string, error) {
	if partial == "anonymous" {
		return anonymousTokenID, nil
	}
	if len(partial) == 36 {
		return partial, nil
	}
	ts, _, err := x.client.ACLTokenList(x.ctx, x.query())
	if err != nil {
		return "", err
	}
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.AccessorID
	}
	return uniquePrefix("token", ids, partial)
}

// uniquePrefix is the one ID of ids that starts with partial, with
// Consul's errors when none or several do.
func uniquePrefix(kind string, ids []string, partial string) (string, error) {
	found := ""
	for _, id := range ids {
		if strings.HasPrefix(id, partial) {
			if found != "" {
				return "", fmt.Errorf("Partial %s ID is not unique", kind)
			}
			found = id
		}
	}
	if found == "" {
		return "", fmt.Errorf("No such %s ID with prefix: %s", kind, partial)
	}
	return found, nil
}

// policyID expands a unique prefix of a policy ID (a full UUID is taken
// as is, "global-management" is the built-in policy).
func policyID(x *cmdRun, partial string) (string, error) {
	if partial == "global-management" {
		return globalManagementPolicyID, nil
	}
	if len(partial) == 36 {
		return partial, nil
	}
	ps, _, err := x.client.ACLPolicyList(x.ctx, x.query())
	if err != nil {
		return "", err
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return uniquePrefix("policy", ids, partial)
}

// policyIDByName is the ID of the policy called name.
func policyIDByName(x *cmdRun, name string) (string, error) {
	p, _, err := x.client.ACLPolicyReadByName(x.ctx, name, x.query())
	if err != nil {
		return "", fmt.Errorf("Failed to find policy with name %s: %w", name, err)
	}
	if p == nil {
		return "", fmt.Errorf("No such policy with name: %s", name)
	}
	return p.ID, nil
}

// ---- bootstrap ----

func runACLBootstrap(args []string, env *cliEnv) int {
	cmd := newAPICmd("acl bootstrap", env).withFormat()
	return cmd.run(args, func(x *cmdRun) int {
		// The optional argument is a file holding the secret to use, or
		// "-" for stdin; never the secret itself (it would sit in the
		// shell's history).
		secret := ""
		switch len(x.args()) {
		case 0:
		case 1:
			src := x.args()[0]
			if src != "-" {
				src = "@" + src
			}
			s, err := loadDataSource(src, env.stdin)
			if err != nil {
				return x.errorf("Error reading provided token: %v", err)
			}
			secret = strings.TrimSpace(s)
		default:
			return x.errorf("This command takes up to one argument")
		}
		t, err := x.client.ACLBootstrap(x.ctx, secret)
		if err != nil {
			return aclFail(x, "Failed ACL bootstrapping", err)
		}
		return aclOutput(x, t, func() string { return formatACLToken(t, false) })
	})
}

// ---- policies ----

func runACLPolicyCreate(args []string, env *cliEnv) int {
	cmd := newAPICmd("acl policy create", env).withFormat()
	name := cmd.fs.String("name", "", "The new policy's name. This flag is required.")
	desc := cmd.fs.String("description", "", "A description of the policy")
	rules := cmd.fs.String("rules", "", "The policy rules: @FILE to read them from a file, - for stdin, or the rules themselves")
	var dcs stringList
	cmd.fs.Var(&dcs, "valid-datacenter", "Datacenter that the policy should be valid within (repeatable)")
	meta := cmd.fs.Bool("meta", false, "Show the policy's hash and Raft indexes")
	return cmd.run(args, func(x *cmdRun) int {
		if *name == "" {
			return x.errorf("Missing required '-name' flag")
		}
		if !noArgs(x) {
			return 1
		}
		r, err := loadDataSource(*rules, env.stdin)
		if err != nil {
			return x.errorf("Error loading rules: %v", err)
		}
		p, err := x.client.ACLPolicyCreate(x.ctx, &api.ACLPolicy{Name: *name, Description: *desc, Rules: r, Datacenters: dcs}, x.writeOptions())
		if err != nil {
			return aclFail(x, "Failed to create new policy", err)
		}
		return aclOutput(x, p, func() string { return formatACLPolicy(p, *meta) })
	})
}

func runACLPolicyRead(args []string, env *cliEnv) int {
	cmd := newAPICmd("acl policy read", env).withFormat().withStale("Allow any server to answer")
	id := cmd.fs.String("id", "", "The ID of the policy to read (a unique prefix will do)")
	name := cmd.fs.String("name", "", "The name of the policy to read")
	meta := cmd.fs.Bool("meta", false, "Show the policy's hash and Raft indexes")
	return cmd.run(args, func(x *cmdRun) int {
		if *id == "" && *name == "" {
			return x.errorf("Must specify either the -id or -name parameters")
		}
		if !noArgs(x) {
			return 1
		}
		var p *api.ACLPolicy
		var err error
		what := "name:" + *name
		if *id != "" {
			pid, err := policyID(x, *id)
			if err != nil {
				return aclFail(x, "Error determining policy ID", err)
			}
			what = "id:" + pid
			p, _, err = x.client.ACLPolicyRead(x.ctx, pid, x.query())
			if err != nil {
				return aclFail(x, fmt.Sprintf("Error reading policy %q", what), err)
			}
		} else {
			p, _, err = x.client.ACLPolicyReadByName(x.ctx, *name, x.query())
			if err != nil {
				return aclFail(x, fmt.Sprintf("Error reading policy %q", what), fmt.Errorf("Failed to find policy with name %s: %w", *name, err))
			}
			if p == nil {
				return x.errorf("Error policy not found: %s", *name)
			}
		}
		return aclOutput(x, p, func() string { return formatACLPolicy(p, *meta) })
	})
}

func runACLPolicyUpdate(args []string, env *cliEnv) int {
	cmd := newAPICmd("acl policy update", env).withFormat()
	id := cmd.fs.String("id", "", "The ID of the policy to update (a unique prefix will do)")
	name := cmd.fs.String("name", "", "The policy's name (selects the policy when -id is not given)")
	desc := cmd.fs.String("description", "", "A description of the policy")
	rules := cmd.fs.String("rules", "", "The policy rules: @FILE to read them from a file, - for stdin, or the rules themselves")
	var dcs stringList
	cmd.fs.Var(&dcs, "valid-datacenter", "Datacenter that the policy should be valid within (repeatable)")
	noMerge := cmd.fs.Bool("no-merge", false, "Overwrite every field with the flags' values instead of merging them into the current policy")
	meta := cmd.fs.Bool("meta", false, "Show the policy's hash and Raft indexes")
	return cmd.run(args, func(x *cmdRun) int {
		if *id == "" && *name == "" {
			return x.errorf("Must specify either the -id or -name parameters")
		}
		if !noArgs(x) {
			return 1
		}
		var pid string
		var err error
		if *id != "" {
			pid, err = policyID(x, *id)
		} else {
			pid, err = policyIDByName(x, *name)
		}
		if err != nil {
			return aclFail(x, "Error determining policy ID", err)
		}
		r, err := loadDataSource(*rules, env.stdin)
		if err != nil {
			return x.errorf("Error loading data source: %v", err)
		}
		upd := &api.ACLPolicy{ID: pid, Name: *name, Description: *desc, Datacenters: dcs, Rules: r}
		if !*noMerge {
			// Merge: what a flag does not say stays as it is (an empty
			// -description given explicitly still clears it).
			cur, _, err := x.client.ACLPolicyRead(x.ctx, pid, x.query())
			if err != nil {
				return aclFail(x, fmt.Sprintf("Error reading policy %q", pid), err)
			}
			upd = &api.ACLPolicy{ID: pid, Name: cur.Name, Description: cur.Description, Datacenters: cur.Datacenters, Rules: cur.Rules}
			if x.flagSet("name") {
				upd.Name = *name
			}
			if x.flagSet("description") {
				upd.Description = *desc
			}
			if x.flagSet("rules") {
				upd.Rules = r
			}
			if dcs != nil {
				upd.Datacenters = dcs
			}
		}
		p, err := x.client.ACLPolicyUpdate(x.ctx, upd, x.writeOptions())
		if err != nil {
			return aclFail(x, fmt.Sprintf("Error updating policy %q", pid), err)
		}
		return aclOutput(x, p, func() string { return formatACLPolicy(p, *meta) })
	})
}

func runACLPolicyDelete(args []string, env *cliEnv) int {
	cmd := newAPICmd("acl policy delete", env)
	id := cmd.fs.String("id", "", "The ID of the policy to delete (a unique prefix will do)")
	name := cmd.fs.String("name", "", "The name of the policy to delete")
	return cmd.run(args, func(x *cmdRun) int {
		if *id == "" && *name == "" {
			return x.errorf("Must specify either the -id or -name parameters")
		}
		if !noArgs(x) {
			return 1
		}
		var pid string
		var err error
		if *id != "" {
			pid, err = policyID(x, *id)
		} else {
			pid, err = policyIDByName(x, *name)
		}
		if err != nil {
			return aclFail(x, "Error determining policy ID", err)
		}
		if err := x.client.ACLPolicyDelete(x.ctx, pid, x.writeOptions()); err != nil {
			return aclFail(x, fmt.Sprintf("Error deleting policy %q", pid), err)
		}
		fmt.Fprintf(x.stdout, "Policy %q deleted successfully\n", pid)
		return 0
	})
}

func runACLPolicyList(args []string, env *cliEnv) int {
	cmd := newAPICmd("acl policy list", env).withFormat().withStale("Allow any server to answer")
	meta := cmd.fs.Bool("meta", false, "Show each policy's hash and Raft indexes")
	return cmd.run(args, func(x *cmdRun) int {
		if !noArgs(x) {
			return 1
		}
		ps, _, err := x.client.ACLPolicyList(x.ctx, x.query())
		if err != nil {
			return aclFail(x, "Failed to retrieve the policy list", err)
		}
		return aclOutput(x, ps, func() string { return formatACLPolicyList(ps, *meta) })
	})
}

// ---- tokens ----

// accessorFlag is -accessor-id with Consul's deprecated -id beside it:
// -id still works, with the warning Consul prints (each command has its
// own wording).
type accessorFlag struct {
	accessor, id *string
	warning      string
}

func newAccessorFlag(c *cliCmd, what, warning string) *accessorFlag {
	return &accessorFlag{
		accessor: c.fs.String("accessor-id", "", "The Accessor ID of the token to "+what+" (a unique prefix will do)"),
		id:       c.fs.String("id", "", "Deprecated: use -accessor-id"),
		warning:  warning,
	}
}

// value is the accessor given, "" when neither flag was.
func (a *accessorFlag) value(x *cmdRun) string {
	if *a.accessor != "" {
		return *a.accessor
	}
	if *a.id != "" {
		fmt.Fprintln(x.stderr, a.warning)
	}
	return *a.id
}

func runACLTokenCreate(args []string, env *cliEnv) int {
	cmd := newAPICmd("acl token create", env).withFormat()
	accessor := cmd.fs.String("accessor", "", "Create the token with this Accessor ID (a UUID; generated when not given)")
	secret := cmd.fs.String("secret", "", "Create the token with this Secret ID (a UUID; generated when not given)")
	desc := cmd.fs.String("description", "", "A description of the token")
	var policyIDs, policyNames stringList
	cmd.fs.Var(&policyIDs, "policy-id", "ID of a policy to use for this token (repeatable; a unique prefix will do)")
	cmd.fs.Var(&policyNames, "policy-name", "Name of a policy to use for this token (repeatable)")
	local := cmd.fs.Bool("local", false, "Create this as a datacenter local token")
	ttl := cmd.fs.Duration("expires-ttl", 0, "Duration of time this token should be valid for")
	meta := cmd.fs.Bool("meta", false, "Show the token's hash and Raft indexes")
	return cmd.run(args, func(x *cmdRun) int {
		if len(policyIDs) == 0 && len(policyNames) == 0 {
			return x.errorf("Cannot create a token without specifying -policy-name or -policy-id at least once")
		}
		if *ttl < 0 {
			return x.errorf("Invalid -expires-ttl %v: must be positive", *ttl)
		}
		if !noArgs(x) {
			return 1
		}
		t := &api.ACLToken{AccessorID: *accessor, SecretID: *secret, Description: *desc, Local: *local, ExpirationTTL: *ttl}
		// Names go to the agent as they are: it resolves them, and an
		// unknown one is its error ("No such ACL policy with name ...").
		for _, n := range policyNames {
			t.Policies = append(t.Policies, api.ACLLink{Name: n})
		}
		for _, p := range policyIDs {
			id, err := policyID(x, p)
			if err != nil {
				return aclFail(x, "Error resolving policy ID "+p, err)
			}
			t.Policies = append(t.Policies, api.ACLLink{ID: id})
		}
		out, err := x.client.ACLTokenCreate(x.ctx, t, x.writeOptions())
		if err != nil {
			return aclFail(x, "Failed to create new token", err)
		}
		return aclOutput(x, out, func() string { return formatACLToken(out, *meta) })
	})
}

func runACLTokenRead(args []string, env *cliEnv) int {
	cmd := newAPICmd("acl token read", env).withFormat().withStale("Allow any server to answer")
	acc := newAccessorFlag(cmd, "read", "Use the -accessor-id parameter to specify token by Accessor ID")
	self := cmd.fs.Bool("self", false, "Read the token this command sends (-token) instead of -accessor-id")
	meta := cmd.fs.Bool("meta", false, "Show the token's hash and Raft indexes")
	return cmd.run(args, func(x *cmdRun) int {
		var t *api.ACLToken
		var err error
		if *self {
			if !noArgs(x) {
				return 1
			}
			if t, _, err = x.client.ACLTokenReadSelf(x.ctx, x.query()); err != nil {
				return aclFail(x, "Error reading token", err)
			}
		} else {
			a := acc.value(x)
			if a == "" {
				return x.errorf("Must specify the -accessor-id parameter")
			}
			if !noArgs(x) {
				return 1
			}
			id, err := tokenAccessorID(x, a)
			if err != nil {
				return aclFail(x, "Error determining token ID", err)
			}
			if t, _, err = x.client.ACLTokenRead(x.ctx, id, x.query()); err != nil {
				return aclFail(x, fmt.Sprintf("Error reading token %q", id), err)
			}
		}
		return aclOutput(x, t, func() string { return formatACLToken(t, *meta) })
	})
}

func runACLTokenUpdate(args []string, env *cliEnv) int {
	cmd := newAPICmd("acl token update", env).withFormat()
	acc := newAccessorFlag(cmd, "update", "Use the -accessor-id parameter to specify token by Accessor ID")
	desc := cmd.fs.String("description", "", "A description of the token (kept when not given)")
	var policyIDs, policyNames, appendIDs, appendNames stringList
	cmd.fs.Var(&policyIDs, "policy-id", "ID of a policy to use for this token, replacing its policies (repeatable)")
	cmd.fs.Var(&policyNames, "policy-name", "Name of a policy to use for this token, replacing its policies (repeatable)")
	cmd.fs.Var(&appendIDs, "append-policy-id", "ID of a policy to add to this token's policies (repeatable)")
	cmd.fs.Var(&appendNames, "append-policy-name", "Name of a policy to add to this token's policies (repeatable)")
	merge := cmd.fs.Bool("merge-policies", false, "Deprecated: use -append-policy-id or -append-policy-name")
	meta := cmd.fs.Bool("meta", false, "Show the token's hash and Raft indexes")
	return cmd.run(args, func(x *cmdRun) int {
		a := acc.value(x)
		if a == "" {
			return x.errorf("Cannot update a token without specifying the -accessor-id parameter")
		}
		if !noArgs(x) {
			return 1
		}
		id, err := tokenAccessorID(x, a)
		if err != nil {
			return aclFail(x, "Error determining token ID", err)
		}
		t, _, err := x.client.ACLTokenRead(x.ctx, id, x.query())
		if err != nil {
			return aclFail(x, "Error when retrieving current token", err)
		}
		if *desc != "" {
			// As Consul: an empty -description cannot clear it, so that
			// leaving the flag out never wipes a description.
			t.Description = *desc
		}
		replace := len(policyIDs) > 0 || len(policyNames) > 0
		switch {
		case *merge:
			fmt.Fprintln(x.stderr, "merge-policies is deprecated and will be removed in a future Consul version. Use `append-policy-name` or `append-policy-id` instead.")
			appendIDs, appendNames = policyIDs, policyNames
		case replace && (len(appendIDs) > 0 || len(appendNames) > 0):
			return x.errorf("Cannot combine the use of policy-id/policy-name flags with append- variants. " +
				"To set or overwrite existing policies, use -policy-id or -policy-name. " +
				"To append to existing policies, use -append-policy-id or -append-policy-name.")
		case replace:
			t.Policies = nil
			appendIDs, appendNames = policyIDs, policyNames
		}
		// -merge-policies skips links the token already has; the
		// append- flags add them regardless (the agent removes doubles).
		has := func(l api.ACLLink) bool {
			for _, p := range t.Policies {
				if (l.ID != "" && p.ID == l.ID) || (l.Name != "" && p.Name == l.Name) {
					return true
				}
			}
			return false
		}
		for _, n := range appendNames {
			if l := (api.ACLLink{Name: n}); !*merge || !has(l) {
				t.Policies = append(t.Policies, l)
			}
		}
		for _, p := range appendIDs {
			pid, err := policyID(x, p)
			if err != nil {
				return aclFail(x, "Error resolving policy ID "+p, err)
			}
			if l := (api.ACLLink{ID: pid}); !*merge || !has(l) {
				t.Policies = append(t.Policies, l)
			}
		}
		out, err := x.client.ACLTokenUpdate(x.ctx, t, x.writeOptions())
		if err != nil {
			return aclFail(x, "Failed to update token "+id, err)
		}
		return aclOutput(x, out, func() string { return formatACLToken(out, *meta) })
	})
}

func runACLTokenDelete(args []string, env *cliEnv) int {
	cmd := newAPICmd("acl token delete", env)
	acc := newAccessorFlag(cmd, "delete", "Use the -accessor-id parameter to specify token by Accessor ID.")
	return cmd.run(args, func(x *cmdRun) int {
		a := acc.value(x)
		if a == "" {
			return x.errorf("Must specify the -accessor-id parameter")
		}
		if !noArgs(x) {
			return 1
		}
		id, err := tokenAccessorID(x, a)
		if err != nil {
			return aclFail(x, "Error determining token ID", err)
		}
		if err := x.client.ACLTokenDelete(x.ctx, id, x.writeOptions()); err != nil {
			return aclFail(x, fmt.Sprintf("Error deleting token %q", id), err)
		}
		fmt.Fprintf(x.stdout, "Token %q deleted successfully\n", id)
		return 0
	})
}

func runACLTokenList(args []string, env *cliEnv) int {
	cmd := newAPICmd("acl token list", env).withFormat().withStale("Allow any server to answer")
	meta := cmd.fs.Bool("meta", false, "Show each token's hash and Raft indexes")
	return cmd.run(args, func(x *cmdRun) int {
		if !noArgs(x) {
			return 1
		}
		ts, _, err := x.client.ACLTokenList(x.ctx, x.query())
		if err != nil {
			return aclFail(x, "Failed to retrieve the token list", err)
		}
		return aclOutput(x, ts, func() string { return formatACLTokenList(ts, *meta) })
	})
}

func runACLTokenClone(args []string, env *cliEnv) int {
	cmd := newAPICmd("acl token clone", env).withFormat()
	acc := newAccessorFlag(cmd, "clone", "The -id parameter is deprecated. Use the -accessor-id parameter instead.")
	desc := cmd.fs.String("description", "", "A description of the new cloned token (default: the original's)")
	return cmd.run(args, func(x *cmdRun) int {
		a := acc.value(x)
		if a == "" {
			// Consul's wording, "update" included.
			return x.errorf("Cannot update a token without specifying the -accessor-id parameter")
		}
		if !noArgs(x) {
			return 1
		}
		id, err := tokenAccessorID(x, a)
		if err != nil {
			return aclFail(x, "Error determining token Accessor ID", err)
		}
		t, err := x.client.ACLTokenClone(x.ctx, id, *desc, x.writeOptions())
		if err != nil {
			return aclFail(x, "Error cloning token", err)
		}
		return aclOutput(x, t, func() string { return formatACLToken(t, false) })
	})
}

// ---- the agent's tokens ----

// agentTokenKinds maps set-agent-token's TYPE to the agent endpoint's
// name. Consul's CLI calls agent_recovery "recovery"; consulx also takes
// the endpoint's own name.
var agentTokenKinds = map[string]string{
	"default":                          api.AgentTokenDefault,
	"agent":                            api.AgentTokenAgent,
	"recovery":                         api.AgentTokenAgentRecovery,
	"agent_recovery":                   api.AgentTokenAgentRecovery,
	"replication":                      api.AgentTokenReplication,
	"config_file_service_registration": api.AgentTokenConfigFileServiceRegistration,
	"dns":                              api.AgentTokenDNS,
}

func runACLSetAgentToken(args []string, env *cliEnv) int {
	cmd := newAPICmd("acl set-agent-token", env)
	return cmd.run(args, func(x *cmdRun) int {
		a := x.args()
		switch len(a) {
		case 0:
			return x.errorf("Error! Missing TYPE and TOKEN arguments")
		case 1:
			if _, ok := agentTokenKinds[a[0]]; ok {
				return x.errorf("Error! Missing TOKEN argument")
			}
			return x.errorf("Error! MISSING TYPE argument")
		case 2:
		default:
			return x.errorf("Error! Too many arguments: expected 2 got %d", len(a))
		}
		// TOKEN may be @file or - (stdin), as with Consul, to keep the
		// secret out of the shell's history.
		tok, err := loadDataSource(a[1], env.stdin)
		if err != nil {
			return x.errorf("Error! %v", err)
		}
		kind, ok := agentTokenKinds[a[0]]
		if !ok {
			return x.errorf("Unknown token type")
		}
		if err := x.client.AgentSetToken(x.ctx, kind, tok); err != nil {
			return aclFail(x, fmt.Sprintf("Failed to set ACL token %q", a[0]), err)
		}
		fmt.Fprintf(x.stdout, "ACL token %q set successfully\n", a[0])
		return 0
	})
}
