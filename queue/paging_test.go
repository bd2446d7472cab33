package queue

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"
)

// memJournal is a store in memory: entries by queue and seq, written at
// once, with done callbacks run synchronously on a goroutine of their own
// (the store's notifier does the same, later).
type memJournal struct {
	mu       sync.Mutex
	entries  map[uint64]map[uint64]*Message // queue -> seq -> message
	msgs     map[uint64]*Message            // id -> message, for ReadBack
	nextID   uint64
	pageIns  int
	pageOuts int
	readBack int // messages read back
	// fail, if set, makes the writes of the entries it picks fail: not
	// stored, and their done callbacks get an error (a full disk).
	fail    func(seq uint64) bool
	failing sync.WaitGroup // failed writes whose callbacks have not returned
}

func newMemJournal() *memJournal {
	return &memJournal{entries: map[uint64]map[uint64]*Message{}, msgs: map[uint64]*Message{}, nextID: 1 << 32}
}

func (j *memJournal) put(q *Queue, e Entry, done func(error)) {
	j.mu.Lock()
	if j.fail != nil && j.fail(e.Seq) {
		j.mu.Unlock()
		if done != nil {
			j.failing.Add(1)
			go func() {
				defer j.failing.Done()
				done(errWriteFailed)
			}()
		}
		return
	}
	if j.entries[q.ID] == nil {
		j.entries[q.ID] = map[uint64]*Message{}
	}
	j.entries[q.ID][e.Seq] = e.Msg
	if e.Msg.ID != 0 {
		j.msgs[e.Msg.ID] = e.Msg
	}
	j.mu.Unlock()
	if done != nil {
		go done(nil)
	}
}

func (j *memJournal) PutEntry(q *Queue, e Entry, done func(error)) { j.put(q, e, done) }

func (j *memJournal) PageOut(q *Queue, e Entry, done func(error)) uint64 {
	if e.Msg.hollow {
		panic("PageOut of a hollow entry")
	}
	j.mu.Lock()
	j.nextID++
	j.pageOuts++
	c := *e.Msg
	c.ID = j.nextID
	j.mu.Unlock()
	e.Msg = &c
	j.put(q, e, done)
	return c.ID
}

func (j *memJournal) DeleteEntry(q *Queue, e Entry) {
	j.mu.Lock()
	delete(j.entries[q.ID], e.Seq)
	j.mu.Unlock()
}

func (j *memJournal) ReadBack(q *Queue, ids []uint64) ([]*Message, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]*Message, len(ids))
	for i, id := range ids {
		out[i] = j.msgs[id]
		j.readBack++
	}
	return out, nil
}

func (j *memJournal) Short() bool { return false }

func (j *memJournal) Requeued(q *Queue, e Entry) {}

func (j *memJournal) Drop(q *Queue, ready []Entry, from uint64) {
	j.mu.Lock()
	for seq := range j.entries[q.ID] {
		if seq >= from {
			delete(j.entries[q.ID], seq)
		}
	}
	j.mu.Unlock()
}

func (j *memJournal) PageIn(q *Queue, from uint64, max int, maxBytes int64) ([]Entry, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.pageIns++
	var seqs []uint64
	for s := range j.entries[q.ID] {
		if s >= from {
			seqs = append(seqs, s)
		}
	}
	sort.Slice(seqs, func(a, b int) bool { return seqs[a] < seqs[b] })
	var out []Entry
	var bytes int64
	for _, s := range seqs {
		if len(out) == max || bytes >= maxBytes {
			break
		}
		out = append(out, Entry{Msg: j.entries[q.ID][s], Seq: s, Stored: true})
		bytes += int64(j.entries[q.ID][s].Size())
	}
	return out, nil
}

func (j *memJournal) stored(id uint64) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.entries[id])
}

var errWriteFailed = fmt.Errorf("injected write failure")

// A paged-out entry whose write fails is not on disk: the queue stops
// counting it, so its count always matches what it can deliver.
func TestPagedWriteFailureLeavesCountExact(t *testing.T) {
	j := newMemJournal()
	j.fail = func(seq uint64) bool { return seq%10 == 0 }
	budget := NewBudget(8 * 1024)
	q := New(Config{Name: "q", ID: 1, Journal: j, Budget: budget, Persist: true})
	const n = 1000
	for i := 0; i < n; i++ {
		m := &Message{Body: make([]byte, 100), Persistent: i%2 == 0}
		if m.Persistent {
			m.ID = uint64(i + 1)
		}
		if _, err := q.Publish(m, func(error) {}); err != nil {
			t.Fatal(err)
		}
	}
	j.failing.Wait()
	count, _ := q.Counts()
	got := 0
	for {
		_, _, _, ok := q.Get(true)
		if !ok {
			break
		}
		got++
	}
	if got != count {
		t.Fatalf("the queue counted %d messages, basic.get found %d", count, got)
	}
	if n, _ := q.Counts(); n != 0 {
		t.Fatalf("%d counted after the drain", n)
	}
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling a condition, not synchronising on time
	}
}

