package tui

import (
	"context"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// Update+View per keypress against a large agent: 1,000 members and
// 100,000 keys. Commands returned by Update are not run (no I/O measured).

func benchModel(b *testing.B, f *fakeSource) *Model {
	m := New(f, Options{})
	m.sh.now = fixedNow
	b.Cleanup(m.Close)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	return m
}

func press(m *Model, k tea.KeyMsg) {
	m.Update(k)
	_ = m.View()
}

func BenchmarkMembers1000(b *testing.B) {
	f := bigFake(1000, 0)
	m := benchModel(b, f)
	m.Update(membersMsg{members: f.lan})
	down, up := keyMsg("j"), keyMsg("k")
	b.Run("move", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if i%200 < 100 {
				press(m, down)
			} else {
				press(m, up)
			}
		}
	})
	b.Run("filter-type", func(b *testing.B) {
		if !m.named.members.list.typing {
			m.Update(keyMsg("/")) // b.Run may call this more than once
		}
		one, back := keyMsg("1"), keyMsg("backspace")
		for i := 0; b.Loop(); i++ {
			if i%2 == 0 {
				press(m, one)
			} else {
				press(m, back)
			}
		}
	})
	b.Run("refresh", func(b *testing.B) {
		msg := membersMsg{members: f.lan}
		for b.Loop() {
			m.Update(msg)
			_ = m.View()
		}
	})
}

func BenchmarkKeypress100kKeys(b *testing.B) {
	f := bigFake(0, 100_000)
	m := benchModel(b, f)
	m.Update(keyMsg("3"))
	p := m.kv()
	// A folder listing of 1,000 entries (the first 1,000 full keys).
	all, _, _ := f.KVKeys(context.Background(), "", "", nil)
	b.Run("tree-1000-entries", func(b *testing.B) {
		p.tree.entries, p.tree.loaded = all[:1000], true
		down, up := keyMsg("j"), keyMsg("k")
		for i := 0; b.Loop(); i++ {
			if i%2000 < 1000 {
				press(m, down)
			} else {
				press(m, up)
			}
		}
	})
	b.Run("search-type", func(b *testing.B) {
		if p.mode != kvSearch {
			m.Update(keyMsg("/")) // b.Run may call this more than once
			m.Update(kvAllKeysMsg{keys: all})
			m.Update(keyMsg("0"))
		}
		one, back := keyMsg("7"), keyMsg("backspace")
		for i := 0; b.Loop(); i++ {
			if i%2 == 0 {
				press(m, one)
			} else {
				press(m, back)
			}
		}
	})
	b.Run("search-move", func(b *testing.B) {
		down := keyMsg("down")
		for b.Loop() {
			press(m, down)
		}
	})
}
