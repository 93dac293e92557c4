package main

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"consulx/internal/testcluster"
)

// TestEventCommand: `consulx event` prints Consul's one line, and its
// usage errors are Consul's, with nothing fired.
func TestEventCommand(t *testing.T) {
	c := testcluster.StartCluster(t, 1, 0)
	addr := c.Servers[0].HTTPAddr()
	out, stderr, code := runCLI(t, addr, "", "event", "-name", "deploy", "v42")
	if code != 0 || !regexp.MustCompile(`^Event ID: [0-9a-f-]{36}\n$`).MatchString(out) {
		t.Fatalf("event: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"event", "payload"}, "Event name must be specified\n"},
		{[]string{"event", "-name", "x", "a", "b"}, "Too many command line arguments.\n"},
		{[]string{"event", "-name", "x", "-tag", "v1"}, "Cannot provide tag filter without service filter.\n"},
	} {
		out, stderr, code := runCLI(t, addr, "", tc.args...)
		if code != 1 || out != "" || stderr != tc.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 and %q", tc.args, code, out, stderr, tc.want)
		}
	}
	testcluster.Eventually(t, 5*time.Second, func() error {
		evs, _, err := c.Servers[0].Client().EventList(t.Context(), "", nil)
		if err != nil {
			return err
		}
		if len(evs) != 1 || evs[0].Name != "deploy" || string(evs[0].Payload) != "v42" {
			return fmt.Errorf("events after one fire and three refusals: %+v", evs)
		}
		return nil
	})
}
