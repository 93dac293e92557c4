package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// low is where picks start; the top is the start of the ephemeral range.
const low = 10000

var mu sync.Mutex // serialises picks inside one process

// Pick returns n distinct ports free for TCP and UDP on 127.0.0.1. The
// ports are held while picking, so one call never returns a port twice.
func Pick(n int) ([]int, error) {
	mu.Lock()
	defer mu.Unlock()
	high := ephemeralStart()
	var out []int
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	for attempts := 0; len(out) < n && attempts < 200*n; attempts++ {
		port := low + rand.IntN(high-low)
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
