package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestConsoleClientToken: the agent's own console sends the token the
// environment names (the file first, as every command reads it), none
// when none is named, and refuses to open when the named file cannot be
// read rather than falling back to the anonymous token.
func TestConsoleClientToken(t *testing.T) {
	for _, k := range []string{"CONSUL_HTTP_TOKEN", "CONSULX_HTTP_TOKEN", "CONSUL_HTTP_TOKEN_FILE", "CONSULX_HTTP_TOKEN_FILE"} {
		t.Setenv(k, "")
	}
	c, err := consoleClient("127.0.0.1:1")
	if err != nil || c.Token != "" {
		t.Fatalf("no token named: %q, %v", c.Token, err)
	}
	t.Setenv("CONSUL_HTTP_TOKEN", "from-env")
	if c, err = consoleClient("127.0.0.1:1"); err != nil || c.Token != "from-env" {
		t.Fatalf("CONSUL_HTTP_TOKEN: %q, %v", c.Token, err)
	}
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONSUL_HTTP_TOKEN_FILE", file)
	if c, err = consoleClient("127.0.0.1:1"); err != nil || c.Token != "from-file" {
		t.Fatalf("CONSUL_HTTP_TOKEN_FILE: %q, %v", c.Token, err)
	}
	t.Setenv("CONSUL_HTTP_TOKEN_FILE", filepath.Join(t.TempDir(), "missing"))
	if c, err = consoleClient("127.0.0.1:1"); err == nil {
		t.Fatalf("an unreadable token file gave a client with token %q", c.Token)
	}
}
