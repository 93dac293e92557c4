package freeport

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// TestTwoProcessesNeverShareAPort runs this test binary again as a child
// that picks ports and holds its claim until told to exit, while this
// process picks as well: the two sets must not meet.
func TestTwoProcessesNeverShareAPort(t *testing.T) {
	if os.Getenv("FREEPORT_CHILD") == "1" {
		ports, err := Pick(100)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(ports)
		_, _ = io.ReadAll(os.Stdin) // hold the claim until the parent is done
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestTwoProcessesNeverShareAPort$")
	cmd.Env = append(os.Environ(), "FREEPORT_CHILD=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	theirs := map[int]bool{}
	for _, f := range strings.Fields(strings.Trim(line, "[]\n")) {
		p, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("child said %q", line)
		}
		theirs[p] = true
	}
	if len(theirs) != 100 {
		t.Fatalf("child picked %d distinct ports, want 100: %q", len(theirs), line)
	}
	ours, err := Pick(300)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ours {
		if theirs[p] {
			t.Fatalf("port %d handed to both processes", p)
		}
	}
}
