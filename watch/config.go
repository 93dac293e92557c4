package watch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// Definition is one watch of the agent's configuration (`watches`), with
// Consul's fields: what to read (Params, datacenter, token, stale) and
// the handler, a script (args, or the deprecated handler command line run
// by a shell) or an HTTP endpoint (handler_type "http").
type Definition struct {
	Params
	Datacenter string
	Token      string
	Stale      bool
	// Args is the script run without a shell.
	Args []string
	// Handler is the deprecated form: a command line run with $SHELL -c.
	Handler string
	// HTTP is the endpoint called for handler_type "http" (nil: a script).
	HTTP *HTTPConfig

	plan *Plan
}

// Describe names the handler for the log: the script, or the method and URL.
func (d *Definition) Describe() string {
	switch {
	case d.HTTP != nil:
		return d.HTTP.Method + " " + d.HTTP.Path
	case d.Handler != "":
		return d.Handler
	}
	return strings.Join(d.Args, " ")
}

// The fields every watch takes, and those of each type (as Consul's watch
// types take them).
var (
	commonFields = []string{"type", "datacenter", "token", "handler_type", "http_handler_config", "args", "handler"}
	typeFields   = map[string][]string{
		"key":       {"key", "stale"},
		"keyprefix": {"prefix", "stale"},
		"services":  {"stale"},
		"nodes":     {"stale"},
		"service":   {"service", "tag", "passingonly", "stale"},
		"checks":    {"service", "state", "stale"},
		"event":     {"name"},
	}
	httpFields = []string{"path", "method", "header", "timeout", "tls_skip_verify"}
)

