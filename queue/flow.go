package queue

import "time"

// Flow control. A publisher can outrun a queue's consumers: a backlog
// then builds that costs memory and latency, and past the memory budget a
// disk write now and a read later. When the queue has consumers that are
// draining it, everyone does better if the publisher waits for them
// instead, as RabbitMQ's credit flow holds back a publisher whose queue
// cannot keep up: the publisher's connection stops reading, TCP pushes
// back, and the broker's CPU goes to delivering. A consumed queue holds
// publishers back while it has flowHigh messages (or flowHighBytes) ready
// in memory, or when the budget is spent, until its consumers drain it to
// flowLow (flowLowBytes).
//
// The wait is bounded. When the consumers do not make room within
// flowWait, the publisher goes on, and the queue holds nobody back for
// flowOff: a slow or stuck consumer costs a publisher one pause of
// flowWait every flowOff, and its queue just grows (on disk past the
// budget). flowWait is long enough for a consumer's connection to write
// out a full outbound buffer (4 MiB of small deliveries with auto-ack),
// during which its queue cannot deliver. A queue without consumers never
// holds a publisher back: a consumer that is down just lets its queue
// grow.
const (
	flowHigh      = 8192
	flowLow       = flowHigh / 2
	flowHighBytes = 16 << 20
	flowLowBytes  = flowHighBytes / 2
	flowWait      = 500 * time.Millisecond
	flowOff       = 10 * time.Second
)

// entryOverhead is what a ready entry costs in memory besides its body
// (the Message, its place in the ready list, the routing key), charged
// to the budget so that small messages count for what they use.
const entryOverhead = 128

// lowMark is the budget use below which held-back publishers go on: a
// little under the limit, so that one wake-up lets through a batch.
func (b *Budget) lowMark() int64 { return b.limit - min(b.limit/16, 1<<20) }

// charge adds n bytes (negative: frees them) and wakes held-back
// publishers when the use falls below the low mark.
func (b *Budget) charge(n int64) {
	used := b.used.Add(n)
	if n < 0 && b.waiters.Load() > 0 && used < b.lowMark() {
		b.wake()
	}
}

// wake releases every held-back publisher; each checks again whether it
// still has to wait.
func (b *Budget) wake() {
	b.mu.Lock()
	if b.room != nil {
		close(b.room)
		b.room = nil
	}
	b.mu.Unlock()
}

// roomCh registers a waiter and returns a channel closed by the next
// wake, or nil when the use is below the low mark already. The caller
// calls b.waiters.Add(-1) when it returned a channel.
func (b *Budget) roomCh() <-chan struct{} {
	b.waiters.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used.Load() < b.lowMark() {
		b.waiters.Add(-1)
		return nil
	}
	if b.room == nil {
		b.room = make(chan struct{})
	}
	return b.room
}

// WaitRoom holds back a publisher on connection conn while this queue's
// consumers drain what it holds (see the comment at the top of this file).
// It is called before Publish, without any lock.
func (q *Queue) WaitRoom(conn uint64) {
	q.mu.Lock()
	if !q.holdsBackLocked(conn, time.Now()) {
		q.mu.Unlock()
		return
	}
	q.mu.flowWaiters++
	q.mu.Unlock()

	timer := time.NewTimer(flowWait)
	defer timer.Stop()
	timedOut := false
	for !timedOut {
		q.mu.Lock()
		if !q.holdsBackLocked(conn, time.Now()) {
			q.mu.Unlock()
			break
		}
		if q.mu.room == nil {
			q.mu.room = make(chan struct{})
		}
		room := q.mu.room
		q.mu.Unlock()
		// Past the budget, other queues' consumers can make room too.
		var budget <-chan struct{}
		if q.Budget.over() {
			budget = q.Budget.roomCh()
		}
		select {
		case <-room:
		case <-budget:
		case <-timer.C:
			timedOut = true
		}
		if budget != nil {
			q.Budget.waiters.Add(-1)
		}
	}
	q.mu.Lock()
	q.mu.flowWaiters--
	if timedOut {
		q.mu.flowOffUntil = time.Now().Add(flowOff).UnixNano()
	}
	q.mu.Unlock()
}

// Backlogged reports, without the lock, whether publishers may have to
// wait for this queue: a cheap test before WaitRoom.
func (q *Queue) Backlogged() bool {
	return q.backlog.Load() || q.feeding.Load() && q.Budget.over()
}

// holdsBackLocked reports whether a publisher on conn should wait for
// this queue's consumers: the queue is consumed, holds a backlog in memory
// (or enough of one past the budget), has not just failed to drain, and
// none of its consumers is on conn (whose acks would wait behind the
// publisher).
func (q *Queue) holdsBackLocked(conn uint64, now time.Time) bool {
	if q.mu.deleted || len(q.mu.consumers) == 0 || now.UnixNano() < q.mu.flowOffUntil {
		return false
	}
	if !q.backlogLocked() && !(q.feedsLocked() && q.Budget.over()) {
		return false
	}
	for _, c := range q.mu.consumers {
		if c.Conn == conn {
			return false
		}
	}
	return true
}

// backlogLocked reports whether the queue holds a backlog in memory: the
// high mark.
func (q *Queue) backlogLocked() bool {
	return q.mu.ready.len() >= flowHigh || q.mu.ready.bytes >= flowHighBytes
}

// feedsLocked reports whether the queue would page out past the budget
// while holding enough in memory to feed its consumers meanwhile.
func (q *Queue) feedsLocked() bool { return q.Journal != nil && q.keepsEnoughLocked() }

// flowLocked runs as the lock is released: it keeps the flags for
// Backlogged and wakes the held-back publishers once the consumers have
// drained the queue to the low mark (or it went away).
func (q *Queue) flowLocked() {
	r := &q.mu.ready
	consumed := len(q.mu.consumers) > 0
	if b := consumed && q.backlogLocked(); b != q.backlog.Load() {
		q.backlog.Store(b)
	}
	if f := consumed && q.feedsLocked(); f != q.feeding.Load() {
		q.feeding.Store(f)
	}
	if q.mu.room != nil && (r.len() <= flowLow && r.bytes <= flowLowBytes || q.mu.deleted || !consumed) {
		close(q.mu.room)
		q.mu.room = nil
	}
}
