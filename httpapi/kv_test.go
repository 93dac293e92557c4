package httpapi_test

// End-to-end tests of the /v1/kv HTTP endpoint against a real single-server
// agent on 127.0.0.1. The contract is consul-behaviour.md §1.1–1.7, §1.11
// and Appendix D (items 1, 2, 6, 7, 8). Raw net/http is used wherever status
// codes, headers or exact bodies matter; the official Consul client covers
// the happy paths a real user takes.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"consulx/internal/testcluster"
)

const maxValueSize = 512 * 1024 // limits.kv_max_value_size default

// kvAgent is one running single-server agent plus the two ways to talk to it.
type kvAgent struct {
	base string // http://127.0.0.1:port
	http *http.Client
	api  *consul.Client
}

// startKV starts a single-server agent and waits until it is leader.
// testcluster.Cluster has an unexported testing.TB that WaitLeader uses, so
// it cannot be assembled from outside the package; StartCluster(t, 1, 0)
// starts the server and waits for the leader itself.
func startKV(t *testing.T) *kvAgent {
	t.Helper()
	c := testcluster.StartCluster(t, 1, 0)
	a := c.WaitLeader(10 * time.Second)
	cfg := consul.DefaultConfig()
	cfg.Address = a.HTTPAddr()
	cl, err := consul.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &kvAgent{
		base: "http://" + a.HTTPAddr(),
		http: &http.Client{Timeout: 30 * time.Second},
		api:  cl,
	}
}

// kvPath is the escaped request path of a key.
func kvPath(key string) string {
	return (&url.URL{Path: "/v1/kv/" + key}).EscapedPath()
}

type response struct {
	code   int
	header http.Header
	body   string
}

// do sends one raw request; target is an already escaped path plus query.
func (k *kvAgent) do(t testing.TB, method, target string, body io.Reader) response {
	t.Helper()
	req, err := http.NewRequest(method, k.base+target, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := k.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: string(b)}
}

// mustPut writes key=value (query may be "" or start with "?") and wants 200 "true".
func (k *kvAgent) mustPut(t testing.TB, key string, value []byte, query string) {
	t.Helper()
	r := k.do(t, http.MethodPut, kvPath(key)+query, bytes.NewReader(value))
	if r.code != http.StatusOK || r.body != "true" {
		t.Fatalf("PUT %s%s = %d %q, want 200 \"true\"", key, query, r.code, r.body)
	}
}

// entry mirrors Consul's KVPair wire shape.
type entry struct {
	LockIndex   uint64
	Key         string
	Flags       uint64
	Value       []byte
	CreateIndex uint64
	ModifyIndex uint64
	Session     string
}

// get reads one key with a raw GET; ok is false on 404.
func (k *kvAgent) get(t testing.TB, key string) (e entry, ok bool) {
	t.Helper()
	r := k.do(t, http.MethodGet, kvPath(key), nil)
	switch r.code {
	case http.StatusNotFound:
		return entry{}, false
	case http.StatusOK:
	default:
		t.Fatalf("GET %s = %d %q", key, r.code, r.body)
	}
	var es []entry
	if err := json.Unmarshal([]byte(r.body), &es); err != nil || len(es) != 1 {
		t.Fatalf("GET %s: body %q is not a one-entry array (%v)", key, r.body, err)
	}
	return es[0], true
}

// storeState is the whole store as GET /v1/kv/?recurse shows it, with the
// table index: equal states mean nothing was written.
func (k *kvAgent) storeState(t testing.TB) string {
	t.Helper()
	r := k.do(t, http.MethodGet, "/v1/kv/?recurse", nil)
	if r.code != http.StatusOK && r.code != http.StatusNotFound {
		t.Fatalf("GET /v1/kv/?recurse = %d %q", r.code, r.body)
	}
	return fmt.Sprintf("%d index=%s %s", r.code, r.header.Get("X-Consul-Index"), r.body)
}

// keysOf lists every key in the store.
func (k *kvAgent) keysOf(t testing.TB, prefix string) []string {
	t.Helper()
	keys, _, err := k.api.KV().Keys(prefix, "", nil)
	if err != nil {
		t.Fatalf("keys %q: %v", prefix, err)
	}
	return keys
}

func headerIndex(t testing.TB, h http.Header) uint64 {
	t.Helper()
	v := h.Get("X-Consul-Index")
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("X-Consul-Index %q is not a uint64: %v", v, err)
	}
	return n
}

func checkReadHeaders(t testing.TB, r response) {
	t.Helper()
	if idx := headerIndex(t, r.header); idx < 1 {
		t.Errorf("X-Consul-Index = %d, want >= 1", idx)
	}
	if v := r.header.Get("X-Consul-KnownLeader"); v != "true" {
		t.Errorf("X-Consul-KnownLeader = %q, want \"true\"", v)
	}
	if v := r.header.Get("X-Consul-LastContact"); v != "0" {
		t.Errorf("X-Consul-LastContact = %q, want \"0\" (the leader answered)", v)
	}
}

func checkJSON(t testing.TB, r response) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
}

// checkOneLine wants a non-empty one-line error body.
func checkOneLine(t testing.TB, body string) {
	t.Helper()
	b := strings.TrimSuffix(body, "\n")
	if b == "" || strings.Contains(b, "\n") {
		t.Errorf("error body %q is not exactly one non-empty line", body)
	}
}

