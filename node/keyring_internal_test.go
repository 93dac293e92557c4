package node

import (
	"errors"
	"strings"
	"testing"
)

// TestEncryptConfigErrors: a key that is not base64, or not 16, 24 or 32
// bytes, stops the agent with one line naming encrypt; good keys pass.
func TestEncryptConfigErrors(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"notbase64!!", "config: encrypt has invalid key: illegal base64 data at input byte 9"},
		{"c2hvcnQ=", "config: encrypt has invalid key: key size must be 16, 24 or 32 bytes, got 5"},
		{"pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=", ""},
		{"HMzPnmnx4aXEXzpX6Ee0Rw==", ""},
		{"T9jncgl9mbLus+baTTa7q7nPSUrXwbDi", ""},
	} {
		c := DefaultConfig()
		c.DataDir = "/d"
		c.EncryptKey = tc.key
		err := c.Finalize(false, false)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("encrypt %q: error %q, want %q", tc.key, got, tc.want)
		}
	}
	if c := DefaultConfig(); !c.EncryptVerifyIncoming || !c.EncryptVerifyOutgoing {
		t.Errorf("encrypt_verify_incoming/outgoing default to %v/%v, want true (Consul's)", c.EncryptVerifyIncoming, c.EncryptVerifyOutgoing)
	}
}

// fakeMulti stands for the multierror memberlist returns.
type fakeMulti []error

func (m fakeMulti) Error() string          { return "several errors\n\t* ..." }
func (m fakeMulti) WrappedErrors() []error { return m }

func TestJoinErrorIsOneLineAndExplained(t *testing.T) {
	err := joinError(fakeMulti{
		errors.New("failed to join 10.0.0.1:8301: remote error: no installed keys could decrypt the message"),
		errors.New("failed to join 10.0.0.2:8301: remote error: remote state is encrypted and encryption is not configured"),
		errors.New("failed to join 10.0.0.3:8301: remote error: encryption is configured but remote state is not encrypted"),
		errors.New("failed to join 10.0.0.4:8301: dial tcp 10.0.0.4:8301: connect: connection refused"),
	})
	want := "failed to join 10.0.0.1:8301: gossip encryption key mismatch: the agent there has no key that could decrypt this agent's gossip (remote error: no installed keys could decrypt the message); " +
		"failed to join 10.0.0.2:8301: the agent there does not use gossip encryption and this agent sends encrypted gossip (remote error: remote state is encrypted and encryption is not configured); " +
		"failed to join 10.0.0.3:8301: the agent there requires gossip encryption and this agent sends plain gossip: set encrypt to the cluster's key (remote error: encryption is configured but remote state is not encrypted); " +
		"failed to join 10.0.0.4:8301: dial tcp 10.0.0.4:8301: connect: connection refused"
	if err.Error() != want {
		t.Errorf("got  %q\nwant %q", err, want)
	}
	if joinError(nil) != nil {
		t.Error("joinError(nil) is not nil")
	}
}

// TestKeyringFailureOneLine: failing pools are summed up in one line,
// nodes grouped by what they said, long lists cut.
func TestKeyringFailureOneLine(t *testing.T) {
	if err := keyringFailure([]KeyringResponse{{WAN: true, Datacenter: "dc1"}, {Datacenter: "dc1"}}); err != nil {
		t.Fatalf("no pool failed, got %v", err)
	}
	err := keyringFailure([]KeyringResponse{
		{WAN: true, Datacenter: "dc1", Error: "1/1 nodes reported failure", Messages: map[string]string{"s1.dc1": "removing the primary key is not allowed"}},
		{Datacenter: "dc1", Error: "5/6 nodes reported failure", Messages: map[string]string{
			"s1": "removing the primary key is not allowed", "c1": "removing the primary key is not allowed",
			"c2": "removing the primary key is not allowed", "c3": "removing the primary key is not allowed",
			"c4": "failed to write\nkeyring file",
		}},
		{Datacenter: "dc2", Error: "No path to datacenter"},
	})
	var ke *KeyringError
	if !errors.As(err, &ke) {
		t.Fatalf("got %T %v, want a *KeyringError", err, err)
	}
	want := "WAN: 1/1 nodes reported failure (s1.dc1: removing the primary key is not allowed); " +
		"dc1 (LAN): 5/6 nodes reported failure (c4: failed to write keyring file; c1, c2, c3 and 1 more: removing the primary key is not allowed); " +
		"dc2 (LAN): No path to datacenter"
	if err.Error() != want || strings.ContainsAny(err.Error(), "\r\n") {
		t.Errorf("got  %q\nwant %q", err, want)
	}
}

// TestValidateKeyring: what no pool could do is refused before any query.
func TestValidateKeyring(t *testing.T) {
	for _, tc := range []struct {
		req  KeyringRequest
		want string
	}{
		{KeyringRequest{Operation: KeyringList}, ""},
		{KeyringRequest{Operation: KeyringList, LocalOnly: true}, ""},
		{KeyringRequest{Operation: KeyringInstall, Key: "HMzPnmnx4aXEXzpX6Ee0Rw=="}, ""},
		{KeyringRequest{Operation: "rotate"}, `unknown keyring operation "rotate"`},
		{KeyringRequest{Operation: KeyringUse, Key: "HMzPnmnx4aXEXzpX6Ee0Rw==", LocalOnly: true}, "local-only can only be set for list requests"},
		{KeyringRequest{Operation: KeyringList, RelayFactor: 6}, "Relay factor must be in range: [0, 5]"},
		{KeyringRequest{Operation: KeyringRemove, Key: ""}, "Invalid key: key size must be 16, 24 or 32 bytes, got 0"},
		{KeyringRequest{Operation: KeyringInstall, Key: "x"}, "Invalid key: illegal base64 data at input byte 0"},
	} {
		err := validateKeyring(&tc.req)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.req, got, tc.want)
		}
	}
}
