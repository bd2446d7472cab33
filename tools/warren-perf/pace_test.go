package main

import (
	"testing"
	"time"
)

func TestPacerNext(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	tests := []struct {
		name     string
		rate     float64
		now      time.Time
		sent     int64
		wantN    int64
		wantWait time.Duration
	}{
		{"first message is due at the start", 100, t0, 0, 1, 0},
		{"before the start nothing is due", 100, at(-time.Millisecond), 0, 0, time.Millisecond},
		{"100/s: the second is due 10 ms after the first", 100, at(time.Millisecond), 1, 0, 9 * time.Millisecond},
		{"100/s: exactly at its due time", 100, at(10 * time.Millisecond), 1, 1, 0},
		{"100/s: late by 25 ms, the missed ones go at once", 100, at(35 * time.Millisecond), 1, 3, 0},
		{"100k/s: wait at least a tick, not 10 µs", 100000, at(0), 1, 0, paceTick},
		{"100k/s: a tick later, a batch of 100", 100000, at(time.Millisecond), 1, 100, 0},
		{"100k/s: a whole second late, the batch is capped", 100000, at(time.Second), 1, paceBatch, 0},
		{"1k/s after 5 s and 5000 sent: the next is 1 ms on", 1000, at(5 * time.Second), 5001, 0, time.Millisecond},
		{"1k/s after 5 s: exactly 5001 due", 1000, at(5 * time.Second), 5000, 1, 0},
		{"a third per second: ceil of the due instant", 3, at(0), 1, 0, 333333334 * time.Nanosecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pacer{rate: tt.rate, start: t0}
			n, wait := p.next(tt.now, tt.sent)
			if n != tt.wantN || wait != tt.wantWait {
				t.Errorf("next(%v, %d) = %d, %v; want %d, %v", tt.now.Sub(t0), tt.sent, n, wait, tt.wantN, tt.wantWait)
			}
		})
	}
}

// TestPacerNoDrift drives a pacer with a clock that always wakes late and
// checks that the messages out after 10 s are the rate times 10 s.
func TestPacerNoDrift(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, rate := range []float64{100, 1000, 10000, 50000, 100000} {
		p := pacer{rate: rate, start: t0}
		now, sent, wakes := t0, int64(0), 0
		end := t0.Add(10 * time.Second)
		for now.Before(end) {
			n, wait := p.next(now, sent)
			sent += n
			if n == 0 {
				now = now.Add(wait + 137*time.Microsecond) // every wake-up is late
				wakes++
			}
		}
		for n, _ := p.next(now, sent); n > 0; n, _ = p.next(now, sent) {
			sent += n
		}
		want := int64(rate*now.Sub(t0).Seconds()) + 1
		if sent != want || sent != p.due(now) {
			t.Errorf("rate %v: %d sent after %v, want %d", rate, sent, now.Sub(t0), want)
		}
		if maxWakes := int(min(rate, 1000) * 10); wakes > maxWakes {
			t.Errorf("rate %v: %d wake-ups in 10 s, want at most %d (one per tick)", rate, wakes, maxWakes)
		}
	}
}