func TestKVPutGetBodyShape(t *testing.T) {
	t.Parallel()
	k := startKV(t)
	cases := []struct {
		name  string
		key   string
		value []byte
		query string
		flags uint64
	}{
		{"plain value", "shape/plain", []byte("hello"), "", 0},
		{"flags", "shape/flags", []byte("v"), "?flags=42", 42},
		{"max uint64 flags", "shape/maxflags", []byte("v"), "?flags=18446744073709551615", 18446744073709551615},
		{"empty value is null", "shape/empty", nil, "", 0},
		{"json-looking value stored as bytes", "shape/json", []byte(`{"a":[1,2]}`), "?flags=7", 7},
		{"folder key", "shape/folder/", nil, "", 0},
		{"own datacenter", "shape/dc1", []byte("x"), "?dc=dc1", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			put := k.do(t, http.MethodPut, kvPath(tc.key)+tc.query, bytes.NewReader(tc.value))
			if put.code != http.StatusOK || put.body != "true" {
				t.Fatalf("PUT = %d %q, want 200 \"true\"", put.code, put.body)
			}
			checkJSON(t, put)

			r := k.do(t, http.MethodGet, kvPath(tc.key), nil)
			if r.code != http.StatusOK {
				t.Fatalf("GET = %d %q", r.code, r.body)
			}
			checkJSON(t, r)
			checkReadHeaders(t, r)
			if !strings.HasPrefix(r.body, "[") {
				t.Errorf("body %q is not a JSON array", r.body)
			}
			var raw []map[string]json.RawMessage
			if err := json.Unmarshal([]byte(r.body), &raw); err != nil || len(raw) != 1 {
				t.Fatalf("body %q: want a one-element JSON array (%v)", r.body, err)
			}
			var fields []string
			for f := range raw[0] {
				fields = append(fields, f)
			}
			sort.Strings(fields)
			want := []string{"CreateIndex", "Flags", "Key", "LockIndex", "ModifyIndex", "Value"}
			if !slices.Equal(fields, want) {
				t.Errorf("fields = %v, want exactly %v (no Session when unlocked)", fields, want)
			}
			wantValue := "null"
			if len(tc.value) > 0 {
				wantValue = strconv.Quote(base64.StdEncoding.EncodeToString(tc.value))
			}
			if got := string(raw[0]["Value"]); got != wantValue {
				t.Errorf("Value = %s, want %s", got, wantValue)
			}
			var es []entry
			if err := json.Unmarshal([]byte(r.body), &es); err != nil {
				t.Fatal(err)
			}
			e := es[0]
			if e.Key != tc.key || e.Flags != tc.flags || e.LockIndex != 0 || e.Session != "" {
				t.Errorf("entry = %+v, want Key %q Flags %d LockIndex 0 no Session", e, tc.key, tc.flags)
			}
			if e.CreateIndex == 0 || e.CreateIndex != e.ModifyIndex {
				t.Errorf("first write: CreateIndex %d ModifyIndex %d, want equal and > 0", e.CreateIndex, e.ModifyIndex)
			}
			if idx := headerIndex(t, r.header); idx != e.ModifyIndex {
				t.Errorf("X-Consul-Index = %d, want the key's ModifyIndex %d", idx, e.ModifyIndex)
			}
		})
	}

	t.Run("rewrite without flags resets them and keeps CreateIndex", func(t *testing.T) {
		k.mustPut(t, "shape/rw", []byte("one"), "?flags=9")
		first, _ := k.get(t, "shape/rw")
		k.mustPut(t, "shape/rw", []byte("two"), "")
		second, ok := k.get(t, "shape/rw")
		if !ok {
			t.Fatal("key vanished")
		}
		if second.Flags != 0 || string(second.Value) != "two" {
			t.Errorf("after rewrite: Flags %d Value %q, want 0 \"two\"", second.Flags, second.Value)
		}
		if second.CreateIndex != first.CreateIndex || second.ModifyIndex <= first.ModifyIndex {
			t.Errorf("indexes first %d/%d, second %d/%d: want same CreateIndex, larger ModifyIndex",
				first.CreateIndex, first.ModifyIndex, second.CreateIndex, second.ModifyIndex)
		}
	})
}

func TestKVCheckAndSet(t *testing.T) {
	t.Parallel()
	k := startKV(t)
	k.mustPut(t, "cas/existing", []byte("orig"), "")
	orig, _ := k.get(t, "cas/existing")
	k.mustPut(t, "cas/moved", []byte("v1"), "")
	stale, _ := k.get(t, "cas/moved")
	k.mustPut(t, "cas/moved", []byte("v2"), "")
	cur, _ := k.get(t, "cas/moved")
	k.mustPut(t, "cas/current", []byte("old"), "")
	current, _ := k.get(t, "cas/current")

	cases := []struct {
		name      string
		key       string
		cas       uint64
		value     string
		wantBody  string
		wantValue string // "" with wantExist false: must not exist
		wantExist bool
	}{
		{"cas=0 on new key creates it", "cas/new", 0, "fresh", "true", "fresh", true},
		{"cas=0 on existing key fails", "cas/existing", 0, "clobber", "false", "orig", true},
		{"stale index fails and keeps value", "cas/moved", stale.ModifyIndex, "clobber", "false", "v2", true},
		{"future index fails", "cas/moved", cur.ModifyIndex + 1000, "clobber", "false", "v2", true},
		{"current index succeeds", "cas/current", current.ModifyIndex, "new", "true", "new", true},
		{"index on missing key fails and creates nothing", "cas/missing", orig.ModifyIndex, "x", "false", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := k.get(t, tc.key)
			r := k.do(t, http.MethodPut, kvPath(tc.key)+"?cas="+strconv.FormatUint(tc.cas, 10), strings.NewReader(tc.value))
			if r.code != http.StatusOK || r.body != tc.wantBody {
				t.Fatalf("PUT ?cas=%d = %d %q, want 200 %q", tc.cas, r.code, r.body, tc.wantBody)
			}
			checkJSON(t, r)
			after, ok := k.get(t, tc.key)
			if ok != tc.wantExist {
				t.Fatalf("key exists = %v, want %v", ok, tc.wantExist)
			}
			if !ok {
				return
			}
			if string(after.Value) != tc.wantValue {
				t.Errorf("value = %q, want %q", after.Value, tc.wantValue)
			}
			if tc.wantBody == "false" && after.ModifyIndex != before.ModifyIndex {
				t.Errorf("failed CAS moved ModifyIndex %d -> %d", before.ModifyIndex, after.ModifyIndex)
			}
		})
	}
}

