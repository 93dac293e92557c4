package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"consulx/logstream"
	"consulx/node"
)

// Handler is the HTTP API of one agent.
type Handler struct {
	agent  Agent
	logger hclog.Logger
	mux    *http.ServeMux
	// onLeave is called after a successful /v1/agent/leave, to stop the process.
	onLeave func()
	// returnConn re-injects parked keep-alive connections (see park.go).
	returnConn ConnReturner
	// logs feeds /v1/agent/monitor; nil disables it.
	logs *logstream.Broadcaster

	parkedMu sync.Mutex
	parked   map[net.Conn]struct{}

	// encoded caches /v1/health/service answers per catalog index.
	encoded encodedCache
	// fragments caches each instance's encoded health entry.
	fragments fragmentCache

	// table lists every route with its access control (access.go).
	table []Route
}

// New builds the API handler. onLeave runs after the agent left via the API.
func New(agent Agent, logger hclog.Logger, onLeave func()) *Handler {
	h := &Handler{agent: agent, logger: logger.Named("http"), mux: http.NewServeMux(), onLeave: onLeave}
	h.routes()
	return h
}

func (h *Handler) routes() {
	srv := viaServers("the servers' endpoint table")
	h.handle("/v1/status/leader", []string{"GET"}, public("Consul's status endpoints need no token"), h.statusLeader)
	h.handle("/v1/status/peers", []string{"GET"}, public("Consul's status endpoints need no token"), h.statusPeers)
	h.handle("/v1/agent/self", []string{"GET"}, agentRead, h.agentSelf)
	h.handle("/v1/agent/members", []string{"GET"}, inHandler("members filtered by node:read"), h.agentMembers)
	h.handle("/v1/agent/join/", []string{"PUT"}, agentWrite, h.agentJoin)
	h.handle("/v1/agent/leave", []string{"PUT"}, agentWrite, h.agentLeave)
	h.handle("/v1/agent/force-leave/", []string{"PUT"}, operatorWrite, h.agentForceLeave)
	h.handle("/v1/operator/raft/configuration", []string{"GET"}, srv, h.raftConfiguration)
	h.handle("/v1/operator/keyring", keyringMethods, viaServers("keyring:read to list, keyring:write to change"), h.keyring)
	h.handle("/v1/session/create", []string{"PUT"}, srv, h.sessionCreate)
	h.handle("/v1/session/destroy/", []string{"PUT"}, srv, h.sessionDestroy)
	h.handle("/v1/session/renew/", []string{"PUT"}, srv, h.sessionRenew)
	h.handle("/v1/session/info/", []string{"GET"}, srv, h.sessionRead("/v1/session/info/"))
	h.handle("/v1/session/node/", []string{"GET"}, srv, h.sessionRead("/v1/session/node/"))
	h.handle("/v1/session/list", []string{"GET"}, srv, h.sessionRead(""))
	h.handle("/v1/txn", []string{"PUT"}, srv, h.txn)
	h.handle("/v1/agent/reload", []string{"PUT"}, agentWrite, h.agentReload)
	h.handle("/v1/agent/services", []string{"GET"}, inHandler("services filtered by service:read"), h.agentServices)
	h.handle("/v1/agent/checks", []string{"GET"}, inHandler("checks filtered by node:read / service:read"), h.agentChecks)
	h.handle("/v1/agent/service/register", []string{"PUT"}, inHandler("service:write on the service in the body"), h.agentServiceRegister)
	h.handle("/v1/agent/service/deregister/", []string{"PUT"}, inHandler("service:write on the service"), h.agentServiceDeregister)
	h.handle("/v1/agent/service/maintenance/", []string{"PUT"}, inHandler("service:write on the service"), h.agentServiceMaintenance)
	h.handle("/v1/agent/maintenance", []string{"PUT"}, inHandler("node:write on the node (this agent's, or ?node=)"), h.agentMaintenance)
	h.handle("/v1/agent/check/register", []string{"PUT"}, inHandler("node:write, or service:write for a service's check"), h.agentCheckRegister)
	h.handle("/v1/agent/check/deregister/", []string{"PUT"}, inHandler("node:write, or service:write for a service's check"), h.agentCheckDeregister)
	h.handle("/v1/agent/check/pass/", []string{"PUT"}, inHandler("node:write, or service:write for a service's check"), h.agentCheckTTL("passing"))
	h.handle("/v1/agent/check/warn/", []string{"PUT"}, inHandler("node:write, or service:write for a service's check"), h.agentCheckTTL("warning"))
	h.handle("/v1/agent/check/fail/", []string{"PUT"}, inHandler("node:write, or service:write for a service's check"), h.agentCheckTTL("critical"))
	h.handle("/v1/agent/check/update/", []string{"PUT"}, inHandler("node:write, or service:write for a service's check"), h.agentCheckUpdate)
	h.handle("/v1/agent/token/", []string{"PUT"}, aclWrite, h.agentToken)
	h.handle("/v1/catalog/nodes", []string{"GET"}, srv, h.catalogNodes)
	h.handle("/v1/catalog/services", []string{"GET"}, srv, h.catalogServices)
	h.handle("/v1/catalog/service/", []string{"GET"}, srv, h.catalogService)
	h.handle("/v1/catalog/node/", []string{"GET"}, srv, h.catalogNode)
	h.handle("/v1/catalog/datacenters", []string{"GET"}, public("Consul lists datacenters to every token"), h.catalogDatacenters)
	h.handle("/v1/catalog/register", []string{"PUT"}, srv, h.catalogRegister)
	h.handle("/v1/catalog/deregister", []string{"PUT"}, srv, h.catalogDeregister)
	h.handle("/v1/health/node/", []string{"GET"}, srv, h.healthChecksBy("/v1/health/node/", node.ChecksOfNode, "Missing node name"))
	h.handle("/v1/health/checks/", []string{"GET"}, srv, h.healthChecksBy("/v1/health/checks/", node.ChecksOfService, "Missing service name"))
	h.handle("/v1/health/service/", []string{"GET"}, srv, h.healthService)
	h.handle("/v1/health/state/", []string{"GET"}, srv, h.healthState)
	h.handle("/v1/event/fire/", []string{"PUT"}, inHandler("event:write on the event (here; the servers check again for ?dc=)"), h.eventFire)
	h.handle("/v1/event/list", []string{"GET"}, inHandler("events filtered by event:read"), h.eventList)
	h.handle("/v1/exec", []string{"PUT", "POST"}, viaServers("the relay asks agent:write per target node and event:write"), h.exec)
	h.aclRoutes(srv)
	h.handleRaw("/v1/snapshot", []string{"GET", "PUT"}, management, h.snapshot)
	h.handleRaw("/v1/agent/monitor", []string{"GET"}, agentRead, h.monitor)
	h.record("/v1/kv/", []string{"GET", "PUT", "DELETE"}, srv) // served by ServeHTTP, outside the mux
	if h.agent.Config().EnableDebug {
		h.handleRaw("/debug/pprof/", []string{"GET"}, operatorRead, pprof.Index)
		h.handleRaw("/debug/pprof/profile", []string{"GET"}, operatorRead, pprof.Profile)
		h.handleRaw("/debug/pprof/trace", []string{"GET"}, operatorRead, pprof.Trace)
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			_, _ = io.WriteString(w, "Consul Agent (consulx)")
			return
		}
		http.NotFound(w, r)
	})
}

