// Command ansi2svg renders a terminal capture with ANSI colours (tmux
// capture-pane -e -p) as an SVG picture, so the README can show the real
// console. Usage: ansi2svg < capture.ansi > console.svg
package main

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"os"
	"strconv"
	"strings"
)

const (
	cellW, cellH = 8.4, 17.0
	fontSize     = 14
	defaultFG    = "#d0d0d0"
	background   = "#1e1e2e"
)

// basic is the 16-colour palette (normal then bright).
var basic = []string{"#1e1e2e", "#f38ba8", "#a6e3a1", "#f9e2af", "#89b4fa", "#f5c2e7", "#94e2d5", "#bac2de",
	"#585b70", "#f38ba8", "#a6e3a1", "#f9e2af", "#89b4fa", "#f5c2e7", "#94e2d5", "#ffffff"}

func xterm256(n int) string {
	switch {
	case n < 16:
		return basic[n]
	case n < 232:
		n -= 16
		lv := []int{0, 95, 135, 175, 215, 255}
		return fmt.Sprintf("#%02x%02x%02x", lv[n/36], lv[(n/6)%6], lv[n%6])
	default:
		g := 8 + (n-232)*10
		return fmt.Sprintf("#%02x%02x%02x", g, g, g)
	}
}

type style struct {
	fg, bg  string
	bold    bool
	reverse bool
}

// colours resolves reverse video into the colours to paint.
func (s style) colours() (fg, bg string) {
	fg, bg = s.fg, s.bg
	if fg == "" {
		fg = defaultFG
	}
	if s.reverse {
		if bg == "" {
			bg = background
		}
		return bg, fg
	}
	return fg, bg
}

type span struct {
	col  int
	text string
	st   style
}

// applySGR updates st from the parameters of one ESC[...m sequence.
func applySGR(st style, params string) style {
	ps := strings.Split(params, ";")
	for i := 0; i < len(ps); i++ {
		n, _ := strconv.Atoi(ps[i])
		switch {
		case n == 0:
			st = style{}
		case n == 1:
			st.bold = true
		case n == 22:
			st.bold = false
		case n == 7:
			st.reverse = true
		case n == 27:
			st.reverse = false
		case n >= 30 && n <= 37:
			st.fg = basic[n-30]
		case n >= 90 && n <= 97:
			st.fg = basic[n-90+8]
		case n == 39:
			st.fg = ""
		case n >= 40 && n <= 47:
			st.bg = basic[n-40]
		case n >= 100 && n <= 107:
			st.bg = basic[n-100+8]
		case n == 49:
			st.bg = ""
		case (n == 38 || n == 48) && i+2 < len(ps) && ps[i+1] == "5":
			c, _ := strconv.Atoi(ps[i+2])
			if n == 38 {
				st.fg = xterm256(c)
			} else {
				st.bg = xterm256(c)
			}
			i += 2
		case (n == 38 || n == 48) && i+4 < len(ps) && ps[i+1] == "2":
			r, _ := strconv.Atoi(ps[i+2])
			g, _ := strconv.Atoi(ps[i+3])
			b, _ := strconv.Atoi(ps[i+4])
			c := fmt.Sprintf("#%02x%02x%02x", r, g, b)
			if n == 38 {
				st.fg = c
			} else {
				st.bg = c
			}
			i += 4
		}
	}
	return st
}

func parseLine(line string, st style) ([]span, style) {
	var out []span
	var cur strings.Builder
	col, start := 0, 0
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, span{col: start, text: cur.String(), st: st})
			cur.Reset()
		}
		start = col
	}
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		if rs[i] == 0x1b && i+1 < len(rs) && rs[i+1] == '[' {
			j := i + 2
			for j < len(rs) && (rs[j] < '@' || rs[j] > '~') {
				j++
			}
			if j < len(rs) && rs[j] == 'm' {
				flush()
				st = applySGR(st, string(rs[i+2:j]))
			}
			i = j
			continue
		}
		cur.WriteRune(rs[i])
		col++
	}
	flush()
	return out, st
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	var lines [][]span
	var st style
	width := 0
	for in.Scan() {
		spans, next := parseLine(in.Text(), st)
		st = next
		lines = append(lines, spans)
		for _, s := range spans {
			width = max(width, s.col+len([]rune(s.text)))
		}
	}
	render(os.Stdout, lines, max(width, 80))
}

func render(w io.Writer, lines [][]span, cols int) {
	W, H := float64(cols)*cellW+20, float64(len(lines))*cellH+20
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f">`+"\n", W, H, W, H)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="%s"/>`+"\n", background)
	fmt.Fprintf(w, `<g font-family="DejaVu Sans Mono, Menlo, monospace" font-size="%d" xml:space="preserve">`+"\n", fontSize)
	for row, spans := range lines {
		y := 10 + float64(row)*cellH
		for _, s := range spans {
			x := 10 + float64(s.col)*cellW
			n := len([]rune(s.text))
			fg, bg := s.st.colours()
			if bg != "" {
				fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x, y, float64(n)*cellW, cellH, bg)
			}
			if strings.TrimSpace(s.text) == "" {
				continue
			}
			weight := ""
			if s.st.bold {
				weight = ` font-weight="bold"`
			}
			fmt.Fprintf(w, `<text x="%.1f" y="%.1f" fill="%s"%s textLength="%.1f">%s</text>`+"\n", x, y+cellH-4, fg, weight, float64(n)*cellW, html.EscapeString(s.text))
		}
	}
	fmt.Fprintln(w, "</g></svg>")
}