func TestKVDelete(t *testing.T) {
	t.Parallel()
	k := startKV(t)
	cases := []struct {
		name     string
		seed     []string
		target   func(t *testing.T) string // escaped path + query
		wantBody string
		wantLeft []string // every key in the store afterwards
	}{
		{
			name:     "missing key returns true",
			seed:     []string{"keep"},
			target:   func(*testing.T) string { return kvPath("nothing/here") },
			wantBody: "true",
			wantLeft: []string{"keep"},
		},
		{
			name:     "existing key is deleted",
			seed:     []string{"del/a", "del/ab"},
			target:   func(*testing.T) string { return kvPath("del/a") },
			wantBody: "true",
			wantLeft: []string{"del/ab"},
		},
		{
			name:     "cas=0 on existing key returns false and deletes nothing",
			seed:     []string{"c/x"},
			target:   func(*testing.T) string { return kvPath("c/x") + "?cas=0" },
			wantBody: "false",
			wantLeft: []string{"c/x"},
		},
		{
			name: "stale cas returns false",
			seed: []string{"c/y"},
			target: func(t *testing.T) string {
				e, _ := k.get(t, "c/y")
				k.mustPut(t, "c/y", []byte("again"), "")
				return kvPath("c/y") + "?cas=" + strconv.FormatUint(e.ModifyIndex, 10)
			},
			wantBody: "false",
			wantLeft: []string{"c/y"},
		},
		{
			name: "current cas deletes",
			seed: []string{"c/z", "c/z2"},
			target: func(t *testing.T) string {
				e, _ := k.get(t, "c/z")
				return kvPath("c/z") + "?cas=" + strconv.FormatUint(e.ModifyIndex, 10)
			},
			wantBody: "true",
			wantLeft: []string{"c/z2"},
		},
		{
			name:     "cas on missing key returns true (Consul quirk)",
			seed:     []string{"c/other"},
			target:   func(*testing.T) string { return kvPath("c/gone") + "?cas=5" },
			wantBody: "true",
			wantLeft: []string{"c/other"},
		},
		{
			name:     "recurse deletes by string prefix",
			seed:     []string{"app/re", "app/rec", "app/rec/x", "app/rec2", "app/recz/y", "other"},
			target:   func(*testing.T) string { return kvPath("app/rec") + "?recurse" },
			wantBody: "true",
			wantLeft: []string{"app/re", "other"},
		},
		{
			name:     "recurse on a folder prefix",
			seed:     []string{"f/a", "f/b/c", "f2", "g/f/a"},
			target:   func(*testing.T) string { return kvPath("f/") + "?recurse" },
			wantBody: "true",
			wantLeft: []string{"f2", "g/f/a"},
		},
		{
			name:     "recurse on a missing prefix returns true",
			seed:     []string{"keep"},
			target:   func(*testing.T) string { return kvPath("nope/") + "?recurse" },
			wantBody: "true",
			wantLeft: []string{"keep"},
		},
		{
			name:     "recurse on the empty key deletes everything",
			seed:     []string{"a", "b/c", "d/e/f", "z"},
			target:   func(*testing.T) string { return "/v1/kv/?recurse" },
			wantBody: "true",
			wantLeft: nil,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := k.api.KV().DeleteTree("", nil); err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.seed {
				k.mustPut(t, s, []byte("v:"+s), "")
			}
			target := tc.target(t)
			r := k.do(t, http.MethodDelete, target, nil)
			if r.code != http.StatusOK || r.body != tc.wantBody {
				t.Fatalf("DELETE %s = %d %q, want 200 %q", target, r.code, r.body, tc.wantBody)
			}
			checkJSON(t, r)
			if left := k.keysOf(t, ""); !slices.Equal(left, tc.wantLeft) {
				t.Errorf("keys left = %q, want %q", left, tc.wantLeft)
			}
		})
	}
}

func TestKVReadHeadersAndIndexes(t *testing.T) {
	t.Parallel()
	k := startKV(t)

	t.Run("missing key on a fresh store", func(t *testing.T) {
		r := k.do(t, http.MethodGet, kvPath("missing"), nil)
		if r.code != http.StatusNotFound || r.body != "" {
			t.Fatalf("GET missing = %d %q, want 404 with empty body", r.code, r.body)
		}
		checkReadHeaders(t, r)
	})

	k.mustPut(t, "idx/a", []byte("a"), "")
	a, _ := k.get(t, "idx/a")
	k.mustPut(t, "idx/b", []byte("b"), "")
	b, _ := k.get(t, "idx/b")
	if b.ModifyIndex <= a.ModifyIndex {
		t.Fatalf("second write index %d <= first %d", b.ModifyIndex, a.ModifyIndex)
	}

	cases := []struct {
		name      string
		target    string
		wantCode  int
		wantIndex func() uint64
	}{
		{"single key reports its own ModifyIndex", kvPath("idx/a"), 200, func() uint64 { return a.ModifyIndex }},
		{"single key reports its own ModifyIndex (latest)", kvPath("idx/b"), 200, func() uint64 { return b.ModifyIndex }},
		{"missing key reports the table index", kvPath("idx/zzz"), 404, func() uint64 { return b.ModifyIndex }},
		{"missing key with raw", kvPath("idx/zzz") + "?raw", 404, func() uint64 { return b.ModifyIndex }},
		{"recurse reports the highest index under the prefix", kvPath("idx/") + "?recurse", 200, func() uint64 { return b.ModifyIndex }},
		{"keys reports the highest index under the prefix", kvPath("idx/") + "?keys", 200, func() uint64 { return b.ModifyIndex }},
		{"stale read", kvPath("idx/a") + "?stale", 200, func() uint64 { return a.ModifyIndex }},
		{"consistent read", kvPath("idx/a") + "?consistent", 200, func() uint64 { return a.ModifyIndex }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := k.do(t, http.MethodGet, tc.target, nil)
			if r.code != tc.wantCode {
				t.Fatalf("GET %s = %d %q, want %d", tc.target, r.code, r.body, tc.wantCode)
			}
			if tc.wantCode == 404 && r.body != "" {
				t.Errorf("404 body = %q, want empty", r.body)
			}
			checkReadHeaders(t, r)
			if got, want := headerIndex(t, r.header), tc.wantIndex(); got != want {
				t.Errorf("X-Consul-Index = %d, want %d", got, want)
			}
		})
	}

	t.Run("a delete moves the 404 index forward", func(t *testing.T) {
		if _, err := k.api.KV().Delete("idx/b", nil); err != nil {
			t.Fatal(err)
		}
		r := k.do(t, http.MethodGet, kvPath("idx/zzz"), nil)
		if r.code != 404 {
			t.Fatalf("GET = %d", r.code)
		}
		checkReadHeaders(t, r)
		if got := headerIndex(t, r.header); got <= b.ModifyIndex {
			t.Errorf("404 X-Consul-Index after delete = %d, want > %d", got, b.ModifyIndex)
		}
		root := k.do(t, http.MethodGet, "/v1/kv/?recurse", nil)
		if got, want := headerIndex(t, r.header), headerIndex(t, root.header); got != want {
			t.Errorf("404 X-Consul-Index = %d, table index (root listing) = %d", got, want)
		}
	})
}

