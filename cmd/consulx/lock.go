package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"consulx/api"
	"consulx/exec"
)

// Flags Consul's lock and semaphore helpers mark their keys with, so that
// consulx and Consul tools recognise each other's locks.
const (
	lockFlagValue      = 0x2ddccbc058a50c18
	semaphoreFlagValue = 0xe0f69a2baa414de0
	lockSessionTTL     = 15 * time.Second
	// killGrace is how long a child gets after SIGTERM before SIGKILL.
	killGrace = 5 * time.Second
)

type lockCmd struct {
	env          *cliEnv
	c            *api.Client
	prefix       string
	limit        int
	timeout      time.Duration
	monitorRetry int
	verbose      bool
	session      string
	ttl          time.Duration
	name         string
	lockDelay    time.Duration
	childExit    bool
	passStdin    bool
}

func (l *lockCmd) logf(format string, args ...any) {
	if l.verbose {
		fmt.Fprintf(l.env.stderr, "lock: "+format+"\n", args...)
	}
}

func runLock(args []string, env *cliEnv) int {
	cmd := newAPICmd("lock", env)
	n := cmd.fs.Int("n", 1, "Number of holders at once (more than 1 makes it a semaphore)")
	name := cmd.fs.String("name", "", "Session name")
	timeout := cmd.fs.Duration("timeout", 0, "Give up acquiring after this long (0: wait forever)")
	monitorRetry := cmd.fs.Int("monitor-retry", 3, "Retries on agent errors while monitoring the lock (1 s apart)")
	childExit := cmd.fs.Bool("child-exit-code", false, "Exit with the child's exit code (Consul exits 2 on any failure)")
	verbose := cmd.fs.Bool("verbose", false, "Explain what the lock is doing")
	passStdin := cmd.fs.Bool("pass-stdin", false, "Give the child our standard input")
	sessionTTL := cmd.fs.Duration("session-ttl", lockSessionTTL, "TTL of the lock's session (consulx extension; the agent's session_ttl_min applies)")
	lockDelay := cmd.fs.Duration("lock-delay", 15*time.Second, "Lock-delay of the lock's session (consulx extension)")
	return cmd.run(args, func(x *cmdRun) int {
		if len(x.args()) < 2 {
			return x.errorf("Key prefix and child command must be specified")
		}
		if *n < 1 {
			return x.errorf("Lock holder limit must be positive")
		}
		l := &lockCmd{env: env, c: x.client, prefix: strings.Trim(x.args()[0], "/"), limit: *n,
			timeout: *timeout, monitorRetry: *monitorRetry, verbose: *verbose,
			name: *name, ttl: *sessionTTL, lockDelay: *lockDelay, childExit: *childExit, passStdin: *passStdin}
		// The lock is held for as long as the child runs: it does not use
		// the command's 30 s context.
		return l.hold(x.args()[1:])
	})
}

