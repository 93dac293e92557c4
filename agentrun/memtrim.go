package agentrun

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// trimFreeHeap hands memory back to the OS after a burst. When thousands
// of blocking queries arrive at once, each briefly holds a full net/http
// connection before it is parked; the heap shrinks again afterwards, but
// the Go runtime keeps the freed pages for a long time and the agent's RSS
// stays at the peak. Every interval, if more than threshold bytes of heap
// sit free, they are released (debug.FreeOSMemory, one GC).
func trimFreeHeap(done <-chan struct{}, interval time.Duration, threshold uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > threshold {
			debug.FreeOSMemory()
		}
	}
}
