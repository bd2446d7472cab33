package chaos

import (
	"sort"
	"sync"
	"time"
)

// Key names one message: its publisher and its sequence number there.
type Key struct {
	Pub int
	Seq uint64
}

// Delivery is one message a consumer received.
type Delivery struct {
	Key         Key
	Valid       bool   // the headers named a publisher and a sequence number
	Raw         string // what was there when not Valid
	Redelivered bool
	Session     int // the consumer connection it came on
	At          time.Time
}

// confirm is one publisher confirm: when its message was sent, when the
// confirm came.
type confirm struct {
	sent, at time.Time
}

// History records a workload: every message sent (attempted), its
// confirm or nack, every delivery, and the consumer sessions that broke.
// Safe for concurrent use.
type History struct {
	mu struct {
		sync.Mutex
		sent       map[Key]time.Time
		confirmed  map[Key]bool
		nacked     map[Key]bool
		confirms   []confirm
		deliveries []Delivery
		consumed   map[Key]bool
		sessions   int
		broken     map[int]time.Time // session -> when it broke
		// missing counts the confirmed messages not consumed yet, kept
		// as they come: Drain asks every 20 ms, and counting them over
		// the maps each time held the lock for most of those 20 ms once
		// a run had 200,000 messages, so the consumer (waiting for the
		// lock to record each delivery) seemed to stall and a drain ended
		// with 'lost' messages still in flight to it.
		missing int
	}
}

// NewHistory is an empty history.
func NewHistory() *History {
	h := &History{}
	h.mu.sent = map[Key]time.Time{}
	h.mu.confirmed = map[Key]bool{}
	h.mu.nacked = map[Key]bool{}
	h.mu.consumed = map[Key]bool{}
	h.mu.broken = map[int]time.Time{}
	return h
}

// Sent records k as published (its fate unknown until its confirm).
func (h *History) Sent(k Key, at time.Time) {
	h.mu.Lock()
	h.mu.sent[k] = at
	h.mu.Unlock()
}

// Confirmed records the broker's answer for k: ack or nack.
func (h *History) Confirmed(k Key, ack bool, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !ack {
		h.mu.nacked[k] = true
		return
	}
	if !h.mu.confirmed[k] && !h.mu.consumed[k] {
		h.mu.missing++
	}
	h.mu.confirmed[k] = true
	h.mu.confirms = append(h.mu.confirms, confirm{h.mu.sent[k], at})
}

// Session starts a consumer session and returns its number.
func (h *History) Session() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mu.sessions++
	return h.mu.sessions
}

// Broken records that session s ended without being asked to.
func (h *History) Broken(s int) {
	h.mu.Lock()
	h.mu.broken[s] = time.Now()
	h.mu.Unlock()
}

// Delivered records a delivery.
func (h *History) Delivered(d Delivery) {
	h.mu.Lock()
	h.mu.deliveries = append(h.mu.deliveries, d)
	if d.Valid {
		if !h.mu.consumed[d.Key] && h.mu.confirmed[d.Key] {
			h.mu.missing--
		}
		h.mu.consumed[d.Key] = true
	}
	h.mu.Unlock()
}

// Missing counts confirmed messages not consumed yet.
func (h *History) Missing() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mu.missing
}

// Counts are the confirmed and consumed messages so far.
func (h *History) Counts() (sent, confirmed, consumed int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.mu.sent), len(h.mu.confirmed), len(h.mu.consumed)
}

// ResumedAfter is how long after t the first message sent at or after t
// was confirmed; false when none was.
func (h *History) ResumedAfter(t time.Time) (time.Duration, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var best time.Duration
	found := false
	for _, c := range h.mu.confirms {
		if !c.sent.Before(t) && (!found || c.at.Sub(t) < best) {
			best, found = c.at.Sub(t), true
		}
	}
	return best, found
}

// LastConfirmBefore is the time of the last confirm before t.
func (h *History) LastConfirmBefore(t time.Time) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var last time.Time
	for _, c := range h.mu.confirms {
		if c.at.Before(t) && c.at.After(last) {
			last = c.at
		}
	}
	return last, !last.IsZero()
}

// Latencies are the confirm latencies, sorted.
func (h *History) Latencies() []time.Duration {
	h.mu.Lock()
	out := make([]time.Duration, 0, len(h.mu.confirms))
	for _, c := range h.mu.confirms {
		out = append(out, c.at.Sub(c.sent))
	}
	h.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// snapshot copies what Check reads.
func (h *History) snapshot() (sent map[Key]time.Time, confirmed, nacked map[Key]bool, deliveries []Delivery, broken map[int]time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sent = make(map[Key]time.Time, len(h.mu.sent))
	for k, v := range h.mu.sent {
		sent[k] = v
	}
	confirmed = make(map[Key]bool, len(h.mu.confirmed))
	for k := range h.mu.confirmed {
		confirmed[k] = true
	}
	nacked = make(map[Key]bool, len(h.mu.nacked))
	for k := range h.mu.nacked {
		nacked[k] = true
	}
	broken = make(map[int]time.Time, len(h.mu.broken))
	for k, v := range h.mu.broken {
		broken[k] = v
	}
	return sent, confirmed, nacked, append([]Delivery(nil), h.mu.deliveries...), broken
}

// Gap is a time without a confirm: from the confirm that began it, for
// how long.
type Gap struct {
	From time.Time
	Len  time.Duration
}

// LongestGap is the longest time without a confirm between the first
// confirm and the last, and when it began.
func (h *History) LongestGap() (from time.Time, gap time.Duration) {
	if g := h.Gaps(1); len(g) > 0 {
		return g[0].From, g[0].Len
	}
	return time.Time{}, 0
}

// Gaps are the n longest times without a confirm, longest first.
func (h *History) Gaps(n int) []Gap {
	h.mu.Lock()
	ats := make([]time.Time, 0, len(h.mu.confirms))
	for _, c := range h.mu.confirms {
		ats = append(ats, c.at)
	}
	h.mu.Unlock()
	sort.Slice(ats, func(i, j int) bool { return ats[i].Before(ats[j]) })
	var gaps []Gap
	for i := 1; i < len(ats); i++ {
		gaps = append(gaps, Gap{ats[i-1], ats[i].Sub(ats[i-1])})
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i].Len > gaps[j].Len })
	return gaps[:min(n, len(gaps))]
}
