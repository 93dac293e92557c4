package agentrun_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"consulx/internal/testcluster"
)

// Every wait in these tests is bounded, so a bug fails its test fast with a
// message naming what hung instead of holding the package until go test's
// timeout (whose goroutine dump does not say which test was stuck).

// httpTimeout bounds one HTTP exchange with an agent. It is above the
// longest blocking-query wait a test asks for (30 s plus the client's
// jitter of wait/16) even unscaled.
func httpTimeout() time.Duration { return testcluster.Scaled(45 * time.Second) }

// rawHTTP is the client for tests' hand-made requests: http.DefaultClient
// would wait forever on an agent that never answers.
func rawHTTP() *http.Client {
	return &http.Client{Transport: &http.Transport{}, Timeout: httpTimeout()}
}

// boundedCtx is a context for one call of the project's own API client,
// cancelled after httpTimeout (or when the test ends).
func boundedCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), httpTimeout())
	t.Cleanup(cancel)
	return ctx
}

// stopAfter returns a stop channel (for the official client's Lock and
// Semaphore.Acquire) that closes after d, scaled.
func stopAfter(t *testing.T, d time.Duration) chan struct{} {
	stop := make(chan struct{})
	timer := time.AfterFunc(testcluster.Scaled(d), func() { close(stop) })
	t.Cleanup(func() { timer.Stop() })
	return stop
}

// waitGroup waits for wg for at most d (scaled) and fails the test naming
// what hung otherwise.
func waitGroup(t *testing.T, wg *sync.WaitGroup, d time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(testcluster.Scaled(d)):
		t.Fatalf("%s did not finish within %s", what, testcluster.Scaled(d))
	}
}
