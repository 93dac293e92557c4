package agentrun_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"consulx/internal/testcluster"
	"consulx/node"
)

// TestUserEvents: an event fired on one agent reaches the others by
// gossip (never Raft), with Consul's fields; the node filter keeps it off
// agents it does not name; a blocking list wakes on the next event; the
// payload limit and the filters are checked before anything is sent.
func TestUserEvents(t *testing.T) {
	c := testcluster.StartCluster(t, 1, 2)
	srv, c1, c2 := c.Servers[0], c.Clients[0], c.Clients[1]
	testcluster.Eventually(t, 10*time.Second, func() error {
		for _, a := range c.All() {
			if ms, err := official(t, a).Agent().Members(false); err != nil || len(ms) != 3 {
				return fmt.Errorf("%s sees %d members (%v)", a.Name, len(ms), err)
			}
		}
		return nil
	})
	id, _, err := official(t, c1).Event().Fire(&consul.UserEvent{Name: "deploy", Payload: []byte("v42")}, nil)
	if err != nil || id == "" {
		t.Fatalf("fire: %q %v", id, err)
	}
	for _, a := range c.All() {
		testcluster.Eventually(t, 10*time.Second, func() error {
			evs, _, err := official(t, a).Event().List("deploy", nil)
			if err != nil {
				return err
			}
			if len(evs) != 1 || evs[0].ID != id || string(evs[0].Payload) != "v42" || evs[0].Version != 1 || evs[0].LTime == 0 {
				return fmt.Errorf("%s lists %+v", a.Name, evs)
			}
			return nil
		})
	}
	// Gossip only: nothing was written to the KV store (Consul's exec
	// design keeps its data there; ours keeps none).
	if keys, _, err := official(t, srv).KV().Keys("", "", nil); err != nil || len(keys) != 0 {
		t.Errorf("KV after firing an event: %v %v, want empty", keys, err)
	}

	// The index is Consul's fake one, from the last event's ID.
	_, meta, err := official(t, c2).Event().List("", nil)
	if err != nil || meta.LastIndex != node.EventIndex(id) {
		t.Fatalf("list index %d, want %d (%v)", meta.LastIndex, node.EventIndex(id), err)
	}
	// A blocking list on c2 wakes on an event meant for c2 only; c1,
	// whose name the filter does not match, never records it.
	type listed struct {
		evs []*consul.UserEvent
		err error
	}
	done := make(chan listed, 1)
	go func() {
		evs, _, err := official(t, c2).Event().List("", &consul.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: time.Minute})
		done <- listed{evs, err}
	}()
	time.Sleep(200 * time.Millisecond)
	id2, _, err := official(t, srv).Event().Fire(&consul.UserEvent{Name: "only-c2", NodeFilter: "^" + c2.Name + "$"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-done:
		if l.err != nil || len(l.evs) != 2 || l.evs[1].ID != id2 {
			t.Fatalf("blocking list after the second event: %+v %v", l.evs, l.err)
		}
	case <-time.After(testcluster.Scaled(10 * time.Second)):
		t.Fatal("the blocking event list did not wake on a new event")
	}
	time.Sleep(500 * time.Millisecond) // time for the event to reach c1 too, were it for c1
	if evs, _, _ := official(t, c1).Event().List("only-c2", nil); len(evs) != 0 {
		t.Fatalf("c1 recorded an event filtered to %s: %+v", c2.Name, evs)
	}

	// Bad input: nothing is sent.
	for _, tc := range []struct {
		path, body string
		code       int
	}{
		{"/v1/event/fire/big", strings.Repeat("x", node.UserEventMaxPayload+1), http.StatusRequestEntityTooLarge},
		{"/v1/event/fire/t?tag=v1", "", http.StatusBadRequest},
		{"/v1/event/fire/re?node=(", "", http.StatusBadRequest},
		{"/v1/event/fire/", "", http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(http.MethodPut, "http://"+c1.HTTPAddr()+tc.path, bytes.NewBufferString(tc.body))
		resp, err := rawHTTP().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || strings.Contains(string(b), "\n") && len(strings.TrimSpace(string(b))) == 0 {
			t.Errorf("PUT %s: %d %q, want %d", tc.path, resp.StatusCode, b, tc.code)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if evs, _, _ := official(t, c2).Event().List("", nil); len(evs) != 2 {
		t.Fatalf("after refused fires c2 lists %d events, want 2", len(evs))
	}
}
