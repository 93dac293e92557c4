package acl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/hashicorp/hcl/hcl/ast"
	hclparser "github.com/hashicorp/hcl/hcl/parser"
	"github.com/hashicorp/hcl/hcl/token"
	jsonparser "github.com/hashicorp/hcl/json/parser"
)

// block is what a `<word> "<name>" { ... }` rule family means.
type block struct {
	res    Resource
	prefix bool
}

var blocks = map[string]block{
	"key": {ResKey, false}, "key_prefix": {ResKey, true},
	"node": {ResNode, false}, "node_prefix": {ResNode, true},
	"service": {ResService, false}, "service_prefix": {ResService, true},
	"session": {ResSession, false}, "session_prefix": {ResSession, true},
	"event": {ResEvent, false}, "event_prefix": {ResEvent, true},
	"agent": {ResAgent, false}, "agent_prefix": {ResAgent, true},
	"query": {ResQuery, false}, "query_prefix": {ResQuery, true},
}

// ignored are the parts of Consul's rule language that consulx accepts so
// that Consul policies load unchanged, but has nothing to apply them to.
// Scalars among them are still checked as policies, as Consul does.
var ignored = map[string]struct {
	scalar bool
	why    string
}{
	"mesh":             {true, "consulx has no service mesh"},
	"peering":          {true, "consulx has no cluster peering"},
	"partition":        {false, "admin partitions are a Consul Enterprise feature"},
	"partition_prefix": {false, "admin partitions are a Consul Enterprise feature"},
	"namespace":        {false, "namespaces are a Consul Enterprise feature"},
	"namespace_prefix": {false, "namespaces are a Consul Enterprise feature"},
	"identity":         {false, "consulx has no workload identities"},
	"identity_prefix":  {false, "consulx has no workload identities"},
	"plugin":           {false, "consulx has no plugins"},
}

// Parse parses a policy document in Consul's rule language, HCL or JSON.
// Rules for the same resource and name are merged as Consul merges them
// (deny wins, else the most permissive), and sorted (by resource, exact
// before prefix, then name), so equal policies give equal Rules whatever
// their spelling. Errors are one line: "acl: line N: ...".
func Parse(src string) (*Rules, error) {
	f, err := parseAST(src)
	if err != nil {
		return nil, err
	}
	p := &parser{out: &Rules{}, index: map[ruleKey]int{}, set: map[string]bool{}, warned: map[string]bool{}}
	if list, ok := f.Node.(*ast.ObjectList); ok {
		for _, item := range list.Items {
			if err := p.top(item); err != nil {
				return nil, err
			}
		}
	}
	sort.Slice(p.out.Rules, func(i, j int) bool {
		a, b := p.out.Rules[i], p.out.Rules[j]
		if ra, rb := resourceIndex(a.Resource), resourceIndex(b.Resource); ra != rb {
			return ra < rb
		}
		if a.Prefix != b.Prefix {
			return !a.Prefix
		}
		return a.Name < b.Name
	})
	return p.out, nil
}

// parseAST runs hcl v1's parser, which detects JSON by a leading '{' as
// hcl.Parse does. Duplicate arguments are left to the walk below, so HCL
// and JSON treat them alike.
func parseAST(src string) (f *ast.File, err error) {
	// hcl v1 panics on some malformed input; a policy comes from a user
	// and must never take the server down.
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("acl: cannot parse the rules: %s", oneLine(fmt.Sprint(r)))
		}
	}()
	trimmed := strings.TrimLeftFunc(src, unicode.IsSpace)
	if strings.HasPrefix(trimmed, "{") {
		// hcl's JSON parser reports errors without a position;
		// encoding/json's byte offset gives the line.
		if err := jsonSyntax(src); err != nil {
			return nil, err
		}
		f, err = jsonparser.Parse([]byte(src))
	} else {
		f, err = hclparser.ParseDontErrorOnDuplicateKeys([]byte(src))
	}
	if err != nil {
		var pe *hclparser.PosError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("acl: line %d: %s", pe.Pos.Line, oneLine(pe.Err.Error()))
		}
		// The JSON scanner's errors read "line:column: message".
		if m := scanPos.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("acl: line %s: %s", m[1], oneLine(m[2]))
		}
		return nil, fmt.Errorf("acl: %s", oneLine(err.Error()))
	}
	return f, nil
}

// oneLine escapes the line breaks hcl's messages quote from the source,
// so an error stays one line.
func oneLine(msg string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(msg)
}

