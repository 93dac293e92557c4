package store

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
)

// BenchmarkServiceInstances5000 reads one service of a catalog with 5,000
// nodes × 10 services (each service on every node), as
// /v1/health/service/<s> does.
func BenchmarkServiceInstances5000(b *testing.B) {
	s, err := New()
	if err != nil {
		b.Fatal(err)
	}
	fsm := s.FSM()
	var idx uint64
	for n := 0; n < 5000; n++ {
		for sv := 0; sv < 10; sv++ {
			idx++
			req := &RegisterRequest{Node: fmt.Sprintf("node-%04d", n), Address: fmt.Sprintf("10.0.%d.%d", n/250, n%250),
				Service: &NodeService{ID: fmt.Sprintf("svc-%d", sv), Service: fmt.Sprintf("svc-%d", sv), Port: 8000 + sv, Tags: []string{"a", "b"}},
				Checks:  []*HealthCheck{{CheckID: "serfHealth", Status: HealthPassing}, {CheckID: fmt.Sprintf("c-%d", sv), ServiceID: fmt.Sprintf("svc-%d", sv), Status: HealthPassing}}}
			data, _ := EncodeCommand(RegisterCommand, req)
			if res := fsm.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: data}).(ApplyResult); res.Err != "" {
				b.Fatal(res.Err)
			}
		}
	}
	b.Run("from buntdb", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, _, err := s.serviceInstancesFromDB("svc-3"); err != nil {
				b.Fatal(err)
			}
		}
	})
	read := func(b *testing.B) {
		in, _, err := s.ServiceInstances("svc-3")
		if err != nil || len(in) != 5000 {
			b.Fatalf("%d instances, %v", len(in), err)
		}
	}
	// change flips one check of service sv on one node (not timed).
	change := func(b *testing.B, i, sv int) {
		b.StopTimer()
		idx++
		status := HealthPassing
		if i%2 == 0 {
			status = HealthWarning
		}
		req := &RegisterRequest{Node: fmt.Sprintf("node-%04d", i%5000), Address: fmt.Sprintf("10.0.%d.%d", (i%5000)/250, i%250), SkipNodeUpdate: true,
			Checks: []*HealthCheck{{CheckID: fmt.Sprintf("c-%d", sv), ServiceID: fmt.Sprintf("svc-%d", sv), Status: status}}}
		data, _ := EncodeCommand(RegisterCommand, req)
		if res := fsm.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: data}).(ApplyResult); res.Err != "" {
			b.Fatal(res.Err)
		}
		b.StartTimer()
	}
	b.Run("mirror, unchanged", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			read(b)
		}
	})
	// A change to another service on the same node leaves svc-3's
	// memoised answer alone.
	b.Run("mirror, after a change to another service", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			change(b, i, 4)
			read(b)
		}
	})
	b.Run("mirror, after a change to this service", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			change(b, i, 3)
			read(b)
		}
	})
}
