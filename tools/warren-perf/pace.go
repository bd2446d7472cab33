package main

import (
	"math"
	"time"
)

// paceTick is the shortest wait between two batches of a paced producer:
// at 100,000 msg/s it wakes every millisecond and publishes the ~100
// messages that came due, instead of arming a timer per message.
const paceTick = time.Millisecond

// paceBatch bounds one batch, so a producer that fell behind (a GC pause,
// a slow broker) still checks the stop and the deadline while it catches
// up.
const paceBatch = 1000

// pacer schedules a fixed publish rate by the clock: message k (from 0) is
// due at start + k/rate. A producer asks how many are due now, publishes
// them, and waits until the next is due but at least paceTick. Being
// late (a slow wake-up) is made up in the next batch, so the rate does not
// drift however coarse the timer is.
type pacer struct {
	rate  float64 // msg/s, > 0
	start time.Time
}

// due is how many messages should be out by now: those with k/rate <=
// now-start.
func (p pacer) due(now time.Time) int64 {
	el := now.Sub(p.start)
	if el < 0 {
		return 0
	}
	// The 1e-6 forgives float rounding at the exact due instant.
	return int64(float64(el)*p.rate/float64(time.Second)+1e-6) + 1
}

// dueAt is when message k (from 0) is due.
func (p pacer) dueAt(k int64) time.Time {
	return p.start.Add(time.Duration(math.Ceil(float64(k) * float64(time.Second) / p.rate)))
}

// next says how many messages to publish now, with sent already out, and
// if none, how long to wait first.
func (p pacer) next(now time.Time, sent int64) (n int64, wait time.Duration) {
	if d := p.due(now); d > sent {
		return min(d-sent, paceBatch), 0
	}
	return 0, max(p.dueAt(sent).Sub(now), paceTick)
}
