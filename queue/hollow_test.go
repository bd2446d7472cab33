package queue

import (
	"fmt"
	"sync"
	"testing"
)

// keeper is a consumer that acknowledges nothing on its own: it records
// what it was sent and what it keeps for the ack (Keep), as the server's
// consumers do.
type keeper struct {
	mu     sync.Mutex
	credit int // -1: unlimited
	sent   []Entry
	kept   []Entry
}

func (k *keeper) TryDeliver(q *Queue, e Entry) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.credit == 0 {
		return false
	}
	if k.credit > 0 {
		k.credit--
	}
	if e.Msg.hollow {
		panic(fmt.Sprintf("entry %d delivered hollow", e.Seq))
	}
	k.sent = append(k.sent, e)
	k.kept = append(k.kept, q.Keep(e))
	return true
}

func (k *keeper) take() (sent, kept []Entry) {
	k.mu.Lock()
	defer k.mu.Unlock()
	sent, kept = k.sent, k.kept
	k.sent, k.kept = nil, nil
	return sent, kept
}

func (k *keeper) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.sent)
}

const hollowBody = 1000

func hollowMsg(i int, persistent bool) *Message {
	b := make([]byte, hollowBody)
	copy(b, fmt.Sprintf("%d|", i))
	return &Message{Body: b, Persistent: persistent}
}

func checkBody(t *testing.T, what string, i int, e Entry) {
	t.Helper()
	want := fmt.Sprintf("%d|", i)
	if len(e.Msg.Body) != hollowBody || string(e.Msg.Body[:len(want)]) != want {
		t.Fatalf("%s %d: body %.8q (%d bytes), want %q... (%d bytes)", what, i, e.Msg.Body, len(e.Msg.Body), want, hollowBody)
	}
}

func countHollow(es []Entry) int {
	n := 0
	for _, e := range es {
		if e.Msg.hollow {
			n++
		}
	}
	return n
}

// Past the budget, deliveries are kept hollow (a transient body paged out
// for it, a persistent one already stored); returned, they go back hollow
// beyond what the budget holds, and a new consumer gets every one whole,
// in order, once; the acks return the budget to zero and empty the store.
func TestHollowDeliveriesAndRequeue(t *testing.T) {
	for _, persistent := range []bool{false, true} {
		t.Run(fmt.Sprintf("persistent=%v", persistent), func(t *testing.T) {
			const n, limit = 2000, 256 << 10
			j := newMemJournal()
			budget := NewBudget(limit)
			q := New(Config{Name: "q", ID: 1, Durable: true, Persist: true, Journal: j, Budget: budget})
			k := &keeper{credit: -1}
			c := &Consumer{Tag: "k", Sink: k}
			q.AddConsumer(c)
			var nextID uint64
			for i := range n {
				m := hollowMsg(i, persistent)
				if persistent {
					nextID++
					m.ID = nextID // the server stores it before the queue journals its entry
					j.mu.Lock()
					j.msgs[m.ID] = m
					j.mu.Unlock()
				}
				if _, err := q.Publish(m, nil); err != nil {
					t.Fatal(err)
				}
				if used := budget.Used(); used > limit+hollowBody+entryOverhead {
					t.Fatalf("after %d deliveries: budget at %d, limit %d", i+1, used, limit)
				}
			}
			sent, kept := k.take()
			if len(sent) != n {
				t.Fatalf("%d delivered, want %d", len(sent), n)
			}
			for i, e := range sent {
				checkBody(t, "delivery", i, e)
			}
			hollow := countHollow(kept)
			if hollow < n-limit/hollowBody {
				t.Fatalf("%d of %d unacked deliveries kept hollow, want at least %d", hollow, n, n-limit/hollowBody)
			}
			if !persistent && j.pageOuts != hollow {
				t.Fatalf("%d transient bodies paged out for %d hollow deliveries", j.pageOuts, hollow)
			}
			if persistent && j.pageOuts != 0 {
				t.Fatalf("%d persistent bodies paged out: they are stored already", j.pageOuts)
			}

			q.RemoveConsumer(c) // it goes, and its deliveries come back
			q.Requeue(kept)
			if used := budget.Used(); used > limit {
				t.Fatalf("after the requeue: budget at %d, limit %d", used, limit)
			}
			if msgs, _ := q.Counts(); msgs != n {
				t.Fatalf("count after the requeue = %d, want %d", msgs, n)
			}
			q.mu.Lock()
			rh := 0
			for _, e := range q.mu.ready.levels[0].items[q.mu.ready.levels[0].head:] {
				if e.mark != tombstone && e.Msg.hollow {
					rh++
				}
			}
			q.mu.Unlock()
			if rh < n-limit/hollowBody {
				t.Fatalf("%d of %d requeued entries hollow, want at least %d", rh, n, n-limit/hollowBody)
			}

			k2 := &keeper{credit: -1}
			q.AddConsumer(&Consumer{Tag: "k2", Sink: k2})
			waitFor(t, "every message delivered again", func() bool { return k2.count() == n })
			sent, kept = k2.take()
			for i, e := range sent {
				checkBody(t, "redelivery", i, e)
				if !e.Redelivered || e.Deliveries != 1 {
					t.Fatalf("redelivery %d: redelivered %v, deliveries %d", i, e.Redelivered, e.Deliveries)
				}
			}
			if msgs, _ := q.Counts(); msgs != 0 {
				t.Fatalf("count after the redelivery = %d", msgs)
			}
			q.Ack(kept)
			if used := budget.Used(); used != 0 {
				t.Fatalf("budget at %d with nothing held", used)
			}
			if left := j.stored(1); left != 0 {
				t.Fatalf("%d entries left in the store after every ack", left)
			}
			q.mu.Lock()
			out := q.mu.outstanding
			q.mu.Unlock()
			if out != 0 {
				t.Fatalf("outstanding = %d after every ack", out)
			}
		})
	}
}

