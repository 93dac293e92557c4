package node

// HCL config files. hcl v1 (the parser Consul uses) decodes a file into
// generic values, which are turned into the JSON document the same
// configuration written as a .json file would be, and that goes through
// ParseConfigFile: one key table, one set of checks and errors for both
// formats.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/hashicorp/hcl"
	hclparser "github.com/hashicorp/hcl/hcl/parser"
)

// hclListKeys are the keys whose values really are lists of objects, by
// dotted path (an element of a list has its list's path). hcl v1 cannot
// tell `acl { ... }` from a list: it decodes every block, and every
// `x = { ... }`, as a list of objects. So, as Consul does (its
// PatchSliceOfMaps exceptions, now its decoder's types), a list of objects
// anywhere else stands for one object, and a list of objects here stays a
// list whether one block or several were written. From Consul's agent
// config types (agent/config/config.go), plus consulx's replicate blocks.
var hclListKeys = listKeySet(
	"services", "checks", "watches", "segments", "replicate",
	"acl.tokens.managed_service_provider",
	"ui_config.metrics_proxy.add_headers",
	// A service's own lists, in service and services alike.
	"service.checks",
	"service.connect.sidecar_service.checks",
	"service.proxy.upstreams",
	"service.proxy.expose.paths",
	"service.connect.proxy.upstreams",
	"service.connect.proxy.config.upstreams",
	"service.connect.proxy.expose.paths",
	"service.connect.sidecar_service.proxy.upstreams",
	"service.connect.sidecar_service.proxy.expose.paths",
)

// hclRawKeys are passed on as decoded: config entries are free-form
// documents of their own kinds (Consul leaves them to its config-entry
// decoder too).
var hclRawKeys = listKeySet("config_entries.bootstrap")

func listKeySet(paths ...string) map[string]bool {
	set := map[string]bool{}
	for _, p := range paths {
		set[normKeyPath(p)] = true
		if rest, ok := strings.CutPrefix(p, "service."); ok {
			set[normKeyPath("services."+rest)] = true
		}
	}
	return set
}

// normKeyPath compares paths as Consul's decoder matches keys: case and
// underscores aside (a service's "Checks", "sidecar_service" or
// "SidecarService").
func normKeyPath(p string) string {
	return strings.ReplaceAll(strings.ToLower(p), "_", "")
}

// onlyOne names, for keys that take one object, the key that takes several.
var onlyOne = map[string]string{"service": "services", "check": "checks"}

func lastKey(path string) string {
	return strings.ToLower(path[strings.LastIndexByte(path, '.')+1:])
}

// ParseHCLConfigFile decodes one HCL config source: the same keys, values
// and errors as ParseConfigFile, written in HCL (a file that holds JSON is
// read as JSON, as Consul's HCL parser does). An empty file sets nothing.
func ParseHCLConfigFile(name string, r io.Reader) (*FileConfig, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %v", name, err)
	}
	if bytes.HasPrefix(bytes.TrimLeftFunc(src, unicode.IsSpace), []byte("{")) {
		return ParseConfigFile(name, bytes.NewReader(src))
	}
	doc, err := hclToJSON(name, src)
	if err != nil {
		return nil, err
	}
	return ParseConfigFile(name, bytes.NewReader(doc))
}

func hclToJSON(name string, src []byte) (doc []byte, err error) {
	// hcl v1 panics on some malformed input (a string it cannot
	// unquote); a config file must give an error, not a crash.
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, fmt.Errorf("config: %s: cannot parse HCL: %s", name, oneLine(fmt.Sprint(r)))
		}
	}()
	var raw map[string]any
	if err := hcl.Decode(&raw, string(src)); err != nil {
		var pe *hclparser.PosError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("config: %s: line %d: %s", name, pe.Pos.Line, oneLine(pe.Err.Error()))
		}
		return nil, fmt.Errorf("config: %s: %s", name, oneLine(err.Error()))
	}
	if raw == nil {
		raw = map[string]any{}
	}
	v, err := unwrapBlocks(name, "", raw)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// oneLine escapes the line breaks hcl's messages quote from the source
// (a key's text), so an error stays one line.
func oneLine(msg string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(msg)
}

// unwrapBlocks turns hcl's lists of objects back into objects, except at
// the keys that are lists (hclListKeys).
func unwrapBlocks(name, path string, v any) (any, error) {
	if hclRawKeys[normKeyPath(path)] {
		return v, nil
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			u, err := unwrapBlocks(name, p, e)
			if err != nil {
				return nil, err
			}
			x[k] = u
		}
		return x, nil
	case []map[string]any:
		list := make([]any, len(x))
		for i, m := range x {
			list[i] = m
		}
		return unwrapList(name, path, list)
	case []any:
		return unwrapList(name, path, x)
	}
	return v, nil
}

func unwrapList(name, path string, list []any) (any, error) {
	objects := len(list) > 0
	for _, e := range list {
		if _, ok := e.(map[string]any); !ok {
			objects = false
		}
	}
	if objects && !hclListKeys[normKeyPath(path)] {
		if len(list) > 1 {
			hint := ""
			if several, ok := onlyOne[lastKey(path)]; ok {
				hint = fmt.Sprintf(" (for several, use %q blocks)", several)
			}
			return nil, fmt.Errorf("config: %s: %q is given %d times: it takes one block%s", name, path, len(list), hint)
		}
		return unwrapBlocks(name, path, list[0])
	}
	for i, e := range list {
		u, err := unwrapBlocks(name, path, e)
		if err != nil {
			return nil, err
		}
		list[i] = u
	}
	return list, nil
}
