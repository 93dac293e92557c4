package node

// Local state: the services and checks this agent owns, what survives a
// restart (local-state.json), and maintenance. The check runner
// (check_runner.go) keeps the checks' status; anti-entropy
// (anti_entropy.go) keeps the catalog in line. It holds no pointer to the
// Agent: localDeps is all it knows of it.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"consulx/store"
)

// Maintenance check IDs and texts, as Consul writes them.
const (
	NodeMaintCheckID    = "_node_maintenance"
	ServiceMaintPrefix  = "_service_maintenance:"
	nodeMaintDefault    = "Maintenance mode is enabled for this node, but no reason was provided. This is a default message."
	serviceMaintDefault = "Maintenance mode is enabled for this service, but no reason was provided. This is a default message."
	checkOutputMax      = 4096
	defaultCheckTimeout = 10 * time.Second
	antiEntropyInterval = 30 * time.Second
	localStateFile      = "local-state.json"
)

// CheckDefinition is how a check is declared (API or config file).
type CheckDefinition struct {
	ID        string
	Name      string
	Notes     string
	Status    string
	ServiceID string
	// Exactly one of these selects the check type.
	TTL      Duration
	HTTP     string
	Method   string
	TCP      string
	Args     []string
	Interval Duration
	Timeout  Duration
	// DeregisterCriticalServiceAfter removes the service once the check
	// has been critical this long.
	DeregisterCriticalServiceAfter Duration
}

// Type names the check kind ("ttl", "http", "tcp", "script", "" for static).
func (d *CheckDefinition) Type() string {
	switch {
	case d.TTL > 0:
		return "ttl"
	case d.HTTP != "":
		return "http"
	case d.TCP != "":
		return "tcp"
	case len(d.Args) > 0:
		return "script"
	}
	return ""
}

// localCheck is a check this agent owns and runs.
type localCheck struct {
	def           CheckDefinition
	state         store.HealthCheck
	stop          chan struct{}
	ttlTimer      *time.Timer
	criticalSince time.Time
}

// localState holds the services and checks this agent is responsible for
// and keeps the catalog in line with them (anti-entropy).
type localState struct {
	deps     localDeps
	mu       sync.Mutex
	services map[string]*store.NodeService
	checks   map[string]*localCheck
	syncCh   chan struct{}
	// configSvcs/configChecks came from config files: reload replaces
	// them, and they are not persisted.
	configSvcs   map[string]bool
	configChecks map[string]bool
	// noRun validates definitions without starting checks (reload staging).
	noRun bool
}

func (l *localState) markConfigCheck(d CheckDefinition) {
	id := d.ID
	if id == "" {
		id = d.Name
	}
	l.mu.Lock()
	l.configChecks[id] = true
	l.mu.Unlock()
}

// localDeps is what local state needs from the agent, passed in.
type localDeps struct {
	nodeName string
	// statePath is where API-registered definitions persist ("": nowhere).
	statePath          string
	enableScriptChecks bool
	logger             hclog.Logger
	// stop ends the check runners and the sync loop (agent shutdown).
	stop <-chan struct{}
	// The catalog calls anti-entropy makes.
	nodeServices func(context.Context, *NodeServicesRequest) (*NodeServicesResponse, error)
	nodeChecks   func(context.Context, *ChecksRequest) (*ChecksResponse, error)
	catalogApply func(context.Context, *CatalogWriteRequest) (*CatalogWriteResponse, error)
}

// localDepsOf wires local state to an agent.
func localDepsOf(a *Agent, cfg *Config) localDeps {
	path := ""
	if cfg.DataDir != "" && !cfg.Dev {
		path = filepath.Join(cfg.DataDir, localStateFile)
	}
	return localDeps{nodeName: cfg.NodeName, statePath: path, enableScriptChecks: cfg.EnableScriptChecks,
		logger: a.logger, stop: a.shutdownCh,
		// Anti-entropy acts as the agent: its token (acl.tokens.agent).
		nodeServices: func(ctx context.Context, r *NodeServicesRequest) (*NodeServicesResponse, error) {
			r.Token = a.tokens.agent()
			return a.reads.NodeServices.Read(ctx, r)
		},
		nodeChecks: func(ctx context.Context, r *ChecksRequest) (*ChecksResponse, error) {
			r.Token = a.tokens.agent()
			return a.reads.Checks.Read(ctx, r)
		},
		catalogApply: func(ctx context.Context, r *CatalogWriteRequest) (*CatalogWriteResponse, error) {
			r.Token = a.tokens.agent()
			return a.CatalogApply(ctx, r)
		}}
}

func newLocalState(d localDeps) *localState {
	return &localState{deps: d, services: map[string]*store.NodeService{}, checks: map[string]*localCheck{}, syncCh: make(chan struct{}, 1),
		configSvcs: map[string]bool{}, configChecks: map[string]bool{}}
}

func (l *localState) triggerSync() {
	select {
	case l.syncCh <- struct{}{}:
	default:
	}
}

