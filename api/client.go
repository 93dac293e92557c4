package api

import (
	"bytes"
	"context"
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

	"consulx/tlsutil"
)

// DefaultAddr is the agent address from CONSULX_HTTP_ADDR, then
// CONSUL_HTTP_ADDR, then 127.0.0.1:8500. An address without a scheme is
// reached over https when CONSUL_HTTP_SSL is true (see NewClient).
func DefaultAddr() string {
	for _, k := range []string{"CONSULX_HTTP_ADDR", "CONSUL_HTTP_ADDR"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "127.0.0.1:8500"
}

// DefaultToken is the ACL token from CONSULX_HTTP_TOKEN or CONSUL_HTTP_TOKEN.
func DefaultToken() string {
	for _, k := range []string{"CONSULX_HTTP_TOKEN", "CONSUL_HTTP_TOKEN"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// DefaultTokenFile is the token file CONSULX_HTTP_TOKEN_FILE or
// CONSUL_HTTP_TOKEN_FILE names, "" when neither is set.
func DefaultTokenFile() string {
	for _, k := range []string{"CONSULX_HTTP_TOKEN_FILE", "CONSUL_HTTP_TOKEN_FILE"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// ReadTokenFile returns the token in the file at path without the
// white space around it (token files usually end in a newline).
func ReadTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("loading token file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// EnvToken is the token the environment gives, read as Consul reads it:
// the token file's contents when a token file is named and not empty
// (the file wins over the token variable), otherwise DefaultToken. A
// token file that cannot be read is an error, never a silent fall back
// to the anonymous token.
func EnvToken() (string, error) {
	if f := DefaultTokenFile(); f != "" {
		t, err := ReadTokenFile(f)
		if err != nil || t != "" {
			return t, err
		}
	}
	return DefaultToken(), nil
}

// Client talks to one agent.
type Client struct {
	base string
	// Token goes with every request as X-Consul-Token; NewClient sets it
	// from the environment (EnvToken).
	Token string
	http  *http.Client
	// tokenErr is why the environment's token file could not be read:
	// requests fail with it while Token is empty, rather than going out
	// with the anonymous token the caller did not mean.
	tokenErr error
	// err is a configuration error (a bad CONSUL_CACERT...) that
	// NewClient could not return; every call fails with it.
	err error
}

// TLSConfig is how the client checks an agent's HTTPS certificate and
// what it presents to an agent with verify_incoming: Consul's
// CONSUL_CACERT family.
type TLSConfig struct {
	// ServerName is checked against the certificate instead of the
	// address's host (CONSUL_TLS_SERVER_NAME).
	ServerName string
	// CAFile or CAPath (a directory) holds the CA; neither: the system's
	// roots (CONSUL_CACERT, CONSUL_CAPATH).
	CAFile, CAPath string
	// CertFile and KeyFile are the client certificate
	// (CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY).
	CertFile, KeyFile string
	// InsecureSkipVerify accepts any certificate
	// (CONSUL_HTTP_SSL_VERIFY=false).
	InsecureSkipVerify bool
}

// TLSFromEnv reads CONSUL_CACERT, CONSUL_CAPATH, CONSUL_CLIENT_CERT,
// CONSUL_CLIENT_KEY, CONSUL_TLS_SERVER_NAME and CONSUL_HTTP_SSL_VERIFY.
func TLSFromEnv() (TLSConfig, error) {
	t := TLSConfig{ServerName: os.Getenv("CONSUL_TLS_SERVER_NAME"), CAFile: os.Getenv("CONSUL_CACERT"),
		CAPath: os.Getenv("CONSUL_CAPATH"), CertFile: os.Getenv("CONSUL_CLIENT_CERT"), KeyFile: os.Getenv("CONSUL_CLIENT_KEY")}
	verify, err := envBool("CONSUL_HTTP_SSL_VERIFY", true)
	t.InsecureSkipVerify = !verify
	return t, err
}

func envBool(name string, def bool) (bool, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def, fmt.Errorf("%s=%q: want true or false", name, v)
	}
	return b, nil
}

// baseURL is addr as a URL: an address without a scheme gets https when
// CONSUL_HTTP_SSL is true, as in Consul, else http.
func baseURL(addr string) (string, error) {
	if !strings.Contains(addr, "://") {
		ssl, err := envBool("CONSUL_HTTP_SSL", false)
		if err != nil {
			return "", err
		}
		scheme := "http://"
		if ssl {
			scheme = "https://"
		}
		addr = scheme + addr
	}
	return strings.TrimRight(addr, "/"), nil
}

// NewClient returns a client for addr ("host:port" or a URL), configured
// from the environment as Consul's client is (CONSUL_HTTP_SSL, and
// TLSFromEnv for https). A bad setting there fails every call with one
// line naming the variable. Programs that reach an agent over plain HTTP
// whatever the environment says give an http:// URL.
func NewClient(addr string) *Client {
	t, err := TLSFromEnv()
	if err == nil {
		var c *Client
		if c, err = NewClientTLS(addr, t); err == nil {
			return c
		}
	}
	// A URL that parses, so every call gets as far as send and its error.
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	tok, tokErr := EnvToken()
	return &Client{base: addr, Token: tok, tokenErr: tokErr, err: err}
}

// NewClientTLS returns a client for addr that uses t for https; the error
// (an unreadable CA or certificate) is one line naming the setting.
func NewClientTLS(addr string, t TLSConfig) (*Client, error) {
	base, err := baseURL(addr)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	if strings.HasPrefix(base, "https://") {
		m, err := tlsutil.Load(tlsutil.Protocol{CAFile: t.CAFile, CAPath: t.CAPath, CertFile: t.CertFile, KeyFile: t.KeyFile,
			Keys: map[string]string{"ca_file": "CONSUL_CACERT (-ca-file)", "ca_path": "CONSUL_CAPATH (-ca-path)",
				"cert_file": "CONSUL_CLIENT_CERT (-client-cert)", "key_file": "CONSUL_CLIENT_KEY (-client-key)"}})
		if err != nil {
			return nil, err
		}
		tc := m.HTTPSClientConfig()
		tc.ServerName = t.ServerName
		tc.InsecureSkipVerify = t.InsecureSkipVerify
		tr.TLSClientConfig = tc
	}
	tok, tokErr := EnvToken()
	return &Client{base: base, Token: tok, tokenErr: tokErr, http: &http.Client{Transport: tr}}, nil
}

// send sends one request, or fails with the client's configuration error.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	if c.err != nil {
		return nil, c.err
	}
	return c.http.Do(req)
}

// Addr returns the agent base URL.
func (c *Client) Addr() string { return c.base }

// StatusError is a non-2xx answer from the agent.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("Unexpected response code: %d (%s)", e.Code, strings.TrimSpace(e.Body))
}

// IsNotFound reports a 404.
func IsNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == http.StatusNotFound
}

// QueryOptions are the read parameters shared by read endpoints.
type QueryOptions struct {
	Datacenter string
	Stale      bool
	Consistent bool
	WaitIndex  uint64
	WaitTime   time.Duration
}

func (q *QueryOptions) apply(v url.Values) {
	if q == nil {
		return
	}
	if q.Datacenter != "" {
		v.Set("dc", q.Datacenter)
	}
	if q.Stale {
		v.Set("stale", "")
	}
	if q.Consistent {
		v.Set("consistent", "")
	}
	if q.WaitIndex > 0 {
		v.Set("index", strconv.FormatUint(q.WaitIndex, 10))
	}
	if q.WaitTime > 0 {
		v.Set("wait", q.WaitTime.String())
	}
}

// QueryMeta carries the X-Consul-* headers of a read.
type QueryMeta struct {
	LastIndex   uint64
	KnownLeader bool
	LastContact time.Duration
	// ResultsFilteredByACLs: the token could not see everything.
	ResultsFilteredByACLs bool
}

func parseMeta(h http.Header) *QueryMeta {
	m := &QueryMeta{}
	m.LastIndex, _ = strconv.ParseUint(h.Get("X-Consul-Index"), 10, 64)
	m.KnownLeader = h.Get("X-Consul-KnownLeader") == "true"
	m.ResultsFilteredByACLs = h.Get("X-Consul-Results-Filtered-By-ACLs") == "true"
	ms, _ := strconv.ParseInt(h.Get("X-Consul-LastContact"), 10, 64)
	m.LastContact = time.Duration(ms) * time.Millisecond
	return m
}

// setToken puts the client's token on req, or fails when the token
// should have come from a token file that could not be read.
func (c *Client) setToken(req *http.Request) error {
	if c.tokenErr != nil && c.Token == "" {
		return c.tokenErr
	}
	if c.Token != "" {
		req.Header.Set("X-Consul-Token", c.Token)
	}
	return nil
}

// do sends a request; a 404 is returned as a StatusError with the response
// headers still parsed into meta.
func (c *Client) do(ctx context.Context, method, path string, params url.Values, body io.Reader) ([]byte, *QueryMeta, error) {
	u := c.base + path
	if len(params) > 0 {
		u += "?" + strings.ReplaceAll(params.Encode(), "=&", "&")
		u = strings.TrimSuffix(u, "=")
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, nil, err
	}
	if err := c.setToken(req); err != nil {
		return nil, nil, err
	}
	resp, err := c.send(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	meta := parseMeta(resp.Header)
	if resp.StatusCode/100 != 2 {
		return data, meta, &StatusError{Code: resp.StatusCode, Body: string(data)}
	}
	return data, meta, nil
}

func (c *Client) getJSON(ctx context.Context, path string, params url.Values, out any) (*QueryMeta, error) {
	data, meta, err := c.do(ctx, http.MethodGet, path, params, nil)
	if err != nil {
		return meta, err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return meta, fmt.Errorf("decode %s: %w", path, err)
	}
	return meta, nil
}

func (c *Client) put(ctx context.Context, path string, params url.Values, body []byte) ([]byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	data, _, err := c.do(ctx, http.MethodPut, path, params, r)
	return data, err
}

// Leader returns the leader's RPC address, "" when there is none.
func (c *Client) Leader(ctx context.Context) (string, error) {
	var s string
	_, err := c.getJSON(ctx, "/v1/status/leader", nil, &s)
	return s, err
}

// Peers returns the Raft peers' addresses.
func (c *Client) Peers(ctx context.Context) ([]string, error) {
	var s []string
	_, err := c.getJSON(ctx, "/v1/status/peers", nil, &s)
	return s, err
}
