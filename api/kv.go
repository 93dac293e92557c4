package api

import (
	"context"
	"encoding/json"
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
