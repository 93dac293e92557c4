package watch

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"consulx/exec"
)

// RunScript runs args (use exec.Shell for a command line) with data on
// stdin and CONSUL_INDEX=index added to our environment, as Consul runs a
// watch handler. timeout 0 means none; outputCap bounds the combined
// output kept in the result.
func RunScript(ctx context.Context, args []string, index uint64, data []byte, timeout time.Duration, outputCap int) exec.Result {
	return exec.Run(ctx, exec.Spec{
		Args:      args,
		Stdin:     bytes.NewReader(data),
		Env:       append(os.Environ(), "CONSUL_INDEX="+strconv.FormatUint(index, 10)),
		Timeout:   timeout,
		OutputCap: outputCap,
	})
}

// ScriptError is how a handler run failed, nil if it exited 0.
func ScriptError(r exec.Result) error {
	switch {
	case r.Err != nil:
		return r.Err
	case r.TimedOut:
		return errors.New("timed out (killed)")
	case r.Signal != 0:
		return errors.New("killed by " + r.Signal.String())
	case r.ExitCode != 0:
		return fmt.Errorf("exit status %d", r.ExitCode)
	}
	return nil
}

// DefaultHTTPTimeout bounds an HTTP handler's call unless its config says
// otherwise (Consul's default).
const DefaultHTTPTimeout = 10 * time.Second

// HTTPConfig is an HTTP handler: Consul's http_handler_config.
type HTTPConfig struct {
	// Path is the URL called.
	Path string
	// Method defaults to POST.
	Method string
	// Header is added to every call (each value of a key).
	Header map[string][]string
	// Timeout bounds one call (DefaultHTTPTimeout when 0).
	Timeout time.Duration
	// TLSSkipVerify accepts any certificate from an https Path.
	TLSSkipVerify bool
}

// HTTPResult is how one call of an HTTP handler went.
type HTTPResult struct {
	Status int
	// Body is the start of the answer (up to 4 KiB), for the log.
	Body []byte
}

// HTTPCaller calls an HTTP handler; make one per watch with NewHTTPCaller.
type HTTPCaller struct {
	cfg    HTTPConfig
	client *http.Client
}

// NewHTTPCaller returns the caller of cfg's endpoint.
func NewHTTPCaller(cfg HTTPConfig) *HTTPCaller {
	if cfg.Method == "" {
		cfg.Method = http.MethodPost
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultHTTPTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: cfg.TLSSkipVerify} // #nosec G402 -- the operator asked for it
	return &HTTPCaller{cfg: cfg, client: &http.Client{Transport: tr}}
}

// Call sends data as the body with the configured method and headers,
// Content-Type application/json and X-Consul-Index, as Consul's HTTP
// handler does. A call that fails or answers outside 2xx is an error.
func (h *HTTPCaller) Call(ctx context.Context, index uint64, data []byte) (HTTPResult, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, h.cfg.Method, h.cfg.Path, bytes.NewReader(data))
	if err != nil {
		return HTTPResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Consul-Index", strconv.FormatUint(index, 10))
	for k, vs := range h.cfg.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return HTTPResult{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	res := HTTPResult{Status: resp.StatusCode, Body: body}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return res, fmt.Errorf("answered %s", strings.TrimSpace(resp.Status))
	}
	return res, nil
}

// CloseIdle drops the caller's idle connections.
func (h *HTTPCaller) CloseIdle() { h.client.CloseIdleConnections() }
