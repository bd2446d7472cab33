package queue

import (
	"fmt"
	"testing"
)

// sink records deliveries and takes up to credit of them (-1: unlimited).
type sink struct {
	name   string
	credit int
	got    []Entry
	log    *[]string
}

func (s *sink) TryDeliver(q *Queue, e Entry) bool {
	if s.credit == 0 {
		return false
	}
	if s.credit > 0 {
		s.credit--
	}
	s.got = append(s.got, e)
	if s.log != nil {
		*s.log = append(*s.log, fmt.Sprintf("%s:%s", s.name, e.Msg.Body))
	}
	return true
}

func msg(body string) *Message { return &Message{Body: []byte(body)} }

func bodies(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, string(e.Msg.Body))
	}
	return out
}

func equalStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func TestRoundRobinAcrossConsumers(t *testing.T) {
	q := New(Config{Name: "q"})
	var log []string
	a := &sink{name: "a", credit: -1, log: &log}
	b := &sink{name: "b", credit: -1, log: &log}
	q.AddConsumer(&Consumer{Tag: "a", Sink: a})
	q.AddConsumer(&Consumer{Tag: "b", Sink: b})
	for i := 1; i <= 4; i++ {
		q.Publish(msg(fmt.Sprint(i)), nil)
	}
	equalStrings(t, "deliveries", log, []string{"a:1", "b:2", "a:3", "b:4"})
}

func TestCreditLimitsDeliveryAndDispatchResumes(t *testing.T) {
	q := New(Config{Name: "q"})
	s := &sink{credit: 2}
	q.AddConsumer(&Consumer{Tag: "c", Sink: s})
	for i := 1; i <= 5; i++ {
		q.Publish(msg(fmt.Sprint(i)), nil)
	}
	equalStrings(t, "delivered with credit 2", bodies(s.got), []string{"1", "2"})
	if n, _ := q.Counts(); n != 3 {
		t.Fatalf("ready = %d, want 3", n)
	}
	s.credit = 1
	q.Dispatch()
	equalStrings(t, "after one more credit", bodies(s.got), []string{"1", "2", "3"})
}

func TestRequeueRestoresOriginalPosition(t *testing.T) {
	q := New(Config{Name: "q"})
	for i := 1; i <= 5; i++ {
		q.Publish(msg(fmt.Sprint(i)), nil)
	}
	var taken []Entry
	for i := 0; i < 3; i++ {
		_, e, _, ok := q.Get(false)
		if !ok {
			t.Fatal("get: empty")
		}
		taken = append(taken, e)
	}
	// Requeue 3 then 1: both go back ahead of 4 and 5, in sequence order.
	q.Requeue([]Entry{taken[2]})
	q.Requeue([]Entry{taken[0]})
	var got []string
	var redelivered []bool
	for {
		e, _, _, ok := q.Get(true)
		if !ok {
			break
		}
		got = append(got, string(e.Msg.Body))
		redelivered = append(redelivered, e.Redelivered)
	}
	equalStrings(t, "order after requeue", got, []string{"1", "3", "4", "5"})
	if fmt.Sprint(redelivered) != "[true true false false]" {
		t.Fatalf("redelivered flags = %v", redelivered)
	}
}

func TestExclusiveConsumer(t *testing.T) {
	q := New(Config{Name: "q"})
	if err := q.AddConsumer(&Consumer{Tag: "x", Exclusive: true, Sink: &sink{}}); err != nil {
		t.Fatal(err)
	}
	if err := q.AddConsumer(&Consumer{Tag: "y", Sink: &sink{}}); err != ErrExclusiveConsumer {
		t.Fatalf("second consumer: got %v, want ErrExclusiveConsumer", err)
	}
	q2 := New(Config{Name: "q2"})
	q2.AddConsumer(&Consumer{Tag: "a", Sink: &sink{}})
	if err := q2.AddConsumer(&Consumer{Tag: "x", Exclusive: true, Sink: &sink{}}); err != ErrHasConsumers {
		t.Fatalf("exclusive on a used queue: got %v, want ErrHasConsumers", err)
	}
}

func TestAutoDeleteAfterLastConsumer(t *testing.T) {
	q := New(Config{Name: "q", AutoDelete: true})
	a := &Consumer{Tag: "a", Sink: &sink{}}
	b := &Consumer{Tag: "b", Sink: &sink{}}
	q.AddConsumer(a)
	q.AddConsumer(b)
	if q.RemoveConsumer(a) {
		t.Fatal("auto-delete with a consumer left")
	}
	if !q.RemoveConsumer(b) {
		t.Fatal("no auto-delete after the last consumer")
	}
	plain := New(Config{Name: "p"})
	c := &Consumer{Tag: "c", Sink: &sink{}}
	plain.AddConsumer(c)
	if plain.RemoveConsumer(c) {
		t.Fatal("auto-delete on a queue without auto-delete")
	}
}

func TestDeleteChecksAndPurge(t *testing.T) {
	q := New(Config{Name: "q"})
	q.Publish(msg("1"), nil)
	q.Publish(msg("2"), nil)
	if _, _, err := q.Delete(false, true); err != ErrNotEmpty {
		t.Fatalf("if-empty: got %v", err)
	}
	c := &Consumer{Tag: "c", Sink: &sink{credit: 0}}
	q.AddConsumer(c)
	if _, _, err := q.Delete(true, false); err != ErrInUse {
		t.Fatalf("if-unused: got %v", err)
	}
	if n := q.Purge(); n != 2 {
		t.Fatalf("purge = %d, want 2", n)
	}
	n, consumers, err := q.Delete(false, false)
	if err != nil || n != 0 || len(consumers) != 1 {
		t.Fatalf("delete = %d, %d consumers, %v", n, len(consumers), err)
	}
	if _, err := q.Publish(msg("late"), nil); err != ErrDeleted {
		t.Fatalf("publish after delete: %v", err)
	}
	if _, _, err := q.Delete(false, false); err != ErrDeleted {
		t.Fatalf("second delete: %v", err)
	}
}

