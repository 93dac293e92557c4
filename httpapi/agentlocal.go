package httpapi

import (
	"net/http"
	"strconv"

	"consulx/acl"

	"consulx/node"
	"consulx/store"
)

func (h *Handler) agentServices(w http.ResponseWriter, r *http.Request) (any, error) {
	out := map[string]serviceJSON{}
	z := authz(r)
	svcs := h.agent.LocalServices()
	for id, s := range svcs {
		if z.ServiceRead(s.Service) {
			out[id] = toServiceJSON(s)
		}
	}
	setFiltered(w, len(out) < len(svcs))
	return out, nil
}

func (h *Handler) agentChecks(w http.ResponseWriter, r *http.Request) (any, error) {
	out := map[string]store.HealthCheck{}
	checks := h.agent.LocalChecks()
	for id, c := range checks {
		if !checkReadable(authz(r), &c) {
			continue
		}
		if c.ServiceTags == nil {
			c.ServiceTags = []string{}
		}
		out[id] = c
	}
	setFiltered(w, len(out) < len(checks))
	return out, nil
}

func (h *Handler) agentServiceRegister(w http.ResponseWriter, r *http.Request) (any, error) {
	raw, err := readBody(r, 1<<20)
	if err != nil {
		return nil, err
	}
	var def node.ServiceDefinition
	if err := node.DecodeLoose(raw, &def); err != nil {
		return nil, badRequest("Request decode failed: %v", err)
	}
	if def.Name == "" {
		return nil, badRequest("Missing service name")
	}
	if err := require(authz(r), authz(r).ServiceWrite(def.Name), "service:write", def.Name); err != nil {
		return nil, err
	}
	// Replacing another service's registration (same ID) needs write on
	// that one too, as Consul's vetServiceUpdate.
	id := def.ID
	if id == "" {
		id = def.Name
	}
	if old, ok := h.agent.LocalServices()[id]; ok && old.Service != def.Name {
		if err := require(authz(r), authz(r).ServiceWrite(old.Service), "service:write", old.Service); err != nil {
			return nil, err
		}
	}
	return nil, h.agent.RegisterService(&def)
}

func (h *Handler) agentServiceDeregister(w http.ResponseWriter, r *http.Request) (any, error) {
	id := pathTail(r, "/v1/agent/service/deregister/")
	if id == "" {
		return nil, badRequest("Missing service ID")
	}
	if err := h.serviceWrite(r, id); err != nil {
		return nil, err
	}
	return nil, h.agent.DeregisterService(id)
}

func (h *Handler) agentCheckRegister(w http.ResponseWriter, r *http.Request) (any, error) {
	raw, err := readBody(r, 1<<20)
	if err != nil {
		return nil, err
	}
	var body node.CheckBody
	if err := node.DecodeLoose(raw, &body); err != nil {
		return nil, badRequest("Request decode failed: %v", err)
	}
	if body.Name == "" {
		return nil, badRequest("Missing check name")
	}
	// Replacing an existing check (same ID) needs write on its owner too.
	checkID := body.ID
	if checkID == "" {
		checkID = body.CheckID
	}
	if checkID == "" {
		checkID = body.Name
	}
	if _, ok := h.agent.LocalChecks()[checkID]; ok {
		if err := h.checkWrite(r, checkID); err != nil {
			return nil, err
		}
	}
	if body.ServiceID != "" {
		if err := h.serviceWrite(r, body.ServiceID); err != nil {
			return nil, err
		}
	} else if err := require(authz(r), authz(r).NodeWrite(h.agent.Config().NodeName), "node:write", h.agent.Config().NodeName); err != nil {
		return nil, err
	}
	return nil, h.agent.RegisterCheck(&body)
}

func (h *Handler) agentCheckDeregister(w http.ResponseWriter, r *http.Request) (any, error) {
	id := pathTail(r, "/v1/agent/check/deregister/")
	if id == "" {
		return nil, badRequest("Missing check ID")
	}
	if err := h.checkWrite(r, id); err != nil {
		return nil, err
	}
	return nil, h.agent.DeregisterCheck(id)
}

