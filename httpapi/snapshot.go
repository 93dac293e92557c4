package httpapi

import (
	"io"
	"net/http"
	"strconv"

	"consulx/node"
)

// snapshot serves GET (save) and PUT (restore) on /v1/snapshot.
func (h *Handler) snapshot(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		// The agent spools the archive before answering: a failure is an
		// error status, never a truncated archive that looks like a backup.
		snap, err := h.agent.SnapshotSave(node.WithToken(r.Context(), requestToken(r)), has(r, "stale"), query(r).Get("dc"))
		if err != nil {
			writeError(w, err)
			return
		}
		defer snap.Close()
		w.Header().Set("Content-Type", "application/x-gzip")
		w.Header().Set("Content-Length", strconv.FormatInt(snap.Size, 10))
		w.Header().Set("X-Consul-Index", strconv.FormatUint(max(snap.Index, 1), 10))
		_, _ = io.Copy(w, snap)
	case http.MethodPut:
		if err := h.agent.SnapshotRestore(node.WithToken(r.Context(), requestToken(r)), r.Body, query(r).Get("dc")); err != nil {
			writeError(w, err)
		}
	default:
		allowed(w, r, []string{"GET", "PUT"})
	}
}
