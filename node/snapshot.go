package node

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"consulx/acl"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// A snapshot archive is a gzipped tar of meta.json (the Raft snapshot
// metadata), state.bin (the FSM state) and SHA256SUMS over both, so a
// damaged or foreign file is refused before anything is restored.

// SnapshotMeta is what `snapshot inspect` shows.
type SnapshotMeta struct {
	ID      string
	Size    int64
	Index   uint64
	Term    uint64
	Version int
}

// maxSnapshotState bounds the state read from an archive on restore.
const maxSnapshotState = 8 << 30

// writeArchive streams meta and state into w as the archive format.
func writeArchive(w io.Writer, meta *raft.SnapshotMeta, state io.Reader) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	now := time.Now()
	add := func(name string, size int64, r io.Reader) (string, error) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, ModTime: now}); err != nil {
			return "", err
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(tw, h), r)
		if err != nil {
			return "", err
		}
		if n != size {
			return "", fmt.Errorf("snapshot %s: wrote %d bytes, expected %d", name, n, size)
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	metaSum, err := add("meta.json", int64(len(metaJSON)), strings.NewReader(string(metaJSON)))
	if err != nil {
		return err
	}
	stateSum, err := add("state.bin", meta.Size, state)
	if err != nil {
		return err
	}
	sums := fmt.Sprintf("%s  meta.json\n%s  state.bin\n", metaSum, stateSum)
	if _, err := add("SHA256SUMS", int64(len(sums)), strings.NewReader(sums)); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// ReadArchive verifies an archive and returns its metadata and the state,
// spooled to a temporary file (the caller closes and removes it).
func ReadArchive(r io.Reader) (*raft.SnapshotMeta, *os.File, error) {
	gz, err := gzip.NewReader(bufio.NewReader(r))
	if err != nil {
		return nil, nil, fmt.Errorf("not a consulx snapshot archive: %w", err)
	}
	tr := tar.NewReader(gz)
	var meta raft.SnapshotMeta
	var metaSum, stateSum, sums string
	state, err := os.CreateTemp("", "consulx-snapshot-*")
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*raft.SnapshotMeta, *os.File, error) {
		state.Close()
		os.Remove(state.Name())
		return nil, nil, err
	}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(fmt.Errorf("read snapshot archive: %w", err))
		}
		h := sha256.New()
		switch hdr.Name {
		case "meta.json":
			b, err := io.ReadAll(io.TeeReader(io.LimitReader(tr, 1<<20), h))
			if err != nil {
				return fail(err)
			}
			if err := json.Unmarshal(b, &meta); err != nil {
				return fail(fmt.Errorf("snapshot meta.json: %w", err))
			}
			metaSum = hex.EncodeToString(h.Sum(nil))
		case "state.bin":
			if _, err := io.Copy(io.MultiWriter(state, h), io.LimitReader(tr, maxSnapshotState)); err != nil {
				return fail(err)
			}
			stateSum = hex.EncodeToString(h.Sum(nil))
		case "SHA256SUMS":
			b, err := io.ReadAll(io.LimitReader(tr, 4096))
			if err != nil {
				return fail(err)
			}
			sums = string(b)
		default:
			return fail(fmt.Errorf("unexpected file %q in snapshot archive", hdr.Name))
		}
	}
	if metaSum == "" || stateSum == "" || sums == "" {
		return fail(errors.New("snapshot archive is incomplete (want meta.json, state.bin and SHA256SUMS)"))
	}
	if want := fmt.Sprintf("%s  meta.json\n%s  state.bin\n", metaSum, stateSum); sums != want {
		return fail(errors.New("snapshot archive checksum mismatch: the file is damaged"))
	}
	if _, err := state.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	st, err := state.Stat()
	if err != nil {
		return fail(err)
	}
	meta.Size = st.Size()
	return &meta, state, nil
}

// InspectArchive returns the metadata of a verified archive.
func InspectArchive(r io.Reader) (*SnapshotMeta, error) {
	meta, f, err := ReadArchive(r)
	if err != nil {
		return nil, err
	}
	f.Close()
	os.Remove(f.Name())
	return &SnapshotMeta{ID: meta.ID, Size: meta.Size, Index: meta.Index, Term: meta.Term, Version: int(meta.Version)}, nil
}

