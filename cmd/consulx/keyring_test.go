package main

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"consulx/internal/testcluster"
)

func TestKeygen(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 2; i++ {
		out, errOut, code := runCLI(t, "", "", "keygen")
		key := strings.TrimSuffix(out, "\n")
		b, err := base64.StdEncoding.DecodeString(key)
		if code != 0 || errOut != "" || err != nil || len(b) != 32 || strings.Count(out, "\n") != 1 {
			t.Fatalf("keygen: exit %d, stdout %q (%d bytes, %v), stderr %q; want one line, a base64 32-byte key", code, out, len(b), err, errOut)
		}
		if seen[key] {
			t.Fatalf("keygen printed %s twice", key)
		}
		seen[key] = true
	}
	if _, errOut, code := runCLI(t, "", "", "keygen", "extra"); code != 1 || errOut != "Too many command line arguments.\n" {
		t.Errorf("keygen extra: exit %d, stderr %q", code, errOut)
	}
}

// TestAgentEncryptFlag: -encrypt reaches the config; a bad key stops the
// agent with one line naming encrypt.
func TestAgentEncryptFlag(t *testing.T) {
	const key = "HMzPnmnx4aXEXzpX6Ee0Rw=="
	cfg, _, code, ok, errOut := runBuildConfig(t, "-dev", "-encrypt", key, "-disable-keyring-file")
	if !ok || code != 0 || cfg.EncryptKey != key || !cfg.DisableKeyringFile || !cfg.EncryptVerifyIncoming || !cfg.EncryptVerifyOutgoing {
		t.Fatalf("-encrypt: ok %v code %d cfg %+v stderr %q", ok, code, cfg, errOut)
	}
	for key, want := range map[string]string{
		"bad!":             "config: encrypt has invalid key: illegal base64 data at input byte 3\n",
		"c2hvcnQga2V5Cg==": "config: encrypt has invalid key: key size must be 16, 24 or 32 bytes, got 10\n",
	} {
		_, _, code, ok, errOut := runBuildConfig(t, "-dev", "-encrypt", key)
		if ok || code != 1 || errOut != want {
			t.Errorf("-encrypt %s: ok %v code %d stderr %q, want %q", key, ok, code, errOut, want)
		}
	}
	conf := writeAgentConf(t, t.TempDir(), "enc.json", `{"encrypt": "bad!", "encrypt_verify_incoming": false}`)
	if _, _, code, _, errOut := runBuildConfig(t, "-dev", "-config-file", conf); code != 1 || !strings.HasPrefix(errOut, "config: encrypt has invalid key") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("encrypt in a file: exit %d, stderr %q", code, errOut)
	}
}

// TestKeyringCommand runs `consulx keyring` and `consulx join` against
// running agents (an encrypted server and client, an agent without the
// key) and checks Consul's output, exit codes and one-line errors.
func TestKeyringCommand(t *testing.T) {
	const k1, k2 = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=", "HMzPnmnx4aXEXzpX6Ee0Rw=="
	scfg := testcluster.Config(t, "s1", true, 1)
	scfg.EncryptKey = k1
	ccfg := testcluster.Config(t, "c1", false, 0)
	ccfg.EncryptKey = k1
	srv, cl := testcluster.Start(t, scfg), testcluster.Start(t, ccfg)
	if _, err := cl.Running.Agent.Join([]string{srv.SerfAddr()}, false); err != nil {
		t.Fatal(err)
	}
	testcluster.Of(t, []*testcluster.Agent{srv}, []*testcluster.Agent{cl}).WaitLeader(15 * time.Second)
	addr := cl.HTTPAddr()

	check := func(wantOut, wantErr string, wantCode int, args ...string) {
		t.Helper()
		out, errOut, code := runCLI(t, addr, "", args...)
		if out != wantOut || errOut != wantErr || code != wantCode {
			t.Errorf("%v: exit %d\nstdout %q\nstderr %q\nwant exit %d\nstdout %q\nstderr %q", args, code, out, errOut, wantCode, wantOut, wantErr)
		}
	}
	check("==> Gathering installed encryption keys...\n\nWAN:\n  "+k1+" [1/1]\n\ndc1 (LAN):\n  "+k1+" [2/2]\n", "", 0, "keyring", "-list")
	check("==> Installing new gossip encryption key...\n", "", 0, "keyring", "-install", k2)
	check("==> Gathering installed encryption keys...\n\ndc1 (LAN):\n  "+k2+" [2/2]\n  "+k1+" [2/2]\n", "", 0, "keyring", "-list", "-local-only")
	check("==> Gathering installed primary encryption keys...\n\nWAN:\n  "+k1+" [1/1]\n\ndc1 (LAN):\n  "+k1+" [2/2]\n", "", 0, "keyring", "-list-primary")
	check("==> Removing gossip encryption key...\n",
		"error: Unexpected response code: 500 (WAN: 1/1 nodes reported failure (s1.dc1: removing the primary key is not allowed); dc1 (LAN): 2/2 nodes reported failure (c1, s1: removing the primary key is not allowed))\n",
		1, "keyring", "-remove", k1)
	check("==> Installing new gossip encryption key...\n", "error: Unexpected response code: 500 (Invalid key: illegal base64 data at input byte 3)\n", 1, "keyring", "-install", "bad!")
	check("", "Only a single action is allowed\n", 1, "keyring", "-list", "-install", k2)
	check("", "Error validating local-only: local-only can only be set for list requests\n", 1, "keyring", "-use", k2, "-local-only")
	check("", "Error parsing relay factor: Relay factor must be in range: [0, 5]\n", 1, "keyring", "-list", "-relay-factor", "6")
	if out, errOut, code := runCLI(t, addr, "", "keyring"); code != 1 || out != "" || !strings.HasPrefix(errOut, "Usage: consulx keyring [options]") {
		t.Errorf("keyring without an action: exit %d stdout %q stderr %q", code, out, errOut)
	}
	out, _, code := runCLI(t, addr, "", "keyring", "-list", "-format=json")
	if code != 0 || !strings.HasPrefix(out, "[\n    {\n        \"WAN\": true,") || !strings.Contains(out, `"`+k2+`": 2`) {
		t.Errorf("keyring -list -format=json: exit %d\n%s", code, out)
	}

	// An agent without the key: the join fails, saying why, in one line.
	plain := testcluster.Start(t, testcluster.Config(t, "plain", false, 0))
	out, errOut, code := runCLI(t, plain.HTTPAddr(), "", "join", srv.SerfAddr())
	wantErr := "Error joining address '" + srv.SerfAddr() + "': Unexpected response code: 500 (failed to join " + srv.SerfAddr() +
		": the agent there uses gossip encryption and this agent has no key: set encrypt to the cluster's key (remote state is encrypted and encryption is not configured))\nFailed to join any nodes.\n"
	if code != 1 || out != "" || errOut != wantErr {
		t.Errorf("join without the key: exit %d stdout %q\nstderr %q\nwant   %q", code, out, errOut, wantErr)
	}
}
