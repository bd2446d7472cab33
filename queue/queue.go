package queue

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by Queue operations. The server maps them to reply codes.
var (
	ErrDeleted           = errors.New("queue deleted")
	ErrInUse             = errors.New("queue in use")
	ErrNotEmpty          = errors.New("queue not empty")
	ErrExclusiveConsumer = errors.New("queue in exclusive use")
	ErrHasConsumers      = errors.New("queue has consumers, cannot consume exclusively")
	// ErrRejected: the queue is full and its overflow is reject-publish.
	ErrRejected = errors.New("queue full: message rejected")
)

// Sink receives deliveries for one consumer. TryDeliver is called with the
// queue's lock held; it must not call into any Queue but for q.Keep. It
// returns false, taking nothing, when the consumer cannot take a message
// now. A delivery to be acknowledged is kept as q.Keep(e), and handed
// back as that to Ack, Requeue or Reject.
type Sink interface {
	TryDeliver(q *Queue, e Entry) bool
}

// Journal is a queue's link to the store. Its write methods are called
// with the queue's lock held, in the order the operations happen, so they
// must only hand each operation on (to the store's group commit) and
// return. PageIn is called without the lock and may block.
type Journal interface {
	// PutEntry journals the entry of a persistent message in a durable
	// queue (its message is already stored); done runs once it is on disk.
	PutEntry(q *Queue, e Entry, done func(error))
	// PageOut writes an entry that is not stored yet, and its message
	// under a new id that it returns, so that memory can drop the body;
	// done, if not nil, runs once it is on disk.
	PageOut(q *Queue, e Entry, done func(error)) (id uint64)
	// DeleteEntry removes a settled stored entry and releases its message.
	DeleteEntry(q *Queue, e Entry)
	// Drop removes the queue's stored entries with seq >= from (every one
	// when from is 0), releasing the messages of the given ready entries.
	Drop(q *Queue, ready []Entry, from uint64)
	// Requeued records a stored entry's new delivery count.
	Requeued(q *Queue, e Entry)
	// PageIn reads up to max stored entries with seq >= from, in order,
	// stopping after the one that brings their bodies to maxBytes.
	PageIn(q *Queue, from uint64, max int, maxBytes int64) ([]Entry, error)
	// ReadBack reads stored messages by id, for hollow entries: out[i] is
	// ids[i]'s, nil if the store has none. A message whose write is under
	// way (paged out a moment ago) is waited for. Called without the lock;
	// it blocks.
	ReadBack(q *Queue, ids []uint64) ([]*Message, error)
	// Short reports whether the store takes no new data now (it is short
	// of disk): a queue then keeps delivered and returned bodies in
	// memory, past the budget, rather than page them out.
	Short() bool
}

// Consumer is a subscription to a queue.
type Consumer struct {
	Tag       string
	Exclusive bool
	Priority  int  // rabbitmq x-priority: higher first
	NoAck     bool // deliveries are settled when sent
	Sink      Sink
	// Conn identifies the consumer's connection: its publishers are not
	// held back for this queue (flow.go), since its acks would wait too.
	Conn uint64
	// Prefetch is the consumer's own window (basic.qos, 0: none): a
	// quorum queue led on another node feeds it at most that many
	// unsettled messages (quorum_feed.go).
	Prefetch int
	// Remote marks a stand-in for a consumer on another node (the
	// leader's proxy of a remote consumer, amqp/cluster qremote.go): its
	// deliveries are counted where the consumer is, which also counts
	// their acks, so the leader's figures do not show them unacknowledged
	// forever.
	Remote bool
}