// agentCheckTTL serves /v1/agent/check/pass|warn|fail/<id>?note=.
func (h *Handler) agentCheckTTL(status string) handlerFunc {
	prefix := map[string]string{store.HealthPassing: "/v1/agent/check/pass/", store.HealthWarning: "/v1/agent/check/warn/", store.HealthCritical: "/v1/agent/check/fail/"}[status]
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		id := pathTail(r, prefix)
		if id == "" {
			return nil, badRequest("Missing check ID")
		}
		if err := h.checkWrite(r, id); err != nil {
			return nil, err
		}
		return nil, h.agent.UpdateCheck(id, status, query(r).Get("note"))
	}
}

func (h *Handler) agentCheckUpdate(w http.ResponseWriter, r *http.Request) (any, error) {
	id := pathTail(r, "/v1/agent/check/update/")
	if id == "" {
		return nil, badRequest("Missing check ID")
	}
	if err := h.checkWrite(r, id); err != nil {
		return nil, err
	}
	raw, err := readBody(r, 64<<10)
	if err != nil {
		return nil, err
	}
	var body struct{ Status, Output string }
	if err := node.DecodeLoose(raw, &body); err != nil {
		return nil, badRequest("Request decode failed: %v", err)
	}
	return nil, h.agent.UpdateCheck(id, body.Status, body.Output)
}

func maintParams(r *http.Request) (bool, string, error) {
	v := query(r).Get("enable")
	if v == "" {
		return false, "", badRequest("Missing value for enable")
	}
	enable, err := strconv.ParseBool(v)
	if err != nil {
		return false, "", badRequest("Invalid value for enable: %q", v)
	}
	return enable, query(r).Get("reason"), nil
}

func (h *Handler) agentMaintenance(w http.ResponseWriter, r *http.Request) (any, error) {
	enable, reason, err := maintParams(r)
	if err != nil {
		return nil, err
	}
	target := query(r).Get("node")
	if target == "" {
		target = h.agent.Config().NodeName
	}
	if err := require(authz(r), authz(r).NodeWrite(target), "node:write", target); err != nil {
		return nil, err
	}
	return nil, h.agent.MaintenanceOn(r.Context(), query(r).Get("node"), "", enable, reason)
}

func (h *Handler) agentServiceMaintenance(w http.ResponseWriter, r *http.Request) (any, error) {
	id := pathTail(r, "/v1/agent/service/maintenance/")
	if id == "" {
		return nil, badRequest("Missing service ID")
	}
	enable, reason, err := maintParams(r)
	if err != nil {
		return nil, err
	}
	if target := query(r).Get("node"); target != "" && target != h.agent.Config().NodeName {
		// consulx's ?node= reaches another agent's service, which this
		// agent cannot name: write on that node and on every service.
		z := authz(r)
		if err := require(z, z.NodeWrite(target), "node:write", target); err != nil {
			return nil, err
		}
		if err := require(z, z.ServiceWrite(""), "service:write", ""); err != nil {
			return nil, err
		}
	} else if err := h.serviceWrite(r, id); err != nil {
		return nil, err
	}
	return nil, h.agent.MaintenanceOn(r.Context(), query(r).Get("node"), id, enable, reason)
}

func (h *Handler) agentReload(w http.ResponseWriter, r *http.Request) (any, error) {
	return nil, h.agent.Reload()
}

// serviceWrite checks service:write on the local service with this ID
// (an unknown ID needs write on every service: nothing leaks whether it
// exists).
func (h *Handler) serviceWrite(r *http.Request, id string) error {
	name := ""
	if s, ok := h.agent.LocalServices()[id]; ok {
		name = s.Service
	}
	z := authz(r)
	if name == "" {
		return require(z, z.ServiceWrite(id) && z.ServiceWrite(""), "service:write", id)
	}
	return require(z, z.ServiceWrite(name), "service:write", name)
}

// checkWrite checks write on what a local check belongs to.
func (h *Handler) checkWrite(r *http.Request, id string) error {
	self := h.agent.Config().NodeName
	if c, ok := h.agent.LocalChecks()[id]; ok && c.ServiceID != "" {
		return h.serviceWrite(r, c.ServiceID)
	}
	return require(authz(r), authz(r).NodeWrite(self), "node:write", self)
}

func checkReadable(z acl.Authorizer, c *store.HealthCheck) bool {
	if c.ServiceName != "" {
		return z.ServiceRead(c.ServiceName)
	}
	return z.NodeRead(c.Node)
}
