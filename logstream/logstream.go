package logstream

import (
	"bytes"
	"strings"
	"sync"
)

// Broadcaster is an io.Writer for a logger: every complete line written is
// kept in a ring and sent to every subscriber.
type Broadcaster struct {
	mu      sync.Mutex
	partial []byte
	ring    []string
	next    int
	full    bool
	subs    map[chan string]struct{}
}

// New keeps the last history lines.
func New(history int) *Broadcaster {
	return &Broadcaster{ring: make([]string, max(history, 1)), subs: map[chan string]struct{}{}}
}

// Write splits p into lines and publishes them. It never blocks on a slow
// subscriber: lines a subscriber cannot take are dropped for it.
func (b *Broadcaster) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			break
		}
		line := string(b.partial[:i])
		b.partial = b.partial[i+1:]
		b.ring[b.next] = line
		b.next = (b.next + 1) % len(b.ring)
		if b.next == 0 {
			b.full = true
		}
		for ch := range b.subs {
			select {
			case ch <- line:
			default:
			}
		}
	}
	if len(b.partial) == 0 {
		b.partial = nil
	}
	return len(p), nil
}

// Subscribe returns the recent history and a channel of new lines; cancel
// stops delivery.
func (b *Broadcaster) Subscribe(buffer int) (history []string, lines <-chan string, cancel func()) {
	ch := make(chan string, buffer)
	b.mu.Lock()
	if b.full {
		history = append(history, b.ring[b.next:]...)
	}
	history = append(history, b.ring[:b.next]...)
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	return history, ch, func() {
		b.mu.Lock()
		delete(b.subs, ch)
		b.mu.Unlock()
	}
}

// levels orders hclog's level tags.
var levels = map[string]int{"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4}

// LevelOf returns the level tag of an hclog line ("INFO" for "[INFO] ...").
func LevelOf(line string) string {
	i := strings.IndexByte(line, '[')
	j := strings.IndexByte(line, ']')
	if i < 0 || j < i {
		return ""
	}
	return line[i+1 : j]
}

// AtLeast reports whether line's level is at or above min ("info", "warn"...).
// Lines without a level tag pass.
func AtLeast(line, min string) bool {
	want, ok := levels[strings.ToUpper(min)]
	if strings.EqualFold(min, "err") {
		want, ok = levels["ERROR"], true
	}
	if !ok {
		return true
	}
	got, ok := levels[LevelOf(line)]
	return !ok || got >= want
}