// Config describes a queue at declaration.
type Config struct {
	Name       string
	Durable    bool
	Exclusive  bool
	AutoDelete bool
	Args       map[string]any
	Owner      uint64 // the connection that owns an exclusive queue
	// ID is the store's number for the queue (0: none). Every queue of a
	// broker with a store has one, for paging.
	ID uint64
	// Persist: the queue survives restarts (durable and not exclusive), so
	// its persistent messages are journalled.
	Persist bool
	// Journal, if set, journals the entries of persistent messages in a
	// durable queue and pages out bodies beyond the Budget.
	Journal Journal
	// Budget is the memory for bodies, ready or delivered and not yet
	// acknowledged, shared by the broker's queues.
	Budget *Budget
	// DeadLetter takes entries that leave the queue without delivery
	// (rejected, expired, over the length or delivery limit) when the
	// queue has x-dead-letter-exchange. It is called without the queue's
	// lock and must call Settle(e) once the message is republished.
	DeadLetter func(q *Queue, e Entry, reason Reason)
	// OnExpire is called when an unused queue's x-expires runs out.
	OnExpire func(q *Queue)
	// Now is the clock for TTLs; nil: time.Now.
	Now func() time.Time
	// Stream, if set, makes this a stream queue (stream.go).
	Stream Stream
	// Quorum, if set, replicates the queue's operations (quorum.go).
	Quorum Quorum
}

// Queue is one queue. The Config fields are immutable after New.
type Queue struct {
	Config
	// lim is what the queue enforces: its arguments, with the policies
	// applying to it (SetLimits). Replaced whole under mu, never changed
	// in place, so that a reader without the lock sees one consistent set.
	lim atomic.Pointer[Limits]

	mu struct {
		sync.Mutex
		ready       readyList
		nextSeq     uint64
		consumers   []*Consumer
		next        int // round-robin position
		exclusive   bool
		hadConsumer bool
		deleted     bool
		filling     bool // hollow entries are being read back (hollow.go)
		quorumLead  bool // a quorum queue on its group's leader (quorum.go)
		// fed: entries the leader sent for consumers here that their
		// Sinks have not taken yet (quorum_feed.go).
		fed map[*Consumer][]Entry

		paged         paged  // entries on disk only
		recoveredUpTo uint64 // entries up to here were recovered: redelivered
		outstanding   int    // delivered stored entries not settled yet

		dead        []deadLetter // to hand to DeadLetter after unlocking
		expiry      expiryHeap   // ready entries with a TTL, earliest first
		timer       *time.Timer  // fires at timerAt, the earliest expiry
		timerAt     int64
		idleTimer   *time.Timer // x-expires
		prioritized bool        // some consumer has a priority
		stats       stats       // counters (stats.go)

		flowWaiters  int           // publishers held back for this queue
		flowOffUntil int64         // Unix ns: no holding back before this
		room         chan struct{} // closed when the held-back may go on

		// flusher is the goroutine of the locked operation under way,
		// when it flushes its deliveries' output itself (PublishFrom).
		flusher Flusher
	}
	// For Backlogged (flow.go): consumed, with ready messages in memory
	// past flowHigh; consumed, with enough of them to page past the budget.
	backlog, feeding atomic.Bool
	free             freeStats // counters kept with no lock held (stats.go)
}

// New returns an empty queue.
// The arguments are validated by ParseArgs first; New ignores bad ones.
func New(cfg Config) *Queue {
	q := &Queue{Config: cfg}
	if len(cfg.Args) == 0 {
		q.lim.Store(&noLimits)
	} else {
		l, _ := ParseArgs(cfg.Args)
		q.lim.Store(&l)
	}
	q.mu.ready = newReadyList(int(q.limits().MaxPriority), cfg.Budget)
	if cfg.Quorum != nil {
		cfg.Quorum.Attach(q)
	}
	return q
}

// Flusher is a goroutine that writes out, before it blocks, the output
// its deliveries left pending: a connection's reader. A Sink's TryDeliver
// may, instead of waking its connection's writer, leave the write to the
// Flusher of the operation that delivers (Queue.Flusher), which saves a
// goroutine hand-off per delivery at moderate rates. Flush writes out
// what is pending now; the broker calls it before it holds a publisher
// back (WaitRoom), so that the consumers being waited for get their
// deliveries.
type Flusher interface{ Flush() }

// Flusher is the Flusher of the operation holding the queue's lock, or
// nil. Only for a Sink's TryDeliver, which runs under that lock.
func (q *Queue) Flusher() Flusher { return q.mu.flusher }

// PublishFrom is Publish on a goroutine that flushes its deliveries'
// output itself (see Flusher).
func (q *Queue) PublishFrom(m *Message, done func(error), f Flusher) (journalled bool, err error) {
	q.mu.Lock()
	q.mu.flusher = f
	defer func() {
		q.mu.flusher = nil
		q.unlock()
	}()
	return q.publishLocked(m, done)
}

