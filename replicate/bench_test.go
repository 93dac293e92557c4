package replicate_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"consulx/internal/testcluster"
	"consulx/replicate"
)

// BenchmarkReplicationLag measures the time from the last acknowledged
// write of a burst of 10,000 keys in dc1 to the moment dc2 holds them all
// (go test -run x -bench ReplicationLag -benchtime 3x ./replicate).
func BenchmarkReplicationLag(b *testing.B) {
	dc1 := testcluster.StartCluster(b, 1, 0)
	dc2 := testcluster.StartClusterIn(b, "dc2", 1, 1)
	if _, err := dc2.Servers[0].Running.Agent.Join([]string{dc1.Servers[0].WANAddr()}, true); err != nil {
		b.Fatal(err)
	}
	cfg := consul.DefaultConfig()
	cfg.Address = dc1.Servers[0].HTTPAddr()
	c1, _ := consul.NewClient(cfg)
	cfg.Address = dc2.Clients[0].HTTPAddr()
	c2, _ := consul.NewClient(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = replicate.New(dc2.Clients[0].Client(), replicate.Config{Prefixes: []replicate.Prefix{{Source: "burst/", Datacenter: "dc1", Destination: "burst/"}}, Retry: 100 * time.Millisecond}).Run(ctx)
	}()
	var total time.Duration
	round := 0
	for b.Loop() {
		round++
		for i := 0; i < 10000; i += 64 {
			var ops consul.KVTxnOps
			for k := i; k < min(i+64, 10000); k++ {
				ops = append(ops, &consul.KVTxnOp{Verb: consul.KVSet, Key: fmt.Sprintf("burst/%05d", k), Value: []byte(fmt.Sprint("round ", round))})
			}
			if ok, _, _, err := c1.KV().Txn(ops, nil); err != nil || !ok {
				b.Fatal(err)
			}
		}
		written := time.Now()
		for {
			p, _, err := c2.KV().Get("burst/09999", nil)
			if err == nil && p != nil && string(p.Value) == fmt.Sprint("round ", round) {
				pairs, _, err := c2.KV().List("burst/", nil)
				if err == nil && len(pairs) == 10000 {
					break
				}
			}
			if time.Since(written) > time.Minute {
				b.Fatal("dc2 never caught up")
			}
			time.Sleep(10 * time.Millisecond)
		}
		total += time.Since(written)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-lag")
}
