package node_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"consulx/api"
	"consulx/internal/testcluster"
	"consulx/node"
)

// newOnDir starts node.New on cfg in a goroutine and fails the test when it
// neither returns nor fails within the bound: before the data_dir lock, a
// second agent on a busy dir blocked forever on raft-wal's bolt lock.
func newOnDir(t *testing.T, cfg *node.Config) (*node.Agent, error) {
	t.Helper()
	type result struct {
		a   *node.Agent
		err error
	}
	ch := make(chan result, 1)
	go func() {
		a, err := node.New(cfg, hclog.NewNullLogger())
		ch <- result{a, err}
	}()
	select {
	case r := <-ch:
		if r.a != nil {
			t.Cleanup(r.a.Shutdown)
		}
		return r.a, r.err
	case <-time.After(testcluster.Scaled(2 * time.Second)):
		t.Fatalf("node.New on the busy data_dir %s did not return within %s", cfg.DataDir, testcluster.Scaled(2*time.Second))
		return nil, nil
	}
}

func wantInUse(t *testing.T, err error, dir string) {
	t.Helper()
	var inUse *node.DataDirInUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("second agent on %s: err = %v, want a DataDirInUseError", dir, err)
	}
	if inUse.Dir != dir || inUse.PID != os.Getpid() {
		t.Fatalf("DataDirInUseError{Dir: %q, PID: %d}, want {%q, %d}", inUse.Dir, inUse.PID, dir, os.Getpid())
	}
	msg := err.Error()
	if !strings.Contains(msg, dir) || !strings.Contains(msg, fmt.Sprintf("pid %d", os.Getpid())) || strings.Contains(msg, "\n") {
		t.Fatalf("error %q: want one line naming %s and pid %d", msg, dir, os.Getpid())
	}
}

func kvRoundTrip(t *testing.T, c *api.Client, key, val string) {
	t.Helper()
	testcluster.Eventually(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), testcluster.Scaled(2*time.Second))
		defer cancel()
		if _, err := c.KVPut(ctx, &api.KVPair{Key: key, Value: []byte(val)}, nil); err != nil {
			return err
		}
		p, _, err := c.KVGet(ctx, key, nil)
		if err != nil {
			return err
		}
		if p == nil || string(p.Value) != val {
			return fmt.Errorf("%s = %v, want %q", key, p, val)
		}
		return nil
	})
}

// TestDataDirLockServer: a second server on a data_dir in use is refused at
// once with the holder's PID, the first keeps serving, and once the first
// shuts down an agent restarted in this process on the same dir starts.
func TestDataDirLockServer(t *testing.T) {
	s := testcluster.Start(t, testcluster.Config(t, "s1", true, 1))
	kvRoundTrip(t, s.Client(), "before", "1")

	second := testcluster.Config(t, "s1-again", true, 1)
	second.DataDir = s.Config.DataDir
	_, err := newOnDir(t, second)
	wantInUse(t, err, s.Config.DataDir)

	kvRoundTrip(t, s.Client(), "after", "2")

	// Restart shuts the agent down and starts it again on the same dir:
	// Shutdown must have released the lock.
	s.Restart()
	kvRoundTrip(t, s.Client(), "restarted", "3")
	ctx, cancel := context.WithTimeout(context.Background(), testcluster.Scaled(2*time.Second))
	defer cancel()
	if p, _, err := s.Client().KVGet(ctx, "after", nil); err != nil || p == nil || string(p.Value) != "2" {
		t.Fatalf("after restart, key after = %v (%v), want 2", p, err)
	}
}

// TestDataDirLockClient: client agents with a data_dir hold it too.
func TestDataDirLockClient(t *testing.T) {
	c := testcluster.Start(t, testcluster.Config(t, "c1", false, 0))
	second := testcluster.Config(t, "c1-again", false, 0)
	second.DataDir = c.Config.DataDir
	_, err := newOnDir(t, second)
	wantInUse(t, err, c.Config.DataDir)
	if c.Stopped() {
		t.Fatal("the first client agent stopped")
	}
}

// TestDataDirLockDevNeedsNone: dev agents keep nothing on disk, so two of
// them never contend for a lock.
func TestDataDirLockDevNeedsNone(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"dev-1", "dev-2"} {
		cfg := testcluster.Config(t, name, true, 1)
		cfg.Dev = true
		cfg.DataDir = dir
		if _, err := newOnDir(t, cfg); err != nil {
			t.Fatalf("dev agent %s: %v", name, err)
		}
	}
	if _, err := os.Stat(dir + "/consulx.lock"); !os.IsNotExist(err) {
		t.Fatalf("a dev agent created a lock file in %s (stat: %v)", dir, err)
	}
}