// Publish enqueues m and delivers what it can. It returns ErrDeleted if the
// queue was deleted meanwhile, ErrRejected if it is full and refuses new
// messages. When the entry is journalled, journalled is true and done
// runs once it is on disk; otherwise done is not used.
func (q *Queue) Publish(m *Message, done func(error)) (journalled bool, err error) {
	q.mu.Lock()
	defer q.unlock()
	return q.publishLocked(m, done)
}

func (q *Queue) publishLocked(m *Message, done func(error)) (journalled bool, err error) {
	if q.mu.deleted {
		return false, ErrDeleted
	}
	if q.limits().Overflow != DropHead && q.fullLocked(m) {
		// rabbitmq: reject-publish refuses the message; the publisher gets a
		// nack. reject-publish-dlx also dead-letters it.
		if q.limits().Overflow == RejectPublishDLX {
			q.mu.nextSeq++
			q.deadLetterLocked(Entry{Msg: m, Seq: q.mu.nextSeq}, ReasonMaxLen)
		} else {
			q.mu.stats.dropped++
		}
		return false, ErrRejected
	}
	q.mu.stats.published++
	q.mu.nextSeq++
	e := Entry{Msg: m, Seq: q.mu.nextSeq}
	m.Retain() // the entry's reference to a pooled body (body.go)
	var ttl int64
	e.Expires, ttl = q.expiryFor(m)
	// Page out when older messages already wait on disk (order), or when
	// the broker's memory budget is spent and this queue holds enough in
	// memory to feed its consumers meanwhile.
	page := q.Journal != nil && (q.mu.paged.count > 0 || q.Budget.over() && q.keepsEnoughLocked())
	if q.journalled(e) {
		if page {
			done = q.pagedDone(e, done)
		}
		q.Journal.PutEntry(q, e, done)
		e.Stored, journalled = true, true
	}
	if page {
		if !e.Stored {
			q.Journal.PageOut(q, e, q.pagedDone(e, nil)) // read back by seq: the id is in the entry
			e.Stored = true
		}
		q.mu.paged.add(e)
		q.trimLocked()
		// Paged: the entry keeps no body in memory; the store holds a
		// reference of its own until it wrote it (body.go).
		m.Release()
		return journalled, nil
	}
	// Fast path: nothing waits ahead of it, hand it straight to a consumer.
	if q.mu.ready.len() == 0 && len(q.mu.consumers) > 0 && q.offerLocked(e) {
		return journalled, nil
	}
	if ttl == 0 {
		// rabbitmq: a TTL of 0 expires a message no consumer takes at once.
		q.deadLetterLocked(e, ReasonExpired)
		return journalled, nil
	}
	q.mu.ready.push(e)
	q.trackExpiryLocked(e)
	q.dispatchLocked()
	q.trimLocked()
	return journalled, nil
}

// trimLocked applies drop-head: rabbitmq removes the oldest ready messages
// until the queue is within its limits again.
func (q *Queue) trimLocked() {
	if q.limits().Overflow != DropHead {
		return
	}
	for q.overLocked() {
		if q.mu.ready.len() == 0 && !q.readAheadLocked() {
			return
		}
		q.deadLetterLocked(q.mu.ready.pop(), ReasonMaxLen)
	}
}

// readAheadLocked reads paged entries back while holding the lock: only
// for the rare drop-head of a paged queue.
func (q *Queue) readAheadLocked() bool {
	es, err := q.Journal.PageIn(q, q.mu.paged.next, pageBatch, pageBatchBytes)
	return err == nil && q.mergeLocked(es) > 0
}

// journalled reports whether e's entry belongs in the store for good: a
// persistent message in a durable queue.
func (q *Queue) journalled(e Entry) bool {
	return q.Journal != nil && q.Persist && e.Msg.Persistent
}

// settleLocked removes e, delivered or dropped, for good.
func (q *Queue) settleLocked(e Entry) {
	if q.Quorum != nil {
		if e.Stored && q.mu.quorumLead {
			q.Quorum.Settle([]uint64{e.Seq})
		}
		return
	}
	if e.Stored {
		q.Journal.DeleteEntry(q, e)
	}
}

