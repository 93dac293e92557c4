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
	return c.NodeMaintenanceOn(ctx, "", enable, reason)
}

// ServiceMaintenance toggles maintenance of a local service.
func (c *Client) ServiceMaintenance(ctx context.Context, id string, enable bool, reason string) error {
	return c.ServiceMaintenanceOn(ctx, "", id, enable, reason)
}

func maintParams(node string, enable bool, reason string) url.Values {
	p := url.Values{"enable": {strconv.FormatBool(enable)}}
	if reason != "" {
		p.Set("reason", reason)
	}
	if node != "" {
		p.Set("node", node)
	}
	return p
}

// NodeMaintenanceOn toggles maintenance of node ("" = the agent's own
// node); another node's agent is reached through the cluster (a consulx
// extension).
func (c *Client) NodeMaintenanceOn(ctx context.Context, node string, enable bool, reason string) error {
	_, err := c.put(ctx, "/v1/agent/maintenance", maintParams(node, enable, reason), nil)
	return err
}

// ServiceMaintenanceOn toggles maintenance of service id on node ("" =
// the agent's own node).
func (c *Client) ServiceMaintenanceOn(ctx context.Context, node, id string, enable bool, reason string) error {
	_, err := c.put(ctx, "/v1/agent/service/maintenance/"+url.PathEscape(id), maintParams(node, enable, reason), nil)
	return err
}

// ServiceEntry is one instance from /v1/health/service/<name>.
type ServiceEntry struct {
	Node    CatalogNode
	Service struct {
		ID      string
		Service string
		Tags    []string
		Address string
		Port    int
		Meta    map[string]string
	}
	Checks []HealthCheck
}

// HealthService lists a service's instances with their checks (only those
// with every check passing when passingOnly).
func (c *Client) HealthService(ctx context.Context, name string, passingOnly bool, q *QueryOptions) ([]ServiceEntry, *QueryMeta, error) {
	p := url.Values{}
	if passingOnly {
		p.Set("passing", "")
	}
	q.apply(p)
	var out []ServiceEntry
	meta, err := c.getJSON(ctx, "/v1/health/service/"+url.PathEscape(name), p, &out)
	return out, meta, err
}

// HealthState lists checks in a state (any, passing, warning, critical).
func (c *Client) HealthState(ctx context.Context, state string, q *QueryOptions) ([]HealthCheck, *QueryMeta, error) {
	p := url.Values{}
	q.apply(p)
	var out []HealthCheck
	meta, err := c.getJSON(ctx, "/v1/health/state/"+url.PathEscape(state), p, &out)
	return out, meta, err
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
