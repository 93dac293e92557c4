package main

import (
	"strings"
	"testing"
)

func TestParseLineColours(t *testing.T) {
	spans, st := parseLine("\x1b[1;32mok\x1b[0m plain \x1b[38;5;196mred\x1b[48;2;1;2;3mbg", style{})
	if len(spans) != 4 {
		t.Fatalf("spans = %+v", spans)
	}
	if spans[0].text != "ok" || spans[0].st.fg != basic[2] || !spans[0].st.bold {
		t.Errorf("span 0 = %+v", spans[0])
	}
	if spans[1].text != " plain " || spans[1].st.fg != "" || spans[1].col != 2 {
		t.Errorf("span 1 = %+v", spans[1])
	}
	if spans[2].st.fg != "#ff0000" || spans[3].st.bg != "#010203" || st.bg != "#010203" {
		t.Errorf("256/truecolour: %+v %+v", spans[2], spans[3])
	}
	var b strings.Builder
	render(&b, [][]span{spans}, 80)
	if !strings.Contains(b.String(), ">ok</text>") || !strings.HasPrefix(b.String(), "<svg") {
		t.Fatalf("svg:\n%s", b.String())
	}
}
