package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

// KeyringResponse is one gossip pool's answer to a keyring list: each
// installed key (base64) and the primary keys, with how many of the
// pool's NumNodes members hold it.
type KeyringResponse struct {
	WAN         bool
	Datacenter  string
	Segment     string
	Messages    map[string]string `json:",omitempty"`
	Keys        map[string]int
	PrimaryKeys map[string]int
	NumNodes    int
}

// KeyringOptions are the parameters every keyring call takes.
type KeyringOptions struct {
	// LocalOnly lists this datacenter's LAN pool only (list only).
	LocalOnly bool
	// RelayFactor (0..5) has nodes relay their answers through others.
	RelayFactor int
}

func (o *KeyringOptions) params() url.Values {
	v := url.Values{}
	if o == nil {
		return v
	}
	if o.LocalOnly {
		v.Set("local-only", "true")
	}
	if o.RelayFactor != 0 {
		v.Set("relay-factor", strconv.Itoa(o.RelayFactor))
	}
	return v
}

// KeyringList lists the gossip keys installed in every pool
// (GET /v1/operator/keyring).
func (c *Client) KeyringList(ctx context.Context, o *KeyringOptions) ([]KeyringResponse, error) {
	var out []KeyringResponse
	_, err := c.getJSON(ctx, "/v1/operator/keyring", o.params(), &out)
	return out, err
}

// KeyringInstall installs key (base64) on every member (POST).
func (c *Client) KeyringInstall(ctx context.Context, key string, o *KeyringOptions) error {
	return c.keyringChange(ctx, http.MethodPost, key, o)
}

// KeyringUse makes an installed key the primary one everywhere (PUT).
func (c *Client) KeyringUse(ctx context.Context, key string, o *KeyringOptions) error {
	return c.keyringChange(ctx, http.MethodPut, key, o)
}

// KeyringRemove removes a key that is not primary anywhere (DELETE).
func (c *Client) KeyringRemove(ctx context.Context, key string, o *KeyringOptions) error {
	return c.keyringChange(ctx, http.MethodDelete, key, o)
}

func (c *Client) keyringChange(ctx context.Context, method, key string, o *KeyringOptions) error {
	body, err := json.Marshal(struct{ Key string }{key})
	if err != nil {
		return err
	}
	_, _, err = c.do(ctx, method, "/v1/operator/keyring", o.params(), bytes.NewReader(body))
	return err
}
