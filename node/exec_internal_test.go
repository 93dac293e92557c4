package node

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/serf/serf"

	"consulx/exec/remote"
	"consulx/internal/freeport"
)

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

// A job announcement pushed straight to a node (no gossip) is taken by
// serf on that node as the user event itself: the node runs the job.
func TestPushedAnnouncementRunsTheJob(t *testing.T) {
	srv := devAgent(t)
	p, err := freeport.Pick(5)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.NodeName = "pushed"
	cfg.DataDir = t.TempDir()
	cfg.BindAddr, cfg.ClientAddr = "127.0.0.1", "127.0.0.1"
	cfg.Ports = Ports{HTTP: p[0], DNS: p[1], SerfLAN: p[2], SerfWAN: p[3], Server: p[4], HTTPS: -1, GRPC: -1, GRPCTLS: -1}
	cfg.StartJoin = []string{fmt.Sprintf("127.0.0.1:%d", srv.cfg.Ports.SerfLAN)}
	cfg.DisableRemoteExec = false
	if err := cfg.Finalize(false, false); err != nil {
		t.Fatal(err)
	}
	client, err := New(cfg, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Shutdown)
	deadline := time.Now().Add(10 * time.Second)
	for len(srv.Members(false)) != 2 || len(client.Members(false)) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the client did not join")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c, err := srv.dialExec(context.Background(), srv.srv.execAddr)
	if err != nil {
		t.Fatal(err)
	}
	job, err := remote.Open(c, "pushed-job", remote.Spec{Command: "echo pushed", Wait: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ann, _ := json.Marshal(remote.Announcement{Job: "pushed-job", Relay: srv.srv.execAddr, Filters: remote.Filters{Node: "^pushed$"}})
	ltime, _ := strconv.ParseUint(srv.lan.Stats()["event_time"], 10, 64)
	srv.pushAnnouncement(serf.LamportTime(ltime), ann, []string{"pushed"}) // no gossip: only the packet
	var out strings.Builder
	done := job.Collect(context.Background(), []string{"pushed"}, func(ev remote.Event) { out.Write(ev.Data) })
	if done.Exits != 1 || out.String() != "pushed\n" {
		t.Fatalf("done %+v, output %q", done, out.String())
	}
}
