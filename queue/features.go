package queue

import (
	"cmp"
	"container/heap"
	"slices"
	"time"
)

// Reason is why a message was dead-lettered, as RabbitMQ names it in
// x-death.
type Reason string

const (
	ReasonRejected      Reason = "rejected"
	ReasonExpired       Reason = "expired"
	ReasonMaxLen        Reason = "maxlen"
	ReasonDeliveryLimit Reason = "delivery_limit"
)

// deadLetter is an entry leaving the queue for its dead-letter exchange,
// handed on once the queue's lock is released.
type deadLetter struct {
	e      Entry
	reason Reason
}

// unlock releases the queue's lock, then hands the entries that left the
// queue meanwhile to DeadLetter, outside the lock: republishing them may
// take other queues' locks (or this one's, in a cycle). Hollow ones are
// read back first; one whose body cannot be read is dropped.
func (q *Queue) unlock() {
	q.flowLocked()
	if len(q.mu.dead) == 0 {
		q.mu.Unlock()
		return
	}
	dead := q.mu.dead
	q.mu.dead = nil
	q.mu.Unlock()
	q.readBackDead(dead)
	for _, d := range dead {
		if d.e.Msg.hollow {
			q.Settle(d.e)
			continue
		}
		q.DeadLetter(q, d.e, d.reason)
	}
}

// deadLetterLocked removes e for good: to the dead-letter exchange when the
// queue has one (the callback settles it after republishing, so a crash in
// between duplicates, never loses), else it is settled and dropped.
func (q *Queue) deadLetterLocked(e Entry, reason Reason) {
	// A dead-lettered copy shares the body and holds no reference of its
	// own; a dropped entry keeps its reference for good (body.go).
	e.Msg.Pin()
	switch reason {
	case ReasonExpired:
		q.mu.stats.expired++
	case ReasonMaxLen:
		q.mu.stats.dropped++
	}
	if q.DeadLetter != nil && q.limits().DLX {
		q.mu.stats.deadLettered++
		q.mu.dead = append(q.mu.dead, deadLetter{e, reason})
		return
	}
	q.settleLocked(e)
}

// Settle removes a dead-lettered entry from the store, once the callback
// has republished it.
func (q *Queue) Settle(e Entry) {
	if !e.Stored {
		return
	}
	q.mu.Lock()
	q.settleLocked(e)
	q.mu.Unlock()
}

// Reject settles delivered entries that were rejected without requeue:
// rabbitmq dead-letters them with reason rejected, unless the queue was
// deleted meanwhile (its dead-lettering went with it).
func (q *Queue) Reject(entries []Entry) {
	if q.wakeStream() {
		return
	}
	q.release(entries)
	q.mu.Lock()
	q.mu.stats.rejected += uint64(len(entries))
	q.mu.stats.settledBytes += entriesSize(entries)
	if q.Quorum != nil {
		if !q.mu.deleted {
			q.Quorum.Discard(seqsOf(entries)) // dead-lettered when applied (quorum.go)
		}
		q.mu.Unlock()
		return
	}
	for _, e := range entries {
		if e.Stored {
			q.mu.outstanding--
		}
		if q.mu.deleted {
			q.settleLocked(e)
			continue
		}
		q.deadLetterLocked(e, ReasonRejected)
	}
	q.maybeLoadLocked()
	q.unlock()
}

func (q *Queue) now() int64 {
	if q.Now != nil {
		return q.Now().UnixMilli()
	}
	return time.Now().UnixMilli()
}

// nowCeil is the clock in milliseconds rounded up, for computing an
// expiry: checked against now(), rounded down, it never comes before the
// whole TTL has passed (rabbitmq computes expiries in microseconds).
func (q *Queue) nowCeil() int64 {
	t := time.Now()
	if q.Now != nil {
		t = q.Now()
	}
	return (t.UnixMicro() + 999) / 1000
}

// expiryFor is when a message published now expires: the smaller of the
// queue's x-message-ttl and the message's expiration (rabbitmq), 0 if
// neither applies.
func (q *Queue) expiryFor(m *Message) (expires int64, ttl int64) {
	ttl = q.limits().MessageTTL
	if m.HasTTL && (ttl < 0 || m.TTL < ttl) {
		ttl = m.TTL
	}
	if ttl < 0 {
		return 0, -1 // no clock read on the common path
	}
	return q.nowCeil() + ttl, ttl
}

// expiring is one entry in the expiry heap.
type expiring struct {
	at   int64
	seq  uint64
	prio uint8
}

type expiryHeap []expiring

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiring)) }
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// trackExpiryLocked schedules the removal of an entry with a TTL, wherever
// it sits in the queue: one timer per queue, set for the earliest expiry.
func (q *Queue) trackExpiryLocked(e Entry) {
	if e.Expires == 0 {
		return
	}
	if len(q.mu.expiry) >= expiryCompactMin && len(q.mu.expiry) >= 2*q.mu.ready.len() {
		q.compactExpiryLocked()
	}
	heap.Push(&q.mu.expiry, expiring{at: e.Expires, seq: e.Seq, prio: e.Msg.Priority})
	q.armExpiryLocked()
}

// expiryCompactMin is the heap size below which compaction is not worth it.
const expiryCompactMin = 1024

// compactExpiryLocked drops the heap entries of messages that are no
// longer ready (delivered, dropped) and the duplicates requeues leave.
// Without it the heap would hold every message that passed through the
// queue until its TTL ran out: a day's traffic for a day's TTL. It runs
// when the heap is twice the ready messages, so its cost is amortized
// over as many pushes.
func (q *Queue) compactExpiryLocked() {
	h := q.mu.expiry
	slices.SortFunc(h, func(a, b expiring) int { return cmp.Compare(a.seq, b.seq) })
	kept := h[:0]
	for i, x := range h {
		if i > 0 && x.seq == h[i-1].seq {
			continue
		}
		l := q.mu.ready.level(&Entry{Msg: &Message{Priority: x.prio}})
		if l.find(x.seq) >= 0 {
			kept = append(kept, x)
		}
	}
	clear(h[len(kept):])
	q.mu.expiry = kept
	heap.Init(&q.mu.expiry)
}

func (q *Queue) armExpiryLocked() {
	if len(q.mu.expiry) == 0 || q.mu.deleted {
		return
	}
	at := q.mu.expiry[0].at
	if q.mu.timer != nil && q.mu.timerAt <= at {
		return
	}
	d := time.Duration(at-q.now()) * time.Millisecond
	if q.mu.timer == nil {
		q.mu.timer = time.AfterFunc(max(d, 0), q.expireDue)
	} else {
		q.mu.timer.Reset(max(d, 0))
	}
	q.mu.timerAt = at
}

// expireDue removes every ready entry whose time has come. Entries paged
// out have no place in the heap: once those in memory run low, a
// read-ahead brings the next back, dropping those that expired on disk.
func (q *Queue) expireDue() {
	q.mu.Lock()
	q.mu.timerAt = 1<<63 - 1
	q.expireLocked(q.now())
	q.armExpiryLocked()
	q.maybeLoadLocked()
	q.unlock()
}

func (q *Queue) expireLocked(now int64) {
	for len(q.mu.expiry) > 0 && q.mu.expiry[0].at <= now {
		x := heap.Pop(&q.mu.expiry).(expiring)
		if e, ok := q.mu.ready.remove(x.seq, x.prio); ok {
			q.deadLetterLocked(e, ReasonExpired)
		}
	}
}

// expiredLocked reports whether e is due, for the check at delivery.
func (q *Queue) expiredLocked(e *Entry, now int64) bool {
	return e.Expires != 0 && e.Expires <= now
}

// insertConsumerLocked adds c after every consumer of its priority or
// higher: consumers are kept by priority, highest first (rabbitmq
// x-priority), in registration order within a priority.
func (q *Queue) insertConsumerLocked(c *Consumer) {
	i := len(q.mu.consumers)
	if !q.limits().SingleActive {
		for i > 0 && q.mu.consumers[i-1].Priority < c.Priority {
			i--
		}
	}
	q.mu.consumers = slices.Insert(q.mu.consumers, i, c)
	if i <= q.mu.next && len(q.mu.consumers) > 1 {
		q.mu.next++
	}
}

// candidatesLocked is how many consumers, from the first, may be offered a
// message: with a single active consumer only the first; otherwise those
// of the highest priority, then the next priority if none takes it.
func (q *Queue) offerByPriorityLocked(e Entry) bool {
	cs := q.mu.consumers
	if q.limits().SingleActive {
		// rabbitmq x-single-active-consumer: only the earliest consumer
		// receives; the next takes over when it goes.
		if cs[0].Sink.TryDeliver(q, e) {
			q.deliveredLocked(cs[0], e)
			return true
		}
		return false
	}
	for start := 0; start < len(cs); {
		end := start + 1
		for end < len(cs) && cs[end].Priority == cs[start].Priority {
			end++
		}
		n := end - start
		first := 0
		if q.mu.next >= start && q.mu.next < end {
			first = q.mu.next - start
		}
		for i := 0; i < n; i++ {
			idx := start + (first+i)%n
			if cs[idx].Sink.TryDeliver(q, e) {
				q.deliveredLocked(cs[idx], e)
				q.mu.next = start + (first+i+1)%n
				return true
			}
		}
		start = end
	}
	return false
}

// touchLocked records a use of the queue for x-expires.
func (q *Queue) touchLocked() {
	if q.limits().Expires <= 0 || q.mu.deleted {
		return
	}
	d := time.Duration(q.limits().Expires) * time.Millisecond
	if q.mu.idleTimer == nil {
		q.mu.idleTimer = time.AfterFunc(d, q.idleExpired)
	} else {
		q.mu.idleTimer.Reset(d)
	}
}

// Touch records a use of the queue (declare, get) for x-expires.
func (q *Queue) Touch() {
	q.mu.Lock()
	q.touchLocked()
	q.mu.Unlock()
}

// idleExpired deletes an unused queue (rabbitmq x-expires): no consumers
// since the timer was last reset.
func (q *Queue) idleExpired() {
	q.mu.Lock()
	unused := len(q.mu.consumers) == 0 && !q.mu.deleted
	q.mu.Unlock()
	if unused && q.OnExpire != nil {
		q.OnExpire(q)
	}
}

func (q *Queue) stopTimersLocked() {
	if q.mu.timer != nil {
		q.mu.timer.Stop()
	}
	if q.mu.idleTimer != nil {
		q.mu.idleTimer.Stop()
	}
}
