package tui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"consulx/api"
)

func execHarness(t *testing.T, f *fakeSource) *harness {
	t.Helper()
	h := keepHarness(t, f, Options{})
	h.keys("8")
	h.must("Remote exec")
	return h
}

// compose opens the form and fills it: command, node, service, tag.
func compose(h *harness, fields ...string) {
	h.t.Helper()
	h.keys("n")
	h.awaitView("preview: 3 of 3 alive nodes match")
	for i, v := range fields {
		if i > 0 {
			h.keys("tab")
		}
		h.typeText(v)
	}
}

// runJob composes, confirms and returns the job the fake received.
func runJob(h *harness, fields ...string) *fakeJob {
	h.t.Helper()
	compose(h, fields...)
	h.keys("enter")
	h.must("y/N")
	h.keys("y")
	return h.f.nextJob(h.t)
}

func (f *fakeSource) nextJob(t testing.TB) *fakeJob {
	t.Helper()
	select {
	case j := <-f.execJobs:
		return j
	case <-time.After(5 * time.Second):
		t.Fatal("no exec job reached the agent")
		return nil
	}
}

func (f *fakeSource) noJob(t testing.TB) {
	t.Helper()
	select {
	case j := <-f.execJobs:
		t.Fatalf("an exec job reached the agent: %+v", j.req)
	case <-time.After(20 * time.Millisecond):
	}
}

// send streams events to the console, as the agent would.
func (j *fakeJob) send(t testing.TB, evs ...api.ExecEvent) {
	t.Helper()
	for _, ev := range evs {
		select {
		case j.events <- ev:
		case <-time.After(5 * time.Second):
			t.Fatalf("the console did not take event %+v", ev)
		}
	}
}

// end ends the job's stream (the agent's answer is over).
func (j *fakeJob) end() { close(j.events) }

func (j *fakeJob) waitEnded(t testing.TB) error {
	t.Helper()
	select {
	case err := <-j.ended:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("the exec job did not end")
		return nil
	}
}

func evStart(nodes ...string) api.ExecEvent {
	return api.ExecEvent{Type: api.ExecStart, Job: "0b5e55ed-1234-5678-9abc-def012345678", Expected: nodes}
}
func evAck(n string) api.ExecEvent { return api.ExecEvent{Type: api.ExecAck, Node: n} }
func evOut(n, s string) api.ExecEvent {
	return api.ExecEvent{Type: api.ExecOutput, Node: n, Data: []byte(s)}
}
func evExit(n string, code int) api.ExecEvent {
	return api.ExecEvent{Type: api.ExecExit, Node: n, Code: code}
}
func evDone() api.ExecEvent { return api.ExecEvent{Type: api.ExecDone} }

func TestExecPreviewFollowsTheFilters(t *testing.T) {
	t.Parallel()
	h := execHarness(t, newFake())
	// Alive members: node-a, node-b, web-1 (node-c failed, web-2 left).
	compose(h, "uptime", "^node")
	h.must("> node:    ^node", "preview: 2 of 3 alive nodes match", "node-a  node-b")
	h.mustNot("web-1")
	h.typeText("-b")
	h.must("preview: 1 of 3 alive nodes matches", "node-b")
	h.mustNot("  node-a")
	for range len("^node-b") {
		h.keys("backspace")
	}
	h.must("preview: 3 of 3 alive nodes match", "node-a  node-b  web-1")
	// Service web: web-1 (web), node-b (web-b); web-c's node-c is not alive.
	h.keys("tab")
	h.typeText("^web$")
	h.must("preview: 2 of 3 alive nodes match", "node-b  web-1")
	h.keys("tab")
	h.typeText("primary") // only web-1's instance has it (node-a's db is not web)
	h.must("preview: 1 of 3 alive nodes matches", "web-1")
	h.mustNot("node-b ")
	h.keys("up") // back to service: a tag without a service is refused
	for range len("^web$") {
		h.keys("backspace")
	}
	h.must("preview: a tag filter needs a service filter")
	h.keys("tab")
	for range len("primary") {
		h.keys("backspace")
	}
	h.keys("up", "up")
	h.typeText("(")
	h.must("preview: node filter: error parsing regexp")
	h.keys("enter")
	h.must("node filter: error parsing regexp")
	h.mustNot("y/N")
	h.f.noJob(t)
	if h.quit {
		t.Fatal("typing quit")
	}
}

