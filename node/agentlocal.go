package node

import (
	"bytes"
	"encoding/json"

	"strings"

	"consulx/store"
)

// ServiceDefinition is a service as the agent API and config files declare
// it (keys in CamelCase or snake_case).
type ServiceDefinition struct {
	ID                string
	Name              string
	Tags              []string
	Address           string
	Port              int
	Meta              map[string]string
	EnableTagOverride bool
	Check             *CheckBody
	Checks            []*CheckBody
}

// CheckBody is a check as the API and config files declare it.
type CheckBody struct {
	ID                             string
	CheckID                        string
	Name                           string
	Notes                          string
	Status                         string
	ServiceID                      string
	TTL                            Duration
	HTTP                           string
	Method                         string
	TCP                            string
	Args                           []string
	ScriptArgs                     []string
	Interval                       Duration
	Timeout                        Duration
	DeregisterCriticalServiceAfter Duration
}

// Definition converts the body to a CheckDefinition.
func (c *CheckBody) Definition() CheckDefinition {
	id := c.ID
	if id == "" {
		id = c.CheckID
	}
	args := c.Args
	if len(args) == 0 {
		args = c.ScriptArgs
	}
	return CheckDefinition{ID: id, Name: c.Name, Notes: c.Notes, Status: c.Status, ServiceID: c.ServiceID, TTL: c.TTL,
		HTTP: c.HTTP, Method: c.Method, TCP: c.TCP, Args: args, Interval: c.Interval, Timeout: c.Timeout,
		DeregisterCriticalServiceAfter: c.DeregisterCriticalServiceAfter}
}

// DecodeLoose decodes JSON whose object keys may be snake_case: underscores
// are dropped from keys, and encoding/json matches the rest without case.
func DecodeLoose(data []byte, out any) error {
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	b, err := json.Marshal(stripUnderscores(v))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func stripUnderscores(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			// Meta maps keep their keys as given.
			if strings.EqualFold(k, "meta") || strings.EqualFold(k, "node_meta") {
				out[strings.ReplaceAll(k, "_", "")] = val
				continue
			}
			out[strings.ReplaceAll(k, "_", "")] = stripUnderscores(val)
		}
		return out
	case []any:
		for i := range t {
			t[i] = stripUnderscores(t[i])
		}
	}
	return v
}

// RegisterService adds a local service (and its checks) and persists it.
func (a *Agent) RegisterService(def *ServiceDefinition) error {
	return a.local.addServiceDef(def, true)
}

// DeregisterService removes a local service.
func (a *Agent) DeregisterService(id string) error { return a.local.RemoveService(id) }

// RegisterCheck adds a local check.
func (a *Agent) RegisterCheck(body *CheckBody) error {
	return a.local.AddCheck(body.Definition(), true)
}

// DeregisterCheck removes a local check.
func (a *Agent) DeregisterCheck(id string) error { return a.local.RemoveCheck(id) }

// UpdateCheck sets a local check's status (TTL pass/warn/fail, update).
func (a *Agent) UpdateCheck(id, status, output string) error {
	return a.local.UpdateCheck(id, status, output)
}

// LocalServices returns this agent's services.
func (a *Agent) LocalServices() map[string]store.NodeService { return a.local.Services() }

// LocalChecks returns this agent's checks.
func (a *Agent) LocalChecks() map[string]store.HealthCheck { return a.local.Checks() }

// NodeMaintenance toggles node maintenance.
func (a *Agent) NodeMaintenance(enable bool, reason string) error {
	return a.local.SetNodeMaintenance(enable, reason)
}

// ServiceMaintenance toggles a service's maintenance.
func (a *Agent) ServiceMaintenance(id string, enable bool, reason string) error {
	return a.local.SetServiceMaintenance(id, enable, reason)
}

// SetReloader gives the agent the way to re-read its configuration
// sources (the command line knows them); Reload uses it.
func (a *Agent) SetReloader(f func() (*Config, error)) {
	a.reloadMu.Lock()
	a.reloader = f
	a.reloadMu.Unlock()
}

// Reload re-reads the configuration and replaces config-file services and
// checks (consulx reload, SIGHUP).
func (a *Agent) Reload() error {
	a.reloadMu.Lock()
	f := a.reloader
	a.reloadMu.Unlock()
	if f == nil {
		return &BadRequestError{Msg: "this agent was not started from configuration files and cannot reload"}
	}
	cfg, err := f()
	if err != nil {
		return &BadRequestError{Msg: err.Error()}
	}
	return a.ReloadConfigServices(cfg)
}

// ReloadConfigServices replaces the services and checks that came from
// config files with those of cfg (consulx reload / SIGHUP). API-registered
// services and maintenance are kept.
func (a *Agent) ReloadConfigServices(cfg *Config) error {
	// Decode and validate everything first, so a bad file changes nothing.
	deps := a.local.deps
	deps.enableScriptChecks = cfg.EnableScriptChecks
	staged := newLocalState(deps)
	staged.noRun = true
	if err := staged.loadConfig(cfg.Extra); err != nil {
		return err
	}
	a.local.dropConfig()
	a.cfg.Extra = cfg.Extra
	if err := a.local.loadConfig(cfg.Extra); err != nil {
		return err
	}
	svcs, checks := a.local.configCounts()
	a.logger.Info("reloaded services and checks from the configuration", "services", svcs, "checks", checks)
	return nil
}
