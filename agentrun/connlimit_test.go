package agentrun_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"consulx/internal/testcluster"
)

func TestHTTPConnectionsPerClientAreCapped(t *testing.T) {
	cfg := testcluster.Config(t, "capped", true, 1)
	cfg.HTTPMaxConnsPerClient = 3
	a := testcluster.Start(t, cfg)
	testcluster.Of(t, []*testcluster.Agent{a}, nil).WaitLeader(10 * time.Second)
	_, meta, err := a.Client().KVGet(boundedCtx(t), "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Three blocking queries hold three connections...
	for i := 0; i < 3; i++ {
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		go func() {
			resp, err := (&http.Client{Transport: tr, Timeout: httpTimeout()}).Get("http://" + a.HTTPAddr() + "/v1/kv/x?index=" + itoa(meta.LastIndex) + "&wait=5s")
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	// ...so a fourth from the same IP is refused with 429.
	testcluster.Eventually(t, 5*time.Second, func() error {
		resp, err := rawHTTP().Get("http://" + a.HTTPAddr() + "/v1/status/leader")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 429 || !strings.Contains(string(b), "too many concurrent connections") {
			return errStatus(resp.StatusCode)
		}
		return nil
	})
}

type errStatus int

func (e errStatus) Error() string { return "status " + strconv.Itoa(int(e)) }

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestAbandonedBlockingQueriesFreeTheirSlots: clients that hang up while
// parked in a blocking query give their connection slot back at once.
func TestAbandonedBlockingQueriesFreeTheirSlots(t *testing.T) {
	cfg := testcluster.Config(t, "abandon", true, 1)
	cfg.HTTPMaxConnsPerClient = 5
	a := testcluster.Start(t, cfg)
	testcluster.Of(t, []*testcluster.Agent{a}, nil).WaitLeader(10 * time.Second)
	_, meta, err := a.Client().KVGet(boundedCtx(t), "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		conn, err := net.DialTimeout("tcp", a.HTTPAddr(), testcluster.Scaled(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET /v1/kv/x?index=%d&wait=60s HTTP/1.1\r\nHost: x\r\n\r\n", meta.LastIndex)
		time.Sleep(50 * time.Millisecond)
		conn.Close()
	}
	testcluster.Eventually(t, 5*time.Second, func() error {
		resp, err := rawHTTP().Get("http://" + a.HTTPAddr() + "/v1/status/leader")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return errStatus(resp.StatusCode)
		}
		return nil
	})
}
