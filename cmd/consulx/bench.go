package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"

	"consulx/api"
)

// benchMode is one `consulx bench` mode.
type benchMode struct {
	name string
	run  func(args []string, env *cliEnv) int
}

// benchModes is the one list of modes: the dispatch, the usage line and
// the synopsis in `consulx -h` all read it, so they cannot drift apart.
func benchModes() []benchMode {
	return []benchMode{
		{"kv-put", func(args []string, env *cliEnv) int { return runBenchKV("kv-put", args, env) }},
		{"kv-get", func(args []string, env *cliEnv) int { return runBenchKV("kv-get", args, env) }},
		{"watch", runBenchWatch},
		{"load", runBenchLoad},
		{"snapshot", runBenchSnapshot},
		{"dns", runBenchDNS},
		{"exec", runBenchExec},
	}
}

func benchModeNames() []string {
	var names []string
	for _, m := range benchModes() {
		names = append(names, m.name)
	}
	return names
}

func runBench(args []string, env *cliEnv) int {
	if len(args) > 0 {
		for _, m := range benchModes() {
			if m.name == args[0] {
				return m.run(args[1:], env)
			}
		}
	}
	fmt.Fprintf(env.stderr, "Usage: consulx bench <%s> [flags] (consulx bench <mode> -h lists the mode's flags)\n", strings.Join(benchModeNames(), "|"))
	return 1
}