// saveLocal takes a snapshot on this server and streams it as an archive.
func (s *server) saveLocal(w io.Writer) (uint64, error) {
	fut := s.raft.Snapshot()
	var meta *raft.SnapshotMeta
	var rc io.ReadCloser
	err := fut.Error()
	switch {
	case err == nil:
		meta, rc, err = fut.Open()
	case errors.Is(err, raft.ErrNothingNewToSnapshot):
		// Nothing changed since the last snapshot: that one is current.
		var list []*raft.SnapshotMeta
		if list, err = s.snaps.List(); err == nil && len(list) > 0 {
			meta, rc, err = s.snaps.Open(list[0].ID)
		} else if err == nil {
			err = errors.New("no snapshot available yet")
		}
	}
	if err != nil {
		return 0, fmt.Errorf("take snapshot: %w", err)
	}
	defer rc.Close()
	return meta.Index, writeArchive(w, meta, rc)
}

// restoreLocal restores an archive into the cluster (leader only).
func (s *server) restoreLocal(r io.Reader) error {
	// The most destructive write there is: the authorizer is asked first.
	if err := s.hooks.authorizeWrite(context.Background(), "Snapshot.Restore", nil); err != nil {
		return err
	}
	meta, state, err := ReadArchive(r)
	if err != nil {
		return &BadRequestError{Msg: err.Error()}
	}
	defer os.Remove(state.Name())
	defer state.Close()
	// A brand-new leader refuses a restore until its configuration entry
	// is applied (raft says "cannot restore snapshot now"); wait for that.
	for attempt := 0; ; attempt++ {
		err := s.raft.Restore(meta, state, time.Minute)
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "cannot restore snapshot now") || attempt >= 100 {
			return fmt.Errorf("restore snapshot: %w", err)
		}
		if _, serr := state.Seek(0, io.SeekStart); serr != nil {
			return serr
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.logger.Info("snapshot restored", "index", meta.Index, "size", meta.Size)
	// Sessions from the snapshot need fresh TTL timers on this leader.
	s.startSessionTimers()
	return nil
}

// Snapshot is a saved archive, spooled to a temporary file first so a
// failure is an error, never a truncated file that looks like a backup.
// Read it, then Close it (which removes the file).
type Snapshot struct {
	// Index is the Raft index the snapshot covers.
	Index uint64
	// Size is the archive's length in bytes.
	Size int64
	f    *os.File
}

func (s *Snapshot) Read(p []byte) (int, error) { return s.f.Read(p) }

// Close releases the spooled archive.
func (s *Snapshot) Close() error {
	err := s.f.Close()
	os.Remove(s.f.Name())
	return err
}

// spool runs write into a temporary file and returns it as a Snapshot.
func spool(write func(io.Writer) (uint64, error)) (*Snapshot, error) {
	f, err := os.CreateTemp("", "consulx-snapshot-*")
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{f: f}
	idx, err := write(f)
	if err == nil {
		snap.Index = idx
		snap.Size, err = f.Seek(0, io.SeekCurrent)
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		snap.Close()
		return nil, err
	}
	return snap, nil
}

// snapshotIndexHeader carries a forwarded snapshot's index on the
// internal RPC (not the public API's header).
const snapshotIndexHeader = "X-Consulx-Snapshot-Index"

// rawHandlers serve the streaming snapshot RPCs that JSON cannot carry.
func (a *Agent) rawHandlers() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"snapshot-save": func(w http.ResponseWriter, r *http.Request) {
			snap, err := a.SnapshotSave(WithToken(r.Context(), r.Header.Get("X-Consul-Token")), r.URL.Query().Get("stale") == "1", r.URL.Query().Get("dc"))
			if err != nil {
				writeRPCError(w, err)
				return
			}
			defer snap.Close()
			w.Header().Set(snapshotIndexHeader, strconv.FormatUint(snap.Index, 10))
			w.Header().Set("Content-Length", strconv.FormatInt(snap.Size, 10))
			_, _ = io.Copy(w, snap)
		},
		"snapshot-restore": func(w http.ResponseWriter, r *http.Request) {
			if err := a.SnapshotRestore(WithToken(r.Context(), r.Header.Get("X-Consul-Token")), r.Body, r.URL.Query().Get("dc")); err != nil {
				writeRPCError(w, err)
			}
		},
	}
}

