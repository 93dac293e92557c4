package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"consulx/api"
	"consulx/exec"
)

// watchPlan is what one watch type reads.
type watchPlan struct {
	path   string
	params url.Values
	// missing is the data when the path answers 404 ("" if a 404 is an error).
	missing string
	// single: the data is the one entry of the answer (a key watch gets
	// the KV pair itself, as Consul's does).
	single bool
}

// planWatch maps a watch type and its flags to an API read, as Consul's
// watch types do.
func planWatch(typ, key, prefix, service string, tags []string, passingOnly bool, state, name string) (watchPlan, error) {
	p := watchPlan{params: url.Values{}}
	switch typ {
	case "key":
		if key == "" {
			return p, errors.New("Must specify a single key to watch")
		}
		p.path, p.missing, p.single = "/v1/kv/"+key, "null", true
	case "keyprefix":
		p.path, p.missing = "/v1/kv/"+prefix, "[]"
		p.params.Set("recurse", "")
	case "services":
		p.path = "/v1/catalog/services"
	case "nodes":
		p.path = "/v1/catalog/nodes"
	case "service":
		if service == "" {
			return p, errors.New("Must specify a single service to watch")
		}
		p.path = "/v1/health/service/" + service
		for _, t := range tags {
			p.params.Add("tag", t)
		}
		if passingOnly {
			p.params.Set("passing", "")
		}
	case "checks":
		switch {
		case service != "" && state != "":
			return p, errors.New("Cannot specify service and state")
		case service != "":
			p.path = "/v1/health/checks/" + service
		default:
			if state == "" {
				state = "any"
			}
			p.path = "/v1/health/state/" + state
		}
	case "event":
		p.path = "/v1/event/list"
		if name != "" {
			p.params.Set("name", name)
		}
	default:
		return p, fmt.Errorf("Unsupported watch type: %q (key, keyprefix, services, nodes, service, checks, event)", typ)
	}
	return p, nil
}

// runWatch watches one kind of data and runs a handler when it changes,
// as `consul watch` does, except that it fires only when the data really
// changed: a new index with the same content fires nothing.
func runWatch(args []string, env *cliEnv) int {
	cmd := newAPICmd("watch", env).withStale("Read from any server (stale data allowed)")
	typ := cmd.fs.String("type", "", "Watch type: key, keyprefix, services, nodes, service, checks, event")
	key := cmd.fs.String("key", "", "Key to watch (type key)")
	prefix := cmd.fs.String("prefix", "", "Key prefix to watch (type keyprefix)")
	service := cmd.fs.String("service", "", "Service to watch (types service, checks)")
	var tags stringList
	cmd.fs.Var(&tags, "tag", "Service tag to filter on (type service; repeatable)")
	passingOnly := cmd.fs.Bool("passingonly", false, "Only passing instances (type service)")
	state := cmd.fs.String("state", "", "Check state to watch (type checks)")
	name := cmd.fs.String("name", "", "Event name to watch (type event)")
	shell := cmd.fs.Bool("shell", true, "Run the handler through a shell")
	return cmd.run(args, func(x *cmdRun) int {
		if *typ == "" {
			return x.errorf("Watch type must be specified")
		}
		plan, err := planWatch(*typ, *key, *prefix, *service, tags, *passingOnly, *state, *name)
		if err != nil {
			return x.errorf("%v", err)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		read := func(index uint64) ([]byte, uint64, error) {
			q := x.query()
			q.WaitIndex, q.WaitTime = index, 5*time.Minute
			c, cancel := context.WithTimeout(ctx, 6*time.Minute)
			defer cancel()
			body, meta, err := x.client.GetRaw(c, plan.path, plan.params, q)
			var se *api.StatusError
			if errors.As(err, &se) && se.Code == 404 && plan.missing != "" {
				body, err = []byte(plan.missing), nil
			}
			if err != nil {
				return nil, 0, err
			}
			if plan.single && string(body) != plan.missing {
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
		if len(x.args()) == 0 {
			// No handler: the current data, once.
			body, _, err := read(0)
			if err != nil {
				return x.fail("querying the watch", err)
			}
			var out bytes.Buffer
			if json.Indent(&out, body, "", "    ") != nil {
				out.Write(body)
			}
			fmt.Fprintln(x.stdout, out.String())
			return 0
		}
		handler := x.args()
		if *shell {
			handler = exec.Shell(strings.Join(x.args(), " "))
		}
		return watchLoop(ctx, x, read, handler)
	})
}

// watchLoop reads with blocking queries and runs handler with the data on
// stdin and CONSUL_INDEX set: at once, then once per real change, one run
// at a time. A failed read is retried after a pause; a failed handler
// stops the watch (exit 1), as Consul's does.
func watchLoop(ctx context.Context, x *cmdRun, read func(uint64) ([]byte, uint64, error), handler []string) int {
	var index uint64
	var last []byte
	first := true
	for ctx.Err() == nil {
		body, idx, err := read(index)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			fmt.Fprintf(x.stderr, "Error querying the watch: %v (retrying)\n", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		if idx < index {
			idx = 0 // the index went back (a restore): start over
		}
		index = idx
		content := watchContent(body)
		if !first && bytes.Equal(content, last) {
			continue // a new index, the same data: nothing changed
		}
		first, last = false, content
		r := exec.Run(ctx, exec.Spec{Args: handler, Stdin: bytes.NewReader(body),
			Env: append(os.Environ(), "CONSUL_INDEX="+strconv.FormatUint(index, 10)), OutputCap: 1 << 20})
		_, _ = x.stdout.Write(r.Output)
		if ctx.Err() != nil {
			break
		}
		if r.Err != nil || r.ExitCode != 0 {
			return x.errorf("Error executing handler: %s", handlerFailure(r))
		}
	}
	return 0
}

// watchContent is what a watch compares to decide that the data changed:
// the JSON without the Raft indexes (CreateIndex, ModifyIndex), which move
// on a write that changes nothing (the same value written again).
func watchContent(body []byte) []byte {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return body
	}
	var strip func(any) any
	strip = func(v any) any {
		switch t := v.(type) {
		case map[string]any:
			delete(t, "CreateIndex")
			delete(t, "ModifyIndex")
			for k, x := range t {
				t[k] = strip(x)
			}
		case []any:
			for i := range t {
				t[i] = strip(t[i])
			}
		}
		return v
	}
	out, err := json.Marshal(strip(v))
	if err != nil {
		return body
	}
	return out
}

func handlerFailure(r exec.Result) string {
	switch {
	case r.Err != nil:
		return r.Err.Error()
	case r.Signal != 0:
		return "killed by " + r.Signal.String()
	}
	return fmt.Sprintf("exit status %d", r.ExitCode)
}
