package queue

import (
	"sync"
	"sync/atomic"
	"time"
)

// Budget is the memory for message bodies that all queues share: those
// ready in memory, and those delivered and not yet acknowledged. Beyond
// it a queue keeps new messages on disk only (its Journal pages them out)
// and reads them back ahead of delivery, as RabbitMQ's lazy queues do, so
// a long backlog costs disk, not memory; and it keeps deliveries, and
// what comes back of them, hollow: their bodies in the store (hollow.go).
type Budget struct {
	limit int64
	used  atomic.Int64 // bodies plus entryOverhead per entry

	// Publishers held back until the use falls (flow.go).
	waiters atomic.Int32
	mu      sync.Mutex
	room    chan struct{} // closed by wake
}

// NewBudget returns a budget of limit bytes (<= 0: unlimited).
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Used is the memory charged: the bodies held in memory, ready or
// delivered, and an estimate of each ready entry's overhead (a hollow
// one's too) and each delivered one's that holds its body.
func (b *Budget) Used() int64 { return b.used.Load() }

func (b *Budget) over() bool { return b != nil && b.limit > 0 && b.used.Load() >= b.limit }

// pageBatch is how many entries one read-ahead brings back, and
// pageBatchBytes how many body bytes at most (so that large messages come
// back a few at a time); pageLow is how few ready entries in memory start
// the next one.
const (
	pageBatch      = 1024
	pageBatchBytes = 16 << 20
	pageLow        = 512
	pageLowBytes   = 8 << 20
)

// keepsEnoughLocked reports whether the queue holds enough ready messages
// in memory to feed its consumers while more are read back: pageLow of
// them, or pageLowBytes of large ones.
func (q *Queue) keepsEnoughLocked() bool {
	return q.mu.ready.len() >= pageLow || q.mu.ready.bytes >= pageLowBytes
}

// paged is the part of a queue that lives only on disk: count entries
// with sequence numbers from next on, all newer than every ready entry in
// memory.
type paged struct {
	count   int
	bytes   int64
	next    uint64
	loading bool
	gen     uint64 // bumped by purge and delete: a read-ahead in flight is stale
}

// pagedDone chains a read-ahead trigger after a page-out's write of e,
// so a queue waiting for that entry starts reading it back. A write that
// failed (the disk is full) left e nowhere: the queue stops counting it,
// so its count always matches what it can deliver. A read-ahead never
// found it, whether or not it read later entries first. (A persistent entry's
// publisher gets that error as a nack through done.)
func (q *Queue) pagedDone(e Entry, done func(error)) func(error) {
	gen := q.mu.paged.gen
	return func(err error) {
		if done != nil {
			done(err)
		}
		q.mu.Lock()
		if p := &q.mu.paged; err != nil && gen == p.gen && p.count > 0 {
			p.count--
			p.bytes -= int64(e.Msg.Size())
			if p.count == 0 {
				p.bytes, p.next = 0, 0
			}
		}
		q.maybeLoadLocked()
		q.mu.Unlock()
	}
}

// maybeLoadLocked starts a read-ahead when few ready entries are left in
// memory and more wait on disk.
func (q *Queue) maybeLoadLocked() {
	p := &q.mu.paged
	if p.count == 0 || p.loading || q.mu.deleted || q.keepsEnoughLocked() {
		return
	}
	p.loading = true
	from, gen := p.next, p.gen
	go func() {
		es, err := q.Journal.PageIn(q, from, pageBatch, pageBatchBytes)
		q.mu.Lock()
		defer q.unlock()
		q.mu.paged.loading = false
		if err != nil || gen != q.mu.paged.gen {
			return // a later trigger (a write, an ack, a get) tries again
		}
		if q.mergeLocked(es) > 0 {
			q.dispatchLocked()
			q.maybeLoadLocked()
		}
	}()
}

// mergeLocked appends entries read back from disk that are still due, in
// order, and returns how many it took.
func (q *Queue) mergeLocked(es []Entry) int {
	p := &q.mu.paged
	n := 0
	now := q.now()
	for _, e := range es {
		if p.count == 0 || e.Seq < p.next {
			continue
		}
		e.Stored = true
		e.Redelivered = e.Redelivered || e.Seq <= q.mu.recoveredUpTo
		p.count--
		p.bytes -= int64(e.Msg.Size())
		p.next = e.Seq + 1
		n++
		if q.expiredLocked(&e, now) {
			q.deadLetterLocked(e, ReasonExpired) // expired while on disk
			continue
		}
		q.mu.ready.push(e)
		q.trackExpiryLocked(e)
	}
	if p.count == 0 {
		p.bytes, p.next = 0, 0
	}
	return n
}

// readAheadForGet brings paged entries back synchronously for basic.get,
// which must not answer get-empty while messages wait on disk. Called
// without the lock; it reports whether ready entries are now in memory.
// An entry whose write is still in its group commit is not readable yet:
// it waits for that write, a few milliseconds at most.
func (q *Queue) readAheadForGet() bool {
	for range 200 {
		q.mu.Lock()
		p, ready := q.mu.paged, q.mu.ready.len()
		q.mu.Unlock()
		if ready > 0 {
			return true
		}
		if p.count == 0 {
			return false
		}
		es, err := q.Journal.PageIn(q, p.next, pageBatch, pageBatchBytes)
		if err != nil {
			return false
		}
		if len(es) > 0 {
			q.mu.Lock()
			if p.gen == q.mu.paged.gen {
				q.mergeLocked(es)
			}
			ready = q.mu.ready.len()
			q.mu.Unlock()
			if ready > 0 {
				return true
			}
		}
		time.Sleep(time.Millisecond) // the entry's group commit is under way
	}
	return false
}

func (p *paged) add(e Entry) {
	if p.count == 0 {
		p.next = e.Seq
	}
	p.count++
	p.bytes += int64(e.Msg.Size())
}

// Paged returns how many ready messages live on disk only.
func (q *Queue) Paged() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.mu.paged.count
}
