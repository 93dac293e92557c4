package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"consulx/exec"
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
	a        *Agent
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

func newLocalState(a *Agent) *localState {
	return &localState{a: a, services: map[string]*store.NodeService{}, checks: map[string]*localCheck{}, syncCh: make(chan struct{}, 1),
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

func (l *localState) path() string {
	if l.a.cfg.DataDir == "" || l.a.cfg.Dev {
		return ""
	}
	return filepath.Join(l.a.cfg.DataDir, localStateFile)
}

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
	if len(d.Args) > 0 && !l.a.cfg.EnableScriptChecks {
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
		Node: l.a.cfg.NodeName, CheckID: d.ID, Name: d.Name, Status: status, Notes: d.Notes,
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

func truncateOutput(s string) string {
	if len(s) > checkOutputMax {
		return s[:checkOutputMax]
	}
	return s
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
		l.a.logger.Info("check status changed", "check", c.state.CheckID, "status", status)
	}
	c.state.Status, c.state.Output = status, output
	l.triggerSync()
}

func (l *localState) ttlExpired(id string, c *localCheck) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.checks[id] != c {
		return
	}
	l.setStatusLocked(c, store.HealthCritical, "TTL expired")
}

// runCheck runs an HTTP, TCP or script check every interval.
func (l *localState) runCheck(c *localCheck) {
	interval := time.Duration(c.def.Interval)
	timeout := time.Duration(c.def.Timeout)
	if timeout <= 0 {
		timeout = defaultCheckTimeout
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-l.a.shutdownCh:
			return
		case <-t.C:
		}
		status, output := probe(&c.def, timeout)
		l.mu.Lock()
		if l.checks[c.def.ID] == c {
			l.setStatusLocked(c, status, output)
		}
		l.mu.Unlock()
		t.Reset(interval)
	}
}

// probe runs one check: HTTP 2xx passing, 429 warning, else critical;
// TCP connect passing; script exit 0 passing, 1 warning, else critical.
func probe(d *CheckDefinition, timeout time.Duration) (string, string) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	switch d.Type() {
	case "http":
		method := d.Method
		if method == "" {
			method = http.MethodGet
		}
		req, err := http.NewRequestWithContext(ctx, method, d.HTTP, nil)
		if err != nil {
			return store.HealthCritical, err.Error()
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return store.HealthCritical, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, checkOutputMax))
		out := fmt.Sprintf("HTTP %s %s: %s Output: %s", method, d.HTTP, resp.Status, body)
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return store.HealthPassing, out
		case resp.StatusCode == http.StatusTooManyRequests:
			return store.HealthWarning, out
		}
		return store.HealthCritical, out
	case "tcp":
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", d.TCP)
		if err != nil {
			return store.HealthCritical, err.Error()
		}
		conn.Close()
		return store.HealthPassing, fmt.Sprintf("TCP connect %s: Success", d.TCP)
	case "script":
		// Its own process group, killed whole on timeout; output capped.
		r := exec.Run(context.Background(), exec.Spec{Args: d.Args, Timeout: timeout, OutputCap: checkOutputMax})
		out := string(r.Output)
		switch {
		case r.TimedOut:
			// Consul's wording, with what the script wrote before.
			msg := fmt.Sprintf("Timed out (%s) running check", timeout)
			if out != "" {
				msg += "\n\n" + out
			}
			return store.HealthCritical, msg
		case r.Err != nil:
			return store.HealthCritical, r.Err.Error()
		}
		switch r.ExitCode {
		case 0:
			return store.HealthPassing, out
		case 1:
			return store.HealthWarning, out
		}
		return store.HealthCritical, out
	}
	return store.HealthCritical, "unknown check type"
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

// reapCritical deregisters services whose check has been critical longer
// than its DeregisterCriticalServiceAfter.
func (l *localState) reapCritical() {
	l.mu.Lock()
	var victims []string
	for _, c := range l.checks {
		after := time.Duration(c.def.DeregisterCriticalServiceAfter)
		if after > 0 && c.def.ServiceID != "" && !c.criticalSince.IsZero() && time.Since(c.criticalSince) > after {
			victims = append(victims, c.def.ServiceID)
		}
	}
	l.mu.Unlock()
	for _, id := range victims {
		l.a.logger.Info("deregistering service whose check stayed critical", "service", id)
		_ = l.RemoveService(id)
	}
}

// syncLoop keeps the catalog in line with local state: at once after a
// change, and every antiEntropyInterval to repair drift.
func (l *localState) syncLoop() {
	defer l.a.wg.Done()
	t := time.NewTicker(antiEntropyInterval)
	defer t.Stop()
	reap := time.NewTicker(time.Second)
	defer reap.Stop()
	for {
		select {
		case <-l.a.shutdownCh:
			return
		case <-reap.C:
			l.reapCritical()
			continue
		case <-l.syncCh:
		case <-t.C:
		}
		if err := l.syncOnce(); err != nil {
			l.a.logger.Debug("anti-entropy sync failed; will retry", "error", err)
			time.AfterFunc(time.Second, l.triggerSync)
		}
	}
}

