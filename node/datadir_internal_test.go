package node

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// holdLock takes the data dir's flock through a file of its own, as
// another agent would.
func holdLock(t *testing.T, dir string) *os.File {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, dataDirLockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestDataDirLockWaitsForADyingHolder: a holder that lets go within the
// grace (an agent killed a moment ago, still exiting) does not make the
// new agent fail.
func TestDataDirLockWaitsForADyingHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	held := holdLock(t, dir)
	go func() {
		time.Sleep(dataDirLockGrace / 3)
		held.Close()
	}()
	l, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("lock released %s after the attempt began: %v", dataDirLockGrace/3, err)
	}
	defer l.release()
	b, _ := os.ReadFile(filepath.Join(dir, dataDirLockFile))
	if string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Fatalf("lock file holds %q, want our pid", b)
	}
}

// TestDataDirLockGivesUp: a holder that stays is reported after the grace,
// not waited for.
func TestDataDirLockGivesUp(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	holdLock(t, dir)
	start := time.Now()
	_, err := lockDataDir(dir)
	took := time.Since(start)
	var inUse *DataDirInUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("err = %v, want DataDirInUseError", err)
	}
	// Bounded below by the grace; above, only by "it returned".
	if took < dataDirLockGrace {
		t.Fatalf("gave up after %s, before the %s grace", took, dataDirLockGrace)
	}
	if inUse.PID != 0 {
		t.Fatalf("PID %d reported from an empty lock file", inUse.PID)
	}
}
