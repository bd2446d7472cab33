package chaos

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Timeline is a run's events with their times, from its creation.
type Timeline struct {
	start time.Time
	mu    struct {
		sync.Mutex
		events []Event
	}
}

// Event is one line of a Timeline.
type Event struct {
	At   time.Time
	Text string
}

// NewTimeline starts a timeline now.
func NewTimeline() *Timeline { return &Timeline{start: time.Now()} }

// Add records an event now.
func (t *Timeline) Add(format string, args ...any) {
	t.mu.Lock()
	t.mu.events = append(t.mu.events, Event{time.Now(), fmt.Sprintf(format, args...)})
	t.mu.Unlock()
}

// Events are the events so far, in order.
func (t *Timeline) Events() []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Event(nil), t.mu.events...)
}

// Between formats the events from from to to, each as the time since
// from.
func (t *Timeline) Between(from, to time.Time) string {
	var b strings.Builder
	for _, e := range t.Events() {
		if e.At.Before(from) || e.At.After(to) {
			continue
		}
		fmt.Fprintf(&b, "  +%8.1f ms  %s\n", float64(e.At.Sub(from).Microseconds())/1000, e.Text)
	}
	return b.String()
}

// Start is when the timeline began.
func (t *Timeline) Start() time.Time { return t.start }
