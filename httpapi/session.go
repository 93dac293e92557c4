package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"consulx/node"
	"consulx/store"
)

// sessionCreateBody decodes /v1/session/create. LockDelay accepts a
// duration string or a number (below 1000: seconds; else nanoseconds, as
// the official client sends it).
type sessionCreateBody struct {
	Name       string
	Node       string
	LockDelay  json.RawMessage
	Behavior   string
	TTL        string
	Checks     []string
	NodeChecks []string
}

func parseLockDelay(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 15 * time.Second, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, badRequest("Request decode failed: invalid LockDelay %q", s)
		}
		return d, nil
	}
	var n float64
	if err := json.Unmarshal(raw, &n); err != nil || n < 0 {
		return 0, badRequest("Request decode failed: invalid LockDelay %s", raw)
	}
	if n < 1000 {
		return time.Duration(n * float64(time.Second)), nil
	}
	return time.Duration(n), nil
}

func (h *Handler) sessionCreate(w http.ResponseWriter, r *http.Request) (any, error) {
	raw, err := readBody(r, 64<<10)
	if err != nil {
		return nil, err
	}
	var body sessionCreateBody
	var present map[string]json.RawMessage
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			return nil, badRequest("Request decode failed: %v", err)
		}
		_ = json.Unmarshal(raw, &present)
	}
	sess := store.Session{Name: body.Name, Node: body.Node, Behavior: body.Behavior, TTL: body.TTL}
	if sess.Node == "" {
		sess.Node = h.agent.Config().NodeName
	}
	if sess.LockDelay, err = parseLockDelay(body.LockDelay); err != nil {
		return nil, err
	}
	// Checks defaults to serfHealth only when neither key is present at all.
	hasKey := func(name string) bool {
		for k := range present {
			if strings.EqualFold(k, name) {
				return true
			}
		}
		return false
	}
	switch {
	case hasKey("NodeChecks"):
		sess.NodeChecks = append([]string{}, body.NodeChecks...)
	case hasKey("Checks"):
		sess.NodeChecks = append([]string{}, body.Checks...)
	default:
		sess.NodeChecks = []string{"serfHealth"}
	}
	out, err := h.agent.SessionApply(r.Context(), &node.SessionWriteRequest{Op: store.SessionCreate, Session: sess, WriteOptions: writeOptions(r)})
	if err != nil {
		return nil, err
	}
	return map[string]string{"ID": out.ID}, nil
}

func pathTail(r *http.Request, prefix string) string {
	return strings.TrimPrefix(r.URL.Path, prefix)
}

func (h *Handler) sessionDestroy(w http.ResponseWriter, r *http.Request) (any, error) {
	id := pathTail(r, "/v1/session/destroy/")
	if id == "" {
		return nil, badRequest("Missing session")
	}
	if _, err := h.agent.SessionApply(r.Context(), &node.SessionWriteRequest{Op: store.SessionDestroy, Session: store.Session{ID: id}, WriteOptions: writeOptions(r)}); err != nil {
		return nil, err
	}
	return true, nil
}

func (h *Handler) sessionRenew(w http.ResponseWriter, r *http.Request) (any, error) {
	id := pathTail(r, "/v1/session/renew/")
	if id == "" {
		return nil, badRequest("Missing session")
	}
	out, err := h.agent.SessionRenew(r.Context(), &node.SessionRenewRequest{ID: id, WriteOptions: writeOptions(r)})
	if err != nil {
		return nil, err
	}
	return out.Sessions, nil
}

func (h *Handler) sessionRead(prefix string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		opts, err := readOptions(r)
		if err != nil {
			return nil, err
		}
		req := &node.SessionReadRequest{QueryOptions: opts}
		switch prefix {
		case "/v1/session/info/":
			if req.ID = pathTail(r, prefix); req.ID == "" {
				return nil, badRequest("Missing session")
			}
		case "/v1/session/node/":
			if req.Node = pathTail(r, prefix); req.Node == "" {
				return nil, badRequest("Missing node name")
			}
		}
		return serveRead(h, w, r, req, &req.QueryOptions, h.agent.Reads().Sessions,
			func(w http.ResponseWriter, _ *http.Request, out *node.SessionReadResponse) (any, error) {
				setMeta(w, out.QueryMeta)
				return out.Sessions, nil
			})
	}
}