func TestKVListingPrefixSemantics(t *testing.T) {
	t.Parallel()
	k := startKV(t)

	t.Run("empty store", func(t *testing.T) {
		r := k.do(t, http.MethodGet, "/v1/kv/?keys", nil)
		if r.code != 200 || r.body != "[]" {
			t.Errorf("GET /v1/kv/?keys on empty store = %d %q, want 200 \"[]\"", r.code, r.body)
		}
		checkJSON(t, r)
		checkReadHeaders(t, r)
		r = k.do(t, http.MethodGet, "/v1/kv/?keys&separator=/", nil)
		if r.code != 200 || r.body != "[]" {
			t.Errorf("GET /v1/kv/?keys&separator=/ on empty store = %d %q, want 200 \"[]\"", r.code, r.body)
		}
		r = k.do(t, http.MethodGet, "/v1/kv/?recurse", nil)
		if r.code != 404 || r.body != "" {
			t.Errorf("GET /v1/kv/?recurse on empty store = %d %q, want 404 empty", r.code, r.body)
		}
		checkReadHeaders(t, r)
	})

	for _, key := range []string{"app/re", "app/rec", "app/rec/x", "app/rec2", "app/recz/y", "other",
		"web/bar", "web/foo", "web/subdir/x", "web/subdir/y/z"} {
		k.mustPut(t, key, []byte(key), "")
	}

	cases := []struct {
		name      string
		target    string
		wantCode  int
		wantKeys  []string // ?keys: the array; ?recurse: the entries' keys
		isEntries bool
	}{
		{"recurse is a string prefix", kvPath("app/rec") + "?recurse", 200,
			[]string{"app/rec", "app/rec/x", "app/rec2", "app/recz/y"}, true},
		{"recurse=false still recurses", kvPath("app/rec") + "?recurse=false", 200,
			[]string{"app/rec", "app/rec/x", "app/rec2", "app/recz/y"}, true},
		{"recurse on a folder", kvPath("app/rec/") + "?recurse", 200, []string{"app/rec/x"}, true},
		{"recurse on the root lists everything", "/v1/kv/?recurse", 200,
			[]string{"app/re", "app/rec", "app/rec/x", "app/rec2", "app/recz/y", "other",
				"web/bar", "web/foo", "web/subdir/x", "web/subdir/y/z"}, true},
		{"recurse on a missing prefix", kvPath("nope/") + "?recurse", 404, nil, true},
		{"keys is a string prefix", kvPath("app/rec") + "?keys", 200,
			[]string{"app/rec", "app/rec/x", "app/rec2", "app/recz/y"}, false},
		{"keys with separator collapses folders", kvPath("web/") + "?keys&separator=/", 200,
			[]string{"web/bar", "web/foo", "web/subdir/"}, false},
		{"keys with the historic seperator spelling", kvPath("web/") + "?keys&seperator=/", 200,
			[]string{"web/bar", "web/foo", "web/subdir/"}, false},
		{"keys with separator under a string prefix", kvPath("app/rec") + "?keys&separator=/", 200,
			[]string{"app/rec", "app/rec/", "app/rec2", "app/recz/"}, false},
		{"keys with separator at the root", "/v1/kv/?keys&separator=/", 200,
			[]string{"app/", "other", "web/"}, false},
		{"keys at the root", "/v1/kv/?keys", 200,
			[]string{"app/re", "app/rec", "app/rec/x", "app/rec2", "app/recz/y", "other",
				"web/bar", "web/foo", "web/subdir/x", "web/subdir/y/z"}, false},
		{"keys on a missing non-root prefix", kvPath("nope/") + "?keys", 404, nil, false},
		{"keys with separator on a missing non-root prefix", kvPath("nope/") + "?keys&separator=/", 404, nil, false},
		{"keys wins over recurse", kvPath("web/") + "?keys&recurse&separator=/", 200,
			[]string{"web/bar", "web/foo", "web/subdir/"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := k.do(t, http.MethodGet, tc.target, nil)
			if r.code != tc.wantCode {
				t.Fatalf("GET %s = %d %q, want %d", tc.target, r.code, r.body, tc.wantCode)
			}
			checkReadHeaders(t, r)
			if tc.wantCode == 404 {
				if r.body != "" {
					t.Errorf("404 body = %q, want empty", r.body)
				}
				return
			}
			checkJSON(t, r)
			var got []string
			if tc.isEntries {
				var es []entry
				if err := json.Unmarshal([]byte(r.body), &es); err != nil {
					t.Fatalf("body %q: %v", r.body, err)
				}
				for _, e := range es {
					got = append(got, e.Key)
					if string(e.Value) != e.Key {
						t.Errorf("entry %s has value %q", e.Key, e.Value)
					}
				}
			} else if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatalf("body %q: %v", r.body, err)
			}
			if !slices.Equal(got, tc.wantKeys) {
				t.Errorf("keys = %q, want %q", got, tc.wantKeys)
			}
		})
	}
}

func TestKVRawAndPretty(t *testing.T) {
	t.Parallel()
	k := startKV(t)
	k.mustPut(t, "raw/text", []byte("hello world\n"), "")
	k.mustPut(t, "raw/html", []byte("<script>alert(1)</script>"), "")
	k.mustPut(t, "raw/empty", nil, "")
	k.mustPut(t, "raw/bin", []byte{0, 1, 2, 0xff, 0xfe}, "?flags=3")

	rawCases := []struct {
		name string
		key  string
		want string
	}{
		{"text", "raw/text", "hello world\n"},
		{"html is not sniffed", "raw/html", "<script>alert(1)</script>"},
		{"empty value", "raw/empty", ""},
		{"binary", "raw/bin", "\x00\x01\x02\xff\xfe"},
	}
	for _, tc := range rawCases {
		t.Run("raw "+tc.name, func(t *testing.T) {
			r := k.do(t, http.MethodGet, kvPath(tc.key)+"?raw", nil)
			if r.code != 200 {
				t.Fatalf("GET ?raw = %d %q", r.code, r.body)
			}
			if r.body != tc.want {
				t.Errorf("body = %q, want %q", r.body, tc.want)
			}
			if ct := r.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type = %q, want text/plain; charset=utf-8", ct)
			}
			if v := r.header.Get("X-Content-Type-Options"); v != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", v)
			}
			if v := r.header.Get("Content-Security-Policy"); v != "sandbox" {
				t.Errorf("Content-Security-Policy = %q, want sandbox", v)
			}
			checkReadHeaders(t, r)
		})
	}

	t.Run("raw is ignored with recurse", func(t *testing.T) {
		r := k.do(t, http.MethodGet, kvPath("raw/")+"?recurse&raw", nil)
		if r.code != 200 {
			t.Fatalf("GET = %d %q", r.code, r.body)
		}
		checkJSON(t, r)
		var es []entry
		if err := json.Unmarshal([]byte(r.body), &es); err != nil || len(es) != 4 {
			t.Errorf("body %q: want a 4-entry JSON array (%v)", r.body, err)
		}
	})

	prettyCases := []struct {
		name   string
		target string
	}{
		{"single key", kvPath("raw/bin")},
		{"recurse", kvPath("raw/") + "?recurse"},
		{"keys", kvPath("raw/") + "?keys"},
		{"keys with separator at the root", "/v1/kv/?keys&separator=/"},
	}
	for _, tc := range prettyCases {
		t.Run("pretty "+tc.name, func(t *testing.T) {
			sep := "?"
			if strings.Contains(tc.target, "?") {
				sep = "&"
			}
			plain := k.do(t, http.MethodGet, tc.target, nil)
			pretty := k.do(t, http.MethodGet, tc.target+sep+"pretty", nil)
			if plain.code != 200 || pretty.code != 200 {
				t.Fatalf("codes %d / %d", plain.code, pretty.code)
			}
			checkJSON(t, pretty)
			var want bytes.Buffer
			if err := json.Indent(&want, []byte(plain.body), "", "    "); err != nil {
				t.Fatalf("plain body %q: %v", plain.body, err)
			}
			want.WriteByte('\n')
			if pretty.body != want.String() {
				t.Errorf("pretty body = %q, want %q (4-space indent + trailing newline)", pretty.body, want.String())
			}
			if !strings.Contains(pretty.body, "\n    ") {
				t.Errorf("pretty body %q is not indented", pretty.body)
			}
		})
	}
}

