package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// KVPair is one KV entry.
type KVPair struct {
	Key         string
	CreateIndex uint64
	ModifyIndex uint64
	LockIndex   uint64
	Flags       uint64
	Value       []byte
	Session     string
}

// KVGet returns one key, or nil (and no error) when it does not exist.
func (c *Client) KVGet(ctx context.Context, key string, q *QueryOptions) (*KVPair, *QueryMeta, error) {
	p := url.Values{}
	q.apply(p)
	var out []*KVPair
	meta, err := c.getJSON(ctx, "/v1/kv/"+escapeKey(key), p, &out)
	if IsNotFound(err) {
		return nil, meta, nil
	}
	if err != nil || len(out) == 0 {
		return nil, meta, err
	}
	return out[0], meta, nil
}

// KVList returns every entry under prefix (empty when none).
func (c *Client) KVList(ctx context.Context, prefix string, q *QueryOptions) ([]*KVPair, *QueryMeta, error) {
	p := url.Values{}
	p.Set("recurse", "")
	q.apply(p)
	var out []*KVPair
	meta, err := c.getJSON(ctx, "/v1/kv/"+escapeKey(prefix), p, &out)
	if IsNotFound(err) {
		return nil, meta, nil
	}
	return out, meta, err
}

// KVKeys lists key names under prefix, folded at separator when given.
func (c *Client) KVKeys(ctx context.Context, prefix, separator string, q *QueryOptions) ([]string, *QueryMeta, error) {
	p := url.Values{}
	p.Set("keys", "")
	if separator != "" {
		p.Set("separator", separator)
	}
	q.apply(p)
	var out []string
	meta, err := c.getJSON(ctx, "/v1/kv/"+escapeKey(prefix), p, &out)
	if IsNotFound(err) {
		return nil, meta, nil
	}
	return out, meta, err
}

// WriteOptions select a conditional write.
type WriteOptions struct {
	Datacenter string
	// CAS, when set, makes the write conditional on ModifyIndex.
	CAS bool
}

func boolBody(data []byte) (bool, error) {
	var ok bool
	if err := json.Unmarshal(data, &ok); err != nil {
		return false, err
	}
	return ok, nil
}

// KVPut writes p.Value at p.Key with p.Flags; with w.CAS the write happens
// only if the key's ModifyIndex equals p.ModifyIndex (0: key must not exist).
func (c *Client) KVPut(ctx context.Context, p *KVPair, w *WriteOptions) (bool, error) {
	params := url.Values{}
	if p.Flags != 0 {
		params.Set("flags", strconv.FormatUint(p.Flags, 10))
	}
	if w != nil && w.CAS {
		params.Set("cas", strconv.FormatUint(p.ModifyIndex, 10))
	}
	if w != nil && w.Datacenter != "" {
		params.Set("dc", w.Datacenter)
	}
	body := p.Value
	if body == nil {
		body = []byte{}
	}
	data, err := c.put(ctx, "/v1/kv/"+escapeKey(p.Key), params, body)
	if err != nil {
		return false, err
	}
	return boolBody(data)
}

// KVDelete deletes one key; with cas it deletes only at that ModifyIndex.
func (c *Client) KVDelete(ctx context.Context, key string, cas *uint64) (bool, error) {
	params := url.Values{}
	if cas != nil {
		params.Set("cas", strconv.FormatUint(*cas, 10))
	}
	return c.del(ctx, key, params)
}

// KVDeleteTree deletes every key under prefix.
func (c *Client) KVDeleteTree(ctx context.Context, prefix string) (bool, error) {
	params := url.Values{}
	params.Set("recurse", "")
	return c.del(ctx, prefix, params)
}

func (c *Client) del(ctx context.Context, key string, params url.Values) (bool, error) {
	data, _, err := c.do(ctx, http.MethodDelete, "/v1/kv/"+escapeKey(key), params, nil)
	if err != nil {
		return false, err
	}
	return boolBody(data)
}

// SnapshotSave streams a snapshot archive of the cluster state into w and
// returns its index.
func (c *Client) SnapshotSave(ctx context.Context, stale bool, w io.Writer) (uint64, error) {
	u := c.base + "/v1/snapshot"
	if stale {
		u += "?stale"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	if err := c.setToken(req); err != nil {
		return 0, err
	}
	resp, err := c.send(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return 0, &StatusError{Code: resp.StatusCode, Body: string(b)}
	}
	idx, _ := strconv.ParseUint(resp.Header.Get("X-Consul-Index"), 10, 64)
	_, err = io.Copy(w, resp.Body)
	return idx, err
}

// SnapshotRestore replaces the cluster state with the archive read from r.
func (c *Client) SnapshotRestore(ctx context.Context, r io.Reader) error {
	_, _, err := c.do(ctx, http.MethodPut, "/v1/snapshot", nil, r)
	return err
}

// KVAcquire writes p and takes its lock for p.Session; false when held
// by another session or in lock-delay.
func (c *Client) KVAcquire(ctx context.Context, p *KVPair) (bool, error) {
	return c.lockOp(ctx, "acquire", p)
}

// KVRelease writes p and releases the lock held by p.Session.
func (c *Client) KVRelease(ctx context.Context, p *KVPair) (bool, error) {
	return c.lockOp(ctx, "release", p)
}

func (c *Client) lockOp(ctx context.Context, op string, p *KVPair) (bool, error) {
	params := url.Values{}
	params.Set(op, p.Session)
	if p.Flags != 0 {
		params.Set("flags", strconv.FormatUint(p.Flags, 10))
	}
	body := p.Value
	if body == nil {
		body = []byte{}
	}
	data, err := c.put(ctx, "/v1/kv/"+escapeKey(p.Key), params, body)
	if err != nil {
		return false, err
	}
	return boolBody(data)
}
