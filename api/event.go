package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
)

// UserEvent is a user event as /v1/event returns it.
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

// EventFire fires a user event (PUT /v1/event/fire/<name>).
func (c *Client) EventFire(ctx context.Context, ev *UserEvent, datacenter string) (*UserEvent, error) {
	params := url.Values{}
	for k, v := range map[string]string{"node": ev.NodeFilter, "service": ev.ServiceFilter, "tag": ev.TagFilter, "dc": datacenter} {
		if v != "" {
			params.Set(k, v)
		}
	}
	data, err := c.put(ctx, "/v1/event/fire/"+url.PathEscape(ev.Name), params, ev.Payload)
	if err != nil {
		return nil, err
	}
	var out UserEvent
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	return &out, nil
}

// EventList lists the agent's recent events named name ("" for all).
func (c *Client) EventList(ctx context.Context, name string, q *QueryOptions) ([]UserEvent, *QueryMeta, error) {
	params := url.Values{}
	if name != "" {
		params.Set("name", name)
	}
	q.apply(params)
	var out []UserEvent
	meta, err := c.getJSON(ctx, "/v1/event/list", params, &out)
	return out, meta, err
}
