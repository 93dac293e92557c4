package httpapi

import (
	"fmt"
	"net/http"

	"consulx/node"
)

// Request bodies are bounded on every route, before the handler runs: a
// declared Content-Length over the route's limit is a 413 at once, and a
// chunked body is cut off at the limit (http.MaxBytesReader), so no
// route reads an unbounded body into memory.
const (
	// defaultBodyLimit covers definitions and small JSON documents (and
	// routes that take no body at all).
	defaultBodyLimit = 1 << 20
	// snapshotBodyLimit bounds a restore archive.
	snapshotBodyLimit = 8 << 30
)

// bodyLimit is the most a route's request body may hold.
func (h *Handler) bodyLimit(pattern string) int64 {
	switch pattern {
	case "/v1/kv/", "/v1/txn":
		return int64(h.agent.Config().KVMaxValueSize)
	case "/v1/event/fire/":
		return node.UserEventMaxPayload
	case "/v1/exec":
		return maxExecRequest
	case "/v1/snapshot":
		return snapshotBodyLimit
	}
	return defaultBodyLimit
}

// limitBody refuses or bounds the body; false means it answered 413.
func limitBody(w http.ResponseWriter, r *http.Request, pattern string, limit int64) bool {
	if r.ContentLength > limit {
		err := tooLarge(r.ContentLength, limit) // Consul's text, naming kv_max_value_size
		if pattern != "/v1/kv/" && pattern != "/v1/txn" {
			err = &statusError{code: http.StatusRequestEntityTooLarge,
				msg: fmt.Sprintf("Request body(%d bytes) too large, max size: %d bytes.", r.ContentLength, limit)}
		}
		writeError(w, err)
		return false
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	return true
}