// syncOnce writes the differences between local state and the catalog.
func (l *localState) syncOnce() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	services, checks := l.Services(), l.Checks()
	cat, err := l.a.reads.NodeServices.Read(ctx, &NodeServicesRequest{Node: l.a.cfg.NodeName, QueryOptions: QueryOptions{Consistency: ModeStale}})
	if err != nil {
		return err
	}
	if cat.Node == nil {
		// The leader registers the node from gossip; wait for it.
		return fmt.Errorf("node %s not in the catalog yet", l.a.cfg.NodeName)
	}
	catChecks, err := l.a.reads.Checks.Read(ctx, &ChecksRequest{By: ChecksOfNode, Name: l.a.cfg.NodeName, QueryOptions: QueryOptions{Consistency: ModeStale}})
	if err != nil {
		return err
	}
	remoteSvc := map[string]store.NodeService{}
	for _, s := range cat.Services {
		remoteSvc[s.ID] = s
	}
	remoteChk := map[string]store.HealthCheck{}
	for _, c := range catChecks.Checks {
		remoteChk[c.CheckID] = c
	}
	write := func(req *CatalogWriteRequest) error {
		_, err := l.a.CatalogApply(ctx, req)
		return err
	}
	for id, s := range services {
		r, ok := remoteSvc[id]
		var svcChecks []*store.HealthCheck
		dirty := !ok || !sameService(r, s)
		for _, c := range checks {
			if c.ServiceID == id {
				cc := c
				svcChecks = append(svcChecks, &cc)
				if rc, ok := remoteChk[c.CheckID]; !ok || rc.Status != c.Status || rc.Output != c.Output || rc.Name != c.Name || rc.Notes != c.Notes {
					dirty = true
				}
			}
		}
		if dirty {
			sv := s
			if err := write(&CatalogWriteRequest{Register: &store.RegisterRequest{Node: l.a.cfg.NodeName, SkipNodeUpdate: true, Service: &sv, Checks: svcChecks}}); err != nil {
				return err
			}
		}
	}
	var nodeChecks []*store.HealthCheck
	for _, c := range checks {
		if c.ServiceID != "" {
			continue
		}
		if rc, ok := remoteChk[c.CheckID]; !ok || rc.Status != c.Status || rc.Output != c.Output || rc.Notes != c.Notes || rc.Name != c.Name {
			cc := c
			nodeChecks = append(nodeChecks, &cc)
		}
	}
	if len(nodeChecks) > 0 {
		if err := write(&CatalogWriteRequest{Register: &store.RegisterRequest{Node: l.a.cfg.NodeName, SkipNodeUpdate: true, Checks: nodeChecks}}); err != nil {
			return err
		}
	}
	// Remove what the catalog has and we do not (except what the leader
	// owns: the consul service and serfHealth).
	for id := range remoteSvc {
		if _, ok := services[id]; !ok && id != "consul" {
			if err := write(&CatalogWriteRequest{Deregister: &store.DeregisterRequest{Node: l.a.cfg.NodeName, ServiceID: id}}); err != nil {
				return err
			}
		}
	}
	for id, rc := range remoteChk {
		if _, local := checks[id]; local || id == serfHealthCheck {
			continue
		}
		if _, svcLocal := services[rc.ServiceID]; rc.ServiceID != "" && !svcLocal {
			continue // removed together with its service above
		}
		if err := write(&CatalogWriteRequest{Deregister: &store.DeregisterRequest{Node: l.a.cfg.NodeName, CheckID: id}}); err != nil {
			return err
		}
	}
	return nil
}

func sameService(a, b store.NodeService) bool {
	a.CreateIndex, a.ModifyIndex, b.CreateIndex, b.ModifyIndex = 0, 0, 0, 0
	return sameJSON(a, b)
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
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
		l.a.logger.Info("Node entered maintenance mode")
		return l.AddCheck(CheckDefinition{ID: NodeMaintCheckID, Name: "Node Maintenance Mode", Notes: reason, Status: store.HealthCritical}, true)
	case !enable && on:
		l.a.logger.Info("Node left maintenance mode")
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
		l.a.logger.Info(fmt.Sprintf("Service %q entered maintenance mode", id))
		return l.AddCheck(CheckDefinition{ID: ServiceMaintPrefix + id, Name: "Service Maintenance Mode", Notes: reason, ServiceID: id, Status: store.HealthCritical}, true)
	case !enable && on:
		l.a.logger.Info(fmt.Sprintf("Service %q left maintenance mode", id))
		return l.RemoveCheck(ServiceMaintPrefix + id)
	}
	return nil
}
