package api

import (
	"context"
	"strings"
	"testing"
)

// TestClientSchemeAndTLSFromEnv: an address without a scheme is https
// with CONSUL_HTTP_SSL=true, an explicit scheme wins, and a bad setting
// fails every call with one line naming it.
func TestClientSchemeAndTLSFromEnv(t *testing.T) {
	for _, k := range []string{"CONSUL_HTTP_SSL", "CONSUL_HTTP_SSL_VERIFY", "CONSUL_CACERT", "CONSUL_CAPATH",
		"CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY", "CONSUL_TLS_SERVER_NAME"} {
		t.Setenv(k, "")
	}
	if got := NewClient("127.0.0.1:8500").Addr(); got != "http://127.0.0.1:8500" {
		t.Errorf("plain: %q", got)
	}
	t.Setenv("CONSUL_HTTP_SSL", "true")
	if got := NewClient("127.0.0.1:8501").Addr(); got != "https://127.0.0.1:8501" {
		t.Errorf("CONSUL_HTTP_SSL: %q", got)
	}
	if got := NewClient("http://127.0.0.1:8500/").Addr(); got != "http://127.0.0.1:8500" {
		t.Errorf("explicit http: %q", got)
	}
	t.Setenv("CONSUL_HTTP_SSL", "")

	t.Setenv("CONSUL_TLS_SERVER_NAME", "server.dc1.consul")
	t.Setenv("CONSUL_HTTP_SSL_VERIFY", "false")
	tc, err := TLSFromEnv()
	if err != nil || tc.ServerName != "server.dc1.consul" || !tc.InsecureSkipVerify {
		t.Errorf("TLSFromEnv %+v %v", tc, err)
	}

	for _, tc := range []struct {
		env, val, addr, want string
	}{
		{"CONSUL_HTTP_SSL_VERIFY", "maybe", "https://127.0.0.1:1", `CONSUL_HTTP_SSL_VERIFY="maybe": want true or false`},
		{"CONSUL_HTTP_SSL", "yes please", "127.0.0.1:1", `CONSUL_HTTP_SSL="yes please": want true or false`},
		{"CONSUL_CACERT", "/nope/ca.pem", "https://127.0.0.1:1", "CONSUL_CACERT (-ca-file): open /nope/ca.pem"},
		{"CONSUL_CLIENT_CERT", "/nope/c.pem", "https://127.0.0.1:1", "CONSUL_CLIENT_CERT (-client-cert) is set but key_file is not"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv("CONSUL_HTTP_SSL_VERIFY", "")
			t.Setenv(tc.env, tc.val)
			_, err := NewClient(tc.addr).Leader(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line with %q", err, tc.want)
			}
		})
	}
	// Without https the TLS settings do not matter.
	t.Setenv("CONSUL_CACERT", "/nope/ca.pem")
	if _, err := NewClientTLS("http://127.0.0.1:1", TLSConfig{CAFile: "/nope/ca.pem"}); err != nil {
		t.Errorf("http with a bad CA: %v", err)
	}
}