// hold takes the lock (or a semaphore slot), runs child while it is held,
// and releases it.
func (l *lockCmd) hold(child []string) int {
	env := l.env
	if l.name == "" {
		l.name = fmt.Sprintf("Consul lock for '%s' at '%s'", strings.Join(child, " "), l.prefix)
	}

	// Signals arriving while we wait for the lock stop the wait.
	sigCh := make(chan os.Signal, 4)
	signal.Notify(sigCh, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigCh)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	behavior := "release"
	if l.limit > 1 {
		behavior = "delete"
	}
	id, err := l.c.SessionCreate(ctx, &api.SessionEntry{Name: l.name, TTL: l.ttl.String(), Behavior: behavior, LockDelay: l.lockDelay})
	if err != nil {
		return apiError(env.stderr, "creating session", err)
	}
	l.session = id
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = l.c.SessionDestroy(cctx, id)
		ccancel()
	}()
	go l.renew(ctx)

	acqCtx := ctx
	if l.timeout > 0 {
		var acqCancel context.CancelFunc
		acqCtx, acqCancel = context.WithTimeout(ctx, l.timeout)
		defer acqCancel()
	}
	acqDone := make(chan error, 1)
	go func() { acqDone <- l.acquire(acqCtx) }()
	select {
	case err = <-acqDone:
	case sig := <-sigCh:
		l.logf("caught %s while waiting for the lock", sig)
		cancel()
		<-acqDone
		fmt.Fprintln(env.stderr, "Shutdown triggered or timeout during lock acquisition")
		return 1
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			fmt.Fprintln(env.stderr, "Shutdown triggered or timeout during lock acquisition")
		} else {
			fmt.Fprintf(env.stderr, "Lock acquisition failed: %v\n", err)
		}
		return 1
	}
	l.logf("lock acquired, starting child")
	defer l.release()

	spec := exec.Spec{
		Args:   exec.Shell(strings.Join(child, " ")),
		Env:    append(os.Environ(), "CONSUL_LOCK_HELD=true"),
		Stdout: os.Stdout, Stderr: os.Stderr,
		// If we are killed outright, the child is told too instead of
		// running on unlocked. (Its own process group comes with exec:
		// signals reach grandchildren that `sh -c` would otherwise orphan.)
		ParentDeathSignal: syscall.SIGTERM,
	}
	if l.passStdin {
		spec.Stdin = os.Stdin
	}
	proc, err := exec.Start(spec)
	if err != nil {
		fmt.Fprintf(env.stderr, "Error running child: %v\n", err)
		return 1
	}
	lost := make(chan struct{})
	go l.monitor(ctx, lost)

	var res exec.Result
	select {
	case <-proc.Done():
		res = proc.Wait()
	case sig := <-sigCh:
		l.logf("forwarding %s to the child", sig)
		res = proc.Stop(sig.(syscall.Signal), killGrace)
	case <-lost:
		fmt.Fprintln(env.stderr, "Lock lost, killing child")
		res = proc.Stop(syscall.SIGTERM, killGrace)
	}
	if code := res.Code(); code != 0 {
		fmt.Fprintf(env.stderr, "Child exited with code %d\n", code)
		if l.childExit {
			return code
		}
	}
	return 0
}

func (l *lockCmd) renew(ctx context.Context) {
	period := l.ttl / 2
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(period):
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s, err := l.c.SessionRenew(rctx, l.session)
		cancel()
		if err == nil && s != nil {
			if ttl, perr := time.ParseDuration(s.TTL); perr == nil && ttl/2 > period {
				period = ttl / 2
			}
		}
	}
}

func (l *lockCmd) lockKey() string { return l.prefix + "/.lock" }

func (l *lockCmd) acquire(ctx context.Context) error {
	if l.limit > 1 {
		return l.acquireSemaphore(ctx)
	}
	var index uint64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, meta, err := l.c.KVGet(ctx, l.lockKey(), &api.QueryOptions{WaitIndex: index, WaitTime: 15 * time.Second})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			l.logf("reading lock: %v", err)
			sleepCtx(ctx, time.Second)
			continue
		}
		if p != nil && p.Flags != lockFlagValue {
			return errors.New("Existing key does not match lock use")
		}
		if p != nil && p.Session != "" && p.Session != l.session {
			index = meta.LastIndex
			continue
		}
		ok, err := l.c.KVAcquire(ctx, &api.KVPair{Key: l.lockKey(), Flags: lockFlagValue, Session: l.session})
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		// Refused without a holder: lock-delay is running; back off.
		l.logf("lock refused (lock-delay), retrying")
		sleepCtx(ctx, time.Second)
		index = 0
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// semaphoreState is the JSON in <prefix>/.lock for a semaphore, Consul's format.
type semaphoreState struct {
	Limit   int
	Holders map[string]bool
}

func (l *lockCmd) contenderKey() string { return l.prefix + "/" + l.session }

