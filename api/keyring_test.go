package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// TestKeyringClient: each call is Consul's method, body and parameters on
// /v1/operator/keyring; a list decodes; a refusal is a StatusError
// carrying the agent's line.
func TestKeyringClient(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.RequestURI()+" "+string(b))
		mu.Unlock()
		switch {
		case r.URL.Path != "/v1/operator/keyring":
			http.NotFound(w, r)
		case r.Method == http.MethodGet:
			_, _ = io.WriteString(w, `[{"WAN":false,"Datacenter":"dc1","Segment":"","Keys":{"k=":2},"PrimaryKeys":{"k=":2},"NumNodes":2}]`)
		case strings.Contains(string(b), "primary"):
			http.Error(w, "dc1 (LAN): 2/2 nodes reported failure", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	c := NewClient(srv.URL)
	c.Token = ""
	ctx := context.Background()

	rs, err := c.KeyringList(ctx, &KeyringOptions{LocalOnly: true, RelayFactor: 3})
	want := []KeyringResponse{{Datacenter: "dc1", Keys: map[string]int{"k=": 2}, PrimaryKeys: map[string]int{"k=": 2}, NumNodes: 2}}
	if err != nil || !reflect.DeepEqual(rs, want) {
		t.Fatalf("list: %+v %v", rs, err)
	}
	if err := c.KeyringInstall(ctx, "new", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.KeyringUse(ctx, "new", nil); err != nil {
		t.Fatal(err)
	}
	err = c.KeyringRemove(ctx, "primary", nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 500 || strings.TrimSpace(se.Body) != "dc1 (LAN): 2/2 nodes reported failure" {
		t.Fatalf("remove of the primary key: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	wantSeen := []string{
		"GET /v1/operator/keyring?local-only=true&relay-factor=3 ",
		`POST /v1/operator/keyring {"Key":"new"}`,
		`PUT /v1/operator/keyring {"Key":"new"}`,
		`DELETE /v1/operator/keyring {"Key":"primary"}`,
	}
	if !reflect.DeepEqual(seen, wantSeen) {
		t.Errorf("requests %q\nwant %q", seen, wantSeen)
	}
}
