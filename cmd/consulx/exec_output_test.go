package main

import (
	"bytes"
	"testing"
	"time"

	"consulx/api"
)

// Every byte of a line is printed as it came (consul exec trims only the
// end of what it prints); a line split across chunks prints once; the
// output's end leaves consul exec's empty "    node:" line.
func TestExecOutputLines(t *testing.T) {
	var b bytes.Buffer
	o := newExecOutput(&b, false, time.Second)
	for _, ev := range []api.ExecEvent{
		{Type: api.ExecOutput, Node: "n", Data: []byte("indented  \n\nsplit ")},
		{Type: api.ExecOutput, Node: "m", Data: []byte("other\n")},
		{Type: api.ExecOutput, Node: "n", Data: []byte("line\n")},
		{Type: api.ExecExit, Node: "n", Code: 1},
		{Type: api.ExecExit, Node: "m"},
		{Type: api.ExecDone, Acks: 2, Exits: 2},
	} {
		o.event(ev)
	}
	// A quick node's lines print as one block with its exit line.
	want := "    n: indented  \n    n: \n    n: split line\n    n:\n==> n: finished with exit code 1\n    m: other\n    m:\n==> m: finished with exit code 0\n2 / 2 node(s) completed / acknowledged\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
	if !o.failed {
		t.Fatal("an exit code 1 must make the job fail")
	}
}

// A node still running after holdFor streams its lines as they come.
func TestExecOutputStreamsLongJobs(t *testing.T) {
	var b bytes.Buffer
	o := newExecOutput(&b, false, time.Second)
	o.event(api.ExecEvent{Type: api.ExecOutput, Node: "slow", Data: []byte("first\n")})
	if b.Len() != 0 {
		t.Fatalf("printed %q before holdFor", b.String())
	}
	o.nodes["slow"].since = time.Now().Add(-holdFor) // time passes
	o.event(api.ExecEvent{Type: api.ExecHeartbeat, Node: "slow"})
	if b.String() != "    slow: first\n" {
		t.Fatalf("after holdFor: %q", b.String())
	}
	o.event(api.ExecEvent{Type: api.ExecOutput, Node: "slow", Data: []byte("second\n")})
	if b.String() != "    slow: first\n    slow: second\n" {
		t.Fatalf("live: %q", b.String())
	}
}
