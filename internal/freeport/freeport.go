package freeport

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// low is where picks start; the top is the start of the ephemeral range.
const low = 10000

// blockSize is how many consecutive ports one process claims at a time.
const blockSize = 64

// The process's claimed blocks and where it is in them, under mu.
var (
	mu     sync.Mutex
	blocks []int // first port of each claimed block
	next   int   // index into the ports of the claimed blocks
	locks  []*os.File
)

// Pick returns n distinct ports free for TCP and UDP on 127.0.0.1. The
// ports are held while picking, so one call never returns a port twice,
// and they come from blocks this process has claimed with a lock file,
// so two test binaries running at once never hand out the same port.
func Pick(n int) ([]int, error) {
	mu.Lock()
	defer mu.Unlock()
	var out []int
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	// Every port of the claimed blocks is tried once before claiming a
	// new block; with no block left to claim, the claimed ones are
	// walked again (ports released since are free again).
	for attempts := 0; len(out) < n && attempts < 200*n; attempts++ {
		if next >= len(blocks)*blockSize {
			if err := claimBlock(); err != nil && len(blocks) == 0 {
				return nil, err
			}
			if next >= len(blocks)*blockSize {
				next = 0
			}
		}
		port := blocks[next/blockSize] + next%blockSize
		next++
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			l.Close()
			continue
		}
		closers = append(closers, l.Close, u.Close)
		out = append(out, port)
	}
	if len(out) < n {
		return nil, fmt.Errorf("found only %d of %d free ports on 127.0.0.1", len(out), n)
	}
	return out, nil
}

// claimBlock takes the first block of ports no other process holds: a
// lock file per block in the temporary directory, locked with flock for
// the life of the process (the kernel drops the lock when it exits, even
// on kill -9, so nothing is left to clean up).
func claimBlock() error {
	dir := filepath.Join(os.TempDir(), "consulx-freeport")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("freeport: %v", err)
	}
	high := ephemeralStart()
	for first := low; first+blockSize <= high; first += blockSize {
		if claimed(first) {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(first)+".lock"), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			continue
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		locks = append(locks, f) // kept open: closing it would drop the lock
		blocks = append(blocks, first)
		return nil
	}
	return fmt.Errorf("freeport: every block of %d ports in [%d, %d) is claimed by another process", blockSize, low, high)
}

func claimed(first int) bool {
	for _, b := range blocks {
		if b == first {
			return true
		}
	}
	return false
}

// ephemeralStart is the first port of the kernel's ephemeral range
// (32768 when it cannot be read).
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil && v > low+1000 {
				return v
			}
		}
	}
	return 32768
}
