package node

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestClosedMuxClosesQueuedConnections: a connection routed to the RPC
// queue but never accepted is closed when the server port closes, so its
// sender sees the connection end instead of waiting forever for an answer.
func TestClosedMuxClosesQueuedConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := newMuxListener(ln, ln.Addr(), nil)
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{rpcInternal, 'x'}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(m.rpcCh) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the connection was never routed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	m.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("read on a queued connection after close: %v, want EOF (closed by the server)", err)
	}
	if _, err := (&chanListener{m: m, ch: m.rpcCh}).Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

// TestRPCCallToSilentServerTimesOut: a server that takes a request and
// never answers fails the call after the client timeout (plus the wait a
// blocking query asked for), instead of holding the caller forever.
func TestRPCCallToSilentServerTimesOut(t *testing.T) {
	old := rpcClientTimeout
	rpcClientTimeout = 200 * time.Millisecond
	defer func() { rpcClientTimeout = old }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // read nothing, answer nothing
		}
	}()
	pool := newRPCPool(300*time.Millisecond, nil)
	defer pool.close()
	for _, tc := range []struct {
		args any
		min  time.Duration
	}{
		{&StatusRequest{}, 200 * time.Millisecond},
		{&KVReadRequest{Key: "k", QueryOptions: QueryOptions{MinIndex: 5}}, 500 * time.Millisecond},
	} {
		start := time.Now()
		var reply KVReadResponse
		err := pool.call(context.Background(), ln.Addr().String(), "KV.Read", tc.args, &reply)
		took := time.Since(start)
		if err == nil || took < tc.min || took > 10*time.Second {
			t.Fatalf("%T to a silent server: err %v after %s, want an error after at least %s", tc.args, err, took, tc.min)
		}
	}
}
