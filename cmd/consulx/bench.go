package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"consulx/api"
)

// runBench drives a running cluster over HTTP, in the spirit of etcd's
// benchmark tool: N concurrent clients, a fixed count of operations.
func runBench(args []string, env *cliEnv) int {
	if len(args) == 0 || (args[0] != "kv-put" && args[0] != "kv-get") {
		fmt.Fprintln(env.stderr, "Usage: consulx bench <kv-put|kv-get> [-clients N] [-total N] [-size BYTES] [-keys N] [-http-addr A[,B...]] [-stale|-consistent]")
		return 1
	}
	mode := args[0]
	fs := newFlagSet("bench "+mode, env)
	addrs := fs.String("http-addr", "127.0.0.1:8500", "Comma-separated agent HTTP addresses; clients are spread across them")
	clients := fs.Int("clients", 16, "Concurrent clients")
	total := fs.Int("total", 10000, "Total operations")
	size := fs.Int("size", 128, "Value size in bytes (kv-put)")
	keys := fs.Int("keys", 1000, "Number of distinct keys")
	prefix := fs.String("prefix", "bench/", "Key prefix")
	duration := fs.Duration("duration", 0, "Run for this long instead of -total operations")
	stale := fs.Bool("stale", false, "kv-get: read with ?stale")
	consistent := fs.Bool("consistent", false, "kv-get: read with ?consistent")
	if ok, code := parseFlags(fs, args[1:]); !ok {
		return code
	}
	if *clients < 1 || *total < 1 || *keys < 1 || *size < 0 {
		fmt.Fprintln(env.stderr, "bench: -clients, -total and -keys must be positive, -size not negative")
		return 1
	}
	var cs []*api.Client
	for _, a := range strings.Split(*addrs, ",") {
		cs = append(cs, api.NewClient(strings.TrimSpace(a)))
	}
	value := make([]byte, *size)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	ctx := context.Background()
	if mode == "kv-get" {
		// Seed the keys so every read finds a value.
		for i := 0; i < *keys; i++ {
			if _, err := cs[0].KVPut(ctx, &api.KVPair{Key: fmt.Sprintf("%s%d", *prefix, i), Value: value}, nil); err != nil {
				return apiError(env.stderr, "seeding keys", err)
			}
		}
	}
	q := &api.QueryOptions{Stale: *stale, Consistent: *consistent}
	var next atomic.Int64
	var errs atomic.Int64
	// done records completion times so the longest gap without any
	// successful operation (e.g. across a leader kill) can be reported.
	var doneMu sync.Mutex
	var done []time.Time
	limit := int64(*total)
	var deadline time.Time
	if *duration > 0 {
		limit = 1 << 62
		deadline = time.Now().Add(*duration)
	}
	lat := make([][]time.Duration, *clients)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := cs[w%len(cs)]
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for next.Add(1) <= limit && (deadline.IsZero() || time.Now().Before(deadline)) {
				key := fmt.Sprintf("%s%d", *prefix, r.IntN(*keys))
				t0 := time.Now()
				var err error
				if mode == "kv-put" {
					_, err = c.KVPut(ctx, &api.KVPair{Key: key, Value: value}, nil)
				} else {
					_, _, err = c.KVGet(ctx, key, q)
				}
				if err != nil {
					errs.Add(1)
					continue
				}
				end := time.Now()
				lat[w] = append(lat[w], end.Sub(t0))
				doneMu.Lock()
				done = append(done, end)
				doneMu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(float64(len(all))*p))]
	}
	fmt.Fprintf(env.stdout, "%s: %d ops, %d errors, %d clients, %d B values in %s\n", mode, len(all), errs.Load(), *clients, *size, elapsed.Round(time.Millisecond))
	fmt.Fprintf(env.stdout, "throughput: %.0f ops/s\n", float64(len(all))/elapsed.Seconds())
	fmt.Fprintf(env.stdout, "latency: p50 %s  p90 %s  p99 %s  max %s\n", pct(0.50).Round(10*time.Microsecond), pct(0.90).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), pct(1).Round(10*time.Microsecond))
	sort.Slice(done, func(i, j int) bool { return done[i].Before(done[j]) })
	var gap time.Duration
	for i := 1; i < len(done); i++ {
		gap = max(gap, done[i].Sub(done[i-1]))
	}
	fmt.Fprintf(env.stdout, "longest gap between completed operations: %s\n", gap.Round(time.Millisecond))
	if errs.Load() > 0 && *duration == 0 {
		return 1
	}
	return 0
}
