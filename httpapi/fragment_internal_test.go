package httpapi

import (
	"testing"

	"consulx/store"
)

// TestFragmentsDroppedWhenIndexesGoBack: the same instance at the same
// indexes is encoded once, but after a service's index went backwards
// (another Raft history) it is encoded again, from what it now holds.
func TestFragmentsDroppedWhenIndexesGoBack(t *testing.T) {
	var c fragmentCache
	in := store.ServiceInstance{Node: store.Node{Node: "n1", Address: "10.0.0.1", ModifyIndex: 5},
		Service: store.NodeService{ID: "web", Service: "web", ModifyIndex: 5}}
	c.observe("", "web", 9)
	first, err := c.encode("", in)
	if err != nil {
		t.Fatal(err)
	}
	in.Node.Address = "10.0.0.2" // same indexes, other content: only another history does this
	if again, _ := c.encode("", in); string(again) != string(first) {
		t.Fatalf("same version encoded anew: %s", again)
	}
	c.observe("", "web", 3)
	after, _ := c.encode("", in)
	if string(after) == string(first) {
		t.Fatalf("after the index went back, still the old fragment: %s", after)
	}
}