// handlerFunc returns a value to encode as JSON (nil for an empty body).
type handlerFunc func(w http.ResponseWriter, r *http.Request) (any, error)

func (h *Handler) handle(pattern string, methods []string, access routeAccess, fn handlerFunc) {
	h.record(pattern, methods, access)
	limit := h.bodyLimit(pattern)
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if !allowed(w, r, methods) || !limitBody(w, r, pattern, limit) {
			return
		}
		r, err := h.admit(r, access)
		if err != nil {
			writeError(w, err)
			return
		}
		out, err := fn(w, r)
		respond(w, r, out, err)
	})
}

// handleRaw registers a handler that writes its own response (streams,
// archives) behind the same access control.
func (h *Handler) handleRaw(pattern string, methods []string, access routeAccess, fn http.HandlerFunc) {
	h.record(pattern, methods, access)
	limit := h.bodyLimit(pattern)
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if !limitBody(w, r, pattern, limit) {
			return
		}
		r, err := h.admit(r, access)
		if err != nil {
			writeError(w, err)
			return
		}
		fn(w, r)
	})
}

// respond writes a handler's outcome: the error's status, or the value as
// JSON (nothing when the handler wrote the response itself).
func respond(w http.ResponseWriter, r *http.Request, out any, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	if out != nil {
		writeJSON(w, r, out)
	}
}

func allowed(w http.ResponseWriter, r *http.Request, methods []string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, fmt.Sprintf("method %s not allowed", r.Method), http.StatusMethodNotAllowed)
	return false
}

// ServeHTTP routes KV outside the mux: ServeMux cleans paths ("a//b"
// redirects), but KV keys are opaque and must reach us untouched.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			// A panic is a bug; log it loudly, answer 500, keep serving.
			h.logger.Error("panic in HTTP handler", "path", r.URL.Path, "panic", v)
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	// The query string is parsed once per request (query): handlers read
	// it in several places, and parsing it anew each time was a quarter
	// of a KV GET's allocations.
	if r.URL.RawQuery != "" {
		r = r.WithContext(context.WithValue(r.Context(), queryKey{}, r.URL.Query()))
	}
	if strings.HasPrefix(r.URL.Path, "/v1/kv/") || r.URL.Path == "/v1/kv" {
		if limitBody(w, r, "/v1/kv/", h.bodyLimit("/v1/kv/")) {
			h.kv(w, r)
		}
		return
	}
	h.mux.ServeHTTP(w, r)
}

type queryKey struct{}

// query is the request's parsed query string (parsed once, by ServeHTTP).
func query(r *http.Request) url.Values {
	if v, ok := r.Context().Value(queryKey{}).(url.Values); ok {
		return v
	}
	if r.URL.RawQuery == "" {
		return noQuery
	}
	return r.URL.Query()
}

// noQuery is every query-less request's query: read only, shared.
var noQuery = url.Values{}

// statusError carries an explicit HTTP status.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &statusError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// statusOf is the one place a typed error becomes an HTTP status; any
// other error is a 500, as Consul answers it.
func statusOf(err error) int {
	var se *statusError
	var bad *node.BadRequestError
	var nf *node.NotFoundError
	var denied *node.PermissionDeniedError
	switch {
	case errors.As(err, &se):
		return se.code
	case errors.As(err, &bad):
		return http.StatusBadRequest
	case errors.As(err, &nf):
		return http.StatusNotFound
	case errors.As(err, &denied), errors.Is(err, node.ErrACLNotFound):
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(statusOf(err))
	_, _ = io.WriteString(w, err.Error())
}

func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	w.Header().Set("Content-Type", "application/json")
	var b []byte
	var err error
	if raw, ok := v.(json.RawMessage); ok {
		// Already encoded (cached answers): write as is.
		_, _ = w.Write(raw)
		return
	}
	if _, ok := query(r)["pretty"]; ok {
		b, err = json.MarshalIndent(v, "", "    ")
		b = append(b, '\n')
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(b)
}

// queryOptions reads the consistency flags shared by every read endpoint.
func queryOptions(r *http.Request) (node.QueryOptions, error) {
	q := query(r)
	_, stale := q["stale"]
	_, consistent := q["consistent"]
	var o node.QueryOptions
	switch {
	case stale && consistent:
		return o, badRequest("Cannot specify ?stale with ?consistent, conflicting semantics.")
	case stale:
		o.Consistency = node.ModeStale
	case consistent:
		o.Consistency = node.ModeConsistent
	}
	o.Datacenter = q.Get("dc")
	o.Token = requestToken(r)
	return o, nil
}

// writeOptions reads what every write carries: ?dc and the token.
func writeOptions(r *http.Request) node.WriteOptions {
	return node.WriteOptions{Datacenter: query(r).Get("dc"), Token: requestToken(r)}
}

// blockingParams validates ?index and ?wait the way Consul does.
func blockingParams(r *http.Request) (index uint64, wait time.Duration, err error) {
	q := query(r)
	if v := q.Get("index"); v != "" {
		if index, err = strconv.ParseUint(v, 10, 64); err != nil {
			return 0, 0, badRequest("Invalid index")
		}
	}
	if v := q.Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil {
			return 0, 0, badRequest("Invalid wait time")
		}
	}
	return index, wait, nil
}

// readOptions is queryOptions plus the blocking parameters.
func readOptions(r *http.Request) (node.QueryOptions, error) {
	o, err := queryOptions(r)
	if err != nil {
		return o, err
	}
	o.MinIndex, o.MaxWait, err = blockingParams(r)
	return o, err
}

func itoa(n int) string { return strconv.Itoa(n) }

func itoa64(n uint64) string { return strconv.FormatUint(n, 10) }

func setMeta(w http.ResponseWriter, m node.QueryMeta) {
	idx := m.Index
	if idx < 1 {
		// Clients treat index 0 as "no blocking" and would hot-loop.
		idx = 1
	}
	// Keys in net/http's canonical form, set directly: Header.Set would
	// canonicalize (allocating) on every read answered. The shared value
	// slices are never written to.
	h := w.Header()
	h["X-Consul-Index"] = []string{strconv.FormatUint(idx, 10)}
	if m.KnownLeader {
		h["X-Consul-Knownleader"] = headerTrue
	} else {
		h["X-Consul-Knownleader"] = headerFalse
	}
	if ms := m.LastContact.Milliseconds(); ms == 0 {
		h["X-Consul-Lastcontact"] = headerZero
	} else {
		h["X-Consul-Lastcontact"] = []string{strconv.FormatInt(ms, 10)}
	}
	setFiltered(w, m.ResultsFilteredByACLs)
}