func TestExecConfirmNamesCommandAndCount(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := execHarness(t, f)
	compose(h, "systemctl restart app", "^node-")
	h.keys("enter")
	h.must(`Run "systemctl restart app" on 2 nodes? y/N`, "command: systemctl restart app", "targets: node ^node-", "nodes: node-a, node-b")
	h.footerHas("y confirm", "other keys cancel")
	h.keys("n") // any other key cancels
	h.mustNot("y/N")
	h.must("cancelled: nothing run", "> node:    ^node-") // the form stays, as typed
	f.noJob(t)
	h.keys("enter", "y")
	j := f.nextJob(t)
	if j.req.Command != "systemctl restart app" || j.req.NodeFilter != "^node-" || j.req.ServiceFilter != "" || j.req.TagFilter != "" {
		t.Fatalf("request %+v", j.req)
	}
	h.must(`exec "systemctl restart app"`, "0 / 0 completed", "starting…")

	// Refused before any dialog: no command, or no node.
	f2 := newFake()
	h2 := execHarness(t, f2)
	compose(h2, "", "nomatch")
	h2.keys("enter")
	h2.must("type a command")
	h2.keys("shift+tab")
	h2.typeText("true")
	h2.keys("enter")
	h2.must("no alive node matches the filters")
	h2.mustNot("y/N")
	f2.noJob(t)
}

func TestExecStreamsOutputUnderTheRightNode(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := execHarness(t, f)
	j := runJob(h, "hostname", "^node-")
	j.send(t, evStart("node-b", "node-a"), evAck("node-a"), evOut("node-a", "hello from a\nsecond "), evAck("node-b"),
		evOut("node-b", "b line 1\nb line 2\n"), evOut("node-a", "half\n"))
	h.awaitView("0 / 2 completed", "second half")
	h.must("> node-a  running", "  node-b  running", "node-a · running · 2 lines", "hello from a")
	h.mustNot("b line")
	j.send(t, evExit("node-a", 0))
	h.awaitView("1 / 2 completed · 1 ok · 0 failed", "> node-a  exit 0")
	h.keys("j")
	h.must("node-b · running · 2 lines", "b line 1", "b line 2")
	h.mustNot("hello from a")
	j.send(t, api.ExecEvent{Type: api.ExecHeartbeat, Node: "node-b"}, evOut("node-b", "oops\n"), evExit("node-b", 3), evDone())
	h.awaitView("2 / 2 completed · 1 ok · 1 failed", "> node-b  exit 3", "oops")
	h.must("running (x cancels)")
	j.end()
	h.awaitView("· done")
	h.must("job 0b5e55ed", "(R re-runs them)")
	h.footerHas("R re-run failed", "n new command")
	if err := j.waitEnded(t); err != nil {
		t.Fatalf("the job ended with %v", err)
	}
}

func TestExecSummaryCountsEveryOutcome(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := execHarness(t, f)
	j := runJob(h, "deploy")
	nodes := []string{"n1", "n2", "n3", "n4", "n5", "n6", "n7"}
	j.send(t, evStart(nodes...))
	h.awaitView("0 / 7 completed · 0 ok · 0 failed", "  n7    waiting")
	j.send(t, evAck("n1"), evExit("n1", 0), evAck("n2"), evExit("n2", 1),
		evAck("n3"), api.ExecEvent{Type: api.ExecExit, Node: "n3", Code: 137, TimedOut: true},
		api.ExecEvent{Type: api.ExecRefused, Node: "n4", Reason: "remote exec is disabled"},
		evAck("n5"), api.ExecEvent{Type: api.ExecLost, Node: "n5", Reason: "connection reset"},
		api.ExecEvent{Type: api.ExecNoAck, Node: "n6"}, evAck("n7"))
	h.awaitView("6 / 7 completed · 1 ok · 4 failed · 1 refused", "  n7    running")
	h.must("> n1    exit 0", "  n2    exit 1", "  n3    timed out", "  n4    refused", "  n5    lost", "  n6    no ack")
	h.keys("j", "j", "j")
	h.must("n4 · refused · remote exec is disabled")
	// The stream ends before n7's exit: it is lost.
	j.end()
	h.awaitView("7 / 7 completed · 1 ok · 5 failed · 1 refused", "  n7    lost")
	h.keys("j", "j", "j")
	h.must("n7 · lost · the job's stream ended before its exit code")
}

func TestExecRerunsOnlyTheFailedNodes(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := execHarness(t, f)
	j := runJob(h, "make -C /srv", "", "web")
	if j.req.ServiceFilter != "web" {
		t.Fatalf("request %+v", j.req)
	}
	j.send(t, evStart("node-a", "node-b", "db.1", "web-1", "web-2", "x+y"),
		evExit("node-a", 0), evExit("node-b", 2),
		api.ExecEvent{Type: api.ExecExit, Node: "db.1", Code: 143, TimedOut: true},
		api.ExecEvent{Type: api.ExecLost, Node: "web-1"}, api.ExecEvent{Type: api.ExecNoAck, Node: "x+y"},
		api.ExecEvent{Type: api.ExecRefused, Node: "web-2", Reason: "disabled"})
	h.awaitView("6 / 6 completed · 1 ok · 4 failed · 1 refused")
	h.keys("R") // still running: the stream is open
	h.must("the job is still running")
	f.noJob(t)
	j.send(t, evDone())
	j.end()
	h.awaitView("· done")
	h.keys("R")
	h.must(`Re-run "make -C /srv" on 4 failed nodes? y/N`, "nodes: db.1, node-b, web-1, x+y")
	h.keys("y")
	r := f.nextJob(t)
	if want := `^(db\.1|node-b|web-1|x\+y)$`; r.req.NodeFilter != want {
		t.Fatalf("re-run node filter %q, want %q", r.req.NodeFilter, want)
	}
	if r.req.Command != "make -C /srv" || r.req.ServiceFilter != "" || r.req.TagFilter != "" {
		t.Fatalf("re-run request %+v", r.req)
	}
	h.must(`exec "make -C /srv"`, `targets: node ^(db\.1|node-b|web-1|x\+y)$`)
	r.send(t, evStart("db.1", "node-b", "web-1", "x+y"))
	h.awaitView("0 / 4 completed")
	h.mustNot("  node-a")
}

func TestExecCancel(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := execHarness(t, f)
	j := runJob(h, "sleep 600")
	j.send(t, evStart("node-a", "node-b"), evAck("node-a"), evExit("node-b", 0))
	h.awaitView("1 / 2 completed")
	h.footerHas("x cancel job")
	h.keys("x")
	if err := j.waitEnded(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("the agent saw %v, want the context cancelled", err)
	}
	h.awaitView("cancelled", "> node-a  cancelled", "  node-b  exit 0")
	h.must("1 / 2 completed · 1 ok · 0 failed")
	h.footerHas("n new command")
	h.footerLacks("x cancel job")
	h.keys("R")
	h.must("no node failed")
	f.noJob(t)

	// ctrl+c cancels a running job instead of quitting; once it is over
	// ctrl+c quits.
	h.keys("n", "enter", "y") // the form keeps what was typed
	j2 := f.nextJob(t)
	j2.send(t, evStart("node-a"))
	h.awaitView("0 / 1 completed")
	h.keys("ctrl+c")
	if h.quit {
		t.Fatal("ctrl+c quit while a job ran")
	}
	if err := j2.waitEnded(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("the agent saw %v, want the context cancelled", err)
	}
	h.awaitView("cancelled")
	h.keys("ctrl+c")
	if !h.quit {
		t.Fatal("ctrl+c did not quit once the job was over")
	}
}

func TestExecQuitWhileRunningAsks(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := execHarness(t, f)
	j := runJob(h, "sleep 600")
	j.send(t, evStart("node-a"))
	h.awaitView("0 / 1 completed")
	h.keys("1", "q") // from another pane too
	h.must(`Quit and cancel the exec job "sleep 600" on every node? y/N`)
	h.keys("n")
	if h.quit {
		t.Fatal("quit without y")
	}
	h.keys("q", "y")
	if !h.quit {
		t.Fatal("y did not quit")
	}
	if err := j.waitEnded(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("quitting left the job running: %v", err)
	}
}

func TestExecSearchOutput(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := execHarness(t, f)
	h.send(tea.WindowSizeMsg{Width: 100, Height: 16})
	j := runJob(h, "journalctl", "^node-a$")
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "line %03d ok\n", i)
		if i == 10 || i == 60 {
			fmt.Fprintf(&b, "line %03d ERROR disk full\n", i)
		}
	}
	j.send(t, evStart("node-a"), evOut("node-a", b.String()))
	h.awaitView("line 099 ok") // follows the end
	h.mustNot("line 010 ERROR")
	h.keys("/")
	h.typeText("error")
	h.must("/error", "match 1 of 2", "line 010 ERROR disk full")
	h.mustNot("line 099 ok")
	h.keys("down")
	h.must("match 2 of 2", "line 060 ERROR disk full")
	h.keys("down")
	h.must("match 1 of 2", "line 010 ERROR")
	h.keys("enter") // keeps the search
	h.must("/error", "match 1 of 2")
	h.keys("G")
	h.must("line 099 ok")
	h.keys("esc") // clears it
	h.mustNot("/error")
	h.keys("pgup", "pgup")
	h.must("G follows")
	h.mustNot("line 099 ok")
	h.keys("G")
	h.must("line 099 ok")
}

func TestReadOnlyHidesEventsFireAndExec(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := keepHarness(t, f, Options{ReadOnly: true})
	h.mustNot("8 Exec")
	h.must("7 Events")
	h.keys("8")
	if h.m.active != 0 {
		t.Fatalf("8 switched to pane %d", h.m.active)
	}
	h.must("9 ACL") // the panes keep their numbers
	h.keys("9")
	if h.m.panes[h.m.active] != h.m.named.acl {
		t.Fatalf("9 switched to pane %d, not ACL", h.m.active)
	}
	h.keys("7", "n")
	h.mustNot("Fire a user event")
	h.keys("?")
	h.must("Events and Exec", "1-7,9", "filter events")
	h.mustNot("cancel job", "re-run", "new event", "1-8", "search output", "next form field")
	f.noJob(t)
	if got := f.firedEvents(); len(got) != 0 {
		t.Fatalf("fired %+v", got)
	}
	rw := newHarness(t, newFake(), Options{})
	rw.keys("?")
	rw.must("1-9", "new event / command", "cancel job", "re-run failed", "filter / find output")
}

