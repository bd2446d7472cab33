package queue

import (
	"fmt"
	"testing"
	"time"
)

// backlogged returns a queue with a consumer on connection 2 that takes
// nothing yet, holding flowHigh ready messages.
func backlogged(t *testing.T) (*Queue, *sink) {
	t.Helper()
	q := New(Config{Name: "q", ID: 1, Journal: newMemJournal(), Budget: NewBudget(1 << 30)})
	s := &sink{name: "c"}
	if err := q.AddConsumer(&Consumer{Tag: "c", Sink: s, Conn: 2}); err != nil {
		t.Fatal(err)
	}
	for i := range flowHigh {
		if _, err := q.Publish(msg(fmt.Sprint(i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	if !q.Backlogged() {
		t.Fatalf("%d ready messages with a consumer: not backlogged", flowHigh)
	}
	return q, s
}

// A publisher waits while a consumed queue holds a backlog, and goes on
// once the consumer has drained it to the low mark, not by timing out.
func TestFlowHoldsPublisherUntilConsumerDrains(t *testing.T) {
	q, s := backlogged(t)
	done := make(chan struct{})
	go func() {
		q.WaitRoom(1)
		close(done)
	}()
	waitFor(t, "the publisher to be held back", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.mu.flowWaiters == 1
	})
	select {
	case <-done:
		t.Fatal("the publisher went on with the backlog still there")
	default:
	}
	// The consumer takes half of the backlog: still above the low mark.
	q.mu.Lock()
	s.credit = flowHigh - flowLow - 1
	q.mu.Unlock()
	q.Dispatch()
	// Then all but the low mark.
	q.mu.Lock()
	s.credit = 1
	q.mu.Unlock()
	q.Dispatch()
	<-done
	q.mu.Lock()
	off := q.mu.flowOffUntil
	q.mu.Unlock()
	if off != 0 {
		t.Fatal("the wait ended by timing out, not when the consumer made room")
	}
	if len(s.got) != flowHigh-flowLow {
		t.Fatalf("consumer got %d, want %d", len(s.got), flowHigh-flowLow)
	}
	if q.Backlogged() {
		t.Fatal("still backlogged at the low mark")
	}
}

// Nobody is held back for a queue without consumers, nor by a queue one
// of whose consumers is on the publisher's own connection (its acks would
// wait behind the publisher), nor with a small backlog.
func TestFlowDoesNotHoldBack(t *testing.T) {
	now := time.Now()
	q, _ := backlogged(t)
	q.mu.Lock()
	if !q.holdsBackLocked(1, now) {
		t.Error("a backlogged queue does not hold back a publisher on another connection")
	}
	if q.holdsBackLocked(2, now) {
		t.Error("the consumer's own connection is held back")
	}
	q.mu.Unlock()

	idle := New(Config{Name: "idle", ID: 2, Journal: newMemJournal(), Budget: NewBudget(1 << 30)})
	for i := range 2 * flowHigh {
		if _, err := idle.Publish(msg(fmt.Sprint(i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	idle.WaitRoom(1) // returns at once
	idle.mu.Lock()
	if idle.holdsBackLocked(1, now) {
		t.Error("a queue without consumers holds back its publisher")
	}
	idle.mu.Unlock()

	small := New(Config{Name: "small", ID: 3, Journal: newMemJournal(), Budget: NewBudget(1 << 30)})
	if err := small.AddConsumer(&Consumer{Tag: "c", Sink: &sink{}, Conn: 2}); err != nil {
		t.Fatal(err)
	}
	for i := range flowHigh - 1 {
		if _, err := small.Publish(msg(fmt.Sprint(i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	small.mu.Lock()
	if small.holdsBackLocked(1, now) {
		t.Error("a queue under the high mark holds back its publisher")
	}
	small.mu.Unlock()
}

// A consumer that makes no room holds its publisher back once for
// flowWait; then the queue lets publishers through for flowOff.
func TestFlowGivesUpOnStuckConsumer(t *testing.T) {
	q, _ := backlogged(t)
	start := time.Now()
	q.WaitRoom(1)
	if waited := time.Since(start); waited < flowWait {
		t.Fatalf("went on after %v, before flowWait (%v), with the consumer stuck", waited, flowWait)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mu.flowWaiters != 0 {
		t.Fatalf("%d waiters left registered", q.mu.flowWaiters)
	}
	if q.holdsBackLocked(1, time.Now()) {
		t.Fatal("still holding publishers back after a timed-out wait")
	}
	if q.holdsBackLocked(1, time.Now().Add(flowOff+time.Second)) == false {
		t.Fatal("not holding publishers back again after flowOff")
	}
}

// Past the memory budget a consumed queue holds back its publishers even
// under the high mark, and another queue's consumer freeing the budget
// lets them go.
func TestFlowHoldsBackPastBudget(t *testing.T) {
	budget := NewBudget(int64(2 * pageLow * (10 + entryOverhead)))
	j := newMemJournal()
	a := New(Config{Name: "a", ID: 1, Journal: j, Budget: budget})
	b := New(Config{Name: "b", ID: 2, Journal: j, Budget: budget})
	if err := a.AddConsumer(&Consumer{Tag: "a", Sink: &sink{}, Conn: 2}); err != nil {
		t.Fatal(err)
	}
	bs := &sink{}
	if err := b.AddConsumer(&Consumer{Tag: "b", Sink: bs, Conn: 2}); err != nil {
		t.Fatal(err)
	}
	body := "0123456789"
	for range pageLow {
		a.Publish(msg(body), nil)
		b.Publish(msg(body), nil)
	}
	if !budget.over() || a.Backlogged() == false {
		t.Fatalf("budget used %d of %d: not over", budget.Used(), budget.limit)
	}
	done := make(chan struct{})
	go func() {
		a.WaitRoom(1)
		close(done)
	}()
	waitFor(t, "the publisher to be held back", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.mu.flowWaiters == 1
	})
	b.mu.Lock()
	bs.credit = pageLow
	b.mu.Unlock()
	b.Dispatch()
	<-done
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mu.flowOffUntil != 0 {
		t.Fatal("the wait ended by timing out, not when the budget had room")
	}
}