func (l *lockCmd) acquireSemaphore(ctx context.Context) error {
	ok, err := l.c.KVAcquire(ctx, &api.KVPair{Key: l.contenderKey(), Flags: semaphoreFlagValue, Session: l.session})
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("failed to make contender entry")
	}
	var index uint64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		pairs, meta, err := l.c.KVList(ctx, l.prefix+"/", &api.QueryOptions{WaitIndex: index, WaitTime: 15 * time.Second})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			sleepCtx(ctx, time.Second)
			continue
		}
		state, lockPair, alive := l.semaphoreView(pairs)
		if state.Limit != l.limit {
			return fmt.Errorf("semaphore limit conflict (lock: %d, local: %d)", state.Limit, l.limit)
		}
		for h := range state.Holders {
			if !alive[h] {
				delete(state.Holders, h) // its contender key is gone: a dead holder
			}
		}
		if state.Holders[l.session] {
			return nil
		}
		if len(state.Holders) < state.Limit {
			state.Holders[l.session] = true
			b, _ := json.Marshal(state)
			var mod uint64
			if lockPair != nil {
				mod = lockPair.ModifyIndex
			}
			ok, err := l.c.KVPut(ctx, &api.KVPair{Key: l.lockKey(), Value: b, Flags: semaphoreFlagValue, ModifyIndex: mod}, &api.WriteOptions{CAS: true})
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
			index = 0
			continue
		}
		index = meta.LastIndex
	}
}

// semaphoreView reads the coordination key and the live contenders.
func (l *lockCmd) semaphoreView(pairs []*api.KVPair) (semaphoreState, *api.KVPair, map[string]bool) {
	state := semaphoreState{Limit: l.limit, Holders: map[string]bool{}}
	alive := map[string]bool{}
	var lockPair *api.KVPair
	for _, p := range pairs {
		switch {
		case p.Key == l.lockKey():
			lockPair = p
			var s semaphoreState
			if json.Unmarshal(p.Value, &s) == nil && s.Limit > 0 {
				state.Limit = s.Limit
				if s.Holders != nil {
					state.Holders = s.Holders
				}
			}
		case p.Session != "":
			alive[p.Session] = true
		}
	}
	return state, lockPair, alive
}

// monitor closes lost when the lock (or semaphore slot) is no longer ours.
func (l *lockCmd) monitor(ctx context.Context, lost chan struct{}) {
	var index uint64
	failures := 0
	for ctx.Err() == nil {
		var held bool
		var meta *api.QueryMeta
		var err error
		q := &api.QueryOptions{WaitIndex: index, WaitTime: 15 * time.Second, Consistent: true}
		if l.limit > 1 {
			var pairs []*api.KVPair
			pairs, meta, err = l.c.KVList(ctx, l.prefix+"/", q)
			state, _, alive := l.semaphoreView(pairs)
			held = state.Holders[l.session] && alive[l.session]
		} else {
			var p *api.KVPair
			p, meta, err = l.c.KVGet(ctx, l.lockKey(), q)
			held = p != nil && p.Session == l.session
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			if failures > l.monitorRetry {
				close(lost)
				return
			}
			sleepCtx(ctx, time.Second)
			continue
		}
		failures = 0
		if !held {
			close(lost)
			return
		}
		index = meta.LastIndex
	}
}

// release gives the lock back and removes the key when nobody waits.
func (l *lockCmd) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if l.limit > 1 {
		for i := 0; i < 5; i++ {
			pairs, _, err := l.c.KVList(ctx, l.prefix+"/", nil)
			if err != nil {
				break
			}
			state, lockPair, _ := l.semaphoreView(pairs)
			if lockPair == nil || !state.Holders[l.session] {
				break
			}
			delete(state.Holders, l.session)
			b, _ := json.Marshal(state)
			if ok, err := l.c.KVPut(ctx, &api.KVPair{Key: l.lockKey(), Value: b, Flags: semaphoreFlagValue, ModifyIndex: lockPair.ModifyIndex}, &api.WriteOptions{CAS: true}); err != nil || ok {
				break
			}
		}
		_, _ = l.c.KVDelete(ctx, l.contenderKey(), nil)
		return
	}
	if ok, err := l.c.KVRelease(ctx, &api.KVPair{Key: l.lockKey(), Flags: lockFlagValue, Session: l.session}); err != nil || !ok {
		return
	}
	if p, _, err := l.c.KVGet(ctx, l.lockKey(), nil); err == nil && p != nil && p.Session == "" {
		idx := p.ModifyIndex
		_, _ = l.c.KVDelete(ctx, l.lockKey(), &idx)
	}
}
