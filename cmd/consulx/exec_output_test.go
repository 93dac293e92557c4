package main

import (
	"bytes"
	"strings"
	"testing"

	"consulx/api"
)

// Every byte of a line is printed as it came (consul exec trims only the
// end of what it prints); a line split across chunks prints once; the
// output's end leaves consul exec's empty "    node:" line.
func TestExecOutputLines(t *testing.T) {
	var b bytes.Buffer
	o := &execOutput{w: &b, partial: map[string]*strings.Builder{}}
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
	want := "    n: indented  \n    n: \n    m: other\n    n: split line\n    n:\n==> n: finished with exit code 1\n    m:\n==> m: finished with exit code 0\n2 / 2 node(s) completed / acknowledged\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
	if !o.failed {
		t.Fatal("an exit code 1 must make the job fail")
	}
}
