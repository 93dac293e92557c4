package tui

import (
	"slices"
	"strings"
	"testing"

	"consulx/api"
)

// keepHarness is a started harness that keeps its long-lived commands
// (watches, streams) so await can deliver what they return later.
func keepHarness(t *testing.T, f *fakeSource, opts Options) *harness {
	t.Helper()
	h := newHarness(t, f, opts)
	h.keep = true
	return h.start()
}

func (f *fakeSource) firedEvents() []api.UserEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.fired)
}

func TestEventsListIsLiveNewestFirst(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.addEvent(api.UserEvent{Name: "deploy", Payload: []byte("v1.2"), NodeFilter: "^web", LTime: 7})
	f.addEvent(api.UserEvent{Name: "restart", Payload: []byte("line1\nline2\x00\xff"), ServiceFilter: "db", TagFilter: "primary", LTime: 8})
	h := keepHarness(t, f, Options{})
	h.keys("7")
	h.awaitView("2 events, newest first")
	h.must("ID        NAME     PAYLOAD", "FILTERS", "LTIME",
		"> 00002002  restart  line1\\nline2\\x00\\xff  service=db tag=primary  8",
		"  00001001  deploy   v1.2", "node=^web",
		"ID 00002002-1111-4222-8333-000000000002 · payload 13 bytes")

	// A new event arrives at the agent: the blocking list returns it.
	f.addEvent(api.UserEvent{Name: "backup", LTime: 9})
	h.awaitView("3 events")
	v := h.view()
	if !(strings.Index(v, "backup") < strings.Index(v, "restart") && strings.Index(v, "restart") < strings.Index(v, "deploy")) {
		t.Fatalf("want newest first:\n%s", v)
	}
	h.must("  restart") // the cursor stayed on its event
	h.must("> 00002002")

	// The filter narrows the list.
	h.keys("/")
	h.typeText("deploy")
	h.must("1 of 3")
	h.mustNot("restart ")
}

func TestEventsFireFormSendsTheEvent(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := keepHarness(t, f, Options{})
	h.keys("7")
	h.awaitView("0 events", "no events yet")
	h.footerHas("n fire event")
	h.keys("n")
	h.must("Fire a user event", "> name:", "payload:", "node:", "service:", "tag:")
	h.footerHas("enter fire", "esc cancel")
	h.typeText("deploy")
	h.keys("tab")
	h.typeText("v1.2 q") // q is text here
	h.keys("tab")
	h.typeText("^web-")
	h.keys("tab", "tab")
	h.typeText("v1") // a tag without a service is refused before it is sent
	h.keys("enter")
	h.must("a tag filter needs a service filter")
	h.keys("up")
	h.typeText("web")
	h.keys("enter")
	h.awaitView("fired \"deploy\" · Event ID f17ed000-0000-4000-8000-000000000001")
	got := f.firedEvents()
	want := api.UserEvent{Name: "deploy", Payload: []byte("v1.2 q"), NodeFilter: "^web-", ServiceFilter: "web", TagFilter: "v1"}
	if len(got) != 1 || got[0].Name != want.Name || string(got[0].Payload) != string(want.Payload) ||
		got[0].NodeFilter != want.NodeFilter || got[0].ServiceFilter != want.ServiceFilter || got[0].TagFilter != want.TagFilter {
		t.Fatalf("fired %+v, want %+v", got, want)
	}
	if h.quit {
		t.Fatal("q in the form quit")
	}
	// The watch lists it.
	h.awaitView("1 event,", "> f17ed000  deploy  v1.2 q   node=^web- service=web tag=v1  1")
	h.mustNot("Fire a user event")
}

func TestEventsFireRefusalsSendNothing(t *testing.T) {
	t.Parallel()
	f := newFake()
	h := keepHarness(t, f, Options{})
	h.keys("7", "n", "enter")
	h.must("an event needs a name")
	h.typeText("x")
	h.keys("tab")
	h.typeText(strings.Repeat("p", 513))
	h.keys("enter")
	h.must("the payload is 513 bytes; the limit is 512")
	h.keys("backspace", "tab")
	h.typeText("(")
	h.keys("enter")
	h.must("node filter: error parsing regexp")
	h.keys("esc")
	h.mustNot("Fire a user event")
	if got := f.firedEvents(); len(got) != 0 {
		t.Fatalf("fired %+v", got)
	}
}

func TestEventsFireErrorKeepsTheForm(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.fireErr = &api.StatusError{Code: 400, Body: "Event payload too large"}
	h := keepHarness(t, f, Options{})
	h.keys("7", "n")
	h.typeText("deploy")
	h.keys("enter")
	h.awaitView(`fire "deploy": `, "Event payload too large")
	h.must("Fire a user event", "> name:    deploy")
}

func TestReadOnlyEventsListButCannotFire(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.addEvent(api.UserEvent{Name: "deploy"})
	h := keepHarness(t, f, Options{ReadOnly: true})
	h.keys("7")
	h.awaitView("1 event,", "deploy")
	h.footerLacks("fire")
	h.keys("n")
	h.mustNot("Fire a user event")
	h.keys("?")
	h.must("Events", "filter")
	h.must("filter events")
	h.mustNot("new event")
	if got := f.firedEvents(); len(got) != 0 {
		t.Fatalf("read-only fired %+v", got)
	}
}
