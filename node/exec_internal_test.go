package node

import "testing"

func TestRecentJobsRunOnce(t *testing.T) {
	var r recentJobs
	if !r.first("a") || r.first("a") || !r.first("b") {
		t.Fatal("a job must be new once, then seen")
	}
	for i := range 2000 {
		r.first(string(rune('c' + i)))
	}
	if r.first("a") {
		t.Fatal("a recent job was forgotten")
	}
}
