package queue

import "sync/atomic"

// Counters are a queue's message counts since it was declared (or since
// the broker started, for a recovered one), read with Queue.Counters.
// They only grow. RabbitMQ's message_stats names are in the comments.
type Counters struct {
	Published      uint64 // publish: messages the queue took in
	Delivered      uint64 // deliver: to consumers, to be acknowledged
	DeliveredNoAck uint64 // deliver_no_ack
	Get            uint64 // get: basic.get, to be acknowledged
	GetNoAck       uint64 // get_no_ack
	GetEmpty       uint64 // get_empty: basic.get that found nothing
	Redelivered    uint64 // redeliver: deliveries and gets marked redelivered
	Acked          uint64 // ack
	Rejected       uint64 // rejected or nacked without requeue
	Requeued       uint64 // returned to the queue (nack, reject, recover, a closed channel)
	DeadLettered   uint64 // handed to the dead-letter exchange, whatever the reason
	Expired        uint64 // removed by a TTL, dead-lettered or dropped
	Dropped        uint64 // over a length limit: dropped from the head, or refused (reject-publish)
}

// Add adds o's counts to c: the vhost and broker totals are sums of
// queues' counters, taken at read time.
func (c *Counters) Add(o Counters) {
	c.Published += o.Published
	c.Delivered += o.Delivered
	c.DeliveredNoAck += o.DeliveredNoAck
	c.Get += o.Get
	c.GetNoAck += o.GetNoAck
	c.GetEmpty += o.GetEmpty
	c.Redelivered += o.Redelivered
	c.Acked += o.Acked
	c.Rejected += o.Rejected
	c.Requeued += o.Requeued
	c.DeadLettered += o.DeadLettered
	c.Expired += o.Expired
	c.Dropped += o.Dropped
}

// stats are the live counters. They are incremented where the event
// happens, mostly under the queue's lock already, but they are atomics so
// that a reader never takes that lock, and so that Ack, which takes no
// lock without a journal, can count too. One atomic add per event, no
// allocation.
//
// Unacknowledged messages need no counter of their own: every delivery
// and get to be acknowledged ends in exactly one ack, reject or requeue,
// so they are Delivered + Get - Acked - Rejected - Requeued. Their bytes
// have one (unackedBytes), added at delivery and taken off at settling.
type stats struct {
	published, delivered, deliveredNoAck atomic.Uint64
	get, getNoAck, getEmpty, redelivered atomic.Uint64
	acked, rejected, requeued            atomic.Uint64
	deadLettered, expired, dropped       atomic.Uint64
	unackedBytes                         atomic.Int64
}

// Counters returns the queue's counters. It takes no lock: each count is
// read on its own, so the set is not one instant's, as RabbitMQ's are not.
func (q *Queue) Counters() Counters {
	s := &q.stats
	return Counters{
		Published:      s.published.Load(),
		Delivered:      s.delivered.Load(),
		DeliveredNoAck: s.deliveredNoAck.Load(),
		Get:            s.get.Load(),
		GetNoAck:       s.getNoAck.Load(),
		GetEmpty:       s.getEmpty.Load(),
		Redelivered:    s.redelivered.Load(),
		Acked:          s.acked.Load(),
		Rejected:       s.rejected.Load(),
		Requeued:       s.requeued.Load(),
		DeadLettered:   s.deadLettered.Load(),
		Expired:        s.expired.Load(),
		Dropped:        s.dropped.Load(),
	}
}

// Unacked returns how many messages the queue has delivered (or given to
// basic.get) that are not settled yet, and their bytes. It takes no lock.
func (q *Queue) Unacked() (messages, bytes int64) {
	s := &q.stats
	// Settled counts first: a delivery settled between the loads is then
	// counted out but not in, never the reverse, and the clamp takes care
	// of the first.
	out := s.acked.Load() + s.rejected.Load() + s.requeued.Load()
	in := s.delivered.Load() + s.get.Load()
	return max(int64(in-out), 0), max(s.unackedBytes.Load(), 0)
}

// settledStats counts entries coming back from their consumers
// (acknowledged, rejected or returned, as the caller counts them) out of
// the unacknowledged bytes.
func (q *Queue) settledStats(es []Entry) {
	var n int64
	for i := range es {
		n += int64(es[i].Msg.Size())
	}
	q.stats.unackedBytes.Add(-n)
}

// deliveredStats counts one delivery (get: a basic.get) of e.
func (q *Queue) deliveredStats(e *Entry, noAck, get bool) {
	s := &q.stats
	switch {
	case noAck && get:
		s.getNoAck.Add(1)
	case noAck:
		s.deliveredNoAck.Add(1)
	default:
		if get {
			s.get.Add(1)
		} else {
			s.delivered.Add(1)
		}
		s.unackedBytes.Add(int64(e.Msg.Size()))
	}
	if e.Redelivered {
		s.redelivered.Add(1)
	}
}

// Snapshot is a queue's state at one instant, for listings.
type Snapshot struct {
	Ready        int   // ready messages, in memory and paged out
	Paged        int   // of Ready, those on disk only
	ReadyBytes   int64 // bodies of the ready messages
	Consumers    int
	Exclusive    bool // a consumer has exclusive use of the queue
	Deleted      bool
	Backlogged   bool // holding its publishers back (flow.go)
	Unacked      int64
	UnackedBytes int64
}

// Snapshot reads the queue's figures under its lock, briefly: a listing
// takes one queue's lock at a time, never two, and no vhost lock.
func (q *Queue) Snapshot() Snapshot {
	q.mu.Lock()
	s := Snapshot{
		Ready:      q.mu.ready.len() + q.mu.paged.count,
		Paged:      q.mu.paged.count,
		ReadyBytes: int64(q.mu.ready.bytes) + q.mu.paged.bytes,
		Consumers:  len(q.mu.consumers),
		Exclusive:  q.mu.exclusive,
		Deleted:    q.mu.deleted,
	}
	q.mu.Unlock()
	s.Backlogged = q.backlog.Load()
	s.Unacked, s.UnackedBytes = q.Unacked()
	return s
}

// ConsumerList appends the queue's consumers to out, in delivery order
// (by priority, then registration). A Consumer's fields do not change
// once it is added, so the caller may read them with no lock.
func (q *Queue) ConsumerList(out []*Consumer) []*Consumer {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append(out, q.mu.consumers...)
}

// SingleActive reports whether the queue has a single active consumer
// (x-single-active-consumer): the first of ConsumerList.
func (q *Queue) SingleActive() bool { return q.limits.SingleActive }
