package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"consulx/agentrun"
	"consulx/api"
	"consulx/internal/freeport"
	"consulx/node"
)

// runBenchExec measures remote exec in one process: a server and
// -agents-1 clients on loopback, then (1) fan-out of `true` to every
// agent, end to end through the HTTP API as consulx exec does it, and
// (2) streaming throughput from -stream-nodes nodes to one initiator,
// with the process's heap sampled while it streams.
func runBenchExec(args []string, env *cliEnv) int {
	fs := newFlagSet("bench exec", env)
	agents := fs.Int("agents", 100, "Agents to start in this process (one server, the rest clients)")
	rounds := fs.Int("rounds", 5, "Fan-out jobs to time")
	streamNodes := fs.Int("stream-nodes", 10, "Nodes that stream output in the throughput run (0 skips it)")
	streamBytes := fs.Int("stream-bytes", 20<<20, "Bytes of output each streaming node writes")
	shell := fs.Bool("shell", true, "Run `true` through the nodes' shell (false: run /bin/true directly)")
	cpuProfile := fs.String("cpuprofile", "", "Write a CPU profile of the fan-out jobs to this file")
	logLevel := fs.String("log-level", "off", "Agents' log level on stderr (off, error, warn, info, debug)")
	gossip := fs.String("gossip", "lan", "Gossip timing: lan (memberlist's LAN defaults, as Consul) or fast (loopback profile)")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if *agents < 2 || *rounds < 1 || *streamNodes < 0 || *streamNodes > *agents || *streamBytes < 1 {
		fmt.Fprintln(env.stderr, "bench exec: -agents must be at least 2, -rounds positive, -stream-nodes at most -agents")
		return 1
	}
	if *gossip != "lan" && *gossip != "fast" {
		fmt.Fprintf(env.stderr, "bench exec: -gossip must be lan or fast, not %q\n", *gossip)
		return 1
	}
	dir, err := os.MkdirTemp("", "consulx-bench-exec")
	if err != nil {
		fmt.Fprintln(env.stderr, "bench exec:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ports, err := freeport.Pick(5 * *agents)
	if err != nil {
		fmt.Fprintln(env.stderr, "bench exec: pick ports:", err)
		return 1
	}
	logger := hclog.NewNullLogger()
	if *logLevel != "off" {
		logger = hclog.New(&hclog.LoggerOptions{Level: hclog.LevelFromString(*logLevel), Output: env.stderr})
	}
	running := make([]*agentrun.Running, 0, *agents)
	defer func() {
		var wg sync.WaitGroup
		for _, r := range running {
			wg.Add(1)
			go func() { defer wg.Done(); r.Shutdown() }()
		}
		wg.Wait()
	}()
	start := time.Now()
	serverSerf := ""
	for i := 0; i < *agents; i++ {
		cfg := node.DefaultConfig()
		p := ports[5*i : 5*i+5]
		cfg.NodeName = fmt.Sprintf("bench-%03d", i)
		cfg.BindAddr, cfg.ClientAddr = "127.0.0.1", "127.0.0.1"
		cfg.DataDir = filepath.Join(dir, cfg.NodeName)
		cfg.Ports = node.Ports{HTTP: -1, DNS: -1, SerfLAN: p[2], SerfWAN: p[3], Server: p[4], HTTPS: -1, GRPC: -1, GRPCTLS: -1}
		cfg.DisableRemoteExec = false
		cfg.Timing.FastGossip = *gossip == "fast"
		cfg.RetryInterval = 200 * time.Millisecond
		if i == 0 {
			cfg.Server, cfg.BootstrapExpect = true, 1
			cfg.Ports.HTTP = p[0]
		} else {
			cfg.StartJoin = []string{serverSerf}
		}
		if err := cfg.Finalize(false, false); err != nil {
			fmt.Fprintln(env.stderr, "bench exec: config:", err)
			return 1
		}
		r, err := agentrun.Start(cfg, logger, nil)
		if err != nil {
			fmt.Fprintf(env.stderr, "bench exec: start %s: %v\n", cfg.NodeName, err)
			return 1
		}
		running = append(running, r)
		if i == 0 {
			serverSerf = fmt.Sprintf("127.0.0.1:%d", p[2])
		}
	}
	client := api.NewClient("http://" + running[0].HTTPAddr)
	ctx := context.Background()
	// Every agent must know every other before a fan-out can reach all,
	// and the joins' gossip must have died down: until then their intents
	// fill every gossip packet and delay a user event (a settled cluster
	// has empty queues).
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ok := true
		for _, r := range running {
			alive := 0
			for _, m := range r.Agent.Members(false) {
				if m.Status == 1 {
					alive++
				}
			}
			lan := r.Agent.Stats(ctx)["serf_lan"]
			ok = ok && alive == *agents && lan["intent_queue"] == "0" && lan["event_queue"] == "0"
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(env.stderr, "bench exec: the agents did not all see each other within 2 minutes")
			return 1
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Fprintf(env.stdout, "exec: %d agents up in %.1fs (gossip %s)\n", *agents, time.Since(start).Seconds(), *gossip)

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(env.stderr, "bench exec:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(env.stderr, "bench exec:", err)
			return 1
		}
	}
	var took, firstAcks, lastAcks []time.Duration
	for r := 0; r < *rounds; r++ {
		t0 := time.Now()
		var done api.ExecEvent
		var firstAck, lastAck time.Duration
		types := map[string]int{}
		req := &api.ExecRequest{Command: "true"}
		if !*shell {
			req = &api.ExecRequest{Args: []string{"true"}}
		}
		err := client.Exec(ctx, req, "", func(ev api.ExecEvent) {
			types[ev.Type]++
			if ev.Type == api.ExecAck {
				lastAck = time.Since(t0)
				if firstAck == 0 {
					firstAck = lastAck
				}
			}
			if ev.Type == api.ExecStart {
				types["expected"] = len(ev.Expected)
			}
			if ev.Type == api.ExecDone {
				done = ev
			}
		})
		if done.Acks != *agents {
			fmt.Fprintf(env.stderr, "bench exec: round %d: events %v\n", r, types)
		}
		d := time.Since(t0)
		if err != nil {
			return apiError(env.stderr, "running the fan-out job", err)
		}
		if done.Acks != *agents || done.Exits != *agents {
			fmt.Fprintf(env.stderr, "bench exec: round %d: %d acks, %d exits of %d agents\n", r, done.Acks, done.Exits, *agents)
			return 1
		}
		took, firstAcks, lastAcks = append(took, d), append(firstAcks, firstAck), append(lastAcks, lastAck)
		// Let this job's gossip die down before the next.
		time.Sleep(time.Second)
	}
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	fmt.Fprintf(env.stdout, "fan-out of `true` to %d agents, %d jobs: %s end to end (HTTP request to the done event); first ack %s, last ack %s (the announcement reaching every node, its ack relayed back)\n",
		*agents, *rounds, spread(took), spread(firstAcks), spread(lastAcks))

	if *streamNodes == 0 {
		return 0
	}
	names := make([]string, *streamNodes)
	for i := range names {
		names[i] = fmt.Sprintf("bench-%03d", i)
	}
	// The live heap (as of the last GC) says what streaming holds; heap
	// in use also counts garbage not yet collected (decoded chunks).
	liveHeap := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	runtime.GC()
	heap0 := liveHeap()
	var peak, peakInUse uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak, peakInUse = max(peak, liveHeap()), max(peakInUse, m.HeapInuse)
			}
		}
	}()
	var bytes int64
	var exits int
	t0 := time.Now()
	err = client.Exec(ctx, &api.ExecRequest{
		Command:    fmt.Sprintf("head -c %d /dev/zero", *streamBytes),
		NodeFilter: "^(" + strings.Join(names, "|") + ")$",
		MaxOutput:  *streamBytes,
	}, "", func(ev api.ExecEvent) {
		switch ev.Type {
		case api.ExecOutput:
			bytes += int64(len(ev.Data))
		case api.ExecExit:
			exits++
		}
	})
	d := time.Since(t0)
	close(stop)
	<-sampled
	if err != nil {
		return apiError(env.stderr, "running the streaming job", err)
	}
	if want := int64(*streamNodes) * int64(*streamBytes); bytes != want || exits != *streamNodes {
		fmt.Fprintf(env.stderr, "bench exec: streamed %d bytes from %d nodes, want %d from %d\n", bytes, exits, want, *streamNodes)
		return 1
	}
	mib := float64(bytes) / (1 << 20)
	fmt.Fprintf(env.stdout, "streaming: %.0f MiB from %d nodes to one initiator in %s: %.0f MiB/s aggregate; live heap %.1f MiB before, at most %.1f MiB while streaming (+%.1f MiB; heap in use peaked at %.1f MiB with garbage), all %d agents in this process\n",
		mib, *streamNodes, d.Round(time.Millisecond), mib/d.Seconds(), mb(heap0), mb(peak), mb(peak)-mb(heap0), mb(peakInUse), *agents)
	return 0
}

// spread formats durations as "median M (min A, max B)".
func spread(ds []time.Duration) string {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("median %s (min %s, max %s)", r(s[len(s)/2]), r(s[0]), r(s[len(s)-1]))
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }
