package queue

import (
	"errors"
	"sync"
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
// queue's lock held; it must not call into any Queue. It returns false,
// taking nothing, when the consumer cannot take a message now.
type Sink interface {
	TryDeliver(q *Queue, e Entry) bool
}

// Journal makes a durable queue's entries durable. Its methods are called
// with the queue's lock held, in the order the operations happen, so they
// must only hand each operation on (to the store's group commit) and
// return. Only entries of persistent messages are journalled.
type Journal interface {
	// PutEntry records a new entry; done runs once it is on disk.
	PutEntry(q *Queue, e Entry, done func(error))
	// DeleteEntry removes a settled entry and releases its message.
	DeleteEntry(q *Queue, e Entry)
	// Forget releases the messages of entries already removed from the
	// store by Drop.
	Forget(q *Queue, es []Entry)
	// Drop removes every entry of the queue from the store.
	Drop(q *Queue)
}

// Consumer is a subscription to a queue.
type Consumer struct {
	Tag       string
	Exclusive bool
	Sink      Sink
}

// Config describes a queue at declaration.
type Config struct {
	Name       string
	Durable    bool
	Exclusive  bool
	AutoDelete bool
	Args       map[string]any
	Owner      uint64 // the connection that owns an exclusive queue
	// ID is the store's number for a durable queue (0: none).
	ID uint64
	// Journal, if set, persists the entries of persistent messages.
	Journal Journal
}

// Queue is one queue. The Config fields are immutable after New.
type Queue struct {
	Config
	limits Limits

	mu struct {
		sync.Mutex
		ready       readyList
		nextSeq     uint64
		consumers   []*Consumer
		next        int // round-robin position
		exclusive   bool
		hadConsumer bool
		deleted     bool
	}
}

// New returns an empty queue.
// The arguments are validated by ParseArgs first; New ignores bad ones.
func New(cfg Config) *Queue {
	l, _ := ParseArgs(cfg.Args)
	return &Queue{Config: cfg, limits: l}
}

// Publish enqueues m and delivers what it can. It returns ErrDeleted if the
// queue was deleted meanwhile, ErrRejected if it is full and refuses new
// messages. When the entry is journalled, journalled is true and done
// runs once it is on disk; otherwise done is not used.
func (q *Queue) Publish(m *Message, done func(error)) (journalled bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mu.deleted {
		return false, ErrDeleted
	}
	if q.limits.Overflow != DropHead && q.fullLocked(m) {
		// rabbitmq: reject-publish refuses the message; the publisher gets a nack.
		return false, ErrRejected
	}
	q.mu.nextSeq++
	e := Entry{Msg: m, Seq: q.mu.nextSeq}
	if q.journalled(e) {
		q.Journal.PutEntry(q, e, done)
		journalled = true
	}
	// Fast path: nothing waits ahead of it, hand it straight to a consumer.
	if q.mu.ready.len() == 0 && len(q.mu.consumers) > 0 && q.offerLocked(e) {
		return journalled, nil
	}
	q.mu.ready.push(e)
	q.dispatchLocked()
	if q.limits.Overflow == DropHead {
		// rabbitmq: drop-head removes the oldest ready messages until the
		// queue is within its limits again.
		for q.overLocked() {
			q.settleLocked(q.mu.ready.pop())
		}
	}
	return journalled, nil
}

// journalled reports whether e's entry is (or is to be) on disk.
func (q *Queue) journalled(e Entry) bool { return q.Journal != nil && e.Msg.Persistent }

// settleLocked removes e from the store, if it is there, for good.
func (q *Queue) settleLocked(e Entry) {
	if q.journalled(e) {
		q.Journal.DeleteEntry(q, e)
	}
}

// Recover appends an entry read back from the store at start-up, before
// the queue is in use. Entries come in sequence order.
func (q *Queue) Recover(e Entry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.mu.ready.push(e)
	q.mu.nextSeq = max(q.mu.nextSeq, e.Seq)
}

// fullLocked reports whether one more message m would break a limit.
func (q *Queue) fullLocked(m *Message) bool {
	l := q.limits
	return l.MaxLength >= 0 && int64(q.mu.ready.len()) >= l.MaxLength ||
		l.MaxLengthBytes >= 0 && int64(q.mu.ready.bytes+m.Size()) > l.MaxLengthBytes
}

func (q *Queue) overLocked() bool {
	l := q.limits
	return q.mu.ready.len() > 0 && (l.MaxLength >= 0 && int64(q.mu.ready.len()) > l.MaxLength ||
		l.MaxLengthBytes >= 0 && int64(q.mu.ready.bytes) > l.MaxLengthBytes)
}

// Dispatch delivers ready messages to consumers with credit.
func (q *Queue) Dispatch() {
	q.mu.Lock()
	q.dispatchLocked()
	q.mu.Unlock()
}

func (q *Queue) dispatchLocked() {
	for q.mu.ready.len() > 0 && len(q.mu.consumers) > 0 {
		if !q.offerLocked(*q.mu.ready.peek()) {
			return
		}
		q.mu.ready.pop()
	}
}

// offerLocked gives e to the next consumer in round-robin order that takes
// it, and reports whether one did.
func (q *Queue) offerLocked(e Entry) bool {
	n := len(q.mu.consumers)
	for i := 0; i < n; i++ {
		idx := (q.mu.next + i) % n
		if q.mu.consumers[idx].Sink.TryDeliver(q, e) {
			q.mu.next = (idx + 1) % n
			return true
		}
	}
	return false
}

// Get takes the head message for basic.get, and reports how many remain.
func (q *Queue) Get() (e Entry, remaining int, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mu.ready.len() == 0 {
		return Entry{}, 0, false
	}
	e = q.mu.ready.pop()
	return e, q.mu.ready.len(), true
}

// Requeue puts unacknowledged entries back at their original positions,
// marked redelivered, and delivers what it can. Entries of a deleted queue
// are dropped.
func (q *Queue) Requeue(entries []Entry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mu.deleted {
		return
	}
	for _, e := range entries {
		e.Redelivered = true
		q.mu.ready.insert(e)
	}
	q.dispatchLocked()
}

// Ack settles delivered entries for good, removing them from the store.
// It works on a deleted queue too, to release stored messages.
func (q *Queue) Ack(entries []Entry) {
	if q.Journal == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, e := range entries {
		q.settleLocked(e)
	}
}

// AddConsumer attaches c and delivers what it can.
func (q *Queue) AddConsumer(c *Consumer) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mu.deleted {
		return ErrDeleted
	}
	if q.mu.exclusive {
		return ErrExclusiveConsumer
	}
	if c.Exclusive && len(q.mu.consumers) > 0 {
		return ErrHasConsumers
	}
	q.mu.consumers = append(q.mu.consumers, c)
	q.mu.exclusive = c.Exclusive
	q.mu.hadConsumer = true
	q.dispatchLocked()
	return nil
}