// Recover appends an entry read back from the store at start-up, before
// the queue is in use, in sequence order. Within the memory budget it
// loads the message with load; beyond it, it only counts the entry, which
// a read-ahead brings back later.
func (q *Queue) Recover(seq uint64, size int64, deliveries uint32, expires int64, load func() (*Message, error)) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.mu.nextSeq = max(q.mu.nextSeq, seq)
	q.mu.recoveredUpTo = q.mu.nextSeq
	if q.mu.paged.count > 0 || q.Budget.over() && q.keepsEnoughLocked() {
		p := &q.mu.paged
		if p.count == 0 {
			p.next = seq
		}
		p.count++
		p.bytes += size
		return nil
	}
	m, err := load()
	if err != nil {
		return err
	}
	e := Entry{Msg: m, Seq: seq, Redelivered: true, Stored: true, Deliveries: deliveries, Expires: expires}
	q.mu.ready.push(e)
	q.trackExpiryLocked(e)
	return nil
}

// Dispatch delivers ready messages to consumers with credit.
func (q *Queue) Dispatch() {
	if q.wakeStream() {
		return
	}
	q.mu.Lock()
	q.dispatchLocked()
	q.unlock()
}

func (q *Queue) dispatchLocked() {
	if q.quorumPassiveLocked() {
		q.feedAllLocked() // what the leader sent (quorum_feed.go)
		return            // the group's leader delivers (quorum.go)
	}
	var now int64
	for q.mu.ready.len() > 0 && len(q.mu.consumers) > 0 {
		head := q.mu.ready.peek()
		if head.Expires != 0 {
			if now == 0 {
				now = q.now()
			}
			if q.expiredLocked(head, now) {
				q.deadLetterLocked(q.mu.ready.pop(), ReasonExpired)
				continue
			}
		}
		if head.Msg.hollow {
			q.fillLocked() // delivers once the bodies are back
			break
		}
		if !q.offerLocked(*head) {
			break
		}
		q.mu.ready.pop()
	}
	q.maybeLoadLocked()
}

// offerLocked gives e to the next consumer in round-robin order that takes
// it, and reports whether one did.
func (q *Queue) offerLocked(e Entry) bool {
	if q.mu.prioritized || q.limits().SingleActive {
		return q.offerByPriorityLocked(e)
	}
	n := len(q.mu.consumers)
	for i := 0; i < n; i++ {
		idx := (q.mu.next + i) % n
		if c := q.mu.consumers[idx]; c.Sink.TryDeliver(q, e) {
			q.mu.next = (idx + 1) % n
			q.deliveredLocked(c, e)
			return true
		}
	}
	return false
}

// deliveredLocked accounts for e handed to c: a no-ack delivery is settled
// at once (it leaves the store), any other waits for its ack.
func (q *Queue) deliveredLocked(c *Consumer, e Entry) {
	if !c.Remote {
		q.deliveredStatsLocked(&e, c.NoAck, false)
	}
	switch {
	case c.NoAck:
		q.settleLocked(e)
	case e.Stored:
		q.mu.outstanding++
	}
}

// Get takes the head message for basic.get, and reports how many remain.
// e is the message to send. With noAck it is settled at once; otherwise
// kept is what to keep of it until Ack, Requeue or Reject (see Keep).
// The caller gets one reference on a pooled body of e (body.go: with
// noAck the entry's; otherwise one of its own, since Keep may drop the
// entry's) and releases it once it copied the body out.
func (q *Queue) Get(noAck bool) (e, kept Entry, remaining int, ok bool) {
	for {
		q.mu.Lock()
		q.touchLocked()
		if q.quorumPassiveLocked() {
			q.unlock()
			return q.remoteGet(noAck) // the leader serves it (quorum_feed.go)
		}
		var head *Entry
		for q.mu.ready.len() > 0 {
			if head = q.mu.ready.peek(); head.Expires == 0 || !q.expiredLocked(head, q.now()) {
				break
			}
			q.deadLetterLocked(q.mu.ready.pop(), ReasonExpired)
			head = nil
		}
		if head != nil && head.Msg.hollow {
			batch := q.mu.ready.hollowAhead(pageBatch, pageBatchBytes)
			q.unlock()
			if !q.readBack(batch) {
				return Entry{}, Entry{}, 0, false
			}
			continue
		}
		if head != nil {
			e = q.mu.ready.pop()
			q.deliveredStatsLocked(&e, noAck, true)
			if noAck && q.Quorum != nil && e.Stored && q.mu.quorumLead {
				return q.quorumGetNoAck(e)
			}
			if noAck {
				q.settleLocked(e)
			} else {
				if e.Stored {
					q.mu.outstanding++
				}
				e.Msg.Retain() // the caller's: Keep may hollow the entry
				kept = q.Keep(e)
			}
			remaining = q.mu.ready.len() + q.mu.paged.count
			q.maybeLoadLocked()
			q.unlock()
			return e, kept, remaining, true
		}
		paged := q.mu.paged.count
		q.unlock()
		if paged == 0 || !q.readAheadForGet() {
			q.free.getEmpty.Add(1)
			return Entry{}, Entry{}, 0, false
		}
	}
}

