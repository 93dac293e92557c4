package agentrun_test

import (
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"consulx/internal/testcluster"
)

// BenchmarkKVReadThroughClient measures a KV read through a client agent,
// of its own datacenter and of the other one (go test -run x -bench
// KVReadThroughClient ./agentrun); the difference is the WAN hop.
func BenchmarkKVReadThroughClient(b *testing.B) {
	dc1 := testcluster.StartCluster(b, 1, 1)
	dc2 := testcluster.StartClusterIn(b, "dc2", 1, 0)
	if _, err := dc2.Servers[0].Running.Agent.Join([]string{dc1.Servers[0].WANAddr()}, true); err != nil {
		b.Fatal(err)
	}
	cfg := consul.DefaultConfig()
	cfg.Address = dc1.Clients[0].HTTPAddr()
	c, _ := consul.NewClient(cfg)
	kv := c.KV()
	for _, dc := range []string{"dc1", "dc2"} {
		if _, err := kv.Put(&consul.KVPair{Key: "bench/key", Value: []byte("value")}, &consul.WriteOptions{Datacenter: dc}); err != nil {
			b.Fatal(err)
		}
	}
	for _, dc := range []string{"dc1", "dc2"} {
		b.Run(dc, func(b *testing.B) {
			q := &consul.QueryOptions{Datacenter: dc}
			for b.Loop() {
				if p, _, err := kv.Get("bench/key", q); err != nil || p == nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWANJoinSpread measures, for one `join -wan` of dc2's server to
// one of dc1's three, the time until both pools list all four servers
// (the flood join brings dc1's other two).
func BenchmarkWANJoinSpread(b *testing.B) {
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		dc1 := testcluster.StartCluster(b, 3, 0)
		dc2 := testcluster.StartClusterIn(b, "dc2", 1, 0)
		b.StartTimer()
		start := time.Now()
		if _, err := dc2.Servers[0].Running.Agent.Join([]string{dc1.Servers[0].WANAddr()}, true); err != nil {
			b.Fatal(err)
		}
		for {
			full := true
			for _, s := range append(dc1.Servers, dc2.Servers...) {
				alive := 0
				for _, m := range s.Running.Agent.Members(true) {
					if m.Status == 1 {
						alive++
					}
				}
				full = full && alive == 4
			}
			if full {
				break
			}
			if time.Since(start) > 30*time.Second {
				b.Fatal("the WAN pools never held all four servers")
			}
			time.Sleep(5 * time.Millisecond)
		}
		total += time.Since(start)
		b.StopTimer()
		for _, a := range append(dc1.All(), dc2.All()...) {
			a.Running.Shutdown()
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-full-pool")
}