// ParseConfig decodes and checks the `watches` of the agent's
// configuration: one raw value per configuration source, each a list of
// watch objects (a single object is taken as a list of one). Watches are
// numbered from 0 across the sources in order; an error is one line naming
// the watch, such as `config: watches[1]: Must specify a single key to
// watch`.
func ParseConfig(sources []json.RawMessage) ([]Definition, error) {
	var defs []Definition
	for _, src := range sources {
		src = bytes.TrimSpace(src)
		if len(src) == 0 || string(src) == "null" {
			continue
		}
		var list []json.RawMessage
		if src[0] == '{' {
			list = []json.RawMessage{src}
		} else if err := json.Unmarshal(src, &list); err != nil {
			return nil, fmt.Errorf("config: watches: want a list of watch objects")
		}
		for _, raw := range list {
			d, err := parseDefinition(raw)
			if err != nil {
				return nil, fmt.Errorf("config: watches[%d]: %s", len(defs), oneLine(err.Error()))
			}
			defs = append(defs, d)
		}
	}
	return defs, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// fields is one JSON object, by exact key (Consul's watch parameters are
// matched exactly); prefix names it in errors ("http_handler_config.").
type fields struct {
	m      map[string]json.RawMessage
	prefix string
}

func (f fields) has(key string) bool { _, ok := f.m[key]; return ok }

func (f fields) str(key string, dst *string) error {
	raw, ok := f.m[key]
	if !ok {
		return nil
	}
	if json.Unmarshal(raw, dst) != nil {
		return fmt.Errorf("%q must be a string, got %s", f.prefix+key, raw)
	}
	return nil
}

func (f fields) boolean(key string, dst *bool) error {
	raw, ok := f.m[key]
	if !ok {
		return nil
	}
	if json.Unmarshal(raw, dst) != nil {
		return fmt.Errorf("%q must be true or false, got %s", f.prefix+key, raw)
	}
	return nil
}

// strings takes a string or a list of strings (Consul's tag).
func (f fields) strings(key string, dst *[]string) error {
	raw, ok := f.m[key]
	if !ok {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		*dst = []string{one}
		return nil
	}
	if json.Unmarshal(raw, dst) != nil {
		return fmt.Errorf("%q must be a string or a list of strings, got %s", f.prefix+key, raw)
	}
	return nil
}

// unknown returns the keys outside allowed, sorted.
func (f fields) unknown(allowed []string) []string {
	var bad []string
	for k := range f.m {
		if !slices.Contains(allowed, k) {
			bad = append(bad, k)
		}
	}
	sort.Strings(bad)
	return bad
}

func decodeObject(raw json.RawMessage, what, prefix string) (fields, error) {
	f := fields{prefix: prefix}
	if err := json.Unmarshal(raw, &f.m); err != nil || f.m == nil {
		return f, fmt.Errorf("%s must be an object, got %s", what, bytes.TrimSpace(raw))
	}
	return f, nil
}

func parseDefinition(raw json.RawMessage) (Definition, error) {
	var d Definition
	f, err := decodeObject(raw, "a watch", "")
	if err != nil {
		return d, err
	}
	if err := f.str("type", &d.Type); err != nil {
		return d, err
	}
	if d.Type == "" {
		return d, errors.New(`Watch type must be specified ("type": key, keyprefix, services, nodes, service, checks or event)`)
	}
	own, ok := typeFields[d.Type]
	if !ok {
		return d, fmt.Errorf("Unsupported watch type: %q (key, keyprefix, services, nodes, service, checks, event)", d.Type)
	}
	if bad := f.unknown(append(slices.Clone(commonFields), own...)); len(bad) > 0 {
		for _, k := range bad {
			for _, fs := range typeFields {
				if slices.Contains(fs, k) {
					return d, fmt.Errorf("%q does not apply to a %s watch", k, d.Type)
				}
			}
		}
		return d, fmt.Errorf("unknown field %q", bad[0])
	}
	for _, s := range []struct {
		key string
		dst *string
	}{
		{"key", &d.Key}, {"prefix", &d.Prefix}, {"service", &d.Service}, {"state", &d.State}, {"name", &d.Name},
		{"datacenter", &d.Datacenter}, {"token", &d.Token}, {"handler", &d.Handler},
	} {
		if err := f.str(s.key, s.dst); err != nil {
			return d, err
		}
	}
	if err := f.strings("tag", &d.Tags); err != nil {
		return d, err
	}
	if err := f.boolean("passingonly", &d.PassingOnly); err != nil {
		return d, err
	}
	if err := f.boolean("stale", &d.Stale); err != nil {
		return d, err
	}
	if raw, ok := f.m["args"]; ok {
		if json.Unmarshal(raw, &d.Args) != nil {
			return d, fmt.Errorf(`"args" must be a list of strings, got %s`, raw)
		}
	}
	if d.plan, err = NewPlan(d.Params); err != nil {
		return d, err
	}

	var handlerType string
	if err := f.str("handler_type", &handlerType); err != nil {
		return d, err
	}
	hasArgs, hasHandler, hasHTTP := f.has("args"), f.has("handler"), f.has("http_handler_config")
	switch handlerType {
	case "", "script":
		switch {
		case hasHTTP:
			return d, errors.New(`"http_handler_config" needs "handler_type": "http"`)
		case hasArgs && hasHandler:
			return d, errors.New(`Cannot define both watch handler and args: use "args" ("handler" is deprecated)`)
		case hasArgs && (len(d.Args) == 0 || d.Args[0] == ""):
			return d, errors.New(`"args" must name the program to run`)
		case hasHandler && strings.TrimSpace(d.Handler) == "":
			return d, errors.New(`"handler" is empty`)
		case !hasArgs && !hasHandler:
			return d, errors.New(`a script watch needs "args" (or the deprecated "handler"); set "handler_type": "http" to call a URL`)
		}
	case "http":
		switch {
		case hasArgs || hasHandler:
			return d, errors.New(`"args" and "handler" are for script handlers; this watch has "handler_type": "http"`)
		case !hasHTTP:
			return d, errors.New(`Handler type 'http' requires 'http_handler_config' to be set`)
		}
		if d.HTTP, err = parseHTTPConfig(f.m["http_handler_config"]); err != nil {
			return d, err
		}
	default:
		return d, fmt.Errorf(`Unsupported handler type %q (script, http)`, handlerType)
	}
	return d, nil
}

func parseHTTPConfig(raw json.RawMessage) (*HTTPConfig, error) {
	f, err := decodeObject(raw, `"http_handler_config"`, "http_handler_config.")
	if err != nil {
		return nil, err
	}
	if bad := f.unknown(httpFields); len(bad) > 0 {
		return nil, fmt.Errorf("unknown field %q in http_handler_config", bad[0])
	}
	c := &HTTPConfig{Method: "POST", Timeout: DefaultHTTPTimeout}
	if err := f.str("path", &c.Path); err != nil {
		return nil, err
	}
	if c.Path == "" {
		return nil, errors.New(`http_handler_config requires "path" (the URL to call)`)
	}
	u, err := url.Parse(c.Path)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf(`http_handler_config.path %q: want an http:// or https:// URL`, c.Path)
	}
	if err := f.str("method", &c.Method); err != nil {
		return nil, err
	}
	if c.Method == "" {
		c.Method = "POST"
	}
	if strings.ContainsAny(c.Method, " \t\r\n") {
		return nil, fmt.Errorf(`http_handler_config.method %q is not an HTTP method`, c.Method)
	}
	if raw, ok := f.m["header"]; ok {
		hf, err := decodeObject(raw, `"http_handler_config.header"`, "http_handler_config.header.")
		if err != nil {
			return nil, err
		}
		c.Header = map[string][]string{}
		for k := range hf.m {
			var vs []string
			if err := hf.strings(k, &vs); err != nil {
				return nil, err
			}
			c.Header[k] = vs
		}
	}
	var timeout string
	if err := f.str("timeout", &timeout); err != nil {
		return nil, err
	}
	if timeout != "" {
		d, err := time.ParseDuration(timeout)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf(`http_handler_config.timeout %q: want a positive duration such as "10s"`, timeout)
		}
		c.Timeout = d
	}
	if err := f.boolean("tls_skip_verify", &c.TLSSkipVerify); err != nil {
		return nil, err
	}
	return c, nil
}
