package httpapi_test

import (
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"consulx/node"
)

func keyringCall(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestKeyringHandler: /v1/operator/keyring's methods become the four
// operations with the body's key and the query's options; what cannot be
// read is a 400 that reaches no pool (Consul's texts); a list is Consul's
// JSON array; a refused operation is a 500 with the agent's one line.
func TestKeyringHandler(t *testing.T) {
	f := newFake()
	_, base := serve(t, f)
	url := base + "/v1/operator/keyring"
	const k = "HMzPnmnx4aXEXzpX6Ee0Rw=="

	f.keyringResp = []node.KeyringResponse{
		{WAN: true, Datacenter: "dc1", Keys: map[string]int{k: 1}, PrimaryKeys: map[string]int{k: 1}, NumNodes: 1},
		{Datacenter: "dc1", Keys: map[string]int{k: 2}, PrimaryKeys: map[string]int{k: 2}, NumNodes: 2},
	}
	code, body := keyringCall(t, http.MethodGet, url+"?relay-factor=2", "")
	want := `[{"WAN":true,"Datacenter":"dc1","Segment":"","Keys":{"` + k + `":1},"PrimaryKeys":{"` + k + `":1},"NumNodes":1},` +
		`{"WAN":false,"Datacenter":"dc1","Segment":"","Keys":{"` + k + `":2},"PrimaryKeys":{"` + k + `":2},"NumNodes":2}]`
	if code != 200 || body != want {
		t.Fatalf("list: %d %s\nwant %s", code, body, want)
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		if code, body := keyringCall(t, m, url, `{"Key":"`+k+`"}`); code != 200 || body != "" {
			t.Errorf("%s: %d %q", m, code, body)
		}
	}
	if code, _ := keyringCall(t, http.MethodGet, url+"?local-only=true", ""); code != 200 {
		t.Errorf("local-only list: %d", code)
	}
	f.mu.Lock()
	got := f.keyringReqs
	f.keyringReqs = nil
	f.mu.Unlock()
	wantReqs := []node.KeyringRequest{
		{Operation: node.KeyringList, RelayFactor: 2},
		{Operation: node.KeyringInstall, Key: k},
		{Operation: node.KeyringUse, Key: k},
		{Operation: node.KeyringRemove, Key: k},
		{Operation: node.KeyringList, LocalOnly: true},
	}
	if !reflect.DeepEqual(got, wantReqs) {
		t.Fatalf("requests %+v\nwant %+v", got, wantReqs)
	}

	for _, tc := range []struct {
		method, query, body string
		code                int
		says                string
	}{
		{http.MethodPost, "", "", 400, "Request decode failed: EOF"},
		{http.MethodDelete, "", "nojson", 400, "Request decode failed: invalid character 'o' in literal null (expecting 'u')"},
		{http.MethodPost, "?local-only=1", `{"Key":"` + k + `"}`, 400, "Invalid use of local-only: local-only can only be set for list requests"},
		{http.MethodGet, "?local-only=yes", "", 400, `Error parsing local-only: strconv.ParseBool: parsing "yes": invalid syntax`},
		{http.MethodGet, "?relay-factor=9", "", 400, "Invalid relay-factor: Relay factor must be in range: [0, 5]"},
		{http.MethodGet, "?relay-factor=x", "", 400, `Error parsing relay factor: strconv.Atoi: parsing "x": invalid syntax`},
		{http.MethodPatch, "", "", 405, "method PATCH not allowed"},
	} {
		code, body := keyringCall(t, tc.method, url+tc.query, tc.body)
		if code != tc.code || strings.TrimSpace(body) != tc.says {
			t.Errorf("%s %s %q: %d %q, want %d %q", tc.method, tc.query, tc.body, code, body, tc.code, tc.says)
		}
	}
	f.mu.Lock()
	if len(f.keyringReqs) != 0 {
		t.Errorf("refused requests reached the agent: %+v", f.keyringReqs)
	}
	f.mu.Unlock()

	f.keyringErr = &node.KeyringError{Msg: "dc1 (LAN): 2/2 nodes reported failure (c1, s1: removing the primary key is not allowed)"}
	if code, body := keyringCall(t, http.MethodDelete, url, `{"Key":"`+k+`"}`); code != 500 || body != f.keyringErr.Error() {
		t.Errorf("refused remove: %d %q", code, body)
	}
}
