package api

import (
	"context"
	"net/http"
	"net/url"
)

// GetRaw reads path and returns the body as the agent sent it, with the
// query metadata (for tools that pass the API's JSON on, such as watch
// handlers). A non-2xx answer is a *StatusError, with meta still parsed.
func (c *Client) GetRaw(ctx context.Context, path string, params url.Values, q *QueryOptions) ([]byte, *QueryMeta, error) {
	if params == nil {
		params = url.Values{}
	}
	q.apply(params)
	return c.do(ctx, http.MethodGet, path, params, nil)
}
