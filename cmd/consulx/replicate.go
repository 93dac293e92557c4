package main

import (
	"context"
	"fmt"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"consulx/node"
	"consulx/replicate"
)

// runReplicate keeps prefixes of another datacenter's KV copied into the
// agent's datacenter, as consul-replicate does (same -prefix syntax, same
// log lines), until interrupted, or once with -once.
func runReplicate(args []string, env *cliEnv) int {
	cmd := newAPICmd("replicate", env)
	var prefixes, excludes stringList
	cmd.fs.Var(&prefixes, "prefix", `Prefix to replicate, "SRC@DC[:DEST]" (repeatable)`)
	cmd.fs.Var(&excludes, "exclude", "Source key prefix not to replicate (repeatable)")
	once := cmd.fs.Bool("once", false, "Replicate each prefix once and exit")
	wait := cmd.fs.String("wait", "", `Quiescence "MIN:MAX": copy once the source has been quiet for MIN (at most MAX after a change)`)
	retry := cmd.fs.Duration("retry", 5*time.Second, "First pause after a failure (doubles up to a minute)")
	logLevel := cmd.fs.String("log-level", "info", "Log level: debug, info, warn, err")
	return cmd.run(args, func(x *cmdRun) int {
		cfg := replicate.Config{Excludes: excludes, Retry: *retry, Once: *once}
		if len(prefixes) == 0 {
			return x.errorf("At least one -prefix is required")
		}
		for _, p := range prefixes {
			pr, err := replicate.ParsePrefix(p)
			if err != nil {
				return x.errorf("%v", err)
			}
			cfg.Prefixes = append(cfg.Prefixes, pr)
		}
		if *wait != "" {
			var err error
			if cfg.WaitMin, cfg.WaitMax, err = replicate.ParseWait(*wait); err != nil {
				return x.errorf("Invalid -wait: %v", err)
			}
		}
		rank := map[string]int{"debug": 0, "trace": 0, "info": 1, "warn": 2, "err": 3, "error": 3}
		min, ok := rank[strings.ToLower(*logLevel)]
		if !ok {
			return x.errorf("Invalid -log-level %q", *logLevel)
		}
		var mu sync.Mutex
		cfg.Logf = func(format string, a ...any) {
			line := fmt.Sprintf(format, a...)
			level := "info"
			if i := strings.Index(line, "["); i == 0 {
				level = strings.ToLower(strings.Trim(line[:strings.Index(line, "]")+1], "[]"))
			}
			if rank[level] < min {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(x.stderr, "%s %s\n", time.Now().Format("2006/01/02 15:04:05"), line)
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		cfg.Logf("[INFO] consulx replicate %s", node.Version)
		if err := replicate.New(x.client, cfg).Run(ctx); err != nil {
			return x.errorf("Error replicating: %v", err)
		}
		return 0
	})
}
