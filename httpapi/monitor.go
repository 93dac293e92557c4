package httpapi

import (
	"io"
	"net/http"

	"consulx/logstream"
)

// SetLogStream enables /v1/agent/monitor from the agent's log broadcaster.
func (h *Handler) SetLogStream(b *logstream.Broadcaster) { h.logs = b }

// monitor streams the agent's log lines (recent history first) until the
// client goes away, as Consul's /v1/agent/monitor does.
func (h *Handler) monitor(w http.ResponseWriter, r *http.Request) {
	if !allowed(w, r, []string{"GET"}) {
		return
	}
	if h.logs == nil {
		http.Error(w, "log streaming is not enabled on this agent", http.StatusNotImplemented)
		return
	}
	level := query(r).Get("loglevel")
	if level == "" {
		level = "info"
	}
	history, lines, cancel := h.logs.Subscribe(512)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	write := func(line string) bool {
		if !logstream.AtLeast(line, level) {
			return true
		}
		if _, err := io.WriteString(w, line+"\n"); err != nil {
			return false
		}
		return true
	}
	for _, l := range history {
		if !write(l) {
			return
		}
	}
	if flusher != nil {
		flusher.Flush()
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case l := <-lines:
			if !write(l) {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
}
