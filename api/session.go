package api

import (
	"context"
	"encoding/json"
	"net/url"
	"time"
)

// SessionEntry is one session.
type SessionEntry struct {
	ID          string `json:",omitempty"`
	Name        string `json:",omitempty"`
	Node        string `json:",omitempty"`
	LockDelay   time.Duration
	Behavior    string   `json:",omitempty"`
	TTL         string   `json:",omitempty"`
	NodeChecks  []string `json:",omitempty"`
	CreateIndex uint64   `json:",omitempty"`
	ModifyIndex uint64   `json:",omitempty"`
}

// SessionCreate creates a session and returns its ID.
func (c *Client) SessionCreate(ctx context.Context, s *SessionEntry) (string, error) {
	body, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	data, err := c.put(ctx, "/v1/session/create", nil, body)
	if err != nil {
		return "", err
	}
	var out struct{ ID string }
	err = json.Unmarshal(data, &out)
	return out.ID, err
}

// SessionRenew renews a session; the reply may carry a longer TTL.
func (c *Client) SessionRenew(ctx context.Context, id string) (*SessionEntry, error) {
	data, err := c.put(ctx, "/v1/session/renew/"+url.PathEscape(id), nil, nil)
	if err != nil {
		return nil, err
	}
	var out []*SessionEntry
	if err := json.Unmarshal(data, &out); err != nil || len(out) == 0 {
		return nil, err
	}
	return out[0], nil
}

// SessionDestroy invalidates a session.
func (c *Client) SessionDestroy(ctx context.Context, id string) error {
	_, err := c.put(ctx, "/v1/session/destroy/"+url.PathEscape(id), nil, nil)
	return err
}

// SessionInfo returns a session, nil when unknown.
func (c *Client) SessionInfo(ctx context.Context, id string) (*SessionEntry, error) {
	var out []*SessionEntry
	if _, err := c.getJSON(ctx, "/v1/session/info/"+url.PathEscape(id), nil, &out); err != nil || len(out) == 0 {
		return nil, err
	}
	return out[0], nil
}