var (
	headerTrue  = []string{"true"}
	headerFalse = []string{"false"}
	headerZero  = []string{"0"}
)

func (h *Handler) statusLeader(w http.ResponseWriter, r *http.Request) (any, error) {
	return h.agent.StatusLeader(r.Context(), query(r).Get("dc"))
}

func (h *Handler) statusPeers(w http.ResponseWriter, r *http.Request) (any, error) {
	return h.agent.StatusPeers(r.Context(), query(r).Get("dc"))
}

func (h *Handler) raftConfiguration(w http.ResponseWriter, r *http.Request) (any, error) {
	opts, err := queryOptions(r)
	if err != nil {
		return nil, err
	}
	out, err := h.agent.RaftConfiguration(r.Context(), opts)
	if err != nil {
		return nil, err
	}
	setMeta(w, out.QueryMeta)
	return struct {
		Servers []node.RaftServer
		Index   uint64
	}{out.Servers, out.Index}, nil
}

func (h *Handler) agentSelf(w http.ResponseWriter, r *http.Request) (any, error) {
	cfg := h.agent.Config()
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	return map[string]any{
		"Config": map[string]any{
			"Datacenter":        cfg.Datacenter,
			"PrimaryDatacenter": cfg.PrimaryDatacenter,
			"NodeName":          cfg.NodeName,
			"NodeID":            h.agent.NodeID(),
			"Revision":          "consulx",
			"Server":            h.agent.IsServer(),
			"Version":           node.Version,
		},
		"DebugConfig": map[string]any{
			"Datacenter": cfg.Datacenter, "NodeName": cfg.NodeName, "ServerMode": cfg.Server,
			"BootstrapExpect": cfg.BootstrapExpect, "DataDir": cfg.DataDir, "ClientAddrs": []string{cfg.ClientAddr},
			"DevMode": cfg.Dev, "DisableRemoteExec": cfg.DisableRemoteExec, "EnableScriptChecks": cfg.EnableScriptChecks,
		},
		"Coord":  nil,
		"Member": h.agent.LocalMember(),
		"Stats":  h.agent.Stats(ctx),
		"Meta":   map[string]string{},
	}, nil
}

// truthy reads a boolean query flag that Consul requires a value for
// (wan=1, wan=true); a bare ?wan is false, as in Consul.
func truthy(r *http.Request, name string) bool {
	v, ok := query(r)[name]
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(v[0])
	return err == nil && b
}

func (h *Handler) agentMembers(w http.ResponseWriter, r *http.Request) (any, error) {
	wan := truthy(r, "wan")
	if wan && query(r).Get("segment") != "" {
		return nil, badRequest("Cannot provide a segment with wan=true")
	}
	ms := h.agent.Members(wan)
	if ms == nil {
		return json.RawMessage("null"), nil
	}
	z := authz(r)
	kept := make([]node.Member, 0, len(ms))
	for _, m := range ms {
		name := m.Name
		if wan {
			// WAN members are node.dc; a node name may hold dots itself.
			if i := strings.LastIndexByte(m.Name, '.'); i > 0 {
				name = m.Name[:i]
			}
		}
		if z.NodeRead(name) {
			kept = append(kept, m)
		}
	}
	setFiltered(w, len(kept) < len(ms))
	return kept, nil
}

func (h *Handler) agentJoin(w http.ResponseWriter, r *http.Request) (any, error) {
	addr := strings.TrimPrefix(r.URL.Path, "/v1/agent/join/")
	if addr == "" {
		return nil, badRequest("Missing address to join")
	}
	if _, err := h.agent.Join([]string{addr}, truthy(r, "wan")); err != nil {
		return nil, err
	}
	return nil, nil
}

func (h *Handler) agentLeave(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := h.agent.Leave(); err != nil {
		return nil, err
	}
	if h.onLeave != nil {
		go h.onLeave()
	}
	return nil, nil
}

func (h *Handler) agentForceLeave(w http.ResponseWriter, r *http.Request) (any, error) {
	name := strings.TrimPrefix(r.URL.Path, "/v1/agent/force-leave/")
	if name == "" {
		return nil, badRequest("Missing node name")
	}
	_, prune := query(r)["prune"]
	return nil, h.agent.ForceLeave(name, prune, truthy(r, "wan"))
}
