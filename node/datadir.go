package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// dataDirLockFile is the file in data_dir that an agent holds an flock on
// for as long as it runs; it also carries the holder's PID for the error a
// second agent prints.
const dataDirLockFile = "consulx.lock"

// DataDirInUseError is what New returns when another agent (in this
// process or another) holds the data dir.
type DataDirInUseError struct {
	Dir string
	PID int // 0 when the holder's PID could not be read
}

func (e *DataDirInUseError) Error() string {
	holder := "another agent"
	if e.PID > 0 {
		holder = fmt.Sprintf("another agent (pid %d)", e.PID)
	}
	return fmt.Sprintf("data_dir %s is in use by %s; stop it first or use another data_dir", e.Dir, holder)
}

// dataDirLock is an exclusive flock on data_dir/consulx.lock. Without it a
// second agent on the same dir blocks forever inside raft-wal on the bolt
// metadata lock, printing nothing; with it the second agent fails within
// dataDirLockGrace.
type dataDirLock struct {
	f *os.File
}

// lockDataDir takes the data dir's lock, never blocking on it for longer
// than dataDirLockGrace. flock (not fcntl)
// locks belong to the open file, so a second agent in the same process
// (tests start several) is refused just like one in another process, and
// the kernel drops the lock when the holder dies, even by kill -9.
func lockDataDir(dir string) (*dataDirLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data_dir: %w", err)
	}
	path := filepath.Join(dir, dataDirLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open data_dir lock: %w", err)
	}
	if err := lockWithGrace(f, dataDirLockGrace); err != nil {
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock data_dir %s: %w", dir, err)
		}
		inUse := &DataDirInUseError{Dir: dir}
		// The holder may not have written its PID yet; then it is unknown.
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				inUse.PID = pid
			}
		}
		return nil, inUse
	}
	// The PID is only informative: the flock is what excludes, so a stale
	// PID left by a killed agent is simply overwritten here.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dataDirLock{f: f}, nil
}

// dataDirLockGrace is how long a busy lock is retried: a holder killed a
// moment ago (`kill -9` then the same command at once) may still be
// exiting, and its lock goes with it. Well under the 2 s in which a second
// agent must have failed.
const dataDirLockGrace = 500 * time.Millisecond

// lockWithGrace takes an exclusive flock without ever blocking in the
// kernel, retrying a busy lock until grace has passed.
func lockWithGrace(f *os.File, grace time.Duration) error {
	deadline := time.Now().Add(grace)
	for {
		err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EWOULDBLOCK || time.Now().After(deadline) {
			return err
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// flock retries on EINTR, which a signal arriving at start can cause.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// release drops the lock (nil-safe). The file stays: removing it would let
// a waiting opener lock a file that is no longer the one in the directory.
func (l *dataDirLock) release() {
	if l == nil || l.f == nil {
		return
	}
	_ = flock(l.f, syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}