func TestKVBadRequestsStoreNothing(t *testing.T) {
	t.Parallel()
	k := startKV(t)
	k.mustPut(t, "seed/a", []byte("a"), "?flags=1")
	k.mustPut(t, "seed/b", []byte("b"), "")

	const conflict = "Conflicting flags: "
	cases := []struct {
		name     string
		method   string
		target   string
		body     string
		wantCode int
		wantBody string // prefix
		bug      string // non-empty: known server bug, skip with this text
	}{
		{"GET missing key name", "GET", "/v1/kv/", "", 400, "Missing key name", ""},
		{"GET missing key name with raw", "GET", "/v1/kv/?raw", "", 400, "Missing key name", ""},
		{"PUT missing key name", "PUT", "/v1/kv/", "value", 400, "Missing key name", ""},
		{"PUT missing key name with cas", "PUT", "/v1/kv/?cas=0", "value", 400, "Missing key name", ""},
		{"DELETE missing key name", "DELETE", "/v1/kv/", "", 400, "Missing key name", ""},
		{"DELETE missing key name with cas", "DELETE", "/v1/kv/?cas=0", "", 400, "Missing key name", ""},
		{"PUT cas with acquire", "PUT", kvPath("bad/new") + "?cas=0&acquire=abc", "v", 400, conflict, ""},
		{"PUT cas with release", "PUT", kvPath("seed/a") + "?cas=0&release=abc", "v", 400, conflict, ""},
		{"PUT acquire with release", "PUT", kvPath("bad/new") + "?acquire=a&release=b", "v", 400, conflict, ""},
		{"DELETE recurse with cas", "DELETE", kvPath("seed/") + "?recurse&cas=0", "", 400, conflict, ""},
		{"DELETE root recurse with cas", "DELETE", "/v1/kv/?recurse&cas=5", "", 400, conflict, ""},
		{"PUT malformed flags", "PUT", kvPath("bad/new") + "?flags=abc", "v", 400, "", ""},
		{"PUT negative flags", "PUT", kvPath("bad/new") + "?flags=-1", "v", 400, "", ""},
		{"PUT empty flags", "PUT", kvPath("bad/new") + "?flags=", "v", 400, "", ""},
		{"PUT overflowing flags", "PUT", kvPath("seed/a") + "?flags=18446744073709551616", "v", 400, "", ""},
		{"PUT malformed cas", "PUT", kvPath("bad/new") + "?cas=abc", "v", 400, "", ""},
		{"PUT negative cas", "PUT", kvPath("seed/a") + "?cas=-1", "v", 400, "", ""},
		{"PUT empty cas", "PUT", kvPath("bad/new") + "?cas=", "v", 400, "", ""},
		{"DELETE malformed cas", "DELETE", kvPath("seed/a") + "?cas=abc", "", 400, "", ""},
		{"GET malformed index", "GET", kvPath("seed/a") + "?index=abc", "", 400, "Invalid index", ""},
		{"GET negative index", "GET", kvPath("seed/a") + "?index=-1", "", 400, "Invalid index", ""},
		{"GET wait without unit", "GET", kvPath("seed/a") + "?wait=5", "", 400, "Invalid wait time", ""},
		{"GET malformed wait", "GET", kvPath("seed/a") + "?wait=abc", "", 400, "Invalid wait time", ""},
		{"GET stale with consistent", "GET", kvPath("seed/a") + "?stale&consistent", "", 400,
			"Cannot specify ?stale with ?consistent, conflicting semantics.", ""},
		{"GET recurse stale with consistent", "GET", "/v1/kv/?recurse&stale&consistent", "", 400,
			"Cannot specify ?stale with ?consistent, conflicting semantics.", ""},
		{"PUT key with a leading space", "PUT", kvPath(" lead"), "v", 400, "Invalid key", ""},
		{"PUT key with a trailing space", "PUT", kvPath("trail "), "v", 400, "Invalid key", ""},
		{"PUT key under a folder with a trailing space", "PUT", kvPath("seed/c "), "v", 400, "Invalid key", ""},
		{"GET other datacenter", "GET", kvPath("seed/a") + "?dc=other", "", 500, "No path to datacenter", ""},
		{"PUT other datacenter", "PUT", kvPath("bad/new") + "?dc=other", "v", 500, "No path to datacenter", ""},
		{"DELETE other datacenter", "DELETE", kvPath("seed/a") + "?dc=other", "", 500, "No path to datacenter", ""},
		{"DELETE recurse other datacenter", "DELETE", "/v1/kv/?recurse&dc=other", "", 500, "No path to datacenter", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.bug != "" {
				t.Skip("BUG: " + tc.bug)
			}
			before := k.storeState(t)
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := k.do(t, tc.method, tc.target, body)
			if r.code != tc.wantCode {
				t.Errorf("%s %s = %d %q, want %d", tc.method, tc.target, r.code, r.body, tc.wantCode)
			}
			checkOneLine(t, r.body)
			if !strings.HasPrefix(r.body, tc.wantBody) {
				t.Errorf("body = %q, want prefix %q", r.body, tc.wantBody)
			}
			if after := k.storeState(t); after != before {
				t.Errorf("store changed by a rejected request:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func TestKVMethodNotAllowed(t *testing.T) {
	t.Parallel()
	k := startKV(t)
	k.mustPut(t, "m/a", []byte("a"), "")
	for _, method := range []string{http.MethodPost, http.MethodPatch} {
		for _, target := range []string{kvPath("m/a"), kvPath("m/new"), "/v1/kv/"} {
			t.Run(method+" "+target, func(t *testing.T) {
				before := k.storeState(t)
				r := k.do(t, method, target, strings.NewReader("value"))
				if r.code != http.StatusMethodNotAllowed {
					t.Fatalf("%s %s = %d %q, want 405", method, target, r.code, r.body)
				}
				allow := strings.Split(r.header.Get("Allow"), ",")
				for i := range allow {
					allow[i] = strings.TrimSpace(allow[i])
				}
				sort.Strings(allow)
				if !slices.Equal(allow, []string{"DELETE", "GET", "PUT"}) {
					t.Errorf("Allow = %q, want GET, PUT, DELETE", r.header.Get("Allow"))
				}
				if after := k.storeState(t); after != before {
					t.Errorf("store changed:\nbefore %s\nafter  %s", before, after)
				}
			})
		}
	}
}

// unsized hides a reader's length so the request goes out chunked.
type unsized struct{ r io.Reader }

func (u unsized) Read(p []byte) (int, error) { return u.r.Read(p) }

func TestKVValueSizeLimit(t *testing.T) {
	t.Parallel()
	k := startKV(t)
	k.mustPut(t, "size/existing", []byte("small"), "")

	fill := func(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }
	cases := []struct {
		name     string
		key      string
		size     int
		chunked  bool
		wantCode int
	}{
		{"exactly 512 KiB is accepted", "size/max", maxValueSize, false, 200},
		{"exactly 512 KiB chunked is accepted", "size/max-chunked", maxValueSize, true, 200},
		{"512 KiB + 1 is refused", "size/over", maxValueSize + 1, false, 413},
		{"512 KiB + 1 chunked is refused", "size/over-chunked", maxValueSize + 1, true, 413},
		{"1 MiB is refused", "size/big", 2 * maxValueSize, false, 413},
		{"over the limit does not overwrite an existing key", "size/existing", maxValueSize + 1, false, 413},
		{"over the limit with cas does not create", "size/cas", maxValueSize + 1, false, 413},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := k.storeState(t)
			val := fill(tc.size)
			var body io.Reader = bytes.NewReader(val)
			if tc.chunked {
				body = unsized{bytes.NewReader(val)}
			}
			target := kvPath(tc.key)
			if strings.Contains(tc.name, "cas") {
				target += "?cas=0"
			}
			r := k.do(t, http.MethodPut, target, body)
			if r.code != tc.wantCode {
				t.Fatalf("PUT %d bytes = %d %q, want %d", tc.size, r.code, r.body, tc.wantCode)
			}
			if tc.wantCode == 200 {
				if r.body != "true" {
					t.Errorf("body = %q, want true", r.body)
				}
				got := k.do(t, http.MethodGet, kvPath(tc.key)+"?raw", nil)
				if got.code != 200 || got.body != string(val) {
					t.Errorf("GET ?raw = %d with %d bytes, want 200 with %d bytes", got.code, len(got.body), len(val))
				}
				return
			}
			want := fmt.Sprintf("Request body(%d bytes) too large, max size: %d bytes", tc.size, maxValueSize)
			if !strings.HasPrefix(r.body, want) {
				t.Errorf("body = %q, want prefix %q", r.body, want)
			}
			checkOneLine(t, r.body)
			if after := k.storeState(t); after != before {
				t.Errorf("store changed by a refused PUT:\nbefore %.200s\nafter  %.200s", before, after)
			}
		})
	}
	if e, ok := k.get(t, "size/existing"); !ok || string(e.Value) != "small" {
		t.Errorf("size/existing = %q (exists %v), want \"small\"", e.Value, ok)
	}
}

func TestKVKeyRoundTrip(t *testing.T) {
	t.Parallel()
	k := startKV(t)
	kv := k.api.KV()
	keys := []struct {
		name string
		key  string
	}{
		{"double slash", "a//b"},
		{"triple slash and trailing", "x///y//"},
		{"spaces inside", "with space/x y z"},
		{"percent", "pct/100%"},
		{"percent-encoded looking", "pct/%2F%20%zz"},
		{"unicode", "unicode/日本語/ключ/é"},
		{"emoji", "emoji/😀"},
		{"trailing slash folder", "folder/"},
		{"question mark and hash", "q/what?x=1#frag"},
		{"plus and ampersand", "p/a+b&c=d"},
		{"semicolon and comma", "s/a;b,c"},
		{"dots", "d/../../etc"},
		{"tab and backslash", "t/a\tb\\c"},
	}
	for _, tc := range keys {
		t.Run(tc.name, func(t *testing.T) {
			val := []byte("value of " + tc.key)
			if _, err := kv.Put(&consul.KVPair{Key: tc.key, Value: val, Flags: 5}, nil); err != nil {
				t.Fatalf("Put %q: %v", tc.key, err)
			}
			p, meta, err := kv.Get(tc.key, nil)
			if err != nil || p == nil {
				t.Fatalf("Get %q = %v, %v", tc.key, p, err)
			}
			if p.Key != tc.key || !bytes.Equal(p.Value, val) || p.Flags != 5 {
				t.Errorf("Get %q = key %q value %q flags %d", tc.key, p.Key, p.Value, p.Flags)
			}
			if meta.LastIndex != p.ModifyIndex {
				t.Errorf("LastIndex %d != ModifyIndex %d", meta.LastIndex, p.ModifyIndex)
			}
			// The raw GET of the escaped path sees the same key.
			if e, ok := k.get(t, tc.key); !ok || e.Key != tc.key {
				t.Errorf("raw GET %s = %q (found %v)", kvPath(tc.key), e.Key, ok)
			}
			all := k.keysOf(t, "")
			if !slices.Contains(all, tc.key) {
				t.Errorf("key %q not in the root key list %q", tc.key, all)
			}
			pairs, _, err := kv.List(tc.key, nil)
			if err != nil || len(pairs) == 0 || pairs[0].Key != tc.key {
				t.Errorf("List(%q) = %v, %v", tc.key, pairs, err)
			}
			if _, err := kv.Delete(tc.key, nil); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if p, _, err := kv.Get(tc.key, nil); err != nil || p != nil {
				t.Errorf("after Delete: Get = %v, %v; want nil", p, err)
			}
		})
	}
	t.Run("similar keys stay distinct", func(t *testing.T) {
		distinct := []string{"dup/a/b", "dup/a//b", "dup/a/b/", "dup/a%2Fb", "dup/a b", "dup/a+b"}
		for i, key := range distinct {
			if _, err := kv.Put(&consul.KVPair{Key: key, Value: []byte{byte(i)}}, nil); err != nil {
				t.Fatal(err)
			}
		}
		got := k.keysOf(t, "dup/")
		want := slices.Clone(distinct)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("keys = %q, want %q", got, want)
		}
		for i, key := range distinct {
			p, _, err := kv.Get(key, nil)
			if err != nil || p == nil || !bytes.Equal(p.Value, []byte{byte(i)}) {
				t.Errorf("Get %q = %v, %v; want value %d", key, p, err, i)
			}
		}
	})
}

func TestKVBinaryValues(t *testing.T) {
	t.Parallel()
	k := startKV(t)
	kv := k.api.KV()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	rev := slices.Clone(all)
	slices.Reverse(rev)
	cases := []struct {
		name  string
		value []byte
	}{
		{"all 256 byte values", all},
		{"all 256 byte values reversed", rev},
		{"single NUL", []byte{0}},
		{"trailing NULs", []byte{'a', 0, 0}},
		{"invalid UTF-8", []byte{0xc3, 0x28, 0xff}},
		{"varint-looking prefix", []byte{0x80, 0x80, 0x80, 0x01}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("bin/%d", i)
			if _, err := kv.Put(&consul.KVPair{Key: key, Value: tc.value}, nil); err != nil {
				t.Fatal(err)
			}
			p, _, err := kv.Get(key, nil)
			if err != nil || p == nil {
				t.Fatalf("Get = %v, %v", p, err)
			}
			if !bytes.Equal(p.Value, tc.value) {
				t.Errorf("official client got %x, want %x", p.Value, tc.value)
			}
			r := k.do(t, http.MethodGet, kvPath(key)+"?raw", nil)
			if r.code != 200 || r.body != string(tc.value) {
				t.Errorf("?raw = %d %x, want %x", r.code, r.body, tc.value)
			}
			e, _ := k.get(t, key)
			if !bytes.Equal(e.Value, tc.value) {
				t.Errorf("JSON base64 value %x, want %x", e.Value, tc.value)
			}
			// Raw PUT of the same bytes round-trips too.
			k.mustPut(t, key+"/raw", tc.value, "")
			if e, _ := k.get(t, key+"/raw"); !bytes.Equal(e.Value, tc.value) {
				t.Errorf("raw PUT then GET %x, want %x", e.Value, tc.value)
			}
		})
	}
}

