package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"consulx/internal/testcluster"
)

// TestReadmeTLSRecipe pastes the README's TLS recipe: certificates from
// `consulx tls`, a server with HTTPS and verify_incoming, the CLI through
// CONSUL_CACERT and a client certificate, and curl without one refused.
func TestReadmeTLSRecipe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("the recipe uses curl")
	}
	tmp := t.TempDir()
	t.Cleanup(func() { killAll([]byte(tmp)) })
	block := readmeBlock(t, "## TLS")
	p := testcluster.FreePorts(t, 6)
	recipe := prepareRecipe(t, block, [][2]string{
		{"-http-port 8500", fmt.Sprint("-http-port ", p[0])}, {"-dns-port 8600", fmt.Sprint("-dns-port ", p[1])},
		{"-serf-lan-port 8301", fmt.Sprint("-serf-lan-port ", p[2])}, {"-serf-wan-port 8302", fmt.Sprint("-serf-wan-port ", p[3])},
		{"-server-port 8300", fmt.Sprint("-server-port ", p[4])}, {"8501", fmt.Sprint(p[5])},
	}, tmp)
	sh := startShell(t, tmp)
	out := strings.ReplaceAll(pasteRecipe(t, sh, "", recipe, 60*time.Second), "\r", "")
	for _, want := range []string{
		"==> Saved consul-agent-ca.pem\n==> Saved consul-agent-ca-key.pem\n",
		"==> Saved dc1-server-consul-0.pem\n==> Saved dc1-server-consul-0-key.pem\n",
		"==> Saved dc1-client-consul-0.pem\n==> Saved dc1-client-consul-0-key.pem\n",
		"Success! Data written to: greeting\n",
		"\nhello\n",
		"certificate required",
		"refused: no client certificate\n",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("the terminal shows no %q:\n%s", want, out)
		}
	}
}
