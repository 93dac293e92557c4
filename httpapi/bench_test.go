package httpapi_test

import (
	"net/http/httptest"
	"testing"

	"github.com/hashicorp/go-hclog"

	"consulx/httpapi"
)

// BenchmarkKVGetHandler measures the handler's own cost of a KV GET (the
// routing, option parsing, the read through the Agent interface, headers
// and the JSON body), without a socket: a fake agent answers the read
// (go test -run x -bench KVGetHandler ./httpapi). The agent's profile
// under load puts net/http's connection work around this (BENCHMARKS.md).
func BenchmarkKVGetHandler(b *testing.B) {
	f := newFake()
	h := httpapi.New(f, hclog.NewNullLogger(), nil)
	req := httptest.NewRequest("GET", "/v1/kv/k", nil)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
		if i++; i%1024 == 0 {
			f.mu.Lock()
			f.reads = f.reads[:0] // the fake records every read
			f.mu.Unlock()
		}
	}
}
