package agentrun_test

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"consulx/api"
	"consulx/internal/testcluster"
)

type kvState struct {
	Key                                      string
	Value                                    string
	Flags, CreateIndex, ModifyIndex, LockIdx uint64
	Session                                  string
}

func dumpKV(t *testing.T, a *testcluster.Agent) []kvState {
	pairs, _, err := official(t, a).KV().List("", &consul.QueryOptions{AllowStale: true})
	if err != nil {
		t.Fatal(err)
	}
	var out []kvState
	for _, p := range pairs {
		out = append(out, kvState{p.Key, string(p.Value), p.Flags, p.CreateIndex, p.ModifyIndex, p.LockIndex, p.Session})
	}
	return out
}

// TestSnapshotRestoreIntoFreshCluster: save on one cluster, restore into a
// brand-new one; KV (values, flags, indexes, locks) and sessions match.
func TestSnapshotRestoreIntoFreshCluster(t *testing.T) {
	src := testcluster.StartCluster(t, 1, 0)
	c := official(t, src.Servers[0])
	for i := 0; i < 50; i++ {
		if _, err := c.KV().Put(&consul.KVPair{Key: fmt.Sprintf("app/%02d", i), Value: []byte{byte(i), 0, 0xff}, Flags: uint64(i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = c.KV().Delete("app/07", nil)
	sid, _, err := c.Session().Create(&consul.SessionEntry{Name: "keeper"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := c.KV().Acquire(&consul.KVPair{Key: "locks/leader", Value: []byte("me"), Session: sid}, nil); !ok || err != nil {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	before := dumpKV(t, src.Servers[0])
	var buf bytes.Buffer
	idx, err := src.Servers[0].Client().SnapshotSave(boundedCtx(t), false, &buf)
	if err != nil || idx == 0 || buf.Len() == 0 {
		t.Fatalf("save: idx %d, %d bytes, %v", idx, buf.Len(), err)
	}
	archive := buf.Bytes()

	dst := testcluster.StartCluster(t, 3, 1)
	// Restore through a client agent: it is forwarded to the leader.
	if err := dst.Clients[0].Client().SnapshotRestore(boundedCtx(t), bytes.NewReader(archive)); err != nil {
		t.Fatal(err)
	}
	for _, s := range dst.Servers {
		testcluster.Eventually(t, 10*time.Second, func() error {
			after := dumpKV(t, s)
			if !reflect.DeepEqual(after, before) {
				return fmt.Errorf("%s after restore:\n%v\nwant\n%v", s.Name, after, before)
			}
			return nil
		})
	}
	se, _, err := official(t, dst.Clients[0]).Session().Info(sid, nil)
	if err != nil || se == nil || se.Name != "keeper" {
		t.Fatalf("session after restore = %+v, %v", se, err)
	}
	// A damaged archive is refused with a 400 and changes nothing.
	bad := append([]byte{}, archive...)
	bad[len(bad)/2] ^= 0xff
	err = dst.Servers[0].Client().SnapshotRestore(boundedCtx(t), bytes.NewReader(bad))
	var se2 *api.StatusError
	if err == nil || !asStatus(err, &se2) || se2.Code != 400 {
		t.Fatalf("damaged archive: %v, want a 400", err)
	}
	if after := dumpKV(t, dst.Servers[0]); !reflect.DeepEqual(after, before) {
		t.Fatal("a refused restore changed the data")
	}
}

func asStatus(err error, target **api.StatusError) bool {
	se, ok := err.(*api.StatusError)
	if ok {
		*target = se
	}
	return ok
}
