// Command httpfloor answers `consulx bench kv-get` and `kv-put` with a
// fixed body and nothing else, to measure what any Go HTTP server pays per
// request on this machine: -mode nethttp is net/http with a handler that
// only writes the canned answer, -mode raw a hand-written HTTP/1.1 loop
// (bufio reader and writer per connection, no header map, no goroutine
// per request). scripts/versus.sh runs both (ONLY=floor) next to consulx
// and Consul, so the figures say how much of a KV GET's cost is the
// server's own and how much is the socket's.
//
//	go run ./scripts/httpfloor -addr 127.0.0.1:18500 -mode raw
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
)

// body is what consulx answers for a 128-byte key: the same size.
var body = []byte(`[{"LockIndex":0,"Key":"bench/1","Flags":0,"Value":"` +
	`YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5emFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3g=` +
	`","CreateIndex":5,"ModifyIndex":5}]`)

func main() {
	addr := flag.String("addr", "127.0.0.1:18500", "listen address")
	mode := flag.String("mode", "nethttp", "nethttp or raw")
	flag.Parse()
	var err error
	switch *mode {
	case "nethttp":
		err = http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h["Content-Type"] = []string{"application/json"}
			if r.Method == http.MethodPut {
				_, _ = w.Write([]byte("true"))
				return
			}
			h["X-Consul-Index"] = []string{"5"}
			_, _ = w.Write(body)
		}))
	case "raw":
		err = serveRaw(*addr)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	fmt.Fprintln(os.Stderr, "httpfloor:", err)
	os.Exit(1)
}

func serveRaw(addr string) error {
	get := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Consul-Index: 5\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + string(body))
	put := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\ntrue")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			r := bufio.NewReaderSize(c, 4096)
			w := bufio.NewWriterSize(c, 4096)
			for {
				isPut, length, err := readHead(r)
				if err != nil {
					return
				}
				if _, err := r.Discard(length); err != nil {
					return
				}
				if isPut {
					_, _ = w.Write(put)
				} else {
					_, _ = w.Write(get)
				}
				if r.Buffered() == 0 && w.Flush() != nil {
					return
				}
			}
		}()
	}
}

// readHead reads a request's head: whether it is a PUT, and its body length.
func readHead(r *bufio.Reader) (isPut bool, length int, err error) {
	for first := true; ; first = false {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return false, 0, err
		}
		if first {
			isPut = bytes.HasPrefix(line, []byte("PUT "))
		}
		if len(line) > 15 && bytes.EqualFold(line[:15], []byte("content-length:")) {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(line[15:])))
		}
		if len(bytes.TrimSpace(line)) == 0 {
			return isPut, length, nil
		}
	}
}
