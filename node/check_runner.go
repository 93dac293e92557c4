package node

// The check runner: TTL timers, and HTTP, TCP and script probes on their
// interval (scripts through package exec: their own process group, killed
// whole on timeout or when the check goes away), plus the reaping of
// services whose check stayed critical.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"consulx/exec"
	"consulx/store"
)

func truncateOutput(s string) string {
	if len(s) > checkOutputMax {
		return s[:checkOutputMax]
	}
	return s
}

func (l *localState) ttlExpired(id string, c *localCheck) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.checks[id] != c {
		return
	}
	l.setStatusLocked(c, store.HealthCritical, "TTL expired")
}

// runCheck runs an HTTP, TCP or script check every interval.
func (l *localState) runCheck(c *localCheck) {
	interval := time.Duration(c.def.Interval)
	timeout := time.Duration(c.def.Timeout)
	if timeout <= 0 {
		timeout = defaultCheckTimeout
	}
	// A check that is removed (or an agent that stops) ends a probe in
	// flight too: a running script's process group is killed at once.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.stop:
		case <-l.deps.stop:
		}
		cancel()
	}()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		status, output := probe(ctx, &c.def, timeout)
		l.mu.Lock()
		if l.checks[c.def.ID] == c {
			l.setStatusLocked(c, status, output)
		}
		l.mu.Unlock()
		t.Reset(interval)
	}
}

// probe runs one check: HTTP 2xx passing, 429 warning, else critical;
// TCP connect passing; script exit 0 passing, 1 warning, else critical.
func probe(parent context.Context, d *CheckDefinition, timeout time.Duration) (string, string) {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	switch d.Type() {
	case "http":
		method := d.Method
		if method == "" {
			method = http.MethodGet
		}
		req, err := http.NewRequestWithContext(ctx, method, d.HTTP, nil)
		if err != nil {
			return store.HealthCritical, err.Error()
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return store.HealthCritical, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, checkOutputMax))
		out := fmt.Sprintf("HTTP %s %s: %s Output: %s", method, d.HTTP, resp.Status, body)
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return store.HealthPassing, out
		case resp.StatusCode == http.StatusTooManyRequests:
			return store.HealthWarning, out
		}
		return store.HealthCritical, out
	case "tcp":
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", d.TCP)
		if err != nil {
			return store.HealthCritical, err.Error()
		}
		conn.Close()
		return store.HealthPassing, fmt.Sprintf("TCP connect %s: Success", d.TCP)
	case "script":
		// Its own process group, killed whole on timeout; output capped.
		r := exec.Run(parent, exec.Spec{Args: d.Args, Timeout: timeout, OutputCap: checkOutputMax})
		out := string(r.Output)
		switch {
		case r.TimedOut:
			// Consul's wording, with what the script wrote before.
			msg := fmt.Sprintf("Timed out (%s) running check", timeout)
			if out != "" {
				msg += "\n\n" + out
			}
			return store.HealthCritical, msg
		case r.Err != nil:
			return store.HealthCritical, r.Err.Error()
		}
		switch r.ExitCode {
		case 0:
			return store.HealthPassing, out
		case 1:
			return store.HealthWarning, out
		}
		return store.HealthCritical, out
	}
	return store.HealthCritical, "unknown check type"
}

// reapCritical deregisters services whose check has been critical longer
// than its DeregisterCriticalServiceAfter.
func (l *localState) reapCritical() {
	l.mu.Lock()
	var victims []string
	for _, c := range l.checks {
		after := time.Duration(c.def.DeregisterCriticalServiceAfter)
		if after > 0 && c.def.ServiceID != "" && !c.criticalSince.IsZero() && time.Since(c.criticalSince) > after {
			victims = append(victims, c.def.ServiceID)
		}
	}
	l.mu.Unlock()
	for _, id := range victims {
		l.deps.logger.Info("deregistering service whose check stayed critical", "service", id)
		_ = l.RemoveService(id)
	}
}
