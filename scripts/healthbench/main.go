// Command healthbench registers 5,000 nodes × 10 services through
// /v1/catalog/register and times /v1/health/service/svc-3?passing.
// Usage: go run ./scripts/healthbench 127.0.0.1:8500
package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"
)

func main() {
	addr := os.Args[1]
	var wg sync.WaitGroup
	ch := make(chan [2]int, 1000)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range ch {
				n, sv := job[0], job[1]
				body := fmt.Sprintf(`{"Node":"node-%04d","Address":"10.0.%d.%d","Service":{"ID":"svc-%d","Service":"svc-%d","Port":%d,"Tags":["a"]},"Check":{"CheckID":"c-%d","Name":"c","Status":"passing","ServiceID":"svc-%d"}}`, n, n/250, n%250, sv, sv, 8000+sv, sv, sv)
				req, _ := http.NewRequest("PUT", "http://"+addr+"/v1/catalog/register", bytes.NewBufferString(body))
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	t0 := time.Now()
	for n := 0; n < 5000; n++ {
		for sv := 0; sv < 10; sv++ {
			ch <- [2]int{n, sv}
		}
	}
	close(ch)
	wg.Wait()
	fmt.Println("loaded in", time.Since(t0))
	var lat []time.Duration
	for i := 0; i < 50; i++ {
		t := time.Now()
		resp, err := http.Get("http://" + addr + "/v1/health/service/svc-3?passing")
		if err != nil {
			panic(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(t))
		if i == 0 {
			fmt.Println("bytes", buf.Len(), "first", lat[0])
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Println("p50", lat[25], "p99", lat[49])
	// The first read after a change: to another service on the same
	// nodes (svc-4's check output), then to svc-3 itself (its check's
	// output on one node; the instance stays passing).
	for _, sv := range []int{4, 3} {
		var after []time.Duration
		for i := 0; i < 9; i++ {
			body := fmt.Sprintf(`{"Node":"node-%04d","SkipNodeUpdate":true,"Check":{"CheckID":"c-%d","Name":"c","Status":"passing","Output":"run %d","ServiceID":"svc-%d"}}`, i, sv, i, sv)
			req, _ := http.NewRequest("PUT", "http://"+addr+"/v1/catalog/register", bytes.NewBufferString(body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				panic(err)
			}
			resp.Body.Close()
			t := time.Now()
			resp, err = http.Get("http://" + addr + "/v1/health/service/svc-3?passing")
			if err != nil {
				panic(err)
			}
			var buf bytes.Buffer
			buf.ReadFrom(resp.Body)
			resp.Body.Close()
			after = append(after, time.Since(t))
		}
		sort.Slice(after, func(i, j int) bool { return after[i] < after[j] })
		fmt.Printf("first read after a change to svc-%d: median %s, max %s\n", sv, after[4], after[8])
	}
}
