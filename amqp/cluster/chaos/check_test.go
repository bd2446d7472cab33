package chaos

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// history builds a History: n messages of publisher 1 sent and confirmed.
func history(n int) *History {
	h := NewHistory()
	t0 := time.Now()
	for i := 1; i <= n; i++ {
		k := Key{1, uint64(i)}
		h.Sent(k, t0)
		h.Confirmed(k, true, t0.Add(time.Millisecond))
	}
	return h
}

func deliver(h *History, s int, redelivered bool, seqs ...uint64) {
	for _, q := range seqs {
		h.Delivered(Delivery{Key: Key{1, q}, Valid: true, Session: s, Redelivered: redelivered, At: time.Now()})
	}
}

func TestCheckClean(t *testing.T) {
	h := history(3)
	deliver(h, 1, false, 1, 2, 3)
	r := Check(h, CheckOptions{Order: true})
	if err := r.Err(); err != nil || r.Consumed != 3 || r.Confirmed != 3 {
		t.Fatalf("clean history: %+v, %v", r, err)
	}
}

func TestCheckFinds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func() *History
		opt   CheckOptions
		want  string
		field func(Result) int
	}{
		{"lost", func() *History { h := history(3); deliver(h, 1, false, 1, 3); return h }, CheckOptions{}, "lost 1",
			func(r Result) int { return r.Lost }},
		{"invented", func() *History {
			h := history(2)
			deliver(h, 1, false, 1, 2, 9) // 9 never sent
			h.Delivered(Delivery{Raw: "no headers", Session: 1})
			return h
		}, CheckOptions{}, "invented 2", func(r Result) int { return r.Invented }},
		{"unexplained duplicate", func() *History { h := history(2); deliver(h, 1, false, 1, 2, 2); return h }, CheckOptions{},
			"unexplained duplicates 1", func(r Result) int { return r.Unexplained }},
		{"out of order", func() *History { h := history(3); deliver(h, 1, false, 2, 1, 3); return h }, CheckOptions{Order: true},
			"out of order 1", func(r Result) int { return r.Disordered }},
	} {
		r := Check(tc.build(), tc.opt)
		err := r.Err()
		if err == nil || !strings.Contains(err.Error(), tc.want) || tc.field(r) == 0 {
			t.Errorf("%s: %+v, %v; want an error saying %q", tc.name, r, err, tc.want)
		}
	}
}

// TestCheckExplainsRequeuedOrder: a message first delivered after a later
// one of its publisher is out of order, unless marked redelivered (it was
// handed out and requeued: rabbitmq's order excludes requeued messages).
func TestCheckExplainsRequeuedOrder(t *testing.T) {
	h := history(3)
	deliver(h, 1, false, 2, 3)
	deliver(h, 1, true, 1)
	if r := Check(h, CheckOptions{Order: true}); r.Err() != nil || r.Disordered != 0 || r.Requeued != 1 {
		t.Errorf("requeued: %+v, %v", r, r.Err())
	}
}

func TestCheckExplainsDuplicates(t *testing.T) {
	// Redelivered flag.
	h := history(2)
	deliver(h, 1, false, 1, 2)
	deliver(h, 1, true, 2)
	if r := Check(h, CheckOptions{Order: true}); r.Err() != nil || r.Duplicated != 1 {
		t.Errorf("redelivered duplicate: %+v", r)
	}
	// The first delivery's session broke (its ack may not have arrived).
	h = history(2)
	s1 := h.Session()
	deliver(h, s1, false, 1, 2)
	h.Broken(s1)
	s2 := h.Session()
	deliver(h, s2, false, 2)
	if r := Check(h, CheckOptions{Order: true}); r.Err() != nil || r.Duplicated != 1 {
		t.Errorf("duplicate after a broken session: %+v", r)
	}
	// A fault (a leader change) between the two deliveries.
	h = history(1)
	deliver(h, 1, false, 1)
	fault := time.Now()
	deliver(h, 1, false, 1)
	if r := Check(h, CheckOptions{Faults: []time.Time{fault}}); r.Err() != nil || r.Duplicated != 1 {
		t.Errorf("duplicate after a fault: %+v", r)
	}
	// Unconfirmed messages may be lost, and nacked ones too.
	h = NewHistory()
	h.Sent(Key{1, 1}, time.Now())
	h.Sent(Key{1, 2}, time.Now())
	h.Confirmed(Key{1, 2}, false, time.Now())
	if r := Check(h, CheckOptions{}); r.Err() != nil || r.Unknown != 1 || r.Nacked != 1 {
		t.Errorf("unconfirmed and nacked: %+v", r)
	}
}

