package httpapi

import (
	"io"
	"net/http"
	"os"
	"strconv"
)

// snapshot serves GET (save) and PUT (restore) on /v1/snapshot.
func (h *Handler) snapshot(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		// Spool to a file first: a failure must be an error status, never
		// a truncated archive that looks like a backup.
		f, err := os.CreateTemp("", "consulx-snapshot-*")
		if err != nil {
			writeError(w, err)
			return
		}
		defer os.Remove(f.Name())
		defer f.Close()
		idx, err := h.agent.SnapshotSave(r.Context(), has(r, "stale"), f)
		if err != nil {
			writeError(w, err)
			return
		}
		size, _ := f.Seek(0, io.SeekCurrent)
		_, _ = f.Seek(0, io.SeekStart)
		w.Header().Set("Content-Type", "application/x-gzip")
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.Header().Set("X-Consul-Index", strconv.FormatUint(max(idx, 1), 10))
		_, _ = io.Copy(w, f)
	case http.MethodPut:
		if err := h.agent.SnapshotRestore(r.Context(), r.Body); err != nil {
			writeError(w, err)
		}
	default:
		allowed(w, r, []string{"GET", "PUT"})
	}
}
