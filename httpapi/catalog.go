package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"consulx/node"
	"consulx/store"
)

type nodeJSON struct {
	ID              string
	Node            string
	Address         string
	Datacenter      string
	TaggedAddresses map[string]string
	Meta            map[string]string
	CreateIndex     uint64
	ModifyIndex     uint64
}

func toNodeJSON(n store.Node) nodeJSON {
	return nodeJSON{ID: n.ID, Node: n.Node, Address: n.Address, Datacenter: n.Datacenter,
		TaggedAddresses: orEmpty(n.TaggedAddresses), Meta: orEmpty(n.Meta), CreateIndex: n.CreateIndex, ModifyIndex: n.ModifyIndex}
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

type weights struct{ Passing, Warning int }

type serviceJSON struct {
	ID                string
	Service           string
	Tags              []string
	Address           string
	Meta              map[string]string
	Port              int
	Weights           weights
	EnableTagOverride bool
	CreateIndex       uint64
	ModifyIndex       uint64
}

func toServiceJSON(s store.NodeService) serviceJSON {
	tags := s.Tags
	if tags == nil {
		tags = []string{}
	}
	return serviceJSON{ID: s.ID, Service: s.Service, Tags: tags, Address: s.Address, Meta: orEmpty(s.Meta), Port: s.Port,
		Weights: weights{1, 1}, EnableTagOverride: s.EnableTagOverride, CreateIndex: s.CreateIndex, ModifyIndex: s.ModifyIndex}
}

// catalogServiceJSON is one row of /v1/catalog/service/<name>.
type catalogServiceJSON struct {
	ID                       string
	Node                     string
	Address                  string
	Datacenter               string
	TaggedAddresses          map[string]string
	NodeMeta                 map[string]string
	ServiceID                string
	ServiceName              string
	ServiceTags              []string
	ServiceAddress           string
	ServiceMeta              map[string]string
	ServicePort              int
	ServiceWeights           weights
	ServiceEnableTagOverride bool
	CreateIndex              uint64
	ModifyIndex              uint64
}

// named reads the name at the end of the path, refusing an empty one
// with missing (a 400).
func named(r *http.Request, prefix, missing string) (string, error) {
	name := pathTail(r, prefix)
	if name == "" {
		return "", badRequest("%s", missing)
	}
	return name, nil
}

// nodeMetaFilter parses ?node-meta=k:v (repeatable); all must match.
func nodeMetaFilter(r *http.Request) func(map[string]string) bool {
	var pairs [][2]string
	for _, v := range query(r)["node-meta"] {
		k, val, _ := strings.Cut(v, ":")
		pairs = append(pairs, [2]string{k, val})
	}
	return func(meta map[string]string) bool {
		for _, p := range pairs {
			if meta[p[0]] != p[1] {
				return false
			}
		}
		return true
	}
}

// hasTags reports whether tags include every wanted tag.
func hasTags(tags, want []string) bool {
	for _, w := range want {
		found := false
		for _, t := range tags {
			if strings.EqualFold(t, w) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (h *Handler) catalogNodes(w http.ResponseWriter, r *http.Request) (any, error) {
	opts, err := readOptions(r)
	if err != nil {
		return nil, err
	}
	req := &node.NodesRequest{QueryOptions: opts}
	return serveRead(h, w, r, req, &req.QueryOptions, h.agent.Reads().Nodes, showNodes)
}

func showNodes(w http.ResponseWriter, r *http.Request, out *node.NodesResponse) (any, error) {
	setMeta(w, out.QueryMeta)
	match := nodeMetaFilter(r)
	res := []nodeJSON{}
	for _, n := range out.Nodes {
		if match(n.Meta) {
			res = append(res, toNodeJSON(n))
		}
	}
	return res, nil
}

func (h *Handler) catalogServices(w http.ResponseWriter, r *http.Request) (any, error) {
	opts, err := readOptions(r)
	if err != nil {
		return nil, err
	}
	req := &node.ServicesRequest{QueryOptions: opts}
	return serveRead(h, w, r, req, &req.QueryOptions, h.agent.Reads().Services,
		func(w http.ResponseWriter, _ *http.Request, out *node.ServicesResponse) (any, error) {
			setMeta(w, out.QueryMeta)
			return out.Services, nil
		})
}

// serviceNodes serves the reads of one service's instances (catalog and
// health), rendered by show.
func (h *Handler) serviceNodes(w http.ResponseWriter, r *http.Request, prefix string, show render[node.ServiceNodesResponse]) (any, error) {
	req := &node.ServiceNodesRequest{}
	return serveNamedRead(h, w, r, prefix, "Missing service name", &req.Service, req, &req.QueryOptions, h.agent.Reads().ServiceNodes, show)
}

// serveNamedRead serves a read keyed by the name at the end of the path:
// it refuses an empty name with missing (a 400), fills *name and opts,
// and serves req.
func serveNamedRead[A, R any](h *Handler, w http.ResponseWriter, r *http.Request, prefix, missing string,
	name *string, req *A, opts *node.QueryOptions, rd node.Reader[A, R], show render[R]) (any, error) {
	var err error
	if *name, err = named(r, prefix, missing); err != nil {
		return nil, err
	}
	if *opts, err = readOptions(r); err != nil {
		return nil, err
	}
	return serveRead(h, w, r, req, opts, rd, show)
}

func (h *Handler) catalogService(w http.ResponseWriter, r *http.Request) (any, error) {
	return h.serviceNodes(w, r, "/v1/catalog/service/", showCatalogService)
}

func showCatalogService(w http.ResponseWriter, r *http.Request, out *node.ServiceNodesResponse) (any, error) {
	setMeta(w, out.QueryMeta)
	tags, match := query(r)["tag"], nodeMetaFilter(r)
	res := []catalogServiceJSON{}
	for _, in := range out.Instances {
		if !hasTags(in.Service.Tags, tags) || !match(in.Node.Meta) {
			continue
		}
		sv := toServiceJSON(in.Service)
		res = append(res, catalogServiceJSON{ID: in.Node.ID, Node: in.Node.Node, Address: in.Node.Address, Datacenter: in.Node.Datacenter,
			TaggedAddresses: orEmpty(in.Node.TaggedAddresses), NodeMeta: orEmpty(in.Node.Meta), ServiceID: sv.ID, ServiceName: sv.Service,
			ServiceTags: sv.Tags, ServiceAddress: sv.Address, ServiceMeta: sv.Meta, ServicePort: sv.Port, ServiceWeights: sv.Weights,
			ServiceEnableTagOverride: sv.EnableTagOverride, CreateIndex: sv.CreateIndex, ModifyIndex: sv.ModifyIndex})
	}
	return res, nil
}

func (h *Handler) catalogNode(w http.ResponseWriter, r *http.Request) (any, error) {
	req := &node.NodeServicesRequest{}
	return serveNamedRead(h, w, r, "/v1/catalog/node/", "Missing node name", &req.Node, req, &req.QueryOptions, h.agent.Reads().NodeServices, showCatalogNode)
}

func showCatalogNode(w http.ResponseWriter, _ *http.Request, out *node.NodeServicesResponse) (any, error) {
	setMeta(w, out.QueryMeta)
	if out.Node == nil {
		return json.RawMessage("null"), nil
	}
	svcs := map[string]serviceJSON{}
	for _, s := range out.Services {
		svcs[s.ID] = toServiceJSON(s)
	}
	return map[string]any{"Node": toNodeJSON(*out.Node), "Services": svcs}, nil
}

// catalogDatacenters is GET /v1/catalog/datacenters: every datacenter
// with a server in the WAN pool, nearest first.
func (h *Handler) catalogDatacenters(w http.ResponseWriter, r *http.Request) (any, error) {
	return h.agent.Datacenters(r.Context())
}

// registerBody is PUT /v1/catalog/register.
type registerBody struct {
	ID              string
	Node            string
	Address         string
	Datacenter      string
	TaggedAddresses map[string]string
	NodeMeta        map[string]string
	Service         *store.NodeService
	Check           *store.HealthCheck
	Checks          []*store.HealthCheck
	SkipNodeUpdate  bool
}

func (h *Handler) catalogRegister(w http.ResponseWriter, r *http.Request) (any, error) {
	raw, err := readBody(r, 1<<20)
	if err != nil {
		return nil, err
	}
	var b registerBody
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, badRequest("Request decode failed: %v", err)
	}
	if b.Node == "" {
		return nil, badRequest("Must provide node")
	}
	if b.Address == "" && !b.SkipNodeUpdate {
		return nil, badRequest("Must provide address")
	}
	checks := b.Checks
	if b.Check != nil {
		checks = append(checks, b.Check)
	}
	dc := b.Datacenter // the node belongs to the datacenter the write goes to
	if dc == "" {
		dc = h.agent.Config().Datacenter
	}
	req := &store.RegisterRequest{Node: b.Node, ID: b.ID, Address: b.Address, Datacenter: dc,
		TaggedAddresses: b.TaggedAddresses, NodeMeta: b.NodeMeta, Service: b.Service, Checks: checks, SkipNodeUpdate: b.SkipNodeUpdate}
	wo := writeOptions(r)
	if b.Datacenter != "" {
		wo.Datacenter = b.Datacenter
	}
	if _, err := h.agent.CatalogApply(r.Context(), &node.CatalogWriteRequest{Register: req, WriteOptions: wo}); err != nil {
		return nil, err
	}
	return true, nil
}

func (h *Handler) catalogDeregister(w http.ResponseWriter, r *http.Request) (any, error) {
	raw, err := readBody(r, 64<<10)
	if err != nil {
		return nil, err
	}
	var b store.DeregisterRequest
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, badRequest("Request decode failed: %v", err)
	}
	if b.Node == "" {
		return nil, badRequest("Must provide node")
	}
	if _, err := h.agent.CatalogApply(r.Context(), &node.CatalogWriteRequest{Deregister: &b, WriteOptions: writeOptions(r)}); err != nil {
		return nil, err
	}
	return true, nil
}

func checksJSON(cs []store.HealthCheck) []store.HealthCheck {
	if cs == nil {
		return []store.HealthCheck{}
	}
	return cs
}

// healthChecksBy serves the check listings keyed by a path name:
// /v1/health/node/<node> and /v1/health/checks/<service>.
func (h *Handler) healthChecksBy(prefix string, by node.ChecksBy, missing string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		req := &node.ChecksRequest{By: by}
		return serveNamedRead(h, w, r, prefix, missing, &req.Name, req, &req.QueryOptions, h.agent.Reads().Checks, showChecks)
	}
}

func (h *Handler) healthChecks(w http.ResponseWriter, r *http.Request, by node.ChecksBy, name string) (any, error) {
	opts, err := readOptions(r)
	if err != nil {
		return nil, err
	}
	req := &node.ChecksRequest{By: by, Name: name, QueryOptions: opts}
	return serveRead(h, w, r, req, &req.QueryOptions, h.agent.Reads().Checks, showChecks)
}

func showChecks(w http.ResponseWriter, _ *http.Request, out *node.ChecksResponse) (any, error) {
	setMeta(w, out.QueryMeta)
	return checksJSON(out.Checks), nil
}

func (h *Handler) healthState(w http.ResponseWriter, r *http.Request) (any, error) {
	state := pathTail(r, "/v1/health/state/")
	switch state {
	case "any", store.HealthPassing, store.HealthWarning, store.HealthCritical:
	default:
		return nil, badRequest("Invalid check state: %q (use any, passing, warning or critical)", state)
	}
	return h.healthChecks(w, r, node.ChecksInState, state)
}

func (h *Handler) healthService(w http.ResponseWriter, r *http.Request) (any, error) {
	return h.serviceNodes(w, r, "/v1/health/service/", h.showHealthService)
}

func (h *Handler) showHealthService(w http.ResponseWriter, r *http.Request, out *node.ServiceNodesResponse) (any, error) {
	setMeta(w, out.QueryMeta)
	// The same service is polled far more often than it changes: reuse
	// the encoded answer while the agent hands back the very same
	// (memoised) instance list. A list decoded from a forward, or one an
	// authorizer filtered, is new each time, so it is never answered from
	// another request's encoding.
	key := pathTail(r, "/v1/health/service/") + "\x00" + query(r).Encode()
	var same *store.ServiceInstance
	if len(out.Instances) > 0 {
		same = &out.Instances[0]
	}
	if b, ok := h.encoded.get(out.Index, key, same); ok {
		return json.RawMessage(b), nil
	}
	tags, match, passing := query(r)["tag"], nodeMetaFilter(r), truthyPresence(r, "passing")
	kept := HealthyInstances(out.Instances, passing)
	if len(tags) > 0 || query(r).Has("node-meta") {
		filtered := make([]store.ServiceInstance, 0, len(kept))
		for _, in := range kept {
			if hasTags(in.Service.Tags, tags) && match(in.Node.Meta) {
				filtered = append(filtered, in)
			}
		}
		kept = filtered
	}
	if _, pretty := query(r)["pretty"]; pretty || out.Index == 0 {
		res := make([]healthEntryJSON, 0, len(kept))
		for _, in := range kept {
			res = append(res, healthEntry(in))
		}
		return res, nil
	}
	// Encoded instance by instance, each reused from the fragment cache
	// while its node, service and checks are unchanged: after a change
	// to one instance of a big service only that one is encoded again.
	dc := query(r).Get("dc")
	h.fragments.observe(dc, pathTail(r, "/v1/health/service/"), out.Index)
	b := make([]byte, 0, 64+600*len(kept))
	b = append(b, '[')
	for i, in := range kept {
		if i > 0 {
			b = append(b, ',')
		}
		frag, err := h.fragments.encode(dc, in)
		if err != nil {
			return nil, err
		}
		b = append(b, frag...)
	}
	b = append(b, ']')
	h.encoded.put(out.Index, key, same, b)
	return json.RawMessage(b), nil
}

func healthEntry(in store.ServiceInstance) healthEntryJSON {
	return healthEntryJSON{Node: toNodeJSON(in.Node), Service: toServiceJSON(in.Service), Checks: checksJSON(in.Checks)}
}

// fragmentCache keeps each service instance's encoded health entry, valid
// while the instance's version is the same: its node's and service's
// ModifyIndex and the IDs and ModifyIndexes of its checks (the store
// rewrites an entry, at a new index, exactly when its content changes;
// within one datacenter an index names one state everywhere).
type fragmentCache struct {
	mu      sync.Mutex
	entries map[fragmentKey]fragment
	// latest is the highest index seen per datacenter and service: one
	// going backwards means another Raft history (a rebuilt cluster, a
	// restored snapshot), where the same indexes may name other content.
	latest map[string]uint64
}

// observe drops every fragment when a service's index goes backwards.
func (c *fragmentCache) observe(dc, service string, index uint64) {
	key := dc + "\x00" + service
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.latest == nil || len(c.latest) >= maxFragments {
		c.latest = map[string]uint64{}
	}
	if index < c.latest[key] {
		c.entries = nil
		c.latest = map[string]uint64{}
	}
	c.latest[key] = index
}

type fragmentKey struct{ dc, node, serviceID string }

type fragment struct {
	version instanceVersion
	body    []byte
}

type instanceVersion struct {
	node, service uint64
	checks        uint64 // FNV-1a over check IDs and ModifyIndexes
}

// maxFragments bounds the cache (a few big services' worth); when full,
// it starts over.
const maxFragments = 50000

func versionOf(in store.ServiceInstance) instanceVersion {
	const prime = 1099511628211
	h := uint64(14695981039346656037) // FNV-1a, inline: no allocation
	for _, c := range in.Checks {
		for i := 0; i < len(c.CheckID); i++ {
			h = (h ^ uint64(c.CheckID[i])) * prime
		}
		h = (h ^ 0xff) * prime // ends the ID
		for v, i := c.ModifyIndex, 0; i < 8; i, v = i+1, v>>8 {
			h = (h ^ (v & 0xff)) * prime
		}
	}
	return instanceVersion{node: in.Node.ModifyIndex, service: in.Service.ModifyIndex, checks: h}
}

func (c *fragmentCache) encode(dc string, in store.ServiceInstance) ([]byte, error) {
	key := fragmentKey{dc: dc, node: in.Node.Node, serviceID: in.Service.ID}
	v := versionOf(in)
	c.mu.Lock()
	f, ok := c.entries[key]
	c.mu.Unlock()
	if ok && f.version == v {
		return f.body, nil
	}
	body, err := json.Marshal(healthEntry(in))
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= maxFragments {
		c.entries = map[fragmentKey]fragment{}
	}
	c.entries[key] = fragment{version: v, body: body}
	c.mu.Unlock()
	return body, nil
}

// healthEntryJSON is one element of /v1/health/service/<name>; a typed
// struct encodes several times faster than a map per entry.
type healthEntryJSON struct {
	Node    nodeJSON
	Service serviceJSON
	Checks  []store.HealthCheck
}

// truthyPresence is a presence flag that also accepts an explicit false.
func truthyPresence(r *http.Request, name string) bool {
	v, ok := query(r)[name]
	return ok && v[0] != "false" && v[0] != "0"
}

// HealthyInstances keeps instances whose every check is passing (when
// passingOnly), as ?passing does.
func HealthyInstances(in []store.ServiceInstance, passingOnly bool) []store.ServiceInstance {
	if !passingOnly {
		return in
	}
	out := make([]store.ServiceInstance, 0, len(in))
	for _, i := range in {
		ok := true
		for _, c := range i.Checks {
			if c.Status != store.HealthPassing {
				ok = false
			}
		}
		if ok {
			out = append(out, i)
		}
	}
	return out
}

// encodedCache keeps the latest encoded answer per query, with the index
// it was encoded at (each service has its own index).
type encodedCache struct {
	mu      sync.Mutex
	entries map[string]encodedAnswer
}

type encodedAnswer struct {
	index uint64
	of    *store.ServiceInstance // the first instance of the list it encodes
	body  []byte
}

func (c *encodedCache) get(index uint64, key string, of *store.ServiceInstance) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || e.index != index || e.of != of {
		return nil, false
	}
	return e.body, true
}

func (c *encodedCache) put(index uint64, key string, of *store.ServiceInstance, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= 256 {
		c.entries = map[string]encodedAnswer{} // bounded: start over
	}
	c.entries[key] = encodedAnswer{index: index, of: of, body: b}
}
