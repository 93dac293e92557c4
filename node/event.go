package node

// User events: fired into the LAN gossip pool (serf user events, best
// effort, never through Raft), recorded by every agent whose node name and
// local services match the event's filters, kept in a ring of the last 256
// as Consul does, and listed with Consul's fake blocking index.

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/hashicorp/go-uuid"
	"github.com/hashicorp/serf/serf"

	"consulx/acl"
)

const (
	// userEventPrefix marks our user events among serf's (Consul's name).
	userEventPrefix = "consul:event:"
	// UserEventMaxPayload is Consul's limit on an event's payload.
	UserEventMaxPayload = 512
	// userEventRing is how many recent events an agent keeps.
	userEventRing = 256
	// serfUserEventLimit is serf's cap on an encoded user event: the
	// payload plus the event's ID and filters.
	serfUserEventLimit = 9 * 1024
)

// UserEvent is a user event, with Consul's fields.
type UserEvent struct {
	ID            string
	Name          string
	Payload       []byte
	NodeFilter    string
	ServiceFilter string
	TagFilter     string
	Version       int
	LTime         uint64
}

// userEvents is an agent's ring of recent events.
type userEvents struct {
	mu      sync.Mutex
	events  []UserEvent // oldest first, at most userEventRing
	changed chan struct{}
}

func (u *userEvents) add(ev UserEvent) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.events) == userEventRing {
		u.events = append(u.events[:0], u.events[1:]...)
	}
	u.events = append(u.events, ev)
	if u.changed != nil {
		close(u.changed)
		u.changed = nil
	}
}

// list returns a copy of the events named name ("" for all), the fake
// index of the whole list, and a channel closed by the next event.
func (u *userEvents) list(name string) ([]UserEvent, uint64, <-chan struct{}) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.changed == nil {
		u.changed = make(chan struct{})
	}
	out := []UserEvent{}
	for _, ev := range u.events {
		if name == "" || ev.Name == name {
			out = append(out, ev)
		}
	}
	var index uint64 = 1
	if n := len(u.events); n > 0 {
		index = EventIndex(u.events[n-1].ID)
	}
	return out, index, u.changed
}

// EventIndex is Consul's fake blocking index of an event list: the first
// 64 bits of the last event's UUID XOR the last 64 bits (1 when unknown).
func EventIndex(id string) uint64 {
	b, err := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
	if err != nil || len(b) != 16 {
		return 1
	}
	return binary.BigEndian.Uint64(b[:8]) ^ binary.BigEndian.Uint64(b[8:])
}

// ValidateUserEvent checks an event before it is fired: a name, a payload
// within the limit, filters that are regular expressions, and no tag
// filter without a service filter.
func ValidateUserEvent(ev *UserEvent) error {
	switch {
	case ev.Name == "":
		return &BadRequestError{Msg: "Missing name"}
	case len(ev.Payload) > UserEventMaxPayload:
		return &BadRequestError{Msg: fmt.Sprintf("Event payload (%d bytes) exceeds the limit of %d bytes", len(ev.Payload), UserEventMaxPayload)}
	case ev.TagFilter != "" && ev.ServiceFilter == "":
		return &BadRequestError{Msg: "Cannot provide tag filter without service filter"}
	}
	for what, re := range map[string]string{"node": ev.NodeFilter, "service": ev.ServiceFilter, "tag": ev.TagFilter} {
		if _, err := regexp.Compile(re); err != nil {
			return &BadRequestError{Msg: fmt.Sprintf("Invalid %s filter: %v", what, err)}
		}
	}
	return nil
}

// FireEvent broadcasts a user event to the agents of datacenter ("" for
// ours) and returns it with its ID. An event for another datacenter goes
// to one of its servers (the endpoint table's hop), which broadcasts it
// there: events never cross the WAN pool by gossip.
func (a *Agent) FireEvent(ctx context.Context, ev *UserEvent, datacenter string) (*UserEvent, error) {
	if err := ValidateUserEvent(ev); err != nil {
		return nil, err
	}
	if datacenter == "" || datacenter == a.cfg.Datacenter {
		return a.fireLocalEvent(ev)
	}
	r, err := eventFireEndpoint.call(ctx, a, &EventFireRequest{Event: *ev, WriteOptions: WriteOptions{Datacenter: datacenter, Token: TokenFrom(ctx)}})
	if err != nil {
		return nil, err
	}
	return &r.Event, nil
}

