package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"consulx/node"
)

// keyringOps maps /v1/operator/keyring's methods to operations, as Consul.
var keyringOps = map[string]node.KeyringOp{
	http.MethodGet:    node.KeyringList,
	http.MethodPost:   node.KeyringInstall,
	http.MethodPut:    node.KeyringUse,
	http.MethodDelete: node.KeyringRemove,
}

// keyringMethods are the methods /v1/operator/keyring answers.
var keyringMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}

// keyring is /v1/operator/keyring: GET lists the gossip keys of every
// pool (?local-only: this datacenter's LAN pool), POST installs the key
// of the body {"Key": "..."}, PUT makes it primary, DELETE removes it;
// ?relay-factor=0..5 on all. A request that cannot be read is a 400; an
// operation any pool refused (a bad key, removing the primary key) is a
// 500 with one line naming the pools and what their nodes said, as
// Consul answers both.
func (h *Handler) keyring(w http.ResponseWriter, r *http.Request) (any, error) {
	req := &node.KeyringRequest{Operation: keyringOps[r.Method], WriteOptions: node.WriteOptions{Token: requestToken(r)}}
	if req.Operation != node.KeyringList {
		raw, err := readBody(r, 1<<16)
		if err != nil {
			return nil, err
		}
		// A decoder, not Unmarshal, so an empty body says EOF as Consul's.
		var body struct{ Key string }
		if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&body); err != nil {
			return nil, badRequest("Request decode failed: %v", err)
		}
		req.Key = body.Key
	}
	q := query(r)
	if v := q.Get("relay-factor"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, badRequest("Error parsing relay factor: %v", err)
		}
		if n < 0 || n > 5 {
			return nil, badRequest("Invalid relay-factor: Relay factor must be in range: [0, 5]")
		}
		req.RelayFactor = uint8(n)
	}
	if v := q.Get("local-only"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, badRequest("Error parsing local-only: %v", err)
		}
		if b && req.Operation != node.KeyringList {
			return nil, badRequest("Invalid use of local-only: local-only can only be set for list requests")
		}
		req.LocalOnly = b
	}
	out, err := h.agent.KeyringOperation(r.Context(), req)
	if err != nil {
		return nil, err
	}
	if req.Operation != node.KeyringList {
		return nil, nil
	}
	if out == nil {
		out = []node.KeyringResponse{}
	}
	return out, nil
}
