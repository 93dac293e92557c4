package api

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Member is one gossip member as /v1/agent/members returns it.
type Member struct {
	Name        string
	Addr        string
	Port        uint16
	Tags        map[string]string
	Status      int
	ProtocolMin uint8
	ProtocolMax uint8
	ProtocolCur uint8
	DelegateMin uint8
	DelegateMax uint8
	DelegateCur uint8
}

// StatusWord is Consul's name for a serf status number.
func StatusWord(s int) string {
	switch s {
	case 1:
		return "alive"
	case 2:
		return "leaving"
	case 3:
		return "left"
	case 4:
		return "failed"
	}
	return "none"
}

// Self is /v1/agent/self.
type Self struct {
	Config map[string]any
	Member Member
	Stats  map[string]map[string]string
}

// Self returns the agent's configuration, member entry and stats.
func (c *Client) Self(ctx context.Context) (*Self, error) {
	var s Self
	_, err := c.getJSON(ctx, "/v1/agent/self", nil, &s)
	return &s, err
}

// Members lists the LAN (or WAN) pool as this agent sees it.
func (c *Client) Members(ctx context.Context, wan bool) ([]Member, error) {
	ms, _, err := c.MembersMeta(ctx, wan)
	return ms, err
}

// MembersMeta is Members with the answer's headers: ResultsFilteredByACLs
// says the token could not see every member (node:read).
func (c *Client) MembersMeta(ctx context.Context, wan bool) ([]Member, *QueryMeta, error) {
	p := url.Values{}
	if wan {
		p.Set("wan", "1")
	}
	var ms []Member
	meta, err := c.getJSON(ctx, "/v1/agent/members", p, &ms)
	return ms, meta, err
}

// Join asks the agent to join addr.
func (c *Client) Join(ctx context.Context, addr string, wan bool) error {
	p := url.Values{}
	if wan {
		p.Set("wan", "1")
	}
	_, err := c.put(ctx, "/v1/agent/join/"+addr, p, nil)
	return err
}

// Leave makes the agent leave gracefully and stop.
func (c *Client) Leave(ctx context.Context) error {
	_, err := c.put(ctx, "/v1/agent/leave", nil, nil)
	return err
}

// ForceLeave moves a failed node to left.
func (c *Client) ForceLeave(ctx context.Context, node string, prune, wan bool) error {
	p := url.Values{}
	if prune {
		p.Set("prune", "")
	}
	if wan {
		p.Set("wan", "1")
	}
	_, err := c.put(ctx, "/v1/agent/force-leave/"+url.PathEscape(node), p, nil)
	return err
}

// RaftServer is one Raft peer.
type RaftServer struct {
	ID              string
	Node            string
	Address         string
	Leader          bool
	Voter           bool
	ProtocolVersion string
}

// RaftConfiguration is /v1/operator/raft/configuration.
type RaftConfiguration struct {
	Servers []RaftServer
	Index   uint64
}

// RaftConfiguration returns the Raft peers.
func (c *Client) RaftConfiguration(ctx context.Context, stale bool) (*RaftConfiguration, error) {
	p := url.Values{}
	if stale {
		p.Set("stale", "")
	}
	var rc RaftConfiguration
	_, err := c.getJSON(ctx, "/v1/operator/raft/configuration", p, &rc)
	return &rc, err
}

// escapeKey escapes a KV key for a URL path while keeping its slashes.
func escapeKey(k string) string {
	parts := strings.Split(k, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// Monitor streams the agent's log lines at or above level ("info" when
// empty) to fn until ctx ends or the agent goes away.
func (c *Client) Monitor(ctx context.Context, level string, fn func(line string)) error {
	p := url.Values{}
	if level != "" {
		p.Set("loglevel", level)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/agent/monitor?"+p.Encode(), nil)
	if err != nil {
		return err
	}
	if err := c.setToken(req); err != nil {
		return err
	}
	// A stream has no overall timeout; the context ends it.
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return &StatusError{Code: resp.StatusCode, Body: string(b)}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fn(sc.Text())
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}

// Reload makes the agent re-read its configuration files.
func (c *Client) Reload(ctx context.Context) error {
	_, err := c.put(ctx, "/v1/agent/reload", nil, nil)
	return err
}
