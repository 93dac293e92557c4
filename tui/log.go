package tui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"consulx/api"
)

const (
	maxLogLines = 2000
	logBatch    = 500
	// A reconnected stream replays up to this many lines of history.
	logReplay = 600
)

var logLevels = []string{"debug", "info", "warn", "error"}

// logStream carries lines from the Monitor goroutine to Update.
type logStream struct {
	lines   chan string
	done    chan error
	dropped atomic.Int64
}

type (
	logStreamMsg struct {
		gen int
		s   *logStream
	}
	logLinesMsg struct {
		gen   int
		lines []string
	}
	logEndMsg struct {
		gen   int
		lines []string
		err   error
	}
	logRetryMsg struct{ gen int }
)

// logPane tails the agent's log through /v1/agent/monitor.
type logPane struct {
	sh *shared

	gen     int
	stop    context.CancelFunc
	stream  *logStream
	lines   []string   // raw, oldest first
	wrapped [][]string // styled and wrapped to wrapW, same indexes
	wrapW   int
	levels  []int // level rank per line, -1 when it has none
	min     int   // index into logLevels
	vp      viewport.Model
	state   string
	dropped int64

	// After a reconnect the agent replays its history; drop what we
	// already have (see dedupe).
	resyncLast string
	resyncFrom int
	resyncLeft int
}

func newLogPane(sh *shared) *logPane {
	return &logPane{sh: sh, vp: viewport.New(100, 25), wrapW: 100, state: "connecting…"}
}

func (p *logPane) title() string   { return "Log" }
func (p *logPane) capturing() bool { return false }
func (p *logPane) poll() tea.Cmd   { return nil }

// refresh reopens the stream only when it is not running.
func (p *logPane) refresh() tea.Cmd {
	if p.state == "streaming" {
		return nil
	}
	return p.start()
}

func (p *logPane) helpKeys() []key.Binding {
	k := p.sh.keys
	return []key.Binding{k.Up, k.Down, k.Top, k.Bottom, k.Level}
}

// start opens a new monitor stream; the goroutine ends with the console's context.
func (p *logPane) start() tea.Cmd {
	if p.stop != nil {
		p.stop() // at most one stream at a time
	}
	p.gen++
	ctx, stop := context.WithCancel(p.sh.ctx)
	p.stop = stop
	gen, src := p.gen, p.sh.src
	return func() tea.Msg {
		s := &logStream{lines: make(chan string, 1024), done: make(chan error, 1)}
		go func() {
			s.done <- src.Monitor(ctx, "debug", func(line string) {
				select {
				case s.lines <- line:
				default:
					s.dropped.Add(1) // the UI is behind; never stall the stream
				}
			})
		}()
		return logStreamMsg{gen: gen, s: s}
	}
}

// read waits for the next lines (or the end) of s, taking what is queued.
func (p *logPane) read(s *logStream) tea.Cmd {
	gen, ctx := p.gen, p.sh.ctx
	return func() tea.Msg {
		var batch []string
		drain := func() {
			for len(batch) < logBatch {
				select {
				case l := <-s.lines:
					batch = append(batch, l)
				default:
					return
				}
			}
		}
		select {
		case l := <-s.lines:
			batch = append(batch, l)
			drain()
			return logLinesMsg{gen: gen, lines: batch}
		case err := <-s.done:
			drain()
			return logEndMsg{gen: gen, lines: batch, err: err}
		case <-ctx.Done():
			return nil
		}
	}
}

func (p *logPane) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case paneSizeMsg:
		p.vp.Width, p.vp.Height = msg.w, max(msg.h-1, 1)
		p.rewrap(msg.w)
	case logStreamMsg:
		if msg.gen != p.gen {
			return nil
		}
		p.state = "streaming"
		p.stream = msg.s
		if n := len(p.lines); n > 0 {
			p.resyncLast, p.resyncFrom, p.resyncLeft = p.lines[n-1], n, logReplay
		}
		return p.read(msg.s)
	case logLinesMsg:
		if msg.gen != p.gen {
			return nil
		}
		p.add(msg.lines)
		if p.stream == nil {
			return nil
		}
		p.dropped = p.stream.dropped.Load()
		return p.read(p.stream)
	case logEndMsg:
		if msg.gen != p.gen {
			return nil
		}
		p.add(msg.lines)
		p.state = "stream ended, reconnecting…"
		var se *api.StatusError
		switch {
		case errors.As(msg.err, &se) && se.Code == http.StatusNotImplemented:
			p.state = "this agent does not stream its log (r retries)"
			return nil
		case msg.err != nil:
			p.state = "stream error: " + errText(msg.err) + "; reconnecting…"
		}
		gen := p.gen
		return p.sh.after(retryAfter, logRetryMsg{gen: gen})
	case logRetryMsg:
		if msg.gen == p.gen {
			return p.start()
		}
	case tea.KeyMsg:
		k := p.sh.keys
		switch {
		case key.Matches(msg, k.Level):
			p.min = (p.min + 1) % len(logLevels)
			p.rebuild()
			p.vp.GotoBottom()
			return nil
		case key.Matches(msg, k.Top):
			p.vp.GotoTop()
			return nil
		case key.Matches(msg, k.Bottom):
			p.vp.GotoBottom()
			return nil
		}
		var cmd tea.Cmd
		p.vp, cmd = p.vp.Update(msg)
		return cmd
	}
	return nil
}