// basic.get reads a hollow head back; dead-lettering (a reject, the
// delivery limit, drop-head) gets whole messages; purge counts and drops
// hollow entries.
func TestHollowGetDeadLetterPurge(t *testing.T) {
	j := newMemJournal()
	budget := NewBudget(1) // spent by the first delivery
	var mu sync.Mutex
	var dead []Entry
	var q *Queue
	q = New(Config{Name: "q", ID: 2, Journal: j, Budget: budget,
		Args: map[string]any{"x-dead-letter-exchange": "dlx", "x-delivery-limit": int32(1)},
		DeadLetter: func(_ *Queue, e Entry, r Reason) {
			mu.Lock()
			dead = append(dead, e)
			mu.Unlock()
			q.Settle(e)
		}})
	k := &keeper{credit: -1}
	c := &Consumer{Tag: "k", Sink: k}
	q.AddConsumer(c)
	for i := range 10 {
		q.Publish(hollowMsg(i, false), nil)
	}
	q.RemoveConsumer(c)
	_, kept := k.take()
	if h := countHollow(kept); h != 9 {
		t.Fatalf("%d of 10 kept hollow, want all but the first, past a spent budget", h)
	}
	q.Requeue(kept) // deliveries 1: within the limit
	if msgs, _ := q.Counts(); msgs != 10 {
		t.Fatalf("count = %d, want 10", msgs)
	}
	// basic.get of a hollow head.
	e, kg, _, ok := q.Get(false)
	if !ok {
		t.Fatal("get-empty with 10 hollow messages ready")
	}
	checkBody(t, "get", 0, e)
	if !kg.Msg.hollow {
		t.Fatal("basic.get's delivery kept whole past the budget")
	}
	// Rejected: dead-lettered whole.
	q.Reject([]Entry{kg})
	// Returned once more: past the delivery limit, dead-lettered whole.
	e1, k1, _, _ := q.Get(false)
	checkBody(t, "get", 1, e1)
	q.Requeue([]Entry{k1})
	waitFor(t, "two dead-lettered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(dead) == 2
	})
	for i, d := range dead {
		checkBody(t, "dead-lettered", i, d)
	}
	if n := q.Purge(); n != 8 {
		t.Fatalf("purge = %d, want the 8 hollow ones left", n)
	}
	if used := budget.Used(); used != 0 {
		t.Fatalf("budget at %d after purge", used)
	}
	if left := j.stored(2); left != 0 {
		t.Fatalf("%d entries left in the store", left)
	}
}

// Within the budget, a delivery is kept whole and charged until its ack;
// nothing is written to the store for it.
func TestKeepWithinBudgetCharges(t *testing.T) {
	j := newMemJournal()
	budget := NewBudget(1 << 20)
	q := New(Config{Name: "q", ID: 3, Journal: j, Budget: budget})
	k := &keeper{credit: -1}
	q.AddConsumer(&Consumer{Tag: "k", Sink: k})
	q.Publish(hollowMsg(0, false), nil)
	_, kept := k.take()
	if kept[0].Msg.hollow || budget.Used() != hollowBody+entryOverhead {
		t.Fatalf("kept hollow %v, budget %d, want whole and %d", kept[0].Msg.hollow, budget.Used(), hollowBody+entryOverhead)
	}
	q.Ack(kept)
	if budget.Used() != 0 || j.pageOuts != 0 {
		t.Fatalf("after the ack: budget %d, %d page-outs", budget.Used(), j.pageOuts)
	}
}

// ackSink keeps each delivery for its ack, as the server's consumers do.
type ackSink struct{ kept []Entry }

func (s *ackSink) TryDeliver(q *Queue, e Entry) bool {
	s.kept = append(s.kept, q.Keep(e))
	return true
}

// BenchmarkPublishDeliverAckBudget is the path of a queue of a broker
// with a store, within the memory budget: publish, delivery to a consumer
// that keeps it for the ack, ack.
func BenchmarkPublishDeliverAckBudget(b *testing.B) {
	q := New(Config{Name: "q", ID: 1, Journal: newMemJournal(), Budget: NewBudget(1 << 30)})
	s := &ackSink{}
	q.AddConsumer(&Consumer{Tag: "c", Sink: s})
	m := msg("0123456789abcdef")
	b.ReportAllocs()
	for b.Loop() {
		q.Publish(m, nil)
		q.Ack(s.kept)
		s.kept = s.kept[:0]
	}
}
