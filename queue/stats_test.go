package queue

import (
	"testing"
	"time"
)

// TestCounters drives one queue through every counted event and checks
// the counters, the unacknowledged figures and the snapshot.
func TestCounters(t *testing.T) {
	var dead []Reason
	now := time.Unix(1000, 0)
	q := New(Config{Name: "q", Args: map[string]any{"x-max-length": int64(3), "x-dead-letter-exchange": "dlx"},
		Now:        func() time.Time { return now },
		DeadLetter: func(q *Queue, e Entry, r Reason) { dead = append(dead, r); q.Settle(e) }})
	for _, b := range []string{"a", "b", "c", "d"} { // d drops a from the head
		if _, err := q.Publish(msg(b), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Publish(&Message{Body: []byte("t"), TTL: 0, HasTTL: true}, nil); err != nil {
		t.Fatal(err) // no consumer takes it: expires at once
	}
	s := &sink{credit: -1}
	q.AddConsumer(&Consumer{Tag: "c", Sink: s}) // gets b, c, d
	if len(s.got) != 3 {
		t.Fatalf("delivered %d, want 3", len(s.got))
	}
	if snap := q.Snapshot(); snap.Unacked != 3 || snap.UnackedBytes != 3 {
		t.Fatalf("unacked = %d, %d bytes; want 3, 3", snap.Unacked, snap.UnackedBytes)
	}
	q.Requeue(s.got[:1]) // b back, redelivered at once
	q.Ack(s.got[1:2])    // c
	q.Reject(s.got[2:3]) // d: dead-lettered
	q.Publish(msg("e"), nil)
	q.Ack(s.got[3:5])             // b, e
	q.RemoveConsumer(&Consumer{}) // not attached: nothing happens
	if _, _, _, ok := q.Get(true); ok {
		t.Fatal("get from a queue whose consumer took everything")
	}

	got := q.Counters()
	want := Counters{Published: 6, Delivered: 5, GetEmpty: 1, Redelivered: 1, Acked: 3, Rejected: 1, Requeued: 1,
		DeadLettered: 3, Expired: 1, Dropped: 1}
	if got != want {
		t.Fatalf("counters\n got %+v\nwant %+v", got, want)
	}

	if len(dead) != 3 {
		t.Fatalf("dead-lettered %v", dead)
	}
	snap := q.Snapshot()
	if snap != (Snapshot{Consumers: 1, Counters: want}) {
		t.Fatalf("snapshot %+v", snap)
	}
}

// TestCountersGet counts basic.get with and without ack, and the
// unacknowledged bytes of a get.
func TestCountersGet(t *testing.T) {
	q := New(Config{Name: "q"})
	q.Publish(msg("abc"), nil)
	q.Publish(msg("de"), nil)
	_, kept, _, ok := q.Get(false)
	if !ok {
		t.Fatal("empty")
	}
	if snap := q.Snapshot(); snap.Ready != 1 || snap.ReadyBytes != 2 || snap.Unacked != 1 || snap.UnackedBytes != 3 {
		t.Fatalf("snapshot %+v", snap)
	}
	q.Get(true)
	q.Requeue([]Entry{kept})
	q.Get(true)
	got := q.Counters()
	want := Counters{Published: 2, Get: 1, GetNoAck: 2, Redelivered: 1, Requeued: 1}
	if got != want {
		t.Fatalf("counters\n got %+v\nwant %+v", got, want)
	}
}

// The counters cost no allocation on the hot path.
func TestCountersNoAlloc(t *testing.T) {
	q := New(Config{Name: "q"})
	q.AddConsumer(&Consumer{Tag: "c", Sink: discard{}})
	m := msg("x")
	if n := testing.AllocsPerRun(100, func() { q.Publish(m, nil) }); n != 0 {
		t.Fatalf("%v allocations per publish", n)
	}
}

// TestCountersRejectPublish counts a message a full reject-publish queue
// refuses as dropped, and one a reject-publish-dlx queue refuses as
// dropped and dead-lettered.
func TestCountersRejectPublish(t *testing.T) {
	for _, tc := range []struct {
		overflow string
		want     Counters
	}{
		{"reject-publish", Counters{Published: 1, Dropped: 1}},
		{"reject-publish-dlx", Counters{Published: 1, Dropped: 1, DeadLettered: 1}},
	} {
		q := New(Config{Name: "q", Args: map[string]any{"x-max-length": int64(1), "x-overflow": tc.overflow, "x-dead-letter-exchange": "dlx"},
			DeadLetter: func(q *Queue, e Entry, r Reason) { q.Settle(e) }})
		q.Publish(msg("a"), nil)
		if _, err := q.Publish(msg("b"), nil); err != ErrRejected {
			t.Fatalf("%s: %v", tc.overflow, err)
		}
		if got := q.Counters(); got != tc.want {
			t.Fatalf("%s: %+v, want %+v", tc.overflow, got, tc.want)
		}
	}
}
