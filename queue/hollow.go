package queue

import (
	"cmp"
	"slices"
)

// Hollow entries. The budget counts the bodies a queue holds in memory,
// ready or delivered and not yet acknowledged. Past it, new messages go
// to disk only (paging.go), in one range of sequence numbers newer than
// everything in memory. Entries older than that range cannot join it:
// deliveries waiting for their ack, and the same entries when they are
// returned. Those a queue keeps hollow instead: the entry stays where it
// is, with a stand-in for its message (hollowOf) that has no body, and
// the body waits in the store, where a persistent message in a queue
// that persists is already, and where a transient one is paged out
// first. A hollow entry costs the entry and the stand-in, about 150
// bytes, and is charged entryOverhead while ready, nothing while
// delivered.
//
//	delivered, budget left    the Sink keeps e, its body charged (held)
//	delivered, budget spent   the Sink keeps e hollow, nothing charged
//	returned (Requeue)        back whole while the budget lasts, the
//	                          first to go out first; the rest hollow
//	hollow at the head        read back on a goroutine (fillLocked),
//	                          then delivered; basic.get reads back itself
//	hollow, dead-lettered     read back in unlock, before DeadLetter
//
// Nothing changes for a queue within the budget but a charge at delivery
// and its refund at the ack.

// Keep returns what a Sink keeps of e, which it has just taken, until
// the delivery is acknowledged or returned: within the memory budget e
// itself, its body charged to the budget until then; past the budget, e
// with a hollow stand-in for its message, whose body waits in the store
// (a transient one is paged out for it, unless the store is short of
// disk). TryDeliver calls it with the queue's lock held.
func (q *Queue) Keep(e Entry) Entry {
	if b := q.Budget; b != nil && q.Journal != nil {
		if b.over() {
			return q.keepOver(e)
		}
		b.used.Add(int64(len(e.Msg.Body) + entryOverhead)) // charge, less its wake-up: inlined
		e.mark = held
	}
	return e
}

// keepOver is Keep past the budget.
func (q *Queue) keepOver(e Entry) Entry {
	if !e.Stored && q.Journal.Short() {
		q.Budget.charge(int64(len(e.Msg.Body) + entryOverhead))
		e.mark = held
		return e
	}
	if !e.Stored {
		q.mu.outstanding++ // stored now; deliveredLocked counted it as not
	}
	return q.hollowLocked(e)
}

// release refunds the budget for delivered entries coming back from
// their consumer (acknowledged, rejected or returned).
func (q *Queue) release(es []Entry) {
	var n int64
	for i := range es {
		if es[i].mark == held {
			n += int64(len(es[i].Msg.Body) + entryOverhead)
		}
	}
	if n > 0 {
		q.Budget.charge(-n)
	}
}

// hollowLocked returns e with a hollow stand-in for its message, paging
// the message out first if the store does not hold it.
func (q *Queue) hollowLocked(e Entry) Entry {
	id := e.Msg.ID
	if !e.Stored {
		id = q.Journal.PageOut(q, e, nil)
		e.Stored = true
	}
	whole := e.Msg
	e.Msg = hollowOf(whole, id)
	e.mark = 0
	// The entry keeps no body in memory now; the store holds a reference
	// of its own until it wrote it (body.go).
	whole.Release()
	return e
}

// hollowBackLocked makes returned entries hollow where they would take
// the budget past its limit: those to go out first stay whole as long as
// it lasts.
func (q *Queue) hollowBackLocked(back []Entry) {
	b := q.Budget
	if b == nil || q.Journal == nil || b.limit <= 0 {
		return
	}
	spare := b.limit - b.used.Load() - int64(len(back))*entryOverhead
	var bodies int64
	for i := range back {
		bodies += int64(len(back[i].Msg.Body))
	}
	if bodies <= spare {
		return
	}
	slices.SortFunc(back, func(a, b Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	for i := range back {
		e := &back[i]
		if e.Msg.hollow {
			continue
		}
		if n := int64(len(e.Msg.Body)); n <= spare {
			spare -= n
			continue
		}
		spare = 0 // the rest go back hollow, in order
		if e.Stored || !q.Journal.Short() {
			*e = q.hollowLocked(*e)
		}
	}
}

// fillLocked reads back the bodies of the hollow entries about to be
// delivered, a batch at a time (as many as a read-ahead brings), on a
// goroutine of its own, and delivers once they are in. No I/O happens
// under the lock.
func (q *Queue) fillLocked() {
	if q.mu.filling || q.mu.deleted {
		return
	}
	batch := q.mu.ready.hollowAhead(pageBatch, pageBatchBytes)
	if len(batch) == 0 {
		return
	}
	q.mu.filling = true
	go func() {
		msgs, err := q.Journal.ReadBack(q, hollowIDs(batch))
		q.mu.Lock()
		defer q.unlock()
		q.mu.filling = false
		if err != nil {
			return // the next dispatch tries again
		}
		q.filledLocked(batch, msgs)
		q.dispatchLocked()
	}()
}

// readBack fills hollow entries in for basic.get, reading with no lock
// held. It reports whether the store could be read.
func (q *Queue) readBack(batch []Entry) bool {
	msgs, err := q.Journal.ReadBack(q, hollowIDs(batch))
	if err != nil {
		return false
	}
	q.mu.Lock()
	q.filledLocked(batch, msgs)
	q.unlock()
	return true
}

func hollowIDs(es []Entry) []uint64 {
	ids := make([]uint64, len(es))
	for i, e := range es {
		ids[i] = e.Msg.ID
	}
	return ids
}

// filledLocked gives the hollow entries of batch that are still ready and
// hollow the messages read back for them. One whose message the store no
// longer has (the journal logs it) cannot be delivered: it is dropped.
func (q *Queue) filledLocked(batch []Entry, msgs []*Message) {
	for i, e := range batch {
		if m := msgs[i]; m != nil {
			q.mu.ready.fill(e.Seq, e.Msg.Priority, m)
			continue
		}
		l := q.mu.ready.levelOf(e.Msg.Priority)
		if j := l.find(e.Seq); j >= 0 && l.items[j].Msg.hollow && l.items[j].Msg.ID == e.Msg.ID {
			if lost, ok := q.mu.ready.remove(e.Seq, e.Msg.Priority); ok {
				q.settleLocked(lost)
			}
		}
	}
}

// readBackDead fills in hollow entries about to be dead-lettered, which
// their dead-letter exchange gets whole. Called without the lock.
func (q *Queue) readBackDead(dead []deadLetter) {
	var ids []uint64
	for _, d := range dead {
		if d.e.Msg.hollow {
			ids = append(ids, d.e.Msg.ID)
		}
	}
	if len(ids) == 0 {
		return
	}
	msgs, err := q.Journal.ReadBack(q, ids)
	if err != nil {
		return
	}
	k := 0
	for i := range dead {
		if dead[i].e.Msg.hollow {
			if m := msgs[k]; m != nil {
				dead[i].e.Msg = m
			}
			k++
		}
	}
}