// fireLocalEvent gives ev an ID and broadcasts it into our LAN pool.
func (a *Agent) fireLocalEvent(ev *UserEvent) (*UserEvent, error) {
	id, err := uuid.GenerateUUID()
	if err != nil {
		return nil, err
	}
	out := *ev
	out.ID, out.Version = id, 1
	body, err := json.Marshal(&out)
	if err != nil {
		return nil, err
	}
	if err := a.lan.UserEvent(userEventPrefix+out.Name, body, false); err != nil {
		return nil, fmt.Errorf("fire event %q: %w", out.Name, err)
	}
	return &out, nil
}

// EventFireRequest fires a user event in another datacenter.
type EventFireRequest struct {
	Event UserEvent
	WriteOptions
}

// EventFireResponse is the event as fired, with its ID.
type EventFireResponse struct{ Event UserEvent }

var eventFireEndpoint = &endpoint[EventFireRequest, EventFireResponse]{
	name: "Internal.EventFire", kind: directEndpoint,
	authorize: func(_ *server, z acl.Authorizer, req *EventFireRequest) error {
		return allowOrDeny(z.EventWrite(req.Event.Name), z, "event:write", req.Event.Name)
	},
	direct: func(s *server, _ context.Context, req *EventFireRequest) (*EventFireResponse, error) {
		if err := ValidateUserEvent(&req.Event); err != nil {
			return nil, err
		}
		ev, err := s.fireEvent(&req.Event)
		if err != nil {
			return nil, err
		}
		return &EventFireResponse{Event: *ev}, nil
	},
}

// UserEvents lists the recent events named name ("" for all), oldest
// first, with the list's index and a channel closed by the next event.
func (a *Agent) UserEvents(name string) ([]UserEvent, uint64, <-chan struct{}) {
	return a.events.list(name)
}

// handleUserEvent records an event gossip delivered, when it is for us.
func (a *Agent) handleUserEvent(e serf.UserEvent) {
	if e.Name == execEventName {
		a.handleExecAnnouncement(e)
		return
	}
	if !strings.HasPrefix(e.Name, userEventPrefix) {
		return
	}
	var ev UserEvent
	if err := json.Unmarshal(e.Payload, &ev); err != nil {
		a.logger.Warn("dropping a user event that does not decode", "name", e.Name, "error", err)
		return
	}
	ev.LTime = uint64(e.LTime)
	if !a.eventIsForUs(&ev) {
		return
	}
	a.logger.Debug("user event received", "name", ev.Name, "id", ev.ID)
	a.events.add(ev)
}

// eventIsForUs applies an event's filters to this node and its services.
func (a *Agent) eventIsForUs(ev *UserEvent) bool {
	return a.matchesFilters(ev.NodeFilter, ev.ServiceFilter, ev.TagFilter)
}

// matchesFilters applies user event filters (regular expressions; ""
// matches anything) to this node's name and its local services and tags.
func (a *Agent) matchesFilters(node, service, tag string) bool {
	if node != "" {
		re, err := regexp.Compile(node)
		if err != nil || !re.MatchString(a.cfg.NodeName) {
			return false
		}
	}
	if service == "" {
		return true
	}
	svcRe, err := regexp.Compile(service)
	if err != nil {
		return false
	}
	var tagRe *regexp.Regexp
	if tag != "" {
		if tagRe, err = regexp.Compile(tag); err != nil {
			return false
		}
	}
	for _, s := range a.local.Services() {
		if !svcRe.MatchString(s.Service) {
			continue
		}
		if tagRe == nil {
			return true
		}
		for _, t := range s.Tags {
			if tagRe.MatchString(t) {
				return true
			}
		}
	}
	return false
}
