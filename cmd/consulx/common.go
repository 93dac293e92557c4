package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"consulx/api"
	"consulx/tlsutil"
)

// stringList is a repeatable string flag (-join a -join b).
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func newFlagSet(name string, env *cliEnv) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	return fs
}

// parseFlags parses args; on error the flag package has already printed
// the reason and usage, and the exit code is 1 (0 for -h).
func parseFlags(fs *flag.FlagSet, args []string) (ok bool, code int) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false, 0
		}
		return false, 1
	}
	return true, 0
}

func ctxTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// apiError prints an API failure the way Consul's CLI does and returns 1.
func apiError(w io.Writer, what string, err error) int {
	var se *api.StatusError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		fmt.Fprintf(w, "Error %s: %s\n", what, err)
	case isTLSError(err):
		// The agent is there; the hint about starting one would mislead.
		fmt.Fprintf(w, "Error connecting to Consul agent: %v\n", err)
	case errors.As(err, &ne), strings.Contains(err.Error(), "connection refused"):
		fmt.Fprintf(w, "Error connecting to Consul agent: %v\n(is an agent running? start one with 'consulx agent -dev', or set -http-addr / CONSUL_HTTP_ADDR)\n", err)
	default:
		fmt.Fprintf(w, "Error %s: %v\n", what, err)
	}
	return 1
}

// isTLSError reports a failed TLS handshake or certificate check.
func isTLSError(err error) bool {
	var cve *tls.CertificateVerificationError
	var rhe tls.RecordHeaderError
	var ae tls.AlertError
	var uae x509.UnknownAuthorityError
	var he x509.HostnameError
	return errors.As(err, &cve) || errors.As(err, &rhe) || errors.As(err, &ae) || errors.As(err, &uae) ||
		errors.As(err, &he) || errors.Is(err, tlsutil.ErrNoClientCert)
}

// columnize lays rows out like ryanuber/columnize with two-space glue: each
// column padded to its widest cell, the last column unpadded.
func columnize(rows [][]string) string {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
				break
			}
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", widths[i]-len(c)+2))
		}
		b.WriteString("\n")
	}
	return b.String()
}
