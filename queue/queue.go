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
// queue was deleted meanwhile.
func (q *Queue) Publish(m *Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mu.deleted {
		return ErrDeleted
	}
	if q.limits.Overflow != DropHead && q.fullLocked(m) {
		// rabbitmq: reject-publish refuses the message; the publisher gets a nack.
		return ErrRejected
	}
	q.mu.nextSeq++
	e := Entry{Msg: m, Seq: q.mu.nextSeq}
	// Fast path: nothing waits ahead of it, hand it straight to a consumer.
	if q.mu.ready.len() == 0 && len(q.mu.consumers) > 0 && q.offerLocked(e) {
		return nil
	}
	q.mu.ready.push(e)
	q.dispatchLocked()
	if q.limits.Overflow == DropHead {
		// rabbitmq: drop-head removes the oldest ready messages until the
		// queue is within its limits again.
		for q.overLocked() {
			q.mu.ready.pop()
		}
	}
	return nil
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

// Ack settles delivered entries for good.
func (q *Queue) Ack(entries []Entry) {
	// Transient queues keep nothing for delivered messages; durable storage
	// hooks in here.
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
	return len(q.mu.ready.drain())
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
	return len(q.mu.ready.drain()), consumers, nil
}

// Deleted reports whether the queue was deleted.
func (q *Queue) Deleted() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.mu.deleted
}
