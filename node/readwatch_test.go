package node

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"consulx/internal/freeport"
	"consulx/store"
)

// devAgent starts an in-memory single-server agent on loopback.
func devAgent(t *testing.T) *Agent {
	t.Helper()
	p, err := freeport.Pick(5)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Dev = true
	cfg.Server = true
	cfg.NodeName = "dev"
	cfg.BindAddr, cfg.ClientAddr = "127.0.0.1", "127.0.0.1"
	cfg.Ports = Ports{HTTP: p[0], DNS: p[1], SerfLAN: p[2], SerfWAN: p[3], Server: p[4], HTTPS: -1, GRPC: -1, GRPCTLS: -1}
	if err := cfg.Finalize(true, false); err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Shutdown)
	deadline := time.Now().Add(20 * time.Second)
	for !a.srv.isReady() {
		if time.Now().After(deadline) {
			t.Fatal("dev agent did not become a ready leader")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return a
}

// TestNonBlockingReadsArmNothing: plain reads (every DNS query, every GET
// without ?index) leave no watch behind and take none; a blocking read
// holds exactly one while it waits and releases it when answered.
func TestNonBlockingReadsArmNothing(t *testing.T) {
	a := devAgent(t)
	ctx := context.Background()
	watches := a.srv.store.Watches()
	if _, err := a.KVApply(ctx, &KVWriteRequest{Request: store.KVRequest{Op: store.KVSet, Entry: store.KVEntry{Key: "k", Value: []byte("v")}}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if _, err := a.reads.KV.Read(ctx, &KVReadRequest{Key: "k"}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.DNSService(ctx, "consul", "", true, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := a.reads.NodeServices.Read(ctx, &NodeServicesRequest{Node: "dev"}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.reads.Sessions.Read(ctx, &SessionReadRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := watches.Count(); n != 0 {
		t.Fatalf("%d watches armed after non-blocking reads, want 0", n)
	}
	first, err := a.reads.KV.Read(ctx, &KVReadRequest{Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *KVReadResponse, 1)
	go func() {
		out, _ := a.reads.KV.Read(ctx, &KVReadRequest{Key: "k", QueryOptions: QueryOptions{MinIndex: first.Index, MaxWait: time.Minute}})
		done <- out
	}()
	deadline := time.Now().Add(5 * time.Second)
	for watches.Count() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("blocking read holds %d watches, want 1", watches.Count())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := a.KVApply(ctx, &KVWriteRequest{Request: store.KVRequest{Op: store.KVSet, Entry: store.KVEntry{Key: "k", Value: []byte("w")}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case out := <-done:
		if out == nil || out.Index <= first.Index || string(out.Entries[0].Value) != "w" {
			t.Fatalf("blocking read answered %+v", out)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocking read did not wake on the write")
	}
	if n := watches.Count(); n != 0 {
		t.Fatalf("%d watches left after the blocking read was answered", n)
	}
}

// TestWatchLocalFollowsTheConsistencyRule: the read the HTTP layer parks
// is answered locally only where the consistency rule allows it.
func TestWatchLocalFollowsTheConsistencyRule(t *testing.T) {
	a := devAgent(t)
	if _, err := a.KVApply(context.Background(), &KVWriteRequest{Request: store.KVRequest{Op: store.KVSet, Entry: store.KVEntry{Key: "none", Value: []byte("v")}}}); err != nil {
		t.Fatal(err)
	}
	cur, err := a.reads.KV.Read(context.Background(), &KVReadRequest{Key: "none"})
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{ModeDefault, ModeStale} {
		out, w, err := a.reads.KV.Watch(&KVReadRequest{Key: "none", QueryOptions: QueryOptions{Consistency: mode, MinIndex: cur.Index}}, nil)
		if err != nil || out == nil || w == nil {
			t.Fatalf("mode %q: out=%v watch=%v err=%v, want a parked read", mode, out, w, err)
		}
		w.Stop()
		// A query for an older index is answered at once (no watch).
		out, w, err = a.reads.KV.Watch(&KVReadRequest{Key: "none", QueryOptions: QueryOptions{Consistency: mode, MinIndex: cur.Index - 1}}, nil)
		if err != nil || out == nil || w != nil {
			t.Fatalf("mode %q, older index: watch=%v err=%v, want an answer now", mode, w, err)
		}
	}
	for _, q := range []QueryOptions{{Consistency: ModeConsistent, MinIndex: cur.Index}, {Datacenter: "elsewhere", MinIndex: cur.Index}} {
		if _, _, err := a.reads.KV.Watch(&KVReadRequest{Key: "none", QueryOptions: q}, nil); !errors.Is(err, ErrNotLocal) {
			t.Fatalf("%+v: err = %v, want ErrNotLocal", q, err)
		}
	}
	if n := a.srv.store.Watches().Count(); n != 0 {
		t.Fatalf("%d watches left armed", n)
	}
}

// TestEndpointDeclarationsAreChecked: a declaration missing what its kind
// needs stops the program at start instead of misrouting later.
func TestEndpointDeclarationsAreChecked(t *testing.T) {
	type noOptions struct{ X int }
	bad := []rpcEndpoint{
		&endpoint[KVReadRequest, KVReadResponse]{name: "Bad.NoRead", kind: readEndpoint},
		&endpoint[noOptions, KVWriteResponse]{name: "Bad.NoRouting", kind: writeEndpoint,
			leader: func(*server, context.Context, *noOptions) (*KVWriteResponse, error) { return nil, nil }},
		&endpoint[KVWriteRequest, KVWriteResponse]{name: "Bad.NotARead", kind: readEndpoint,
			read: func(*server, *KVWriteRequest, *watchArm) (*KVWriteResponse, uint64, error) { return nil, 0, nil }},
	}
	for _, e := range bad {
		func() {
			defer func() {
				if v := recover(); v == nil || !strings.Contains(v.(string), e.rpcName()) {
					t.Errorf("%s: check() = %v, want a panic naming it", e.rpcName(), v)
				}
			}()
			e.check()
		}()
	}
	for _, e := range endpointTable {
		e.check() // the real table is complete
	}
}

// TestTypedErrorsCrossTheRPC: every error kind survives the trip from a
// server to a client agent with its type and text.
func TestTypedErrorsCrossTheRPC(t *testing.T) {
	for _, err := range []error{ErrNoLeader, ErrNoPathToDatacenter, &BadRequestError{Msg: "bad"},
		&NotFoundError{Msg: "gone"}, &PermissionDeniedError{Msg: "key x"}, &PermissionDeniedError{}} {
		h := map[string][]string{}
		if k := errorKind(err); k != "" {
			h[rpcErrorHeader] = []string{k}
		}
		got := rpcErrorFrom(h, err.Error())
		if got.Error() != err.Error() || errorKind(got) != errorKind(err) {
			t.Errorf("%T %q came back as %T %q", err, err, got, got)
		}
	}
}

// memSink is a raft.SnapshotSink into memory.
type memSink struct{ bytes.Buffer }

func (*memSink) ID() string    { return "mem" }
func (*memSink) Cancel() error { return nil }
func (*memSink) Close() error  { return nil }

// TestRestoreDuringAReadAnswersAtOnce: a snapshot restore landing while a
// read runs (after its watch is armed, so the restore's wake-up is lost
// to nobody, but before the read) must not leave the query parked on a
// fresh watch: the read reports no watch and the caller answers now.
func TestRestoreDuringAReadAnswersAtOnce(t *testing.T) {
	a := devAgent(t)
	s := a.srv
	snap, err := s.store.FSM().Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	restoring := &endpoint[KVReadRequest, KVReadResponse]{name: "Test.RestoringRead", kind: readEndpoint,
		read: func(s *server, req *KVReadRequest, arm *watchArm) (*KVReadResponse, uint64, error) {
			arm.Key(req.Key)
			if err := s.store.FSM().Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
				return nil, 0, err
			}
			return &KVReadResponse{}, 1, nil
		}}
	out, w, err := restoring.watchLocal(a, &KVReadRequest{Key: "k", QueryOptions: QueryOptions{MinIndex: 50}}, nil)
	if err != nil || out == nil || w != nil {
		t.Fatalf("parked read across a restore: out=%v watch=%v err=%v, want an answer now", out, w, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := restoring.blockingRead(context.Background(), s, &KVReadRequest{Key: "k"}, QueryOptions{MinIndex: 50, MaxWait: time.Minute})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a blocking read across a restore kept waiting")
	}
	if n := s.store.Watches().Count(); n != 0 {
		t.Fatalf("%d watches left armed", n)
	}
}

// TestBlockingReadOfAnEndpointThatWatchesNothing: a blocking request to a
// read that arms no watch (the Raft configuration) is answered at once,
// not a nil-pointer panic.
func TestBlockingReadOfAnEndpointThatWatchesNothing(t *testing.T) {
	a := devAgent(t)
	out, err := raftConfigurationEndpoint.blockingRead(context.Background(), a.srv, &StatusRequest{}, QueryOptions{MinIndex: 1 << 40, MaxWait: time.Minute})
	if err != nil || out == nil || len(out.Servers) != 1 {
		t.Fatalf("blocking read of the raft configuration: %+v, %v", out, err)
	}
}
