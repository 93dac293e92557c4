package tui

// One node's output in the Exec pane: bounded (the oldest lines go first),
// made safe to draw (no escape sequences or control characters), wrapped
// to the output column and searched.

import (
	"bytes"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

const (
	// execKeepOutput is how much of a node's output the console keeps;
	// beyond it the oldest lines are dropped (down to 7/8 of it, so the
	// drop and the rewrap it causes happen once per 128 KiB, not per chunk).
	execKeepOutput = 1 << 20
	// execMaxLine cuts a longer line into pieces, so a flood without
	// newlines is bounded like any other output.
	execMaxLine = 16 << 10
)

type execOutput struct {
	lines     []string // complete lines, made safe to draw
	partial   []byte   // the raw bytes of the line not ended yet
	linesSize int      // bytes counted for lines (each plus its newline)
	dropped   int64    // bytes dropped from the head
	version   int      // bumped on every change

	// rows are lines wrapped to wrapW columns; lineRow[i] is the first
	// row of lines[i], for the lines wrapped so far.
	rows     []string
	lineRow  []int
	wrapW    int
	partRows []string // the partial line, wrapped
	partOf   int      // the version partRows was wrapped for (-1: none)
}

func (o *execOutput) size() int { return o.linesSize + len(o.partial) }

// write appends a chunk of output.
func (o *execOutput) write(b []byte) {
	if len(b) == 0 {
		return
	}
	o.version++
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			o.partial = append(o.partial, b...)
			break
		}
		o.partial = append(o.partial, b[:i]...)
		o.addLine(o.partial)
		o.partial = o.partial[:0]
		b = b[i+1:]
	}
	for len(o.partial) >= execMaxLine {
		cut := execMaxLine
		for j := 0; j < utf8.UTFMax && cut > 1 && cut < len(o.partial) && !utf8.RuneStart(o.partial[cut]); j++ {
			cut-- // do not split a character
		}
		o.addLine(o.partial[:cut])
		o.partial = append(o.partial[:0:0], o.partial[cut:]...)
	}
	if o.size() > execKeepOutput {
		o.trim()
	}
}

func (o *execOutput) addLine(raw []byte) {
	o.lines = append(o.lines, safeLine(raw))
	o.linesSize += len(raw) + 1
}

// trim drops the oldest lines until 7/8 of the limit is held.
func (o *execOutput) trim() {
	goal := execKeepOutput - execKeepOutput/8
	n := 0
	for n < len(o.lines) && o.size() > goal {
		o.linesSize -= len(o.lines[n]) + 1
		o.dropped += int64(len(o.lines[n]) + 1)
		n++
	}
	o.lines = append([]string(nil), o.lines[n:]...)
	o.rows, o.lineRow, o.wrapW = nil, nil, 0 // rewrapped when next shown
}

// count is how many lines there are, the partial one included.
func (o *execOutput) count() int {
	if len(o.partial) > 0 {
		return len(o.lines) + 1
	}
	return len(o.lines)
}

// line is line i (the partial line last).
func (o *execOutput) line(i int) string {
	if i < len(o.lines) {
		return o.lines[i]
	}
	return safeLine(o.partial)
}

// fit wraps what is not wrapped yet to w columns (layout step).
func (o *execOutput) fit(w int) {
	w = max(w, 1)
	if w != o.wrapW {
		o.rows, o.lineRow, o.wrapW, o.partOf = o.rows[:0], o.lineRow[:0], w, -1
	}
	for i := len(o.lineRow); i < len(o.lines); i++ {
		o.lineRow = append(o.lineRow, len(o.rows))
		o.rows = append(o.rows, wrapRows(o.lines[i], w)...)
	}
	if o.partOf != o.version {
		o.partRows = nil
		if len(o.partial) > 0 {
			o.partRows = wrapRows(safeLine(o.partial), w)
		}
		o.partOf = o.version
	}
}

// unwrap drops the wrapped rows (the node is no longer shown).
func (o *execOutput) unwrap() {
	o.rows, o.lineRow, o.partRows, o.wrapW, o.partOf = nil, nil, nil, 0, -1
}

// rowCount is how many rows fit last wrapped.
func (o *execOutput) rowCount() int { return len(o.rows) + len(o.partRows) }

func (o *execOutput) row(i int) string {
	if i < len(o.rows) {
		return o.rows[i]
	}
	return o.partRows[i-len(o.rows)]
}

// rowOfLine is the first row of line i.
func (o *execOutput) rowOfLine(i int) int {
	if i < len(o.lineRow) {
		return o.lineRow[i]
	}
	return len(o.rows)
}

// lineOfRow is the line row r belongs to.
func (o *execOutput) lineOfRow(r int) int {
	if r >= len(o.rows) {
		return len(o.lines)
	}
	return sort.Search(len(o.lineRow), func(i int) bool { return o.lineRow[i] > r }) - 1
}

// find lists the lines that contain q (lower-cased), in order.
func (o *execOutput) find(q string) []int {
	var out []int
	for i, n := 0, o.count(); i < n; i++ {
		if strings.Contains(strings.ToLower(o.line(i)), q) {
			out = append(out, i)
		}
	}
	return out
}

func wrapRows(l string, w int) []string {
	if textWidth(l) <= w {
		return []string{l}
	}
	return strings.Split(ansi.Hardwrap(l, w, true), "\n")
}

// safeLine makes a raw line of output safe to draw: valid UTF-8, escape
// sequences removed, a line rewritten with \r (a progress bar) shown as
// it ended, tabs expanded, other control characters shown as "?".
func safeLine(raw []byte) string {
	s := strings.ToValidUTF8(string(raw), "\uFFFD")
	s = strings.TrimSuffix(s, "\r")
	if i := strings.LastIndexByte(s, '\r'); i >= 0 {
		s = s[i+1:]
	}
	s = ansi.Strip(s)
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	col := 0
	for _, r := range s {
		switch {
		case r == '\t':
			n := 8 - col%8
			b.WriteString(strings.Repeat(" ", n))
			col += n
			continue
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
		col++
	}
	return b.String()
}
