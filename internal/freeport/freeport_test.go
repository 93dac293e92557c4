package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestPickGivesDistinctFreePortsBelowTheEphemeralRange(t *testing.T) {
	ports, err := Pick(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d returned twice", p)
		}
		seen[p] = true
		if p < low || p >= ephemeralStart() {
			t.Fatalf("port %d outside [%d, %d)", p, low, ephemeralStart())
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d is not free for TCP: %v", p, err)
		}
		l.Close()
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d is not free for UDP: %v", p, err)
		}
		u.Close()
	}
}