// Requeue puts unacknowledged entries back at their original positions,
// marked redelivered, and delivers what it can. Past the memory budget
// they go back hollow (see hollowBackLocked). Entries of a deleted queue
// are dropped, and released in the store.
func (q *Queue) Requeue(entries []Entry) {
	if q.wakeStream() {
		return
	}
	q.mu.Lock()
	defer q.unlock()
	q.release(entries)
	q.mu.stats.requeued += uint64(len(entries))
	q.mu.stats.settledBytes += entriesSize(entries)
	if q.Quorum != nil {
		if !q.mu.deleted {
			q.Quorum.Return(seqsOf(entries)) // back when applied (quorum.go)
		}
		return
	}
	if q.mu.deleted {
		for _, e := range entries {
			q.settleLocked(e)
		}
		return
	}
	back := make([]Entry, 0, len(entries))
	for _, e := range entries {
		e.mark = 0
		e.Redelivered = true
		e.Deliveries++
		if e.Stored {
			q.mu.outstanding--
		}
		if q.limits().DeliveryLimit >= 0 && int64(e.Deliveries) > q.limits().DeliveryLimit {
			// rabbitmq x-delivery-limit: a message returned more often than
			// the limit is dead-lettered (or dropped).
			q.deadLetterLocked(e, ReasonDeliveryLimit)
			continue
		}
		if e.Stored {
			q.Journal.Requeued(q, e) // the delivery count survives a restart
		}
		back = append(back, e)
		q.trackExpiryLocked(e)
	}
	q.hollowBackLocked(back)
	// One merge for the batch: a closing channel returns its whole prefetch
	// window, and inserting entries one by one in front of a long backlog
	// moved the backlog once per entry.
	q.mu.ready.insertBatch(back)
	q.dispatchLocked()
}

// Ack settles delivered entries for good, removing them from the store.
// It works on a deleted queue too, to release stored messages.
func (q *Queue) Ack(entries []Entry) {
	if q.wakeStream() {
		return
	}
	if q.Quorum != nil {
		q.free.acked.Add(uint64(len(entries)))
		q.free.ackedBytes.Add(entriesSize(entries))
		q.Quorum.Settle(seqsOf(entries))
		return
	}
	if q.Journal == nil {
		q.free.acked.Add(uint64(len(entries))) // no lock to count under
		q.free.ackedBytes.Add(entriesSize(entries))
		return
	}
	q.release(entries)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.mu.stats.acked += uint64(len(entries))
	q.mu.stats.settledBytes += entriesSize(entries)
	for _, e := range entries {
		if e.Stored {
			q.mu.outstanding--
			q.settleLocked(e)
		}
	}
	q.maybeLoadLocked()
}

// AddConsumer attaches c and delivers what it can.
func (q *Queue) AddConsumer(c *Consumer) error {
	q.mu.Lock()
	defer q.unlock()
	if q.mu.deleted {
		return ErrDeleted
	}
	if q.mu.exclusive {
		return ErrExclusiveConsumer
	}
	if c.Exclusive && len(q.mu.consumers) > 0 {
		return ErrHasConsumers
	}
	q.insertConsumerLocked(c)
	q.mu.prioritized = q.mu.prioritized || c.Priority != 0
	q.touchLocked()
	q.mu.exclusive = c.Exclusive
	q.mu.hadConsumer = true
	q.dispatchLocked()
	return nil
}

