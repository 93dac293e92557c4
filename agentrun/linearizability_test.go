package agentrun_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"consulx/api"
	"consulx/internal/testcluster"
)

// kvInput / kvOutput describe one operation of the history.
type kvInput struct {
	put   bool
	key   string
	value string
}

type kvOutput struct {
	value   string
	unknown bool // a write whose outcome is unknown (error or timeout)
}

// kvModel is a register per key; partitioning by key keeps checking fast.
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(kvInput).key
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		in, out := input.(kvInput), output.(kvOutput)
		if in.put {
			return true, in.value
		}
		return out.value == state.(string), state
	},
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(kvInput), output.(kvOutput)
		if in.put {
			return fmt.Sprintf("put(%s, %s)", in.key, in.value)
		}
		return fmt.Sprintf("get(%s) -> %s", in.key, out.value)
	},
}

// TestLinearizableAcrossLeaderLoss records concurrent puts and reads
// (default and ?consistent) through every agent while the leader is
// stopped, and checks the history with porcupine.
func TestLinearizableAcrossLeaderLoss(t *testing.T) {
	for _, mode := range []string{"default", "consistent"} {
		t.Run(mode, func(t *testing.T) {
			c := testcluster.StartCluster(t, 3, 1)
			leader := c.WaitLeader(10 * time.Second)
			agents := c.All()
			start := time.Now()
			var mu sync.Mutex
			var history []porcupine.Operation
			keys := []string{"lin/a", "lin/b", "lin/c"}
			deadline := time.Now().Add(3 * time.Second)
			var wg sync.WaitGroup
			for w := 0; w < 6; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(w), 42))
					for i := 0; i < 2000 && time.Now().Before(deadline); i++ {
						a := agents[r.IntN(len(agents))]
						if a.Stopped() {
							continue
						}
						cl := a.Client()
						in := kvInput{key: keys[r.IntN(len(keys))], put: r.IntN(2) == 0, value: fmt.Sprintf("%d-%d", w, i)}
						ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
						call := time.Since(start).Nanoseconds()
						var out kvOutput
						var err error
						if in.put {
							_, err = cl.KVPut(ctx, &api.KVPair{Key: in.key, Value: []byte(in.value)}, nil)
						} else {
							var p *api.KVPair
							p, _, err = cl.KVGet(ctx, in.key, &api.QueryOptions{Consistent: mode == "consistent"})
							if p != nil {
								out.value = string(p.Value)
							}
						}
						ret := time.Since(start).Nanoseconds()
						cancel()
						if err != nil {
							if !in.put {
								continue // a failed read observed nothing
							}
							// A failed write may or may not have happened.
							out.unknown = true
							ret = int64(1) << 62
						}
						mu.Lock()
						history = append(history, porcupine.Operation{ClientId: w, Input: in, Call: call, Output: out, Return: ret})
						mu.Unlock()
					}
				}(w)
			}
			time.Sleep(time.Second)
			leader.Running.Shutdown()
			waitGroup(t, &wg, 60*time.Second, "the writers and readers")
			res := porcupine.CheckOperationsTimeout(kvModel, history, 60*time.Second)
			if res == porcupine.Illegal {
				t.Fatalf("history of %d operations is not linearizable", len(history))
			}
			t.Logf("%d operations across a leader stop: %v", len(history), res)
		})
	}
}
