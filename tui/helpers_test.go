package tui

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

func TestMain(m *testing.M) {
	// Colour off: views and golden files are plain text.
	lipgloss.SetColorProfile(termenv.Ascii)
	os.Exit(m.Run())
}

var fixedNow = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// harness drives a Model the way tea.Program does, minus the terminal.
type harness struct {
	t    testing.TB
	m    *Model
	f    *fakeSource
	quit bool
	// keep makes run keep the commands it gives up on (a blocking watch,
	// a stream reader) in pending, so await can deliver their messages
	// when they come; without it they are abandoned.
	keep    bool
	pending []chan tea.Msg
}

func newHarness(t testing.TB, f *fakeSource, opts Options) *harness {
	t.Helper()
	m := New(f, opts)
	m.sh.now = fixedNow
	// Timers never fire by themselves; a test sends tickMsg when it wants one.
	m.sh.after = func(time.Duration, tea.Msg) tea.Cmd { return nil }
	// No editor in the environment unless a test sets one; an editor runs
	// at once, blocking Update as tea.ExecProcess blocks the program.
	m.sh.getenv = func(string) string { return "" }
	m.sh.exec = runNow
	t.Cleanup(m.Close)
	h := &harness{t: t, m: m, f: f}
	h.send(tea.WindowSizeMsg{Width: 100, Height: 30})
	return h
}

// start runs Init: status, members, KV listing and the log stream.
func (h *harness) start() *harness { h.run(h.m.Init()); return h }

func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	_, cmd := h.m.Update(msg)
	h.run(cmd)
}

func (h *harness) keys(ks ...string) {
	h.t.Helper()
	for _, k := range ks {
		h.send(keyMsg(k))
	}
}

func (h *harness) typeText(s string) {
	h.t.Helper()
	for _, r := range s {
		h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
}

func (h *harness) view() string { return h.m.View() }

// must fails unless the view contains every want.
func (h *harness) must(want ...string) {
	h.t.Helper()
	v := h.view()
	for _, w := range want {
		if !strings.Contains(v, w) {
			h.t.Fatalf("view lacks %q:\n%s", w, v)
		}
	}
}

func (h *harness) mustNot(bad ...string) {
	h.t.Helper()
	v := h.view()
	for _, w := range bad {
		if strings.Contains(v, w) {
			h.t.Fatalf("view has %q:\n%s", w, v)
		}
	}
}

// cmdWait bounds how long a command may take before the harness treats it
// as a long-lived one (a blocking watch, the log reader) and abandons it;
// the fake answers everything else in microseconds.
const cmdWait = 100 * time.Millisecond

// run executes cmd like tea.Program: each message it yields goes through
// Update, and the commands that returns run in turn (bounded).
func (h *harness) run(cmd tea.Cmd) {
	h.t.Helper()
	queue := []tea.Cmd{cmd}
	for round := 0; len(queue) > 0; round++ {
		if round > 50 {
			h.t.Fatal("commands did not settle after 50 rounds")
		}
		results := make([]chan tea.Msg, len(queue))
		for i, c := range queue {
			results[i] = make(chan tea.Msg, 1)
			if c == nil {
				results[i] <- nil
				continue
			}
			go func(c tea.Cmd, out chan tea.Msg) { out <- c() }(c, results[i])
		}
		timer := time.NewTimer(cmdWait)
		expired := false
		var msgs []tea.Msg
		for _, ch := range results {
			if !expired {
				select {
				case msg := <-ch:
					msgs = append(msgs, msg)
					continue
				case <-timer.C:
					expired = true
				}
			}
			select {
			case msg := <-ch:
				msgs = append(msgs, msg)
			default:
				if h.keep {
					h.pending = append(h.pending, ch)
				}
			}
		}
		timer.Stop()
		queue = queue[:0:0]
		for _, msg := range msgs {
			switch msg := msg.(type) {
			case nil:
			case tea.BatchMsg:
				queue = append(queue, msg...)
			case tea.QuitMsg:
				h.quit = true
			default:
				_, next := h.m.Update(msg)
				queue = append(queue, next)
			}
		}
	}
}

// await delivers the messages of pending commands as they come until
// cond holds (5 s at most). The harness must keep its commands (keep).
func (h *harness) await(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s:\n%s", what, h.view())
		}
		got := false
		for i := 0; i < len(h.pending); i++ {
			select {
			case msg := <-h.pending[i]:
				h.pending = append(h.pending[:i], h.pending[i+1:]...)
				i--
				got = true
				h.run(func() tea.Msg { return msg })
			default:
			}
		}
		if !got {
			time.Sleep(time.Millisecond)
		}
	}
}

// awaitView waits until the view shows every want.
func (h *harness) awaitView(want ...string) {
	h.t.Helper()
	h.await(strings.Join(want, ", "), func() bool {
		v := h.view()
		for _, w := range want {
			if !strings.Contains(v, w) {
				return false
			}
		}
		return true
	})
}

// runNow runs c in place of tea.ExecProcess, which needs a terminal.
func runNow(c *exec.Cmd, fn tea.ExecCallback) tea.Cmd {
	msg := fn(c.Run())
	return func() tea.Msg { return msg }
}

func keyMsg(s string) tea.KeyMsg {
	types := map[string]tea.KeyType{
		"enter": tea.KeyEnter, "esc": tea.KeyEsc, "tab": tea.KeyTab, "shift+tab": tea.KeyShiftTab,
		"backspace": tea.KeyBackspace, "up": tea.KeyUp, "down": tea.KeyDown, "ctrl+c": tea.KeyCtrlC,
		"ctrl+s": tea.KeyCtrlS, "home": tea.KeyHome, "end": tea.KeyEnd,
	}
	if t, ok := types[s]; ok {
		return tea.KeyMsg{Type: t}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}
