package node

// Gossip encryption: the keyring each pool starts with (encrypt, or the
// keyring file a previous run left in data_dir/serf), and the keyring
// operations of /v1/operator/keyring, which serf runs as a query across a
// whole pool (install, use, remove, list), on a server for the WAN pool
// and the LAN pool of every datacenter, as Consul does.

import (
	"consulx/acl"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
)

// The keyring files, next to serf's snapshots (Consul's names): serf
// rewrites them on every install, use and remove, so rotated keys survive
// a restart.
const (
	lanKeyringFile = "local.keyring"
	wanKeyringFile = "remote.keyring"
)

// DecodeGossipKey decodes a base64 gossip key and checks its size (16, 24
// or 32 bytes: AES-128, -192 or -256).
func DecodeGossipKey(key string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return nil, err
	}
	if err := memberlist.ValidateKey(b); err != nil {
		return nil, fmt.Errorf("%v, got %d", err, len(b))
	}
	return b, nil
}

// setupKeyring gives a pool's memberlist config its keyring and the
// encrypt_verify_* settings. With a data_dir the keyring lives in a file:
// written from encrypt on first start, and from then on the file wins
// over encrypt (installed and rotated keys would otherwise be lost), as
// in Consul. -dev, agents without a data_dir and disable_keyring_file use
// encrypt alone.
func (a *Agent) setupKeyring(conf *serf.Config, wan bool) error {
	ml := conf.MemberlistConfig
	ml.GossipVerifyIncoming = a.cfg.EncryptVerifyIncoming
	ml.GossipVerifyOutgoing = a.cfg.EncryptVerifyOutgoing
	pool, file := "LAN", lanKeyringFile
	if wan {
		pool, file = "WAN", wanKeyringFile
	}
	if a.cfg.Dev || a.cfg.DataDir == "" || a.cfg.DisableKeyringFile {
		if a.cfg.EncryptKey == "" {
			return nil
		}
		return installKeyring(ml, []string{a.cfg.EncryptKey}, "encrypt")
	}
	path := filepath.Join(a.cfg.DataDir, "serf", file)
	switch _, err := os.Stat(path); {
	case err == nil:
		if a.cfg.EncryptKey != "" {
			a.logger.Warn(fmt.Sprintf("%s keyring exists but -encrypt given, using keyring", pool), "path", path)
		}
	case !os.IsNotExist(err):
		return fmt.Errorf("%s keyring: %w", pool, err)
	case a.cfg.EncryptKey == "":
		return nil // no encryption
	default:
		if err := writeKeyringFile(path, a.cfg.EncryptKey); err != nil {
			return fmt.Errorf("%s keyring: %w", pool, err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s keyring: %w", pool, err)
	}
	var keys []string
	if err := json.Unmarshal(b, &keys); err != nil {
		return fmt.Errorf("%s keyring file %s: want a JSON list of base64 keys: %v", pool, path, err)
	}
	if err := installKeyring(ml, keys, "keyring file "+path); err != nil {
		return fmt.Errorf("%s %w", pool, err)
	}
	// serf rewrites the file whenever the keyring changes.
	conf.KeyringFile = path
	return nil
}

// installKeyring makes keys memberlist's keyring, the first one primary.
func installKeyring(ml *memberlist.Config, keys []string, source string) error {
	if len(keys) == 0 {
		return fmt.Errorf("%s holds no key", source)
	}
	raw := make([][]byte, len(keys))
	for i, k := range keys {
		b, err := DecodeGossipKey(k)
		if err != nil {
			return fmt.Errorf("%s: invalid key %q: %v", source, k, err)
		}
		raw[i] = b
	}
	kr, err := memberlist.NewKeyring(raw, raw[0])
	if err != nil {
		return fmt.Errorf("%s: %v", source, err)
	}
	ml.Keyring = kr
	return nil
}

// writeKeyringFile creates path holding key alone, atomically (a crash
// cannot leave an empty keyring that would stop the next start).
func writeKeyringFile(path, key string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, _ := json.Marshal([]string{key})
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// KeyringOp is one keyring operation.
type KeyringOp string

// The operations of /v1/operator/keyring: GET lists, POST installs, PUT
// makes a key primary, DELETE removes.
const (
	KeyringList    KeyringOp = "list"
	KeyringInstall KeyringOp = "install"
	KeyringUse     KeyringOp = "use"
	KeyringRemove  KeyringOp = "remove"
)

// KeyringRequest asks for one operation on the gossip keyrings.
type KeyringRequest struct {
	Operation KeyringOp
	Key       string // base64; not for list
	// LocalOnly lists the LAN pool of the server's datacenter only (no
	// WAN pool, no other datacenter).
	LocalOnly bool
	// RelayFactor has each node relay its answer through that many other
	// nodes (0 to 5), for lossy networks.
	RelayFactor uint8
	// WriteOptions route it; Hopped marks a request a server of another
	// datacenter sent here for our LAN pool alone (Consul's Forwarded).
	WriteOptions
}

// KeyringResponse is one pool's answer, in Consul's JSON shape.
type KeyringResponse struct {
	WAN        bool
	Datacenter string
	Segment    string
	// Messages are what nodes said (node name → message), for failures
	// and warnings.
	Messages map[string]string `json:",omitempty"`
	// Keys and PrimaryKeys count the nodes holding each key.
	Keys        map[string]int
	PrimaryKeys map[string]int
	// NumNodes is how many members the pool has (alive or suspect).
	NumNodes int
	// Error is serf's summary of the pool's failure ("" on success).
	Error string `json:",omitempty"`
}

// KeyringResponses are the answers of every pool an operation reached.
type KeyringResponses struct {
	Responses []KeyringResponse
}

// KeyringError is an operation that failed in at least one pool; its
// message is one line naming each failing pool and what its nodes said.
type KeyringError struct{ Msg string }

func (e *KeyringError) Error() string { return e.Msg }

// KeyringOperation runs req on the gossip keyrings and returns each
// pool's answer: on a server the WAN pool and the LAN pool of every
// datacenter (LocalOnly: its own LAN pool only). A client agent sends it
// to a server of its datacenter, as Consul does, so the answer is the
// same wherever it is asked. A failure in any pool is a *KeyringError
// (bad input is one too, as Consul answers both with a 500).
func (a *Agent) KeyringOperation(ctx context.Context, req *KeyringRequest) ([]KeyringResponse, error) {
	if err := validateKeyring(req); err != nil {
		return nil, err
	}
	out, err := keyringEndpoint.call(ctx, a, req)
	if err != nil {
		return nil, err
	}
	if err := keyringFailure(out.Responses); err != nil {
		return out.Responses, err
	}
	return out.Responses, nil
}

// keyringRPC is the operation's RPC name (Consul's).
const keyringRPC = "Internal.KeyringOperation"

var keyringEndpoint = &endpoint[KeyringRequest, KeyringResponses]{
	name: keyringRPC, kind: directEndpoint,
	validate: validateKeyring,
	authorize: func(_ *server, z acl.Authorizer, req *KeyringRequest) error {
		if req.Operation == KeyringList {
			return allowOrDeny(z.KeyringRead(), z, "keyring:read", "")
		}
		return allowOrDeny(z.KeyringWrite(), z, "keyring:write", "")
	},
	direct: serveKeyring,
}

// validateKeyring refuses what no pool could do: an unknown operation,
// local-only on a change, a key that is not a gossip key.
func validateKeyring(req *KeyringRequest) error {
	if req.RelayFactor > 5 {
		return &BadRequestError{Msg: "Relay factor must be in range: [0, 5]"}
	}
	switch req.Operation {
	case KeyringList:
		return nil
	case KeyringInstall, KeyringUse, KeyringRemove:
	default:
		return &BadRequestError{Msg: fmt.Sprintf("unknown keyring operation %q", req.Operation)}
	}
	if req.LocalOnly {
		return &BadRequestError{Msg: "local-only can only be set for list requests"}
	}
	if _, err := DecodeGossipKey(req.Key); err != nil {
		return &KeyringError{Msg: "Invalid key: " + err.Error()}
	}
	return nil
}

// poolKeys are the key managers of a server's pools (wan nil without a
// WAN pool), given to the server once gossip is up.
type poolKeys struct{ lan, wan *serf.KeyManager }

func (a *Agent) poolKeys() poolKeys {
	k := poolKeys{lan: a.lan.KeyManager()}
	if a.wan != nil {
		k.wan = a.wan.KeyManager()
	}
	return k
}

// serveKeyring runs an operation on a server: the WAN pool, our LAN pool,
// then (unless it is local-only, or came from another datacenter) the LAN
// pool of each other datacenter through one of its servers. A datacenter
// that cannot be reached is an answer with an error, not a failure of
// the whole operation, so the operator sees which one was missed.
func serveKeyring(s *server, ctx context.Context, req *KeyringRequest) (*KeyringResponses, error) {
	// A direct endpoint gets no authorization from the table: a change
	// asks the authorizer as a write does (Consul's keyring:write), a
	// list is filtered as a read (keyring:read), here on any server.
	if req.Operation != KeyringList {
		if err := s.hooks.authorizeWrite(ctx, keyringRPC, req); err != nil {
			return nil, err
		}
	}
	out, err := runKeyring(s, ctx, req)
	if err == nil && req.Operation == KeyringList {
		err = s.hooks.filterRead(ctx, keyringRPC, req, out)
	}
	return out, err
}

// runKeyring does the work of serveKeyring.
func runKeyring(s *server, ctx context.Context, req *KeyringRequest) (*KeyringResponses, error) {
	dc := s.cfg.Datacenter
	global := !req.LocalOnly && !req.Hopped && s.keys.wan != nil
	out := &KeyringResponses{}
	if global {
		out.Responses = append(out.Responses, keyOp(s.keys.wan, req, dc, true))
	}
	out.Responses = append(out.Responses, keyOp(s.keys.lan, req, dc, false))
	if !global {
		return out, nil
	}
	// The hop alone (it needs only the name); the declaration above
	// cannot refer to itself.
	hop := &endpoint[KeyringRequest, KeyringResponses]{name: keyringRPC}
	for _, other := range s.hooks.datacenters(dc) {
		if other == dc {
			continue
		}
		fwd := *req
		fwd.Datacenter = other
		r, err := hop.hop(ctx, s, other, &fwd)
		if err != nil {
			out.Responses = append(out.Responses, KeyringResponse{Datacenter: other, Error: err.Error()})
			continue
		}
		out.Responses = append(out.Responses, r.Responses...)
	}
	return out, nil
}

// keyOp runs the operation on one pool through serf's key manager, which
// queries every member and waits for their answers (or the query's
// timeout).
func keyOp(mgr *serf.KeyManager, req *KeyringRequest, dc string, wan bool) KeyringResponse {
	opts := &serf.KeyRequestOptions{RelayFactor: req.RelayFactor}
	var r *serf.KeyResponse
	var err error
	switch req.Operation {
	case KeyringList:
		r, err = mgr.ListKeysWithOptions(opts)
	case KeyringInstall:
		r, err = mgr.InstallKeyWithOptions(req.Key, opts)
	case KeyringUse:
		r, err = mgr.UseKeyWithOptions(req.Key, opts)
	case KeyringRemove:
		r, err = mgr.RemoveKeyWithOptions(req.Key, opts)
	}
	out := KeyringResponse{WAN: wan, Datacenter: dc, Keys: map[string]int{}, PrimaryKeys: map[string]int{}}
	if r != nil {
		out.Keys, out.PrimaryKeys, out.NumNodes = r.Keys, r.PrimaryKeys, r.NumNodes
		if len(r.Messages) > 0 {
			out.Messages = r.Messages
		}
	}
	if err != nil {
		out.Error = err.Error()
	}
	return out
}

// keyringPool names a pool as Consul's CLI does: "WAN" or "dc1 (LAN)".
func keyringPool(r KeyringResponse) string {
	if r.WAN {
		return "WAN"
	}
	if r.Segment != "" {
		return fmt.Sprintf("%s (LAN) [%s]", r.Datacenter, r.Segment)
	}
	return r.Datacenter + " (LAN)"
}

// keyringFailure sums up the failing pools in one line, what each node
// said grouped by message (a few names, then a count), e.g.
// `dc1 (LAN): 3/3 nodes reported failure (c1, s1, s2: Removing the
// primary key is not allowed)`; nil when every pool succeeded.
func keyringFailure(rs []KeyringResponse) error {
	var parts []string
	for _, r := range rs {
		if r.Error == "" {
			continue
		}
		part := keyringPool(r) + ": " + r.Error
		if said := groupMessages(r.Messages); said != "" {
			part += " (" + said + ")"
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return nil
	}
	return &KeyringError{Msg: strings.Join(parts, "; ")}
}

// groupMessages writes node messages as "n1, n2: msg; n3: other", each
// message on one line, at most three names per message.
func groupMessages(msgs map[string]string) string {
	byMsg := map[string][]string{}
	for node, m := range msgs {
		m = strings.Join(strings.Fields(m), " ")
		byMsg[m] = append(byMsg[m], node)
	}
	texts := make([]string, 0, len(byMsg))
	for m := range byMsg {
		texts = append(texts, m)
	}
	sort.Strings(texts)
	var out []string
	for _, m := range texts {
		nodes := byMsg[m]
		sort.Strings(nodes)
		names := strings.Join(nodes, ", ")
		if len(nodes) > 3 {
			names = fmt.Sprintf("%s and %d more", strings.Join(nodes[:3], ", "), len(nodes)-3)
		}
		out = append(out, names+": "+m)
	}
	return strings.Join(out, "; ")
}
