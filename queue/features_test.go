package queue

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// TestExpiryHeapHoldsOnlyReadyEntries: the expiry heap forgets messages
// that left the queue (delivered, acked, requeued again) before their TTL,
// instead of holding each of them for the whole TTL.
func TestExpiryHeapHoldsOnlyReadyEntries(t *testing.T) {
	q := New(Config{Name: "q", Args: map[string]any{"x-message-ttl": int32(3600_000)}})
	defer q.Delete(false, false)
	const batch = 1000
	for round := range 50 {
		for i := range batch {
			if _, err := q.Publish(msg(fmt.Sprintf("r%d-%d", round, i)), nil); err != nil {
				t.Fatal(err)
			}
		}
		var got []Entry
		for range batch / 2 {
			_, e, _, ok := q.Get(false)
			if !ok {
				t.Fatalf("round %d: get-empty", round)
			}
			got = append(got, e)
		}
		q.Requeue(got) // a second heap entry each
		for range batch {
			if _, _, _, ok := q.Get(true); !ok {
				t.Fatalf("round %d: get-empty", round)
			}
		}
	}
	q.mu.Lock()
	n, ready := len(q.mu.expiry), q.mu.ready.len()
	q.mu.Unlock()
	if ready != 0 || n > 2*batch+expiryCompactMin {
		t.Fatalf("after 50 rounds of %d messages: %d ready, %d in the expiry heap; want 0 ready and the heap bounded", batch, ready, n)
	}
}

// TestExpiryHeapCompactionKeepsExpiring: compaction keeps every ready
// entry's expiry, once, and they still expire.
func TestExpiryHeapCompactionKeepsExpiring(t *testing.T) {
	const now = int64(10_000_000)
	// The clock stands well before the expiries: the timer stays away, and
	// the test expires by hand.
	q := New(Config{Name: "q", Now: func() time.Time { return time.UnixMilli(now - 1_000_000) }})
	defer q.Delete(false, false)
	q.mu.Lock()
	for i := range 3 * expiryCompactMin {
		q.mu.nextSeq++
		e := Entry{Msg: msg(fmt.Sprint(i)), Seq: q.mu.nextSeq, Expires: now + int64(i%7)}
		q.mu.ready.push(e)
		q.trackExpiryLocked(e)
		q.trackExpiryLocked(e) // a duplicate, as after a requeue
	}
	q.compactExpiryLocked()
	if n := len(q.mu.expiry); n != 3*expiryCompactMin {
		t.Fatalf("after compaction %d heap entries, want one per ready entry (%d)", n, 3*expiryCompactMin)
	}
	q.expireLocked(now + 6)
	if n := q.mu.ready.len(); n != 0 {
		t.Fatalf("%d ready entries left after their expiry", n)
	}
	q.mu.Unlock()
}

// A message never expires before its whole TTL has passed, whatever the
// fraction of a millisecond it was published at.
func TestExpiryNeverEarly(t *testing.T) {
	var clock atomic.Int64     // µs; the queue's timer reads it too
	clock.Store(5_000_000_900) // 5000000.9 ms
	q := New(Config{Name: "q", Now: func() time.Time { return time.UnixMicro(clock.Load()) }})
	defer q.Delete(false, false)
	m := msg("m")
	m.TTL, m.HasTTL = 1, true
	if _, err := q.Publish(m, nil); err != nil {
		t.Fatal(err)
	}
	ready := func() int {
		q.mu.Lock()
		defer q.mu.Unlock()
		q.expireLocked(q.now())
		return q.mu.ready.len()
	}
	clock.Add(900) // 0.9 ms later: the TTL is not over
	if ready() != 1 {
		t.Fatalf("a 1 ms TTL expired %v after the publish", 900*time.Microsecond)
	}
	clock.Add(200)
	if ready() != 0 {
		t.Fatalf("a 1 ms TTL had not expired %v after the publish", 1100*time.Microsecond)
	}
}
