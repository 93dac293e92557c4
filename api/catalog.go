package api

import (
	"context"
	"net/url"
	"strconv"
)

// HealthCheck is one check as the agent and health endpoints return it.
type HealthCheck struct {
	Node        string
	CheckID     string
	Name        string
	Status      string
	Notes       string
	Output      string
	ServiceID   string
	ServiceName string
	ServiceTags []string
	Type        string
}

// AgentChecks returns the local agent's checks by ID.
func (c *Client) AgentChecks(ctx context.Context) (map[string]HealthCheck, error) {
	var out map[string]HealthCheck
	_, err := c.getJSON(ctx, "/v1/agent/checks", nil, &out)
	return out, err
}

// NodeMaintenance toggles the local node's maintenance mode.
func (c *Client) NodeMaintenance(ctx context.Context, enable bool, reason string) error {
	p := url.Values{"enable": {strconv.FormatBool(enable)}}
	if reason != "" {
		p.Set("reason", reason)
	}
	_, err := c.put(ctx, "/v1/agent/maintenance", p, nil)
	return err
}

// ServiceMaintenance toggles maintenance of a local service.
func (c *Client) ServiceMaintenance(ctx context.Context, id string, enable bool, reason string) error {
	p := url.Values{"enable": {strconv.FormatBool(enable)}}
	if reason != "" {
		p.Set("reason", reason)
	}
	_, err := c.put(ctx, "/v1/agent/service/maintenance/"+url.PathEscape(id), p, nil)
	return err
}

// CatalogServices maps service names to their tags.
func (c *Client) CatalogServices(ctx context.Context, q *QueryOptions) (map[string][]string, *QueryMeta, error) {
	p := url.Values{}
	q.apply(p)
	var out map[string][]string
	meta, err := c.getJSON(ctx, "/v1/catalog/services", p, &out)
	return out, meta, err
}

// CatalogNode is one row of /v1/catalog/nodes.
type CatalogNode struct {
	ID              string
	Node            string
	Address         string
	Datacenter      string
	TaggedAddresses map[string]string
	Meta            map[string]string
}

// CatalogNodes lists catalog nodes.
func (c *Client) CatalogNodes(ctx context.Context, q *QueryOptions) ([]CatalogNode, *QueryMeta, error) {
	p := url.Values{}
	q.apply(p)
	var out []CatalogNode
	meta, err := c.getJSON(ctx, "/v1/catalog/nodes", p, &out)
	return out, meta, err
}

// CatalogServiceNode is one row of /v1/catalog/service/<name>.
type CatalogServiceNode struct {
	ID          string
	Node        string
	Address     string
	Datacenter  string
	ServiceID   string
	ServiceName string
	ServiceTags []string
	ServicePort int
}

// CatalogService lists the instances of a service (with the given tag).
func (c *Client) CatalogService(ctx context.Context, name, tag string, q *QueryOptions) ([]CatalogServiceNode, *QueryMeta, error) {
	p := url.Values{}
	if tag != "" {
		p.Set("tag", tag)
	}
	q.apply(p)
	var out []CatalogServiceNode
	meta, err := c.getJSON(ctx, "/v1/catalog/service/"+url.PathEscape(name), p, &out)
	return out, meta, err
}