// rawCall posts to a server's raw RPC and returns the response on success.
func (a *Agent) rawCall(ctx context.Context, addr, name, query string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/raw/"+name+query, body)
	if err != nil {
		return nil, err
	}
	// The server that takes or restores the snapshot decides (after
	// any hop to the leader or another datacenter).
	req.Header.Set("X-Consul-Token", TokenFrom(ctx))
	resp, err := a.pool.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, decodeRPCError(resp)
	}
	return resp, nil
}

// snapshotTarget says where a snapshot request for datacenter dc ("" for
// ours) must run: here (nil error, empty addr) or on addr, a server of
// ours (a client's first hop), the leader, or for another datacenter
// one of its servers (nearest first), which takes it from there.
func (a *Agent) snapshotTarget(needLeader bool, dc string) (string, error) {
	if a.srv == nil {
		addr := a.pickServer(map[string]bool{})
		if addr == "" {
			return "", ErrNoServers
		}
		return addr, nil
	}
	if dc != "" && dc != a.cfg.Datacenter {
		addrs, err := a.hooks.serversIn(dc)
		if err != nil {
			return "", err
		}
		return addrs[0], nil
	}
	return a.srv.snapshotTarget(needLeader)
}

// targetCtx marks ctx for a server of dc when snapshotTarget chose one in
// another datacenter (its certificate is for dc's name).
func (a *Agent) targetCtx(ctx context.Context, dc string) context.Context {
	if a.srv != nil && dc != "" && dc != a.cfg.Datacenter {
		return withServerDC(ctx, dc)
	}
	return ctx
}

// snapshotTarget is "" when this server may take the snapshot, else the
// leader's address.
func (s *server) snapshotTarget(needLeader bool) (string, error) {
	if !needLeader || s.raft.State() == raft.Leader {
		return "", nil
	}
	addr, _ := s.raft.LeaderWithID()
	if addr == "" {
		return "", ErrNoLeader
	}
	return string(addr), nil
}

// SnapshotSave saves an archive of the state of datacenter dc ("" for
// ours; on its leader, unless stale) and returns it spooled.
func (a *Agent) SnapshotSave(ctx context.Context, stale bool, dc string) (*Snapshot, error) {
	addr, err := a.snapshotTarget(!stale, dc)
	if err != nil {
		return nil, err
	}
	if addr == "" {
		if err := a.authorizeSnapshot(ctx); err != nil {
			return nil, err
		}
		return spool(a.srv.saveLocal)
	}
	params := url.Values{}
	if stale {
		params.Set("stale", "1")
	}
	if dc != "" {
		params.Set("dc", dc)
	}
	q := ""
	if len(params) > 0 {
		q = "?" + params.Encode()
	}
	resp, err := a.rawCall(a.targetCtx(ctx, dc), addr, "snapshot-save", q, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return spool(func(w io.Writer) (uint64, error) {
		idx, _ := strconv.ParseUint(resp.Header.Get(snapshotIndexHeader), 10, 64)
		_, err := io.Copy(w, resp.Body)
		return idx, err
	})
}

// SnapshotRestore replaces the state of datacenter dc ("" for ours) with
// an archive (on its leader).
func (a *Agent) SnapshotRestore(ctx context.Context, r io.Reader, dc string) error {
	addr, err := a.snapshotTarget(true, dc)
	if err != nil {
		return err
	}
	if addr == "" {
		if err := a.authorizeSnapshot(ctx); err != nil {
			return err
		}
		return a.srv.restoreLocal(r)
	}
	q := ""
	if dc != "" {
		q = "?dc=" + url.QueryEscape(dc)
	}
	resp, err := a.rawCall(a.targetCtx(ctx, dc), addr, "snapshot-restore", q, r)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// authorizeSnapshot is the check of the server that saves or restores:
// Consul's, management or acl = "write", with the token WithToken put in
// ctx ("" is the agent's default token).
func (a *Agent) authorizeSnapshot(ctx context.Context) error {
	if !a.hooks.acl.enabled() {
		return nil
	}
	id, err := a.Resolve(ctx, TokenFrom(ctx))
	if err != nil {
		return err
	}
	if !acl.AllowSnapshot(id.Authz) {
		return Denied(id.Authz, "acl:write", "")
	}
	return nil
}