// Past the budget, messages go to disk only and come back in order, both
// to a consumer and to basic.get.
func TestPagingKeepsOrderAndBoundsMemory(t *testing.T) {
	j := newMemJournal()
	budget := NewBudget(16 * 1024)
	q := New(Config{Name: "q", ID: 1, Journal: j, Budget: budget})
	const n = 5000
	for i := 0; i < n; i++ {
		body := make([]byte, 100)
		copy(body, fmt.Sprint(i))
		if _, err := q.Publish(&Message{Body: body}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if budget.Used() > 16*1024+pageLow*(100+entryOverhead) {
		t.Fatalf("%d bytes charged in memory, budget 16 KiB plus the %d-entry floor", budget.Used(), pageLow)
	}
	if q.Paged() == 0 {
		t.Fatal("nothing paged out past the budget")
	}
	if msgs, _ := q.Counts(); msgs != n {
		t.Fatalf("count = %d, want %d (memory and disk)", msgs, n)
	}
	// Half by basic.get, half by a consumer: all in order.
	next := 0
	check := func(e Entry) {
		t.Helper()
		want := fmt.Sprint(next)
		if got := string(e.Msg.Body[:len(want)]); got != want {
			t.Fatalf("message %d: got body %q", next, got)
		}
		next++
	}
	for next < n/2 {
		e, kept, _, ok := q.Get(false)
		if !ok {
			t.Fatalf("get-empty after %d of %d", next, n)
		}
		check(e)
		q.Ack([]Entry{kept})
	}
	s := &sink{credit: -1}
	q.AddConsumer(&Consumer{Tag: "c", Sink: s})
	waitFor(t, "every paged message delivered", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return len(s.got) == n-n/2
	})
	for _, e := range s.got {
		check(e)
	}
	q.Ack(s.got)
	if left := j.stored(1); left != 0 {
		t.Fatalf("%d entries left in the store after every ack", left)
	}
}

// Purge and delete reach the paged-out part too.
func TestPagingPurge(t *testing.T) {
	j := newMemJournal()
	q := New(Config{Name: "q", ID: 7, Journal: j, Budget: NewBudget(1)})
	for i := 0; i < 2000; i++ {
		q.Publish(&Message{Body: []byte("x")}, nil)
	}
	if n := q.Purge(); n != 2000 {
		t.Fatalf("purge = %d, want 2000", n)
	}
	if msgs, _ := q.Counts(); msgs != 0 {
		t.Fatalf("count after purge = %d", msgs)
	}
	if _, _, _, ok := q.Get(false); ok {
		t.Fatal("get after purge found a message")
	}
	if left := j.stored(7); left != 0 {
		t.Fatalf("%d entries left in the store after purge", left)
	}
}

// Recovery beyond the budget counts entries and reads them back later,
// redelivered.
func TestRecoverBeyondBudget(t *testing.T) {
	j := newMemJournal()
	q := New(Config{Name: "q", ID: 3, Journal: j, Budget: NewBudget(1), Persist: true, Durable: true})
	loads := 0
	for seq := uint64(1); seq <= 2000; seq++ {
		m := &Message{Body: []byte(fmt.Sprint(seq)), Persistent: true}
		j.put(q, Entry{Msg: m, Seq: seq}, nil)
		err := q.Recover(seq, 1, 0, 0, func() (*Message, error) { loads++; return m, nil })
		if err != nil {
			t.Fatal(err)
		}
	}
	if loads > pageLow {
		t.Fatalf("loaded %d bodies at recovery, want at most %d within the budget", loads, pageLow)
	}
	for want := 1; want <= 2000; want++ {
		e, kept, _, ok := q.Get(false)
		if !ok {
			t.Fatalf("get-empty at %d", want)
		}
		if string(e.Msg.Body) != fmt.Sprint(want) || !e.Redelivered {
			t.Fatalf("got %q redelivered=%v, want %d redelivered", e.Msg.Body, e.Redelivered, want)
		}
		q.Ack([]Entry{kept})
	}
	// New messages after recovery are numbered after the recovered ones.
	q.Publish(&Message{Body: []byte("new"), Persistent: true}, nil)
	e, _, _, _ := q.Get(true)
	if e.Seq != 2001 || e.Redelivered {
		t.Fatalf("new message: seq %d redelivered %v, want 2001 not redelivered", e.Seq, e.Redelivered)
	}
}