func TestReadyListCompactsAndKeepsOrder(t *testing.T) {
	r := newReadyList(0, nil)
	for i := 1; i <= 5000; i++ {
		r.push(Entry{Msg: msg("x"), Seq: uint64(i)})
	}
	for i := 1; i <= 3000; i++ {
		if e := r.pop(); e.Seq != uint64(i) {
			t.Fatalf("pop %d: seq %d", i, e.Seq)
		}
	}
	r.insertBatch([]Entry{{Msg: msg("x"), Seq: 10}})
	r.insertBatch([]Entry{{Msg: msg("x"), Seq: 4000}}) // a duplicate position keeps both
	if r.len() != 2002 {
		t.Fatalf("len = %d", r.len())
	}
	prev := uint64(0)
	for r.len() > 0 {
		e := r.pop()
		if e.Seq < prev {
			t.Fatalf("out of order: %d after %d", e.Seq, prev)
		}
		prev = e.Seq
	}
	if r.bytes != 0 {
		t.Fatalf("bytes = %d after draining", r.bytes)
	}
}

func BenchmarkPublishDeliver(b *testing.B) {
	q := New(Config{Name: "q"})
	q.AddConsumer(&Consumer{Tag: "c", Sink: discard{}})
	m := msg("0123456789abcdef")
	b.ReportAllocs()
	for b.Loop() {
		q.Publish(m, nil)
	}
}

func BenchmarkPublishGet(b *testing.B) {
	q := New(Config{Name: "q"})
	m := msg("0123456789abcdef")
	b.ReportAllocs()
	for b.Loop() {
		q.Publish(m, nil)
		q.Get(false)
	}
}

type discard struct{}

func (discard) TryDeliver(*Queue, Entry) bool { return true }

func TestReadyListTombstonesAndPriorities(t *testing.T) {
	r := newReadyList(2, nil)
	for i := 1; i <= 3000; i++ {
		r.push(Entry{Msg: &Message{Body: []byte("x"), Priority: uint8(i % 4)}, Seq: uint64(i)})
	}
	// Remove every third entry from the middle (as expiry does).
	removed := 0
	for i := 3; i <= 3000; i += 3 {
		if _, ok := r.remove(uint64(i), uint8(i%4)); !ok {
			t.Fatalf("remove %d: not found", i)
		}
		removed++
	}
	if _, ok := r.remove(3, 3); ok {
		t.Fatal("removed seq 3 twice")
	}
	if r.len() != 3000-removed {
		t.Fatalf("len = %d, want %d", r.len(), 3000-removed)
	}
	// Priorities 2 and 3 (capped at 2) come out first, each level in seq order.
	lastPrio, lastSeq := 3, uint64(0)
	for r.len() > 0 {
		e := r.pop()
		p := min(int(e.Msg.Priority), 2)
		if e.Seq%3 == 0 {
			t.Fatalf("removed entry %d delivered", e.Seq)
		}
		if p > lastPrio || p == lastPrio && e.Seq < lastSeq {
			t.Fatalf("entry %d (priority %d) after %d (priority %d)", e.Seq, p, lastSeq, lastPrio)
		}
		lastPrio, lastSeq = p, e.Seq
	}
	if r.bytes != 0 {
		t.Fatalf("bytes = %d after draining", r.bytes)
	}
}

// Batches of returned entries, before the head or mixed into the list,
// come back in sequence order with nothing lost.
func TestReadyListInsertBatchKeepsOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		taken int   // entries popped first
		back  []int // indexes of the popped entries returned, in any order
	}{
		{"front, no room", 10, []int{3, 0, 9, 5}},
		{"front, room", 2000, []int{1999, 1500, 1998}},
		{"all back", 50, []int{49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReadyList(0, nil)
			for i := 1; i <= 3000; i++ {
				r.push(Entry{Msg: msg("x"), Seq: uint64(i)})
			}
			var popped []Entry
			for range tc.taken {
				popped = append(popped, r.pop())
			}
			// A tombstone in the middle must survive the merge.
			r.remove(2500, 0)
			var back []Entry
			for _, i := range tc.back {
				back = append(back, popped[i])
			}
			r.insertBatch(back)
			want := 3000 - tc.taken - 1 + len(tc.back)
			if r.len() != want {
				t.Fatalf("len = %d, want %d", r.len(), want)
			}
			prev := uint64(0)
			n := 0
			for r.len() > 0 {
				e := r.pop()
				if e.Seq <= prev || e.Seq == 2500 {
					t.Fatalf("seq %d after %d", e.Seq, prev)
				}
				prev = e.Seq
				n++
			}
			if n != want || r.bytes != 0 {
				t.Fatalf("popped %d (want %d), bytes %d", n, want, r.bytes)
			}
		})
	}
}

// A mixed batch (some returned entries after the head) merges in order.
func TestSeqListInsertBatchMerge(t *testing.T) {
	var s seqList
	for _, seq := range []uint64{2, 4, 6, 8} {
		s.push(Entry{Msg: msg("x"), Seq: seq})
	}
	s.insertBatch([]Entry{{Msg: msg("x"), Seq: 1}, {Msg: msg("x"), Seq: 5}, {Msg: msg("x"), Seq: 9}})
	var got []uint64
	for s.live > 0 {
		got = append(got, s.pop().Seq)
	}
	if fmt.Sprint(got) != "[1 2 4 5 6 8 9]" {
		t.Fatalf("order %v", got)
	}
}
