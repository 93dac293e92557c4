package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"consulx/api"
)

// Types are the watch types, in the order Consul documents them.
var Types = []string{"key", "keyprefix", "services", "nodes", "service", "checks", "event"}

// Params select the data of one watch: the type and the parameters of that
// type (the CLI's flags, the fields of a configured watch).
type Params struct {
	Type        string
	Key         string   // key
	Prefix      string   // keyprefix
	Service     string   // service, checks
	Tags        []string // service
	PassingOnly bool     // service
	State       string   // checks
	Name        string   // event
}

// Plan is what one watch reads: an endpoint of the HTTP API and its
// parameters.
type Plan struct {
	path   string
	params url.Values
	// missing is the data when the path answers 404 ("" if a 404 is an error).
	missing string
	// single: the data is the one entry of the answer (a key watch gets
	// the KV pair itself, as Consul's does).
	single bool
}

// NewPlan maps a watch type and its parameters to an API read, as Consul's
// watch types do. The errors use Consul's wording.
func NewPlan(p Params) (*Plan, error) {
	pl := &Plan{params: url.Values{}}
	switch p.Type {
	case "key":
		if p.Key == "" {
			return nil, errors.New("Must specify a single key to watch")
		}
		pl.path, pl.missing, pl.single = "/v1/kv/"+p.Key, "null", true
	case "keyprefix":
		pl.path, pl.missing = "/v1/kv/"+p.Prefix, "[]"
		pl.params.Set("recurse", "")
	case "services":
		pl.path = "/v1/catalog/services"
	case "nodes":
		pl.path = "/v1/catalog/nodes"
	case "service":
		if p.Service == "" {
			return nil, errors.New("Must specify a single service to watch")
		}
		pl.path = "/v1/health/service/" + p.Service
		for _, t := range p.Tags {
			pl.params.Add("tag", t)
		}
		if p.PassingOnly {
			pl.params.Set("passing", "")
		}
	case "checks":
		switch {
		case p.Service != "" && p.State != "":
			return nil, errors.New("Cannot specify service and state")
		case p.Service != "":
			pl.path = "/v1/health/checks/" + p.Service
		default:
			state := p.State
			if state == "" {
				state = "any"
			}
			pl.path = "/v1/health/state/" + state
		}
	case "event":
		pl.path = "/v1/event/list"
		if p.Name != "" {
			pl.params.Set("name", p.Name)
		}
	default:
		return nil, fmt.Errorf("Unsupported watch type: %q (key, keyprefix, services, nodes, service, checks, event)", p.Type)
	}
	return pl, nil
}

// Blocking-query bounds of one read: the wait asked of the agent, and how
// long the call may take in all (the agent adds up to 1/16 of jitter).
const (
	readWait    = 5 * time.Minute
	readTimeout = 6 * time.Minute
)

// Read reads the plan's data once through c with the options of q
// (datacenter, stale), blocking until the data's index passes index (0:
// at once). It returns the JSON the handler gets and the index to wait on
// next.
func (p *Plan) Read(ctx context.Context, c *api.Client, q api.QueryOptions, index uint64) ([]byte, uint64, error) {
	q.WaitIndex, q.WaitTime = index, readWait
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	// GetRaw adds the options to the values it is given: a copy per read.
	params := url.Values{}
	for k, v := range p.params {
		params[k] = append([]string(nil), v...)
	}
	body, meta, err := c.GetRaw(ctx, p.path, params, &q)
	var se *api.StatusError
	if errors.As(err, &se) && se.Code == 404 && p.missing != "" {
		body, err = []byte(p.missing), nil
	}
	if err != nil {
		return nil, 0, err
	}
	if p.single && string(body) != p.missing {
		var entries []json.RawMessage
		if json.Unmarshal(body, &entries) == nil && len(entries) == 1 {
			body = entries[0]
		}
	}
	var idx uint64
	if meta != nil {
		idx = meta.LastIndex
	}
	return body, idx, nil
}

// Reader is Read bound to a client and options, for Loop.
func (p *Plan) Reader(c *api.Client, q api.QueryOptions) ReadFunc {
	return func(ctx context.Context, index uint64) ([]byte, uint64, error) {
		return p.Read(ctx, c, q, index)
	}
}
