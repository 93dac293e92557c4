package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestMembersMetaFiltered: the members' answer says when ACLs hid some
// (the console marks its Members pane), and ?wan=1 asks for the WAN pool.
func TestMembersMetaFiltered(t *testing.T) {
	t.Setenv("CONSUL_HTTP_SSL", "")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/agent/members" {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("wan") == "1" {
			w.Header().Set("X-Consul-Results-Filtered-By-ACLs", "true")
		}
		_, _ = w.Write([]byte(`[{"Name":"n1","Addr":"127.0.0.1","Port":8301,"Status":1}]`))
	}))
	defer srv.Close()
	c := NewClient(srv.URL)
	ms, meta, err := c.MembersMeta(t.Context(), false)
	if err != nil || len(ms) != 1 || ms[0].Name != "n1" || meta.ResultsFilteredByACLs {
		t.Fatalf("LAN: %+v %+v %v", ms, meta, err)
	}
	ms, meta, err = c.MembersMeta(t.Context(), true)
	if err != nil || len(ms) != 1 || !meta.ResultsFilteredByACLs {
		t.Fatalf("WAN: %+v %+v %v", ms, meta, err)
	}
	if ms, err := c.Members(t.Context(), true); err != nil || len(ms) != 1 {
		t.Fatalf("Members: %+v %v", ms, err)
	}
}