var scanPos = regexp.MustCompile(`^(\d+):\d+: (.*)$`)

func jsonSyntax(src string) error {
	dec := json.NewDecoder(strings.NewReader(src))
	var v any
	err := dec.Decode(&v)
	if err == nil {
		if _, terr := dec.Token(); terr == nil {
			return fmt.Errorf("acl: line %d: trailing data after the JSON object", lineAt(src, dec.InputOffset()))
		}
		return nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("acl: line %d: invalid JSON: %v", lineAt(src, se.Offset), se)
	}
	return fmt.Errorf("acl: invalid JSON: %v", err)
}

func lineAt(src string, off int64) int {
	if off > int64(len(src)) {
		off = int64(len(src))
	}
	return 1 + bytes.Count([]byte(src[:off]), []byte("\n"))
}

type ruleKey struct {
	res    Resource
	prefix bool
	name   string
}

type parser struct {
	out    *Rules
	index  map[ruleKey]int // position of each rule in out.Rules
	set    map[string]bool // scalars already set
	warned map[string]bool
}

// errAt is an error at n's line. hcl's JSON parser keeps no position but
// that of an item's colon, so items fall back to it.
func errAt(n ast.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Pos().Line
	}
	if it, ok := n.(*ast.ObjectItem); ok && line == 0 {
		line = it.Assign.Line
	}
	return fmt.Errorf("acl: line %d: "+format, append([]any{line}, args...)...)
}

func (p *parser) warn(word, why string) {
	if !p.warned[word] {
		p.warned[word] = true
		p.out.Warnings = append(p.out.Warnings, fmt.Sprintf("%q is ignored: %s", word, why))
	}
}

func (p *parser) top(item *ast.ObjectItem) error {
	if len(item.Keys) == 0 {
		return errAt(item, "a value without a key")
	}
	word, err := keyText(item.Keys[0])
	if err != nil {
		return err
	}
	word = strings.ToLower(word)
	switch word {
	case "acl", "operator", "keyring":
		a, err := p.scalar(word, item)
		if err != nil {
			return err
		}
		switch word {
		case "acl":
			p.out.ACL = a
		case "operator":
			p.out.Operator = a
		case "keyring":
			p.out.Keyring = a
		}
		return nil
	}
	if b, ok := blocks[word]; ok {
		return p.blocks(word, b, item.Keys[1:], item.Val, item)
	}
	if ig, ok := ignored[word]; ok {
		if ig.scalar {
			if _, err := p.scalar(word, item); err != nil {
				return err
			}
		}
		p.warn(word, ig.why)
		return nil
	}
	return errAt(item, "unknown rule %q: want key_prefix, key, node_prefix, node, service_prefix, service, "+
		"session_prefix, session, event_prefix, event, agent_prefix, agent, query_prefix, query, acl, operator or keyring", word)
}

// scalar reads `word = "<policy>"`, which may be given once.
func (p *parser) scalar(word string, item *ast.ObjectItem) (Access, error) {
	s, ok := stringValue(item.Val)
	if len(item.Keys) != 1 || !ok {
		return AccessUnset, errAt(item, "%s wants a policy string: %s = \"read\"", word, word)
	}
	if p.set[word] {
		return AccessUnset, errAt(item, "%s is set twice", word)
	}
	p.set[word] = true
	a, err := ParseAccess(s)
	if err != nil || a == AccessList {
		return AccessUnset, errAt(item, "invalid policy %q for %s: want read, write or deny", s, word)
	}
	return a, nil
}

