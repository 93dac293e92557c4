package node

// Services and checks declared in configuration files: registered at start
// and on reload, not persisted (the files are their source of truth).

import (
	"encoding/json"
	"fmt"

	"consulx/store"
)

// parts splits a service definition into the service and its checks.
func (def *ServiceDefinition) parts() (*store.NodeService, []CheckDefinition) {
	svc := &store.NodeService{ID: def.ID, Service: def.Name, Tags: def.Tags, Address: def.Address, Port: def.Port,
		Meta: def.Meta, EnableTagOverride: def.EnableTagOverride}
	var checks []CheckDefinition
	if def.Check != nil {
		checks = append(checks, def.Check.Definition())
	}
	for _, c := range def.Checks {
		checks = append(checks, c.Definition())
	}
	return svc, checks
}

// addServiceDef registers def; persist is false for config-file services.
func (l *localState) addServiceDef(def *ServiceDefinition, persist bool) error {
	svc, checks := def.parts()
	return l.AddService(svc, checks, persist)
}

// loadConfig registers the service/services/check/checks keys of a
// configuration.
func (l *localState) loadConfig(extra map[string][]json.RawMessage) error {
	for _, raw := range extra["service"] {
		var def ServiceDefinition
		if err := DecodeLoose(raw, &def); err != nil {
			return fmt.Errorf("config: service: %w", err)
		}
		if err := l.registerConfigService(&def); err != nil {
			return err
		}
	}
	for _, raw := range extra["services"] {
		var defs []ServiceDefinition
		if err := DecodeLoose(raw, &defs); err != nil {
			return fmt.Errorf("config: services: %w", err)
		}
		for i := range defs {
			if err := l.registerConfigService(&defs[i]); err != nil {
				return err
			}
		}
	}
	for _, key := range []string{"check", "checks"} {
		for _, raw := range extra[key] {
			var bodies []CheckBody
			if key == "check" {
				var one CheckBody
				if err := DecodeLoose(raw, &one); err != nil {
					return fmt.Errorf("config: check: %w", err)
				}
				bodies = []CheckBody{one}
			} else if err := DecodeLoose(raw, &bodies); err != nil {
				return fmt.Errorf("config: checks: %w", err)
			}
			for _, b := range bodies {
				def := b.Definition()
				if err := l.AddCheck(def, false); err != nil {
					return fmt.Errorf("config: check %q: %w", b.Name, err)
				}
				l.markConfigCheck(def)
			}
		}
	}
	return nil
}

func (l *localState) registerConfigService(def *ServiceDefinition) error {
	if err := l.addServiceDef(def, false); err != nil {
		return fmt.Errorf("config: service %q: %w", def.Name, err)
	}
	id := def.ID
	if id == "" {
		id = def.Name
	}
	l.mu.Lock()
	l.configSvcs[id] = true
	l.mu.Unlock()
	return nil
}

// dropConfig removes every service and check that came from config files.
func (l *localState) dropConfig() {
	l.mu.Lock()
	var svcs, checks []string
	for id := range l.configSvcs {
		svcs = append(svcs, id)
	}
	for id := range l.configChecks {
		checks = append(checks, id)
	}
	l.mu.Unlock()
	for _, id := range checks {
		_ = l.RemoveCheck(id)
	}
	for _, id := range svcs {
		_ = l.RemoveService(id)
	}
}

// configCounts is how many services and checks came from config files.
func (l *localState) configCounts() (services, checks int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.configSvcs), len(l.configChecks)
}