// runBenchKV drives a running cluster over HTTP, in the spirit of etcd's
// benchmark tool: N concurrent clients, a fixed count of operations.
func runBenchKV(mode string, args []string, env *cliEnv) int {
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
	seeded := fs.Bool("seeded", false, "kv-get: the keys exist already (bench load with the same -prefix): do not write them first")
	if ok, code := parseFlags(fs, args); !ok {
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
	if mode == "kv-get" && !*seeded {
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
	all := mergeSorted(lat)
	pct := func(q float64) time.Duration { return percentile(all, q) }
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

// runBenchWatch measures blocking-query wake-ups: idle watchers on data
// nobody writes, hot watchers on data that is written -rounds times. With
// -target kv (the default) they watch KV keys; with -target health they
// watch /v1/health/service/<name> as consul-template does, and a write is
// a catalog registration that changes the hot service's check.
// It reports wake latency after the write's acknowledgement, spurious
// wake-ups, and (with -pid) the agent's RSS growth for the watchers.
func runBenchWatch(args []string, env *cliEnv) int {
	fs := newFlagSet("bench watch", env)
	addr := fs.String("http-addr", "127.0.0.1:8500", "Agent HTTP address")
	target := fs.String("target", "kv", "What the watchers watch: kv (keys) or health (/v1/health/service)")
	idle := fs.Int("idle", 1000, "Idle watchers on data that is never written")
	hot := fs.Int("hot", 100, "Watchers on the written data")
	rounds := fs.Int("rounds", 20, "Writes to the hot data")
	pid := fs.Int("pid", 0, "Agent process ID, to report its RSS growth")
	settle := fs.Duration("settle", 0, "Extra time before reading the agent's RSS (lets the Go runtime return a start-up burst's memory)")
	ramp := fs.Int("ramp", 0, "Start idle watchers in batches of this size, 100 ms apart (0: all at once)")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if *idle < 0 || *hot < 1 || *rounds < 1 {
		fmt.Fprintln(env.stderr, "bench watch: -hot and -rounds must be positive, -idle not negative")
		return 1
	}
	if *target != "kv" && *target != "health" {
		fmt.Fprintf(env.stderr, "bench watch: -target must be kv or health, not %q\n", *target)
		return 1
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *idle + *hot + 16, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute}
	hc := &http.Client{Transport: tr}
	base := "http://" + strings.TrimPrefix(*addr, "http://")
	do := func(method, path, body string) (string, error) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		resp, err := hc.Do(req)
		if err != nil {
			return "", err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotFound {
			return "", fmt.Errorf("%s %s: %s", method, path, resp.Status)
		}
		return resp.Header.Get("X-Consul-Index"), nil
	}
	// watchPath is what watcher i watches (-1: the hot data); write changes
	// the hot data for round r.
	watchPath := func(i int) string {
		if i < 0 {
			return "/v1/kv/bench-watch/hot"
		}
		return fmt.Sprintf("/v1/kv/bench-watch/idle/%d", i)
	}
	write := func(r int) (time.Time, error) {
		_, err := do(http.MethodPut, "/v1/kv/bench-watch/hot", strconv.Itoa(r))
		return time.Now(), err
	}
	if *target == "health" {
		register := func(node, svc, output string) error {
			_, err := do(http.MethodPut, "/v1/catalog/register", fmt.Sprintf(`{"Node":%q,"Address":"127.0.0.2","Service":{"ID":%q,"Service":%q,"Port":80},"Check":{"CheckID":"bench-%s","Name":"bench","Status":"passing","ServiceID":%q,"Output":%q}}`,
				node, svc, svc, svc, svc, output))
			return err
		}
		// Idle services live on their own node: a write to the hot node's
		// check must not touch them.
		for i := 0; i < 100; i++ {
			if err := register("bench-idle-node", fmt.Sprintf("bench-idle-%d", i), "idle"); err != nil {
				return apiError(env.stderr, "registering the idle services", err)
			}
		}
		watchPath = func(i int) string {
			if i < 0 {
				return "/v1/health/service/bench-hot"
			}
			return fmt.Sprintf("/v1/health/service/bench-idle-%d", i%100)
		}
		write = func(r int) (time.Time, error) {
			err := register("bench-hot-node", "bench-hot", "round "+strconv.Itoa(r))
			return time.Now(), err
		}
	}
	index := func(path string) (uint64, error) {
		h, err := do(http.MethodGet, path, "")
		if err != nil {
			return 0, err
		}
		return strconv.ParseUint(h, 10, 64)
	}
	if _, err := write(0); err != nil {
		return apiError(env.stderr, "writing the hot data", err)
	}
	rss0 := rssMiB(*pid)
	var spurious atomic.Int64
	stopIdle := make(chan struct{})
	var idleWG sync.WaitGroup
	for i := 0; i < *idle; i++ {
		if *ramp > 0 && i > 0 && i%*ramp == 0 {
			time.Sleep(100 * time.Millisecond)
		}
		key := watchPath(i)
		idleWG.Add(1)
		go func() {
			defer idleWG.Done()
			idx, err := index(key)
			if err != nil {
				return
			}
			for {
				select {
				case <-stopIdle:
					return
				default:
				}
				t0 := time.Now()
				resp, err := hc.Get(fmt.Sprintf("%s%s?index=%d&wait=5m", base, key, idx))
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if time.Since(t0) < 4*time.Minute {
					spurious.Add(1)
				}
			}
		}()
	}
	// Let idle watchers settle before measuring memory.
	time.Sleep(time.Duration(1+*idle/2000) * time.Second)
	rssIdle := rssMiB(*pid)
	if *settle > 0 {
		time.Sleep(*settle)
		rssIdle = rssMiB(*pid)
	}
	var lats []time.Duration
	var mu sync.Mutex
	for r := 1; r <= *rounds; r++ {
		idx, err := index(watchPath(-1))
		if err != nil {
			return apiError(env.stderr, "reading the hot data", err)
		}
		woke := make([]time.Time, *hot)
		var wg sync.WaitGroup
		var started sync.WaitGroup
		for h := 0; h < *hot; h++ {
			wg.Add(1)
			started.Add(1)
			go func(h int) {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s%s?index=%d&wait=30s", base, watchPath(-1), idx), nil)
				started.Done()
				resp, err := hc.Do(req)
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				woke[h] = time.Now()
			}(h)
		}
		started.Wait()
		time.Sleep(200 * time.Millisecond) // watchers reach the server and block
		acked, err := write(r)
		if err != nil {
			return apiError(env.stderr, "writing the hot data", err)
		}
		wg.Wait()
		mu.Lock()
		for _, w := range woke {
			d := w.Sub(acked)
			if d < 0 {
				d = 0 // woke before the writer saw its ack
			}
			lats = append(lats, d)
		}
		mu.Unlock()
	}
	close(stopIdle)
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	p := func(q float64) time.Duration { return percentile(lats, q) }
	fmt.Fprintf(env.stdout, "watch (%s): %d idle + %d hot watchers, %d writes\n", *target, *idle, *hot, *rounds)
	fmt.Fprintf(env.stdout, "wake after ack: p50 %s  p99 %s  max %s\n", p(0.5).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond), p(1).Round(10*time.Microsecond))
	fmt.Fprintf(env.stdout, "spurious wake-ups of idle watchers: %d\n", spurious.Load())
	if *pid > 0 {
		fmt.Fprintf(env.stdout, "agent RSS: %.1f MiB before, %.1f MiB with watchers (+%.1f MiB, %.1f KiB per watcher)\n",
			rss0, rssIdle, rssIdle-rss0, (rssIdle-rss0)*1024/float64(max(1, *idle+*hot)))
	}
	tr.CloseIdleConnections()
	return 0
}

// rssMiB reads a process's resident set size from /proc (0 if unknown).
func rssMiB(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// runBenchLoad writes keys <prefix><i> for i in [-from, -keys) through
// /v1/txn, 64 sets per transaction, to fill an agent quickly (for the
// cost-as-data-grows curve: kv-get -seeded reads them back).
func runBenchLoad(args []string, env *cliEnv) int {
	fs := newFlagSet("bench load", env)
	addr := fs.String("http-addr", "127.0.0.1:8500", "Agent HTTP address")
	keys := fs.Int("keys", 100000, "Load keys up to this count")
	from := fs.Int("from", 0, "First key number (keys below it are already loaded)")
	prefix := fs.String("prefix", "bench/", "Key prefix")
	size := fs.Int("size", 100, "Value size in bytes")
	clients := fs.Int("clients", 8, "Concurrent loaders")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if *keys < 1 || *from < 0 || *from > *keys || *size < 0 || *clients < 1 {
		fmt.Fprintln(env.stderr, "bench load: -keys and -clients must be positive, 0 <= -from <= -keys, -size not negative")
		return 1
	}
	t0 := time.Now()
	if err := loadKeys(*addr, *prefix, *from, *keys, *size, *clients); err != nil {
		return apiError(env.stderr, "loading keys", err)
	}
	fmt.Fprintf(env.stdout, "loaded keys %d..%d of %d B in %s\n", *from, *keys-1, *size, time.Since(t0).Round(time.Millisecond))
	return 0
}

// loadKeys writes keys <prefix><i>, from <= i < to, with values of size
// bytes through /v1/txn from clients concurrent loaders. 64 operations
// per transaction: within Consul's limit too, so the same load runs
// against both.
func loadKeys(addr, prefix string, from, to, size, clients int) error {
	base := "http://" + strings.TrimPrefix(addr, "http://")
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients + 4}}
	value := base64Value(size)
	const perTxn = 64
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	var failed atomic.Value
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for failed.Load() == nil {
				start := int(next.Add(perTxn)) - perTxn
				if start >= to {
					return
				}
				var b strings.Builder
				b.WriteByte('[')
				for i := start; i < min(start+perTxn, to); i++ {
					if i > start {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"KV":{"Verb":"set","Key":"%s%d","Value":"%s"}}`, prefix, i, value)
				}
				b.WriteByte(']')
				req, _ := http.NewRequest(http.MethodPut, base+"/v1/txn", strings.NewReader(b.String()))
				resp, err := hc.Do(req)
				if err == nil {
					body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("txn: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
					}
				}
				if err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	err, _ := failed.Load().(error)
	return err
}

// runBenchSnapshot loads -keys keys through /v1/txn (none with -keys 0:
// the agent holds its data already), then times a snapshot save and a
// restore of it through the HTTP API.
func runBenchSnapshot(args []string, env *cliEnv) int {
	fs := newFlagSet("bench snapshot", env)
	addr := fs.String("http-addr", "127.0.0.1:8500", "Agent HTTP address")
	keys := fs.Int("keys", 100000, "Keys to load before the snapshot (0: none)")
	size := fs.Int("size", 100, "Value size in bytes")
	clients := fs.Int("clients", 8, "Concurrent loaders")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if *keys < 0 || *size < 0 || *clients < 1 {
		fmt.Fprintln(env.stderr, "bench snapshot: -keys must not be negative, -clients must be positive")
		return 1
	}
	if *keys > 0 {
		t0 := time.Now()
		if err := loadKeys(*addr, "snap/", 0, *keys, *size, *clients); err != nil {
			return apiError(env.stderr, "loading keys", err)
		}
		fmt.Fprintf(env.stdout, "loaded %d keys of %d B in %s\n", *keys, *size, time.Since(t0).Round(time.Millisecond))
	}
	c := api.NewClient(*addr)
	var archive bytes.Buffer
	t1 := time.Now()
	idx, err := c.SnapshotSave(context.Background(), false, &archive)
	if err != nil {
		return apiError(env.stderr, "saving snapshot", err)
	}
	save := time.Since(t1)
	t2 := time.Now()
	if err := c.SnapshotRestore(context.Background(), bytes.NewReader(archive.Bytes())); err != nil {
		return apiError(env.stderr, "restoring snapshot", err)
	}
	restore := time.Since(t2)
	fmt.Fprintf(env.stdout, "snapshot save: %s (%d bytes, index %d)\nsnapshot restore: %s\n", save.Round(time.Millisecond), archive.Len(), idx, restore.Round(time.Millisecond))
	return 0
}

func base64Value(n int) string {
	raw := make([]byte, n)
	for i := range raw {
		raw[i] = byte('a' + i%26)
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// runBenchDNS sends DNS queries over UDP from -clients concurrent clients.
func runBenchDNS(args []string, env *cliEnv) int {
	fs := newFlagSet("bench dns", env)
	addr := fs.String("addr", "127.0.0.1:8600", "DNS server address")
	name := fs.String("name", "consul.service.consul", "Name to query")
	qtype := fs.String("type", "A", "Query type (A, AAAA, SRV)")
	clients := fs.Int("clients", 16, "Concurrent clients")
	duration := fs.Duration("duration", 5*time.Second, "How long to run")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	qt, ok := mdns.StringToType[strings.ToUpper(*qtype)]
	if !ok || *clients < 1 {
		fmt.Fprintln(env.stderr, "bench dns: unknown -type or -clients < 1")
		return 1
	}
	var errs atomic.Int64
	lat := make([][]time.Duration, *clients)
	deadline := time.Now().Add(*duration)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			conn, err := mdns.Dial("udp", *addr)
			if err != nil {
				errs.Add(1)
				return
			}
			defer conn.Close()
			m := new(mdns.Msg)
			m.SetQuestion(mdns.Fqdn(*name), qt)
			for time.Now().Before(deadline) {
				t0 := time.Now()
				m.Id = mdns.Id()
				_ = conn.SetDeadline(t0.Add(2 * time.Second))
				if err := conn.WriteMsg(m); err != nil {
					errs.Add(1)
					continue
				}
				r, err := conn.ReadMsg()
				if err != nil || r.Rcode != mdns.RcodeSuccess {
					errs.Add(1)
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := mergeSorted(lat)
	if len(all) == 0 {
		fmt.Fprintf(env.stderr, "bench dns: no successful queries (%d errors)\n", errs.Load())
		return 1
	}
	p := func(q float64) time.Duration { return percentile(all, q) }
	fmt.Fprintf(env.stdout, "dns %s %s: %d queries, %d errors, %d clients in %s\n", *qtype, *name, len(all), errs.Load(), *clients, elapsed.Round(time.Millisecond))
	fmt.Fprintf(env.stdout, "throughput: %.0f queries/s\n", float64(len(all))/elapsed.Seconds())
	fmt.Fprintf(env.stdout, "latency: p50 %s  p99 %s  max %s\n", p(0.5).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond), p(1).Round(10*time.Microsecond))
	return 0
}

// mergeSorted joins per-client latencies into one sorted slice.
func mergeSorted(lat [][]time.Duration) []time.Duration {
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return all
}

// percentile of a sorted slice (0 when empty).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*q))]
}