// RemoveConsumer detaches c. It reports whether the queue should now be
// auto-deleted: it is auto-delete, had a consumer, and has none left.
func (q *Queue) RemoveConsumer(c *Consumer) (autoDelete bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
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
	return q.AutoDelete && q.mu.hadConsumer && len(q.mu.consumers) == 0 && !q.mu.deleted
}

// Counts returns the number of ready messages and of consumers.
func (q *Queue) Counts() (messages, consumers int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.mu.ready.len(), len(q.mu.consumers)
}

// Purge removes every ready message and returns how many there were.
func (q *Queue) Purge() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	es := q.mu.ready.drain()
	for _, e := range es {
		q.settleLocked(e)
	}
	return len(es)
}

// Delete marks the queue deleted, after the if-unused and if-empty checks,
// and returns its ready message count and the consumers it had.
func (q *Queue) Delete(ifUnused, ifEmpty bool) (messages int, consumers []*Consumer, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mu.deleted {
		return 0, nil, ErrDeleted
	}
	if ifUnused && len(q.mu.consumers) > 0 {
		return 0, nil, ErrInUse
	}
	if ifEmpty && q.mu.ready.len() > 0 {
		return 0, nil, ErrNotEmpty
	}
	q.mu.deleted = true
	consumers = q.mu.consumers
	q.mu.consumers = nil
	es := q.mu.ready.drain()
	if q.Journal != nil {
		// The store drops the queue's entries by prefix; the messages they
		// held are released here. Unacknowledged ones go when acked.
		q.Journal.Drop(q)
		var stored []Entry
		for _, e := range es {
			if q.journalled(e) {
				stored = append(stored, e)
			}
		}
		q.Journal.Forget(q, stored)
	}
	return len(es), consumers, nil
}

// Deleted reports whether the queue was deleted.
func (q *Queue) Deleted() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.mu.deleted
}
