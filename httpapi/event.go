package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"consulx/node"
)

// eventFire is PUT /v1/event/fire/<name>: the body is the payload, the
// node/service/tag parameters are regex filters.
func (h *Handler) eventFire(w http.ResponseWriter, r *http.Request) (any, error) {
	q := query(r)
	ev := &node.UserEvent{Name: pathTail(r, "/v1/event/fire/"), NodeFilter: q.Get("node"), ServiceFilter: q.Get("service"), TagFilter: q.Get("tag")}
	if ev.Name == "" {
		return nil, badRequest("Missing name")
	}
	if err := require(authz(r), authz(r).EventWrite(ev.Name), "event:write", ev.Name); err != nil {
		return nil, err
	}
	payload, err := readBody(r, node.UserEventMaxPayload)
	var se *statusError
	if errors.As(err, &se) && se.code == http.StatusRequestEntityTooLarge {
		// readBody's text names the KV limit; this one is the event's.
		return nil, &statusError{code: se.code, msg: fmt.Sprintf("Event payload too large: more than %d bytes", node.UserEventMaxPayload)}
	}
	if err != nil {
		return nil, err
	}
	if len(payload) > 0 {
		ev.Payload = payload
	}
	out, err := h.agent.FireEvent(node.WithToken(r.Context(), requestToken(r)), ev, q.Get("dc"))
	if err != nil {
		return nil, err
	}
	return out, nil // node.UserEvent carries Consul's field names
}

// eventList is GET /v1/event/list[?name=]: this agent's recent events,
// oldest first, with Consul's fake index (from the last event's ID). A
// blocking request returns when that index differs from ?index, or after
// ?wait (10 min when absent, capped at 10 min; no jitter, as Consul).
func (h *Handler) eventList(w http.ResponseWriter, r *http.Request) (any, error) {
	minIndex, wait, err := blockingParams(r)
	if err != nil {
		return nil, err
	}
	if wait <= 0 || wait > 10*time.Minute {
		wait = 10 * time.Minute
	}
	name := query(r).Get("name")
	events, index, changed := h.agent.UserEvents(name)
	if minIndex > 0 && index == minIndex {
		timer := time.NewTimer(wait)
		defer timer.Stop()
	wait:
		for index == minIndex {
			select {
			case <-changed:
				events, index, changed = h.agent.UserEvents(name)
			case <-timer.C:
				break wait // answer what there is
			case <-r.Context().Done():
				return nil, r.Context().Err()
			}
		}
	}
	w.Header().Set("X-Consul-Index", itoa64(index))
	z := authz(r)
	kept := make([]node.UserEvent, 0, len(events))
	for _, e := range events {
		if z.EventRead(e.Name) {
			kept = append(kept, e)
		}
	}
	setFiltered(w, len(kept) < len(events))
	return kept, nil
}