// persisted is what survives a restart: API-registered services and
// checks, and maintenance.
type persisted struct {
	Services []*store.NodeService
	Checks   []CheckDefinition
}

func (l *localState) path() string { return l.deps.statePath }

// save writes the local definitions atomically (temp file + rename).
func (l *localState) saveLocked() {
	p := l.path()
	if p == "" {
		return
	}
	var st persisted
	for id, s := range l.services {
		if !l.configSvcs[id] {
			st.Services = append(st.Services, s)
		}
	}
	for id, c := range l.checks {
		if !l.configChecks[id] && !l.configSvcs[c.def.ServiceID] {
			st.Checks = append(st.Checks, c.def)
		}
	}
	sort.Slice(st.Services, func(i, j int) bool { return st.Services[i].ID < st.Services[j].ID })
	sort.Slice(st.Checks, func(i, j int) bool { return st.Checks[i].ID < st.Checks[j].ID })
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err == nil {
		_ = os.Rename(tmp, p)
	}
}

func (l *localState) load() error {
	p := l.path()
	if p == "" {
		return nil
	}
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var st persisted
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	for _, s := range st.Services {
		if err := l.AddService(s, nil, false); err != nil {
			return err
		}
	}
	for _, c := range st.Checks {
		if err := l.AddCheck(c, false); err != nil {
			return err
		}
	}
	return nil
}

// AddService registers (or replaces) a local service and its checks.
func (l *localState) AddService(s *store.NodeService, checks []CheckDefinition, persist bool) error {
	if s.Service == "" {
		return &BadRequestError{Msg: "Missing service name"}
	}
	if s.ID == "" {
		s.ID = s.Service
	}
	if s.Tags == nil {
		s.Tags = []string{}
	}
	for i := range checks {
		checks[i].ServiceID = s.ID
		if err := l.validateCheck(&checks[i]); err != nil {
			return err
		}
	}
	l.mu.Lock()
	cp := *s
	l.services[s.ID] = &cp
	if persist {
		l.saveLocked()
	}
	l.mu.Unlock()
	for i, c := range checks {
		if c.ID == "" {
			c.ID = "service:" + s.ID
			if len(checks) > 1 {
				c.ID = fmt.Sprintf("service:%s:%d", s.ID, i+1)
			}
		}
		if c.Name == "" {
			c.Name = fmt.Sprintf("Service '%s' check", s.Service)
		}
		if err := l.AddCheck(c, persist); err != nil {
			return err
		}
	}
	l.triggerSync()
	return nil
}

// RemoveService drops a local service and its checks.
func (l *localState) RemoveService(id string) error {
	l.mu.Lock()
	if _, ok := l.services[id]; !ok {
		l.mu.Unlock()
		return &NotFoundError{Msg: fmt.Sprintf("Unknown service ID %q. Ensure that the service ID is passed, not the service name.", id)}
	}
	delete(l.services, id)
	delete(l.configSvcs, id)
	for cid, c := range l.checks {
		if c.def.ServiceID == id {
			l.stopCheckLocked(cid)
		}
	}
	l.saveLocked()
	l.mu.Unlock()
	l.triggerSync()
	return nil
}

func (l *localState) validateCheck(d *CheckDefinition) error {
	kinds := 0
	for _, set := range []bool{d.TTL > 0, d.HTTP != "", d.TCP != "", len(d.Args) > 0} {
		if set {
			kinds++
		}
	}
	if kinds > 1 {
		return &BadRequestError{Msg: "Check must have exactly one of TTL, HTTP, TCP or Args"}
	}
	if len(d.Args) > 0 && !l.deps.enableScriptChecks {
		return &BadRequestError{Msg: "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' to true"}
	}
	if (d.HTTP != "" || d.TCP != "" || len(d.Args) > 0) && d.Interval <= 0 {
		return &BadRequestError{Msg: "Interval must be > 0 for HTTP, TCP and script checks"}
	}
	switch d.Status {
	case "", store.HealthPassing, store.HealthWarning, store.HealthCritical:
	default:
		return &BadRequestError{Msg: "Bad check status"}
	}
	return nil
}

// AddCheck registers (or replaces) a local check and starts running it.
func (l *localState) AddCheck(d CheckDefinition, persist bool) error {
	if d.Name == "" && d.ID == "" {
		return &BadRequestError{Msg: "Missing check name"}
	}
	if d.ID == "" {
		d.ID = d.Name
	}
	if d.Name == "" {
		d.Name = d.ID
	}
	if err := l.validateCheck(&d); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var svc *store.NodeService
	if d.ServiceID != "" {
		if svc = l.services[d.ServiceID]; svc == nil {
			return &NotFoundError{Msg: fmt.Sprintf("ServiceID %q does not exist", d.ServiceID)}
		}
	}
	l.stopCheckLocked(d.ID)
	status := d.Status
	if status == "" {
		status = store.HealthCritical // new checks start critical, as in Consul
	}
	c := &localCheck{def: d, stop: make(chan struct{}), state: store.HealthCheck{
		Node: l.deps.nodeName, CheckID: d.ID, Name: d.Name, Status: status, Notes: d.Notes,
		ServiceID: d.ServiceID, Type: d.Type()}}
	if svc != nil {
		c.state.ServiceName, c.state.ServiceTags = svc.Service, svc.Tags
	}
	if status == store.HealthCritical {
		c.criticalSince = time.Now() // a check that starts critical counts from now for reaping
	}
	l.checks[d.ID] = c
	if l.noRun {
		return nil
	}
	switch c.def.Type() {
	case "ttl":
		c.ttlTimer = time.AfterFunc(time.Duration(d.TTL), func() { l.ttlExpired(d.ID, c) })
	case "http", "tcp", "script":
		go l.runCheck(c)
	}
	if persist {
		l.saveLocked()
	}
	l.triggerSync()
	return nil
}