// TestExecOutputIsBounded: a node's output keeps the newest ~1 MiB.
func TestExecOutputIsBounded(t *testing.T) {
	t.Parallel()
	var o execOutput
	line := strings.Repeat("x", 99) + "\n"
	for i := range 40000 { // 4 MB
		o.write([]byte(fmt.Sprintf("%07d", i) + line[7:]))
	}
	if o.size() > execKeepOutput {
		t.Fatalf("kept %d bytes, more than %d", o.size(), execKeepOutput)
	}
	if o.dropped == 0 || o.dropped+int64(o.size()) != 40000*100 {
		t.Fatalf("dropped %d, kept %d", o.dropped, o.size())
	}
	if last := o.line(o.count() - 1); !strings.HasPrefix(last, "0039999") {
		t.Fatalf("last line %q", last)
	}
	// A flood without newlines is cut into lines and bounded too.
	var p execOutput
	chunk := []byte(strings.Repeat("y", 64<<10))
	for range 64 {
		p.write(chunk)
	}
	if p.size() > execKeepOutput || len(p.partial) >= execMaxLine {
		t.Fatalf("kept %d bytes, partial %d", p.size(), len(p.partial))
	}
	// What is drawn is safe: no escapes, no control characters.
	var q execOutput
	q.write([]byte("\x1b[31mred\x1b[0m\tx\x07\r\nprogress 10%\rprogress 100%\n\xff"))
	for i, want := range []string{"red     x?", "progress 100%", "\uFFFD"} {
		if got := q.line(i); got != want {
			t.Fatalf("line %d %q, want %q", i, got, want)
		}
	}
}

// TestExecPaneShowsDroppedOutput: the console says it kept only the end.
func TestExecPaneShowsDroppedOutput(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := execHarness(t, f)
	j := runJob(h, "yes", "^node-a$")
	j.send(t, evStart("node-a"))
	chunk := strings.Repeat(strings.Repeat("y", 63)+"\n", 1024) // 64 KiB
	for range 24 {
		j.send(t, evOut("node-a", chunk))
	}
	h.awaitView("KiB dropped (1 MiB kept)")
	if n := h.m.named.exec.job.node("node-a"); n.out.size() > execKeepOutput {
		t.Fatalf("node-a keeps %d bytes", n.out.size())
	}
}

// TestExecBatchesEvents: a flood reaches Update in batches, not one
// message per chunk, and nothing is lost.
func TestExecBatchesEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, newFake(), Options{})
	p := h.m.named.exec
	s := &execStream{events: make(chan api.ExecEvent, 2000)}
	for i := range 1500 {
		s.events <- evOut("n", fmt.Sprintf("%d\n", i))
	}
	close(s.events)
	var sizes []int
	total := 0
	for {
		msg := p.read(s, 1)().(execBatchMsg)
		sizes = append(sizes, len(msg.events))
		total += len(msg.events)
		if msg.end {
			break
		}
	}
	// Queued events go in batches of at most execBatchEvents (a batch
	// also ends after execBatchWindow, so under load there may be a few
	// more than three).
	if total != 1500 || len(sizes) > 10 || slices.Max(sizes) > execBatchEvents {
		t.Fatalf("batches %v (total %d)", sizes, total)
	}
}

// TestGoldenExec runs a job in the real program (teatest): the events
// stream through tea.Program into the pane.
func TestGoldenExec(t *testing.T) {
	f := newFake()
	runGolden(t, f, Options{}, func(tm *teatest.TestModel) {
		tm.Send(keyMsg("8"))
		tm.Send(keyMsg("n"))
		waitFor(t, tm, "3 of 3 alive nodes match")
		tm.Send(burst("uptime"))
		tm.Send(keyMsg("tab"))
		tm.Send(burst("^node"))
		waitFor(t, tm, "2 of 3 alive nodes match")
		tm.Send(keyMsg("enter"))
		waitFor(t, tm, "y/N")
		tm.Send(keyMsg("y"))
		j := f.nextJob(t)
		j.send(t, evStart("node-a", "node-b"), evAck("node-a"), evAck("node-b"),
			evOut("node-a", " 03:04:05 up 3 days,  2:01,  1 user,  load average: 0.08, 0.03, 0.01\n"),
			evOut("node-b", "uptime: /proc must be mounted\n"), evExit("node-b", 1), evExit("node-a", 0), evDone())
		j.end()
		waitFor(t, tm, "R re-runs them")
	})
}
