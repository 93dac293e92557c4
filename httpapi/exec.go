package httpapi

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"consulx/exec/remote"
	"consulx/node"
)

// maxExecRequest bounds PUT /v1/exec's body (the spec travels in one
// relay frame).
const maxExecRequest = 48 << 10

// execRequest is PUT /v1/exec's body (api.ExecRequest).
type execRequest struct {
	Command       string
	Args          []string
	NodeFilter    string
	ServiceFilter string
	TagFilter     string
	Wait          time.Duration
	Timeout       time.Duration
	MaxOutput     int
}

// exec is PUT /v1/exec[?dc=]: runs a remote exec job and streams its
// events as newline-delimited JSON while it runs. The client hanging up
// cancels the job on every node. A consulx endpoint: Consul's exec is a
// client-side protocol over KV, sessions and events.
func (h *Handler) exec(w http.ResponseWriter, r *http.Request) (any, error) {
	body, err := readBody(r, maxExecRequest)
	if err != nil {
		return nil, err
	}
	var in execRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, badRequest("Request decode failed: %v", err)
	}
	req := &node.ExecRequest{
		Spec:    remote.Spec{Command: in.Command, Args: in.Args, Wait: in.Wait, Timeout: in.Timeout, MaxOutput: in.MaxOutput, Token: requestToken(r)},
		Filters: remote.Filters{Node: in.NodeFilter, Service: in.ServiceFilter, Tag: in.TagFilter},
	}
	flusher, _ := w.(http.Flusher)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	var mu sync.Mutex
	started := false
	err = h.agent.Exec(r.Context(), req, query(r).Get("dc"), func(ev remote.Event) {
		mu.Lock()
		defer mu.Unlock()
		if !started {
			started = true
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
		}
		// A stalled client must not hold the job forever: each event has
		// a minute to be written, or the request (and so the job) ends.
		_ = rc.SetWriteDeadline(time.Now().Add(time.Minute))
		if enc.Encode(ev) != nil {
			return
		}
		// Output is flushed as it comes; the rest with the next output
		// or at the end.
		if flusher != nil {
			flusher.Flush()
		}
	})
	if err != nil && !started {
		return nil, err
	}
	return nil, nil
}

// requestToken is the ACL token a request carries: X-Consul-Token,
// then Authorization: Bearer, then ?token=.
func requestToken(r *http.Request) string {
	if t := r.Header.Get("X-Consul-Token"); t != "" {
		return t
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && a[:7] == "Bearer " {
		return a[7:]
	}
	return query(r).Get("token")
}
