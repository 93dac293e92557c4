package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"consulx/node"
	"consulx/store"
)

// kvEntryJSON is Consul's KVPair wire shape: Value is base64 (or null when
// empty) and Session is omitted unless a lock is held.
type kvEntryJSON struct {
	LockIndex   uint64
	Key         string
	Flags       uint64
	Value       []byte
	CreateIndex uint64
	ModifyIndex uint64
	Session     string `json:",omitempty"`
}

func toEntryJSON(e store.KVEntry) kvEntryJSON {
	return kvEntryJSON{LockIndex: e.LockIndex, Key: e.Key, Flags: e.Flags, Value: e.Value,
		CreateIndex: e.CreateIndex, ModifyIndex: e.ModifyIndex, Session: e.Session}
}

func (h *Handler) kv(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/v1/kv"), "/")
	var err error
	switch r.Method {
	case http.MethodGet:
		err = h.kvGet(w, r, key)
	case http.MethodPut:
		err = h.kvPut(w, r, key)
	case http.MethodDelete:
		err = h.kvDelete(w, r, key)
	default:
		allowed(w, r, []string{"GET", "PUT", "DELETE"})
		return
	}
	if err != nil {
		writeError(w, err)
	}
}

func has(r *http.Request, name string) bool {
	_, ok := query(r)[name]
	return ok
}

func (h *Handler) kvGet(w http.ResponseWriter, r *http.Request, key string) error {
	opts, err := readOptions(r)
	if err != nil {
		return err
	}
	req := &node.KVReadRequest{Key: key, Mode: node.KVReadKey, QueryOptions: opts}
	switch {
	case has(r, "keys"):
		req.Mode = node.KVReadKeys
		req.Separator = query(r).Get("separator")
		if req.Separator == "" {
			req.Separator = query(r).Get("seperator") // Consul's historic spelling
		}
	case has(r, "recurse"):
		req.Mode = node.KVReadPrefix
	case key == "":
		return badRequest("Missing key name")
	}
	out, err := serveRead(h, w, r, req, &req.QueryOptions, h.agent.Reads().KV, showKV(req))
	respond(w, r, out, err)
	return nil
}

// showKV writes Consul's response for a KV read: 404 with the headers
// when nothing matched, the bare value for ?raw, else the entries (or key
// names) as JSON.
func showKV(req *node.KVReadRequest) render[node.KVReadResponse] {
	return func(w http.ResponseWriter, r *http.Request, out *node.KVReadResponse) (any, error) {
		setMeta(w, out.QueryMeta)
		if req.Mode == node.KVReadKeys {
			if len(out.Keys) == 0 {
				if req.Key != "" {
					w.WriteHeader(http.StatusNotFound)
					return nil, nil
				}
				return []string{}, nil
			}
			return out.Keys, nil
		}
		if len(out.Entries) == 0 {
			w.WriteHeader(http.StatusNotFound)
			return nil, nil
		}
		if req.Mode == node.KVReadKey && has(r, "raw") {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.Header().Set("Content-Security-Policy", "sandbox")
			_, _ = w.Write(out.Entries[0].Value)
			return nil, nil
		}
		ents := make([]kvEntryJSON, len(out.Entries))
		for i, e := range out.Entries {
			ents[i] = toEntryJSON(e)
		}
		return ents, nil
	}
}

func parseUintParam(r *http.Request, name string) (uint64, bool, error) {
	v, ok := query(r)[name]
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(v[0], 10, 64)
	if err != nil {
		return 0, true, badRequest("Invalid %s: %q is not an unsigned integer", name, v[0])
	}
	return n, true, nil
}

// readValue reads a KV body, refusing (with Consul's 413 text) anything
// over the configured limit before any of it is stored.
func (h *Handler) readValue(r *http.Request) ([]byte, error) {
	return readBody(r, int64(h.agent.Config().KVMaxValueSize))
}

// readBody reads a request body of at most limit bytes.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge(r.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLarge(int64(len(b))+1, limit)
	}
	if err != nil {
		return nil, badRequest("Failed to read request body: %v", err)
	}
	if int64(len(b)) > limit {
		// Drain (bounded) so the error can name the real size.
		n, _ := io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20))
		return nil, tooLarge(int64(len(b))+n, limit)
	}
	return b, nil
}

func tooLarge(n, limit int64) error {
	return &statusError{code: http.StatusRequestEntityTooLarge,
		msg: fmt.Sprintf("Request body(%d bytes) too large, max size: %d bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.", n, limit)}
}

func (h *Handler) kvPut(w http.ResponseWriter, r *http.Request, key string) error {
	if key == "" {
		return badRequest("Missing key name")
	}
	if strings.TrimSpace(key) != key {
		// Consul 1.22 answers these with a 500; it is the client's mistake.
		return badRequest("Invalid key %q: leading or trailing whitespace", key)
	}
	n := 0
	for _, f := range []string{"cas", "acquire", "release"} {
		if has(r, f) {
			n++
		}
	}
	if n > 1 {
		return badRequest("Conflicting flags: %s", r.URL.RawQuery)
	}
	flags, _, err := parseUintParam(r, "flags")
	if err != nil {
		return err
	}
	casIdx, isCAS, err := parseUintParam(r, "cas")
	if err != nil {
		return err
	}
	val, err := h.readValue(r)
	if err != nil {
		return err
	}
	op, session := store.KVSet, ""
	switch {
	case isCAS:
		op = store.KVCAS
	case has(r, "acquire"):
		op, session = store.KVLock, query(r).Get("acquire")
	case has(r, "release"):
		op, session = store.KVUnlock, query(r).Get("release")
	}
	if (op == store.KVLock || op == store.KVUnlock) && session == "" {
		return badRequest("Missing session")
	}
	if len(val) == 0 {
		val = nil
	}
	out, err := h.agent.KVApply(r.Context(), &node.KVWriteRequest{Request: store.KVRequest{Op: op,
		Entry: store.KVEntry{Key: key, Value: val, Flags: flags, ModifyIndex: casIdx, Session: session}}, WriteOptions: writeOptions(r)})
	if err != nil {
		return err
	}
	writeJSON(w, r, out.Ok)
	return nil
}

func (h *Handler) kvDelete(w http.ResponseWriter, r *http.Request, key string) error {
	recurse := has(r, "recurse")
	if recurse && has(r, "cas") {
		return badRequest("Conflicting flags: %s", r.URL.RawQuery)
	}
	if key == "" && !recurse {
		return badRequest("Missing key name")
	}
	casIdx, isCAS, err := parseUintParam(r, "cas")
	if err != nil {
		return err
	}
	op := store.KVDelete
	switch {
	case recurse:
		op = store.KVDeleteTree
	case isCAS:
		op = store.KVDeleteCAS
	}
	out, err := h.agent.KVApply(r.Context(), &node.KVWriteRequest{Request: store.KVRequest{Op: op,
		Entry: store.KVEntry{Key: key, ModifyIndex: casIdx}}, WriteOptions: writeOptions(r)})
	if err != nil {
		return err
	}
	writeJSON(w, r, out.Ok)
	return nil
}
