package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"consulx/api"
	"consulx/internal/testcluster"
	"consulx/tui"
)

// The demo tape (demo.tape, a VHS script) is documentation that runs: this
// file parses it and replays it into the console on a demo cluster, so a
// tape that drifts from the console's keys fails a test instead of
// recording a broken GIF.

// tapeStep is one command of a VHS tape.
type tapeStep struct {
	line   int
	src    string
	kind   string // "type", "key", "sleep", "wait"
	text   string // type: the text; key: the bytes a terminal sends
	repeat int
	dur    time.Duration // sleep: how long; wait: the timeout
	screen bool          // wait: match the whole screen, not the last line
	re     *regexp.Regexp
}

// tapeKeys are the bytes a terminal sends for VHS's named keys.
var tapeKeys = map[string]string{
	"Enter": "\r", "Tab": "\t", "Space": " ", "Backspace": "\x7f", "Escape": "\x1b",
	"Up": "\x1b[A", "Down": "\x1b[B", "Right": "\x1b[C", "Left": "\x1b[D",
	"Home": "\x1b[H", "End": "\x1b[F", "PageUp": "\x1b[5~", "PageDown": "\x1b[6~",
	"Delete": "\x1b[3~", "Insert": "\x1b[2~",
}

// tapeIgnored are the commands that set up the recording, not the session.
var tapeIgnored = map[string]bool{"Output": true, "Set": true, "Require": true, "Env": true, "Screenshot": true, "Hide": true, "Show": true}

// parseTapeDuration reads VHS times: "500ms", "2s", or a bare number of seconds.
func parseTapeDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}

// parseTape reads the commands of a tape. Anything it does not know is an
// error, so the replay can never silently skip what VHS would do.
func parseTape(src string) ([]tapeStep, error) {
	var steps []tapeStep
	for i, raw := range strings.Split(src, "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		st := tapeStep{line: i + 1, src: line, repeat: 1}
		word, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		name, speed, _ := strings.Cut(word, "@") // Type@100ms, Down@50ms 3, Wait+Screen@10s
		bad := func(why string) error { return fmt.Errorf("demo.tape:%d: %s: %q", st.line, why, line) }
		switch base, mod, _ := strings.Cut(name, "+"); {
		case tapeIgnored[name]:
			continue
		case name == "Type":
			if len(rest) < 2 || !strings.ContainsRune("\"'`", rune(rest[0])) || rest[len(rest)-1] != rest[0] {
				return nil, bad("Type wants one quoted string and nothing after it")
			}
			st.kind, st.text = "type", rest[1:len(rest)-1]
		case name == "Sleep":
			d, err := parseTapeDuration(rest)
			if err != nil {
				return nil, bad("bad time")
			}
			st.kind, st.dur = "sleep", d
		case base == "Wait":
			if mod != "" && mod != "Screen" && mod != "Line" {
				return nil, bad("unknown Wait scope")
			}
			st.kind, st.screen, st.dur = "wait", mod == "Screen", 15*time.Second // VHS's default timeout
			if speed != "" {
				d, err := parseTapeDuration(speed)
				if err != nil {
					return nil, bad("bad timeout")
				}
				st.dur = d
			}
			if len(rest) < 2 || rest[0] != '/' || rest[len(rest)-1] != '/' {
				return nil, bad("Wait needs a /regex/ here (a bare Wait waits for a shell prompt)")
			}
			re, err := regexp.Compile(rest[1 : len(rest)-1])
			if err != nil {
				return nil, bad(err.Error())
			}
			st.re = re
		case base == "Ctrl" || base == "Alt" || (base == "Shift" && mod == "Tab"):
			k := mod
			if base == "Ctrl" && strings.HasPrefix(mod, "Alt+") {
				k = strings.TrimPrefix(mod, "Alt+")
			}
			var seq string
			switch {
			case base == "Shift":
				seq = "\x1b[Z"
			case base == "Alt" && tapeKeys[k] != "":
				seq = "\x1b" + tapeKeys[k]
			case len(k) != 1:
				return nil, bad("unsupported key")
			case base == "Alt":
				seq = "\x1b" + k
			default:
				c := strings.ToUpper(k)[0]
				if c < '@' || c > '_' {
					return nil, bad("unsupported control key")
				}
				seq = string(rune(c & 0x1f))
				if strings.HasPrefix(mod, "Alt+") {
					seq = "\x1b" + seq
				}
			}
			st.kind, st.text = "key", seq
		case tapeKeys[name] != "":
			st.kind, st.text = "key", tapeKeys[name]
			if rest != "" {
				n, err := strconv.Atoi(rest)
				if err != nil || n < 1 {
					return nil, bad("bad repeat count")
				}
				st.repeat = n
			}
		default:
			return nil, bad("command the replay does not know (teach parseTape, do not skip it)")
		}
		steps = append(steps, st)
	}
	return steps, nil
}