// RemoveConsumer detaches c. It reports whether the queue should now be
// auto-deleted: it is auto-delete, had a consumer, and has none left.
func (q *Queue) RemoveConsumer(c *Consumer) (autoDelete bool) {
	q.mu.Lock()
	defer q.unlock()
	for i, x := range q.mu.consumers {
		if x == c {
			q.mu.consumers = append(q.mu.consumers[:i], q.mu.consumers[i+1:]...)
			if q.mu.next > i {
				q.mu.next--
			}
			if q.mu.next >= len(q.mu.consumers) {
				q.mu.next = 0
			}
			if c.Exclusive {
				q.mu.exclusive = false
			}
			break
		}
	}
	q.touchLocked()
	// The consumers left (with a single active consumer, the next one) take
	// what waits.
	q.dispatchLocked()
	return q.AutoDelete && q.mu.hadConsumer && len(q.mu.consumers) == 0 && !q.mu.deleted
}

// Counts returns the number of ready messages (in memory or paged out)
// and of consumers.
func (q *Queue) Counts() (messages, consumers int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.mu.ready.len() + q.mu.paged.count, len(q.mu.consumers)
}

// Purge removes every ready message and returns how many there were.
func (q *Queue) Purge() int {
	q.mu.Lock()
	defer q.unlock()
	return q.dropReadyLocked()
}

// dropReadyLocked removes every ready entry, in memory and on disk. With
// nothing delivered outstanding the store drops the queue's entries by
// prefix. Otherwise the entries of the deliveries awaiting their acks must
// stay: the ready entries in memory are deleted one by one, and those
// paged out by range, since every paged entry is newer than every entry
// delivered (they were all delivered from memory).
func (q *Queue) dropReadyLocked() int {
	es := q.mu.ready.drain()
	n := len(es) + q.mu.paged.count
	switch {
	case q.Journal != nil && q.mu.outstanding == 0:
		q.Journal.Drop(q, es, 0)
	default:
		for _, e := range es {
			q.settleLocked(e)
		}
		if q.mu.paged.count > 0 {
			q.Journal.Drop(q, nil, q.mu.paged.next)
		}
	}
	q.mu.paged = paged{gen: q.mu.paged.gen + 1}
	q.mu.expiry = nil
	return n
}

// Delete marks the queue deleted, after the if-unused and if-empty checks,
// and returns its ready message count and the consumers it had.
func (q *Queue) Delete(ifUnused, ifEmpty bool) (messages int, consumers []*Consumer, err error) {
	q.mu.Lock()
	defer q.unlock()
	if q.mu.deleted {
		return 0, nil, ErrDeleted
	}
	if ifUnused && len(q.mu.consumers) > 0 {
		return 0, nil, ErrInUse
	}
	if ifEmpty && q.mu.ready.len()+q.mu.paged.count > 0 {
		return 0, nil, ErrNotEmpty
	}
	q.mu.deleted = true
	q.stopTimersLocked()
	consumers = q.mu.consumers
	q.mu.consumers = nil
	q.mu.outstanding = 0 // acks of a deleted queue's deliveries find no entry
	if q.Quorum != nil {
		q.Quorum.Deleted()
		q.mu.quorumLead = false // nothing to settle: the group goes
	}
	return q.dropReadyLocked(), consumers, nil
}

// Deleted reports whether the queue was deleted.
func (q *Queue) Deleted() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.mu.deleted
}

// fullLocked reports whether one more message m would break a limit. The
// limits count ready messages, in memory and paged out.
func (q *Queue) fullLocked(m *Message) bool {
	l := q.limits()
	n, bytes := int64(q.mu.ready.len()+q.mu.paged.count), int64(q.mu.ready.bytes)+q.mu.paged.bytes
	return l.MaxLength >= 0 && n >= l.MaxLength ||
		l.MaxLengthBytes >= 0 && bytes+int64(m.Size()) > l.MaxLengthBytes
}

func (q *Queue) overLocked() bool {
	l := q.limits()
	n, bytes := int64(q.mu.ready.len()+q.mu.paged.count), int64(q.mu.ready.bytes)+q.mu.paged.bytes
	return n > 0 && (l.MaxLength >= 0 && n > l.MaxLength || l.MaxLengthBytes >= 0 && bytes > l.MaxLengthBytes)
}