// add appends lines, dropping a replayed history, and keeps the newest maxLogLines.
func (p *logPane) add(lines []string) {
	for _, l := range lines {
		p.lines = append(p.lines, l)
		lv := levelRank(l)
		p.levels = append(p.levels, lv)
		p.wrapped = append(p.wrapped, p.wrap(l, lv))
		if p.resyncLeft > 0 {
			p.resyncLeft--
			if l == p.resyncLast {
				p.lines, p.levels, p.wrapped = p.lines[:p.resyncFrom], p.levels[:p.resyncFrom], p.wrapped[:p.resyncFrom]
				p.resyncLeft = 0
			}
		}
	}
	if over := len(p.lines) - maxLogLines; over > 0 {
		p.lines = append(p.lines[:0:0], p.lines[over:]...)
		p.levels = append(p.levels[:0:0], p.levels[over:]...)
		p.wrapped = append(p.wrapped[:0:0], p.wrapped[over:]...)
		p.resyncFrom -= over
		if p.resyncFrom < 0 {
			p.resyncLeft = 0
		}
	}
	follow := p.vp.AtBottom()
	p.rebuild()
	if follow {
		p.vp.GotoBottom()
	}
}

// rebuild refills the viewport with the lines at or above the minimum level.
func (p *logPane) rebuild() {
	var b strings.Builder
	for i, ws := range p.wrapped {
		if p.levels[i] >= 0 && p.levels[i] < p.min+1 {
			continue
		}
		for _, r := range ws {
			b.WriteString(r)
			b.WriteByte('\n')
		}
	}
	p.vp.SetContent(strings.TrimSuffix(b.String(), "\n"))
}

// wrap cuts a raw line into pieces of at most wrapW columns (at spaces
// where it can) and styles each piece by itself, so a colour never spans
// a line break. Long lines wrap rather than run off the screen.
func (p *logPane) wrap(l string, lv int) []string {
	pieces := strings.Split(ansi.Wrap(l, max(p.wrapW, 1), ""), "\n")
	for i, s := range pieces {
		pieces[i] = p.style(s, lv)
	}
	return pieces
}

// rewrap wraps every line again for a new width, keeping the view on the
// newest lines when it was there.
func (p *logPane) rewrap(w int) {
	if w == p.wrapW || w <= 0 {
		return
	}
	p.wrapW = w
	for i, l := range p.lines {
		p.wrapped[i] = p.wrap(l, p.levels[i])
	}
	follow := p.vp.AtBottom()
	p.rebuild()
	if follow {
		p.vp.GotoBottom()
	}
}

func (p *logPane) style(l string, lv int) string {
	st := p.sh.st
	switch lv {
	case 0, 1:
		return st.Faint.Render(l)
	case 3:
		return st.Warn.Render(l)
	case 4:
		return st.Error.Render(l)
	}
	return l
}

// levelRank is 0 trace … 4 error for an hclog line, -1 when it has no tag.
func levelRank(l string) int {
	i := strings.IndexByte(l, '[')
	if i < 0 || i > 40 {
		return -1
	}
	j := strings.IndexByte(l[i:], ']')
	if j < 0 {
		return -1
	}
	switch strings.ToUpper(l[i+1 : i+j]) {
	case "TRACE":
		return 0
	case "DEBUG":
		return 1
	case "INFO":
		return 2
	case "WARN":
		return 3
	case "ERROR", "ERR":
		return 4
	}
	return -1
}

func (p *logPane) view(w, h int) string {
	st := p.sh.st
	dropped := ""
	if p.dropped > 0 {
		dropped = fmt.Sprintf(" · %d dropped while the console was busy", p.dropped)
	}
	shown := 0
	for _, lv := range p.levels {
		if lv < 0 || lv >= p.min+1 {
			shown++
		}
	}
	hdr := fmt.Sprintf("log · level ≥ %s (l cycles) · %d of %d %s · %s%s", logLevels[p.min], shown, len(p.lines), plural(len(p.lines), "line", "lines"), p.state, dropped)
	// Sized and wrapped on paneSizeMsg; a copy, so a shorter body (a
	// dialog over the pane) changes nothing.
	vp := p.vp
	vp.Height = max(h-1, 1)
	return st.Faint.Render(truncate(hdr, w)) + "\n" + vp.View()
}