func (l *localState) stopCheckLocked(id string) {
	if c, ok := l.checks[id]; ok {
		close(c.stop)
		if c.ttlTimer != nil {
			c.ttlTimer.Stop()
		}
		delete(l.checks, id)
	}
}

// RemoveCheck drops a local check.
func (l *localState) RemoveCheck(id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.checks[id]; !ok {
		return &NotFoundError{Msg: fmt.Sprintf("Unknown check ID %q", id)}
	}
	l.stopCheckLocked(id)
	delete(l.configChecks, id)
	l.saveLocked()
	l.triggerSync()
	return nil
}

// UpdateCheck sets a check's status and output (TTL pass/warn/fail and
// /check/update); a TTL check's timer restarts.
func (l *localState) UpdateCheck(id, status, output string) error {
	switch status {
	case store.HealthPassing, store.HealthWarning, store.HealthCritical:
	default:
		return &BadRequestError{Msg: fmt.Sprintf("Invalid check status: '%s'", status)}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.checks[id]
	if !ok {
		return &NotFoundError{Msg: fmt.Sprintf("Unknown check ID %q. Ensure that the check ID is passed, not the check name.", id)}
	}
	if c.def.Type() == "ttl" {
		c.ttlTimer.Reset(time.Duration(c.def.TTL))
	}
	l.setStatusLocked(c, status, output)
	return nil
}

func (l *localState) setStatusLocked(c *localCheck, status, output string) {
	output = truncateOutput(output)
	if status == store.HealthCritical && c.criticalSince.IsZero() {
		c.criticalSince = time.Now()
	} else if status != store.HealthCritical {
		c.criticalSince = time.Time{}
	}
	if c.state.Status == status && c.state.Output == output {
		return
	}
	if c.state.Status != status {
		l.deps.logger.Info("check status changed", "check", c.state.CheckID, "status", status)
	}
	c.state.Status, c.state.Output = status, output
	l.triggerSync()
}

// Services returns copies of the local services.
func (l *localState) Services() map[string]store.NodeService {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]store.NodeService{}
	for id, s := range l.services {
		out[id] = *s
	}
	return out
}

// Checks returns copies of the local checks' current state.
func (l *localState) Checks() map[string]store.HealthCheck {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]store.HealthCheck{}
	for id, c := range l.checks {
		out[id] = c.state
	}
	return out
}

// Maintenance ------------------------------------------------------------

// SetNodeMaintenance adds or removes the node maintenance check.
func (l *localState) SetNodeMaintenance(enable bool, reason string) error {
	l.mu.Lock()
	_, on := l.checks[NodeMaintCheckID]
	l.mu.Unlock()
	switch {
	case enable && !on:
		if reason == "" {
			reason = nodeMaintDefault
		}
		l.deps.logger.Info("Node entered maintenance mode")
		return l.AddCheck(CheckDefinition{ID: NodeMaintCheckID, Name: "Node Maintenance Mode", Notes: reason, Status: store.HealthCritical}, true)
	case !enable && on:
		l.deps.logger.Info("Node left maintenance mode")
		return l.RemoveCheck(NodeMaintCheckID)
	}
	return nil
}

// SetServiceMaintenance adds or removes a service's maintenance check.
func (l *localState) SetServiceMaintenance(id string, enable bool, reason string) error {
	l.mu.Lock()
	_, exists := l.services[id]
	_, on := l.checks[ServiceMaintPrefix+id]
	l.mu.Unlock()
	if !exists {
		return &NotFoundError{Msg: fmt.Sprintf("No service registered with ID %q", id)}
	}
	switch {
	case enable && !on:
		if reason == "" {
			reason = serviceMaintDefault
		}
		l.deps.logger.Info(fmt.Sprintf("Service %q entered maintenance mode", id))
		return l.AddCheck(CheckDefinition{ID: ServiceMaintPrefix + id, Name: "Service Maintenance Mode", Notes: reason, ServiceID: id, Status: store.HealthCritical}, true)
	case !enable && on:
		l.deps.logger.Info(fmt.Sprintf("Service %q left maintenance mode", id))
		return l.RemoveCheck(ServiceMaintPrefix + id)
	}
	return nil
}
