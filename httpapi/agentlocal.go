package httpapi

import (
	"net/http"
	"strconv"

	"consulx/node"
	"consulx/store"
)

func (h *Handler) agentServices(w http.ResponseWriter, r *http.Request) (any, error) {
	out := map[string]serviceJSON{}
	for id, s := range h.agent.LocalServices() {
		out[id] = toServiceJSON(s)
	}
	return out, nil
}

func (h *Handler) agentChecks(w http.ResponseWriter, r *http.Request) (any, error) {
	out := map[string]store.HealthCheck{}
	for id, c := range h.agent.LocalChecks() {
		if c.ServiceTags == nil {
			c.ServiceTags = []string{}
		}
		out[id] = c
	}
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
	return nil, h.agent.RegisterService(&def)
}

func (h *Handler) agentServiceDeregister(w http.ResponseWriter, r *http.Request) (any, error) {
	id := pathTail(r, "/v1/agent/service/deregister/")
	if id == "" {
		return nil, badRequest("Missing service ID")
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
	return nil, h.agent.RegisterCheck(&body)
}

func (h *Handler) agentCheckDeregister(w http.ResponseWriter, r *http.Request) (any, error) {
	id := pathTail(r, "/v1/agent/check/deregister/")
	if id == "" {
		return nil, badRequest("Missing check ID")
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
		return nil, h.agent.UpdateCheck(id, status, r.URL.Query().Get("note"))
	}
}

func (h *Handler) agentCheckUpdate(w http.ResponseWriter, r *http.Request) (any, error) {
	id := pathTail(r, "/v1/agent/check/update/")
	if id == "" {
		return nil, badRequest("Missing check ID")
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
	v := r.URL.Query().Get("enable")
	if v == "" {
		return false, "", badRequest("Missing value for enable")
	}
	enable, err := strconv.ParseBool(v)
	if err != nil {
		return false, "", badRequest("Invalid value for enable: %q", v)
	}
	return enable, r.URL.Query().Get("reason"), nil
}

func (h *Handler) agentMaintenance(w http.ResponseWriter, r *http.Request) (any, error) {
	enable, reason, err := maintParams(r)
	if err != nil {
		return nil, err
	}
	return nil, h.agent.MaintenanceOn(r.Context(), r.URL.Query().Get("node"), "", enable, reason)
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
	return nil, h.agent.MaintenanceOn(r.Context(), r.URL.Query().Get("node"), id, enable, reason)
}

func (h *Handler) agentReload(w http.ResponseWriter, r *http.Request) (any, error) {
	return nil, h.agent.Reload()
}