func TestResumedAfter(t *testing.T) {
	h := NewHistory()
	t0 := time.Now()
	h.Sent(Key{1, 1}, t0.Add(-time.Second))
	h.Confirmed(Key{1, 1}, true, t0.Add(3*time.Second)) // sent before: not a resumption
	h.Sent(Key{1, 2}, t0.Add(time.Second))
	h.Confirmed(Key{1, 2}, true, t0.Add(1500*time.Millisecond))
	if d, ok := h.ResumedAfter(t0); !ok || d != 1500*time.Millisecond {
		t.Fatalf("ResumedAfter = %v, %v; want 1.5s", d, ok)
	}
}

func TestDisagreements(t *testing.T) {
	same := Definitions{"queues /|q": `{"name":"q"}`}
	if n, s := Disagreements(map[string]Definitions{"n1": same, "n2": same}, map[string]bool{"queue q": true}); n != 0 {
		t.Fatalf("identical nodes: %d disagreements %v", n, s)
	}
	n, s := Disagreements(map[string]Definitions{
		"n1": {"queues /|q": `{"name":"q","durable":true}`, "exchanges /|x": `{}`},
		"n2": {"queues /|q": `{"name":"q","durable":false}`},
	}, map[string]bool{"queue gone": false, "queue q": true, "exchange x": true})
	// q differs, x is on n1 alone and committed (absent on n2).
	if n != 3 || len(s) == 0 {
		t.Fatalf("disagreements %d %v, want 3", n, s)
	}
}

func TestLongestGap(t *testing.T) {
	h := NewHistory()
	t0 := time.Now()
	for i, ms := range []int{0, 10, 20, 520, 530} {
		k := Key{1, uint64(i + 1)}
		h.Sent(k, t0)
		h.Confirmed(k, true, t0.Add(time.Duration(ms)*time.Millisecond))
	}
	if from, gap := h.LongestGap(); gap != 500*time.Millisecond || !from.Equal(t0.Add(20*time.Millisecond)) {
		t.Fatalf("LongestGap = %v from +%v; want 500ms from +20ms", gap, from.Sub(t0))
	}
}

// An operation without an answer may commit at any later time, after
// operations that succeeded since: its object leaves the committed model
// for good; a 404 changed nothing; answered operations set the state.
func TestDefsModelIndeterminate(t *testing.T) {
	var w DefsWorkload
	w.record("queue a", defPresent, nil)
	w.record("queue b", defPresent, errors.New("no answer in time"))
	w.record("queue b", defAbsent, nil) // the declare may still commit after this
	w.record("queue c", defPresent, nil)
	w.record("queue c", defAbsent, &amqp091.Error{Code: amqp091.NotFound})
	w.record("", defUnknown, nil) // a binding
	got := w.committed()
	want := map[string]bool{"queue a": true, "queue c": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("committed %v, want %v", got, want)
	}
	if ok, failed := w.Counts(); ok != 4 || failed != 2 {
		t.Fatalf("counts ok %d failed %d, want 4 and 2", ok, failed)
	}
}

// TestHistoryMissing: confirmed and not consumed, kept as they come: a
// message consumed before its confirm arrives, a duplicate and a nack
// count as they should.
func TestHistoryMissing(t *testing.T) {
	h := NewHistory()
	k := func(i uint64) Key { return Key{1, i} }
	now := time.Now()
	for i := uint64(1); i <= 4; i++ {
		h.Sent(k(i), now)
	}
	h.Confirmed(k(1), true, now)
	h.Confirmed(k(2), true, now)
	h.Confirmed(k(4), false, now) // nacked: never missing
	h.Delivered(Delivery{Key: k(3), Valid: true})
	if m := h.Missing(); m != 2 {
		t.Fatalf("missing %d, want 2", m)
	}
	h.Confirmed(k(3), true, now) // consumed before its confirm
	h.Delivered(Delivery{Key: k(1), Valid: true})
	h.Delivered(Delivery{Key: k(1), Valid: true, Redelivered: true})
	if m := h.Missing(); m != 1 {
		t.Fatalf("missing %d, want 1", m)
	}
	h.Delivered(Delivery{Key: k(2), Valid: true})
	if m := h.Missing(); m != 0 {
		t.Fatalf("missing %d, want 0", m)
	}
}