func TestParseTape(t *testing.T) {
	steps, err := parseTape("# c\nOutput x.gif\nSet Width 10\nType \"a b\"\nType@10ms 'q'\nEnter\nDown 3\nCtrl+S\nAlt+x\nShift+Tab\nEscape\nSleep 1.5\nSleep 200ms\nWait+Screen@5s /a\\/b/\nWait /x/\n")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range steps {
		got = append(got, fmt.Sprintf("%s %q %d %v %v", s.kind, s.text, s.repeat, s.dur, s.screen))
	}
	want := []string{`type "a b" 1 0s false`, `type "q" 1 0s false`, `key "\r" 1 0s false`, `key "\x1b[B" 3 0s false`,
		`key "\x13" 1 0s false`, `key "\x1bx" 1 0s false`, `key "\x1b[Z" 1 0s false`, `key "\x1b" 1 0s false`,
		`sleep "" 1 1.5s false`, `sleep "" 1 200ms false`, `wait "" 1 5s true`, `wait "" 1 15s false`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !steps[10].re.MatchString("a/b") {
		t.Fatal("wait regex")
	}
	for _, bad := range []string{"Type \"x\" Enter", "Wait", "Paste", "Source other.tape", "Ctrl+Shift+Up", "Down x"} {
		if _, err := parseTape(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// probeModel wraps the console for the replay. A focus-in report
// ("\x1b[I", which the console ignores) written after a key comes out of
// the same input stream after that key's Update: it answers with the
// screen as it is then, so the replay knows the key was handled, and
// whether the console quit on it.
type probeModel struct {
	*tui.Model
	probes chan probe
}

type probe struct {
	screen   string
	quitting bool
}

func (p *probeModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if _, ok := msg.(tea.FocusMsg); ok {
		p.probes <- probe{screen: p.Model.View(), quitting: p.Model.Quitting()}
		return p, nil
	}
	_, cmd := p.Model.Update(msg)
	return p, cmd
}

// tapeReplay runs a tape: keys typed before the first Enter are the shell
// command (a consulx demo), the rest go to the console it opened.
type tapeReplay struct {
	t        *testing.T
	cluster  *demoCluster
	shell    strings.Builder
	in       *io.PipeWriter
	probes   chan probe
	done     chan struct{}
	quitLine int // the step after which the console had quit (0: running)

	lastTyped string   // the text of the latest Type, to check what a save wrote
	saved     []string // keys the console reported created or saved
}

// maxTapeSleep caps a Sleep: pauses are for the viewer; the replay waits
// on its barriers and the tape's Wait lines instead.
const maxTapeSleep = 300 * time.Millisecond

var demoCommand = regexp.MustCompile(`^(?:go run \./cmd/consulx|(?:\S*/)?consulx) demo(?: (.*))?$`)

func (r *tapeReplay) startConsole(st tapeStep) {
	t := r.t
	cmdline := r.shell.String()
	m := demoCommand.FindStringSubmatch(cmdline)
	if m == nil {
		t.Fatalf("demo.tape:%d: the shell command %q is not a consulx demo", st.line, cmdline)
	}
	var errBuf bytes.Buffer
	f, ok, _ := parseDemoFlags(strings.Fields(m[1]), &cliEnv{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &errBuf})
	if !ok {
		t.Fatalf("demo.tape:%d: %q: %s", st.line, cmdline, errBuf.String())
	}
	d, err := launchDemo(f)
	if err != nil {
		t.Fatalf("demo.tape:%d: %v", st.line, err)
	}
	r.cluster = d
	t.Cleanup(d.stop)
	src, opts := d.console()
	con := tui.New(src, opts)
	t.Cleanup(con.Close)
	pr, pw := io.Pipe()
	r.in, r.probes, r.done = pw, make(chan probe, 1), make(chan struct{})
	p := tea.NewProgram(&probeModel{Model: con, probes: r.probes}, tea.WithInput(pr), tea.WithOutput(io.Discard), tea.WithoutSignalHandler())
	go func() {
		if _, err := p.Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) {
			t.Errorf("console: %v", err) // killed: the cleanup of a failed replay
		}
		pr.Close()
		close(r.done)
	}()
	t.Cleanup(func() {
		p.Kill()
		<-r.done
	})
	// VHS's 1200x800 at font size 14 is about this many cells.
	p.Send(tea.WindowSizeMsg{Width: 120, Height: 40})
}

// write sends terminal bytes; each write is one read of the console's
// input, as a key press is.
func (r *tapeReplay) write(s string) {
	if _, err := r.in.Write([]byte(s)); err != nil {
		r.t.Fatalf("console input: %v", err)
	}
}

// screen waits until the console has handled everything written so far
// and returns its screen; running is false once it has quit.
func (r *tapeReplay) screen(st tapeStep) (scr string, running bool) {
	select {
	case <-r.done:
		return "", false
	default:
	}
	go func() { _, _ = r.in.Write([]byte("\x1b[I")) }() // fails harmlessly once the console quits
	select {
	case p := <-r.probes:
		return p.screen, !p.quitting
	case <-r.done:
		return "", false
	case <-time.After(testcluster.Scaled(10 * time.Second)):
		r.t.Fatalf("demo.tape:%d: the console did not handle %q", st.line, st.src)
		return "", false
	}
}

// await polls the screen until match accepts it (bounded by d, scaled).
func (r *tapeReplay) await(st tapeStep, d time.Duration, what string, match func(string) bool) string {
	deadline := time.Now().Add(testcluster.Scaled(d))
	var scr string
	for {
		s, running := r.screen(st)
		if !running {
			r.t.Fatalf("demo.tape:%d: the console quit while waiting for %s", st.line, what)
		}
		scr = s
		if match(scr) {
			return scr
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("demo.tape:%d: %q: the screen never showed %s:\n%s", st.line, st.src, what, scr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var saveFlash = regexp.MustCompile(`(?m)^(created|saved) "([^"]+)"|not saved|not created|error: .*`)

// checkSave follows a ctrl+s: the console must report the key saved, and
// the cluster must hold the text typed last.
func (r *tapeReplay) checkSave(st tapeStep) {
	scr := r.await(st, 10*time.Second, "the save's outcome", saveFlash.MatchString)
	m := saveFlash.FindStringSubmatch(scr)
	if m[2] == "" {
		r.t.Fatalf("demo.tape:%d: ctrl+s did not save: %q", st.line, m[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), testcluster.Scaled(5*time.Second))
	defer cancel()
	src, _ := r.cluster.console()
	pair, _, err := src.(*api.Client).KVGet(ctx, m[2], nil)
	if err != nil || pair == nil {
		r.t.Fatalf("demo.tape:%d: %s %q, but reading it back: %v (pair %v)", st.line, m[1], m[2], err, pair)
	}
	if !strings.Contains(string(pair.Value), r.lastTyped) {
		r.t.Fatalf("demo.tape:%d: %q holds %q, not the typed %q", st.line, m[2], pair.Value, r.lastTyped)
	}
	r.saved = append(r.saved, m[2])
}

func (r *tapeReplay) run(steps []tapeStep) {
	t := r.t
	lastKey := 0
	for _, st := range steps {
		if st.kind == "type" || st.kind == "key" {
			lastKey = st.line
		}
		if r.quitLine != 0 && st.kind != "sleep" {
			t.Fatalf("demo.tape:%d: %q comes after the console quit (line %d): in a terminal it lands in the shell", st.line, st.src, r.quitLine)
		}
		if r.cluster == nil { // still at the shell prompt
			switch {
			case st.kind == "type":
				r.shell.WriteString(st.text)
			case st.kind == "key" && st.text == "\r":
				r.startConsole(st)
			case st.kind == "sleep":
			default:
				t.Fatalf("demo.tape:%d: %q before the console was started", st.line, st.src)
			}
			continue
		}
		switch st.kind {
		case "sleep":
			time.Sleep(min(st.dur, maxTapeSleep))
			continue
		case "wait":
			scope := "the last line"
			if st.screen {
				scope = "the screen"
			}
			r.await(st, st.dur, fmt.Sprintf("/%s/ on %s", st.re, scope), func(s string) bool {
				if !st.screen {
					s = strings.TrimRight(s, "\n ")
					s = s[strings.LastIndexByte(s, '\n')+1:]
				}
				return st.re.MatchString(s)
			})
			continue
		case "type":
			// VHS types one character at a time.
			for _, c := range st.text {
				r.write(string(c))
			}
			r.lastTyped = st.text
		case "key":
			for range st.repeat {
				r.write(st.text)
			}
		}
		if _, running := r.screen(st); !running {
			r.quitLine = st.line
			continue
		}
		if st.text == "\x13" { // ctrl+s
			r.checkSave(st)
		}
	}
	if r.cluster == nil {
		t.Fatal("demo.tape never starts the console")
	}
	if len(r.saved) == 0 {
		t.Fatal("demo.tape never saves a value (ctrl+s in the editor)")
	}
	if r.quitLine == 0 {
		select {
		case <-r.done:
			r.quitLine = lastKey
		case <-time.After(testcluster.Scaled(5 * time.Second)):
			scr, _ := r.screen(tapeStep{line: lastKey})
			t.Fatalf("the console is still running at the end of demo.tape:\n%s", scr)
		}
	}
	if r.quitLine != lastKey {
		t.Fatalf("the console quit at line %d, before the tape's last key (line %d)", r.quitLine, lastKey)
	}
}

// TestDemoTape replays demo.tape against `consulx demo` (the same flags,
// cluster, seed and console options) and checks that what it types is
// what happens: every Wait line is met, each ctrl+s saves the text typed
// into the editor, and the console quits on the tape's last key, with
// nothing left over for the shell.
func TestDemoTape(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a demo cluster")
	}
	lipgloss.SetColorProfile(termenv.Ascii) // match the screen as text
	src, err := os.ReadFile("../../demo.tape")
	if err != nil {
		t.Fatal(err)
	}
	steps, err := parseTape(string(src))
	if err != nil {
		t.Fatal(err)
	}
	r := &tapeReplay{t: t}
	r.run(steps)
	t.Logf("demo.tape: saved %q; the console quit on line %d", r.saved, r.quitLine)
}