func TestKVOfficialClient(t *testing.T) {
	t.Parallel()
	k := startKV(t)
	kv := k.api.KV()

	t.Run("Put and Get", func(t *testing.T) {
		if _, err := kv.Put(&consul.KVPair{Key: "cfg/db/host", Value: []byte("10.0.0.1"), Flags: 3}, nil); err != nil {
			t.Fatal(err)
		}
		p, meta, err := kv.Get("cfg/db/host", nil)
		if err != nil || p == nil {
			t.Fatalf("Get = %v, %v", p, err)
		}
		if string(p.Value) != "10.0.0.1" || p.Flags != 3 || p.LockIndex != 0 || p.Session != "" || p.CreateIndex != p.ModifyIndex {
			t.Errorf("pair = %+v", p)
		}
		if !meta.KnownLeader || meta.LastIndex != p.ModifyIndex {
			t.Errorf("meta = %+v, want KnownLeader and LastIndex %d", meta, p.ModifyIndex)
		}
		p, meta, err = kv.Get("cfg/none", nil)
		if err != nil || p != nil || meta.LastIndex < 1 {
			t.Errorf("Get missing = %v, %+v, %v; want nil pair, LastIndex >= 1", p, meta, err)
		}
	})

	t.Run("CAS", func(t *testing.T) {
		ok, _, err := kv.CAS(&consul.KVPair{Key: "cfg/cas", Value: []byte("1")}, nil)
		if err != nil || !ok {
			t.Fatalf("CAS create (index 0) = %v, %v", ok, err)
		}
		ok, _, err = kv.CAS(&consul.KVPair{Key: "cfg/cas", Value: []byte("x")}, nil)
		if err != nil || ok {
			t.Fatalf("CAS index 0 on existing = %v, %v; want false", ok, err)
		}
		p, _, _ := kv.Get("cfg/cas", nil)
		ok, _, err = kv.CAS(&consul.KVPair{Key: "cfg/cas", Value: []byte("2"), Flags: 8, ModifyIndex: p.ModifyIndex}, nil)
		if err != nil || !ok {
			t.Fatalf("CAS current = %v, %v", ok, err)
		}
		ok, _, err = kv.CAS(&consul.KVPair{Key: "cfg/cas", Value: []byte("3"), ModifyIndex: p.ModifyIndex}, nil)
		if err != nil || ok {
			t.Fatalf("CAS stale = %v, %v; want false", ok, err)
		}
		q, _, _ := kv.Get("cfg/cas", nil)
		if string(q.Value) != "2" || q.Flags != 8 || q.CreateIndex != p.CreateIndex {
			t.Errorf("after CAS: %+v", q)
		}
	})

	t.Run("DeleteCAS", func(t *testing.T) {
		if _, err := kv.Put(&consul.KVPair{Key: "cfg/dcas", Value: []byte("1")}, nil); err != nil {
			t.Fatal(err)
		}
		p, _, _ := kv.Get("cfg/dcas", nil)
		if _, err := kv.Put(&consul.KVPair{Key: "cfg/dcas", Value: []byte("2")}, nil); err != nil {
			t.Fatal(err)
		}
		ok, _, err := kv.DeleteCAS(&consul.KVPair{Key: "cfg/dcas", ModifyIndex: p.ModifyIndex}, nil)
		if err != nil || ok {
			t.Fatalf("DeleteCAS stale = %v, %v; want false", ok, err)
		}
		ok, _, err = kv.DeleteCAS(&consul.KVPair{Key: "cfg/dcas", ModifyIndex: 0}, nil)
		if err != nil || ok {
			t.Fatalf("DeleteCAS 0 = %v, %v; want false", ok, err)
		}
		q, _, _ := kv.Get("cfg/dcas", nil)
		if q == nil {
			t.Fatal("failed DeleteCAS deleted the key")
		}
		ok, _, err = kv.DeleteCAS(&consul.KVPair{Key: "cfg/dcas", ModifyIndex: q.ModifyIndex}, nil)
		if err != nil || !ok {
			t.Fatalf("DeleteCAS current = %v, %v", ok, err)
		}
		if r, _, _ := kv.Get("cfg/dcas", nil); r != nil {
			t.Errorf("key still there: %+v", r)
		}
	})

	for _, key := range []string{"cfg/web/a", "cfg/web/b", "cfg/web/sub/c", "cfgx", "other/z"} {
		if _, err := kv.Put(&consul.KVPair{Key: key, Value: []byte(key)}, nil); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("Keys", func(t *testing.T) {
		cases := []struct {
			prefix, sep string
			want        []string
		}{
			{"cfg/", "/", []string{"cfg/cas", "cfg/db/", "cfg/web/"}},
			{"cfg/web/", "/", []string{"cfg/web/a", "cfg/web/b", "cfg/web/sub/"}},
			{"cfg", "", []string{"cfg/cas", "cfg/db/host", "cfg/web/a", "cfg/web/b", "cfg/web/sub/c", "cfgx"}},
			{"", "/", []string{"cfg/", "cfgx", "other/"}},
			{"missing/", "", nil},
		}
		for _, tc := range cases {
			got, meta, err := kv.Keys(tc.prefix, tc.sep, nil)
			if err != nil {
				t.Fatalf("Keys(%q, %q): %v", tc.prefix, tc.sep, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Keys(%q, %q) = %q, want %q", tc.prefix, tc.sep, got, tc.want)
			}
			if meta.LastIndex < 1 || !meta.KnownLeader {
				t.Errorf("Keys(%q) meta = %+v", tc.prefix, meta)
			}
		}
	})

	t.Run("List", func(t *testing.T) {
		pairs, meta, err := kv.List("cfg/web/", nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		var maxIdx uint64
		for _, p := range pairs {
			got = append(got, p.Key)
			if string(p.Value) != p.Key {
				t.Errorf("%s = %q", p.Key, p.Value)
			}
			maxIdx = max(maxIdx, p.ModifyIndex)
		}
		if want := []string{"cfg/web/a", "cfg/web/b", "cfg/web/sub/c"}; !slices.Equal(got, want) {
			t.Errorf("List = %q, want %q", got, want)
		}
		if meta.LastIndex != maxIdx {
			t.Errorf("List LastIndex = %d, want highest ModifyIndex %d", meta.LastIndex, maxIdx)
		}
		pairs, meta, err = kv.List("missing/", nil)
		if err != nil || pairs != nil || meta.LastIndex < 1 {
			t.Errorf("List missing = %v, %+v, %v", pairs, meta, err)
		}
	})

	t.Run("DeleteTree", func(t *testing.T) {
		if _, err := kv.DeleteTree("cfg/web/", nil); err != nil {
			t.Fatal(err)
		}
		if got, want := k.keysOf(t, ""), []string{"cfg/cas", "cfg/db/host", "cfgx", "other/z"}; !slices.Equal(got, want) {
			t.Errorf("after DeleteTree(cfg/web/): %q, want %q", got, want)
		}
		if _, err := kv.DeleteTree("cfg", nil); err != nil {
			t.Fatal(err)
		}
		if got, want := k.keysOf(t, ""), []string{"other/z"}; !slices.Equal(got, want) {
			t.Errorf("after DeleteTree(cfg): %q, want %q", got, want)
		}
		if _, err := kv.DeleteTree("", nil); err != nil {
			t.Fatal(err)
		}
		got, _, err := kv.Keys("", "", nil)
		if err != nil || len(got) != 0 {
			t.Errorf("after DeleteTree(\"\"): %q, %v; want empty", got, err)
		}
	})
}

// TestKVBlockingGet is §1.11's last checklist item.
func TestKVBlockingGet(t *testing.T) {
	t.Parallel()
	k := startKV(t)
	k.mustPut(t, "block/key", []byte("v1"), "")
	r := k.do(t, http.MethodGet, kvPath("block/key"), nil)
	idx := headerIndex(t, r.header)

	t.Run("times out after wait with the same index", func(t *testing.T) {
		start := time.Now()
		r := k.do(t, http.MethodGet, kvPath("block/key")+"?index="+strconv.FormatUint(idx, 10)+"&wait=1s", nil)
		took := time.Since(start)
		if r.code != 200 {
			t.Fatalf("GET = %d %q", r.code, r.body)
		}
		if took < 950*time.Millisecond || took > 1500*time.Millisecond {
			t.Errorf("blocking GET with wait=1s returned after %v, want about 1-1.06s", took)
		}
		if got := headerIndex(t, r.header); got != idx {
			t.Errorf("X-Consul-Index = %d, want unchanged %d", got, idx)
		}
	})

	t.Run("a write wakes it early", func(t *testing.T) {
		type result struct {
			r    response
			took time.Duration
		}
		done := make(chan result, 1)
		start := time.Now()
		go func() {
			req, _ := http.NewRequest(http.MethodGet, k.base+kvPath("block/key")+"?index="+strconv.FormatUint(idx, 10)+"&wait=10s", nil)
			resp, err := k.http.Do(req)
			if err != nil {
				done <- result{r: response{code: -1, body: err.Error()}}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			done <- result{r: response{code: resp.StatusCode, header: resp.Header, body: string(b)}, took: time.Since(start)}
		}()
		time.Sleep(300 * time.Millisecond)
		k.mustPut(t, "block/key", []byte("v2"), "")
		res := <-done
		if res.r.code != 200 {
			t.Fatalf("GET = %d %q", res.r.code, res.r.body)
		}
		if res.took < 250*time.Millisecond || res.took > 5*time.Second {
			t.Errorf("blocking GET returned after %v, want soon after the write at ~300ms", res.took)
		}
		if got := headerIndex(t, res.r.header); got <= idx {
			t.Errorf("X-Consul-Index = %d, want > %d", got, idx)
		}
		var es []entry
		if err := json.Unmarshal([]byte(res.r.body), &es); err != nil || len(es) != 1 || string(es[0].Value) != "v2" {
			t.Errorf("body %q, want the new value v2", res.r.body)
		}
	})
}

// TestKVLockedKeyShape checks the fields that only appear while a lock is
// held, and that a plain PUT on a locked key keeps the holder (§1.3, §1.4).
func TestKVLockedKeyShape(t *testing.T) {
	t.Parallel()
	k := startKV(t)
	sid, _, err := k.api.Session().Create(&consul.SessionEntry{Name: "kv-test", TTL: "60s"}, nil)
	if err != nil {
		t.Fatalf("session create: %v", err)
	}
	ok, _, err := k.api.KV().Acquire(&consul.KVPair{Key: "lock/k", Value: []byte("held"), Session: sid}, nil)
	if err != nil || !ok {
		t.Fatalf("acquire = %v, %v", ok, err)
	}
	cases := []struct {
		name    string
		write   func(t *testing.T)
		wantVal string
	}{
		{"after acquire", func(*testing.T) {}, "held"},
		{"plain PUT keeps the holder", func(t *testing.T) { k.mustPut(t, "lock/k", []byte("plain"), "") }, "plain"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.write(t)
			r := k.do(t, http.MethodGet, kvPath("lock/k"), nil)
			if r.code != 200 {
				t.Fatalf("GET = %d %q", r.code, r.body)
			}
			var raw []map[string]json.RawMessage
			if err := json.Unmarshal([]byte(r.body), &raw); err != nil || len(raw) != 1 {
				t.Fatalf("body %q (%v)", r.body, err)
			}
			if got := string(raw[0]["Session"]); got != strconv.Quote(sid) {
				t.Errorf("Session = %s, want %q", got, sid)
			}
			e, _ := k.get(t, "lock/k")
			if e.LockIndex != 1 || string(e.Value) != tc.wantVal {
				t.Errorf("LockIndex %d Value %q, want 1 %q", e.LockIndex, e.Value, tc.wantVal)
			}
		})
	}
	t.Run("release drops Session but keeps LockIndex", func(t *testing.T) {
		ok, _, err := k.api.KV().Release(&consul.KVPair{Key: "lock/k", Session: sid}, nil)
		if err != nil || !ok {
			t.Fatalf("release = %v, %v", ok, err)
		}
		r := k.do(t, http.MethodGet, kvPath("lock/k"), nil)
		if strings.Contains(r.body, `"Session"`) {
			t.Errorf("body %q still has a Session field", r.body)
		}
		if e, _ := k.get(t, "lock/k"); e.LockIndex != 1 {
			t.Errorf("LockIndex = %d, want 1 (never reset by release)", e.LockIndex)
		}
	})
}