// blocks reads the rules of one family in any shape hcl v1 gives them:
// `key_prefix "a/" {...}` (two keys), `key_prefix = { "a/" = {...} }` and
// JSON `"key_prefix": {"a/": {...}}` (one key and an object of names, which
// hcl's JSON parser may already have flattened to two keys), or a list of
// such objects.
func (p *parser) blocks(word string, b block, labels []*ast.ObjectKey, val ast.Node, at ast.Node) error {
	usage := fmt.Sprintf(`%s "<name>" { policy = "read" }`, word)
	switch len(labels) {
	case 1:
		name, err := keyText(labels[0])
		if err != nil {
			return err
		}
		body, ok := val.(*ast.ObjectType)
		if !ok {
			return errAt(at, "%s %q wants a block: %s", word, name, usage)
		}
		return p.rule(word, b, name, body, at)
	case 0:
		switch v := val.(type) {
		case *ast.ObjectType:
			for _, it := range v.List.Items {
				if len(it.Keys) == 0 {
					return errAt(at, "%s wants blocks: %s", word, usage)
				}
				// `key_prefix { policy = "read" }`: the name is missing.
				if k, _ := keyText(it.Keys[0]); len(it.Keys) == 1 && (strings.EqualFold(k, "policy") || strings.EqualFold(k, "intentions")) {
					if _, isObj := it.Val.(*ast.ObjectType); !isObj {
						return errAt(it, "%s needs a name: %s", word, usage)
					}
				}
				if err := p.blocks(word, b, it.Keys, it.Val, it); err != nil {
					return err
				}
			}
			return nil
		case *ast.ListType:
			for _, e := range v.List {
				if _, ok := e.(*ast.ObjectType); !ok {
					return errAt(at, "%s wants blocks: %s", word, usage)
				}
				if err := p.blocks(word, b, nil, e, at); err != nil {
					return err
				}
			}
			return nil
		}
		return errAt(at, "%s wants blocks: %s", word, usage)
	}
	name, _ := keyText(labels[0])
	extra, _ := keyText(labels[1])
	return errAt(at, "%s %q: unexpected %q: %s", word, name, extra, usage)
}

func (p *parser) rule(word string, b block, name string, body *ast.ObjectType, at ast.Node) error {
	access, seen := AccessUnset, map[string]bool{}
	for _, it := range body.List.Items {
		if len(it.Keys) == 0 {
			return errAt(at, "%s %q: a value without a key", word, name)
		}
		k, err := keyText(it.Keys[0])
		if err != nil {
			return err
		}
		k = strings.ToLower(k)
		want := "policy"
		if b.res == ResService {
			want = "policy or intentions"
		}
		if k != "policy" && (k != "intentions" || b.res != ResService) {
			return errAt(it, "unknown key %q in %s %q: want %s", k, word, name, want)
		}
		s, ok := stringValue(it.Val)
		if len(it.Keys) != 1 || !ok {
			return errAt(it, "%s of %s %q wants a policy string: %s = \"read\"", k, word, name, k)
		}
		if seen[k] {
			return errAt(it, "%s of %s %q is set twice", k, word, name)
		}
		seen[k] = true
		a, err := ParseAccess(s)
		listOK := b.res == ResKey && k == "policy"
		if err != nil || (a == AccessList && !listOK) {
			if listOK {
				return errAt(it, "invalid policy %q for %s %q: want read, write, list or deny", s, word, name)
			}
			return errAt(it, "invalid %s %q for %s %q: want read, write or deny", k, s, word, name)
		}
		if k == "intentions" {
			p.warn("intentions", "consulx has no service mesh")
			continue
		}
		access = a
	}
	if access == AccessUnset {
		return errAt(at, `%s %q has no policy: %s "%s" { policy = "read" }`, word, name, word, name)
	}
	key := ruleKey{b.res, b.prefix, name}
	if i, ok := p.index[key]; ok {
		p.out.Rules[i].Access = stronger(p.out.Rules[i].Access, access)
		return nil
	}
	p.index[key] = len(p.out.Rules)
	p.out.Rules = append(p.out.Rules, Rule{Resource: b.res, Name: name, Prefix: b.prefix, Access: access})
	return nil
}

// keyText is an object key's text: an identifier as written, a string
// unquoted.
func keyText(k *ast.ObjectKey) (string, error) {
	if k.Token.Type == token.IDENT {
		return k.Token.Text, nil
	}
	s, ok := tokenString(k.Token)
	if !ok {
		return "", fmt.Errorf("acl: line %d: cannot read the key %q", k.Pos().Line, k.Token.Text)
	}
	return s, nil
}

func stringValue(n ast.Node) (string, bool) {
	lit, ok := n.(*ast.LiteralType)
	if !ok || (lit.Token.Type != token.STRING && lit.Token.Type != token.HEREDOC) {
		return "", false
	}
	return tokenString(lit.Token)
}

// tokenString unquotes a string token. hcl's Token.Value unquotes JSON
// strings with Go's rules, and panics on one it cannot unquote (JSON's
// "\/", for one), so JSON strings are unquoted by encoding/json.
func tokenString(t token.Token) (s string, ok bool) {
	if t.JSON {
		return s, json.Unmarshal([]byte(t.Text), &s) == nil
	}
	defer func() {
		if recover() != nil {
			s, ok = "", false
		}
	}()
	s, ok = t.Value().(string)
	return s, ok
}
