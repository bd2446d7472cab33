package queue

// Message is one published message. It is immutable once published and
// shared by every queue it was routed to.
type Message struct {
	// ID numbers a message that is stored; 0 for one that never was.
	ID uint64

	Exchange   string
	RoutingKey string
	Props      []byte // encoded properties: flag words, then values
	Body       []byte
	Persistent bool
	Priority   uint8
	// TTL is the message's own expiration in milliseconds, if HasTTL.
	TTL    int64
	HasTTL bool

	// hollow: a queue's stand-in for a message whose body waits in the
	// store under ID (see hollowOf); size is then the body's size (the
	// store's entries hold 32 bits of it too).
	hollow bool
	// borrowed: Props and Body slice a buffer that other messages share
	// (amqp/cluster decodes a quorum queue's snapshot in place): a copy
	// of the message that may outlive its entry takes them with Owned,
	// or it would keep the whole buffer alive.
	borrowed bool
	size     uint32
	// pooled: Body lies in a pooled buffer, reference counted (body.go);
	// nil for any other body.
	pooled *BodyBuf
}

// Size is what the message counts for in byte limits and the memory
// budget: its body, in memory or, for a hollow stand-in, in the store.
func (m *Message) Size() int { return len(m.Body) + int(m.size) }

// SetBorrowed marks m's properties and body as slices of a buffer that
// other messages share (Message.borrowed).
func (m *Message) SetBorrowed() { m.borrowed = true }

// Borrowed reports whether m's properties and body slice a shared buffer.
func (m *Message) Borrowed() bool { return m.borrowed }

// Owned returns m's properties and body, copied (one allocation) if
// they are borrowed: what a copy of m that may outlive its entry (a
// dead-lettered or moved message) takes.
func (m *Message) Owned() (props, body []byte) {
	if !m.borrowed {
		return m.Props, m.Body
	}
	b := make([]byte, len(m.Props)+len(m.Body))
	n := copy(b, m.Props)
	copy(b[n:], m.Body)
	return b[:n:n], b[n:]
}

// Unborrowed returns m itself, or if its properties and body are
// borrowed, a copy of m that owns them (Owned).
func (m *Message) Unborrowed() *Message {
	if !m.borrowed {
		return m
	}
	c := *m
	c.Props, c.Body = m.Owned()
	c.borrowed = false
	return &c
}

// hollowOf is a stand-in for m, whose body is stored under id: what a
// queue keeps of a message it holds past the memory budget. It has no
// body, exchange, routing key or properties (they are read back with
// the body), and shares nothing with m, which other queues may still
// hold (and whose properties and body are one allocation).
func hollowOf(m *Message, id uint64) *Message {
	return &Message{ID: id, Persistent: m.Persistent, Priority: m.Priority, TTL: m.TTL, HasTTL: m.HasTTL, hollow: true, size: uint32(m.Size())}
}

// Entry is a message's place in one queue. Past the memory budget a
// queue keeps some entries hollow: their Msg is a stand-in without a body
// (hollowOf), read back from the store before the entry is delivered or
// dead-lettered, so a Sink and DeadLetter never see one.
type Entry struct {
	Msg         *Message
	Seq         uint64 // per-queue, increasing in publish order
	Redelivered bool
	// Stored: the entry is in the store (journalled, or paged out to save
	// memory), so settling it must delete it there.
	Stored bool
	// Deliveries counts the times the entry was delivered and returned
	// (requeued): rabbitmq's x-delivery-count.
	Deliveries uint32
	// Expires is when the entry expires, in Unix milliseconds; 0: never.
	Expires int64

	mark mark
}

// mark is what an entry is besides a place in its queue. One field for
// both keeps Entry at seven words and bytes, which the register ABI
// passes in registers to a Sink.
type mark uint8

const (
	tombstone mark = 1 + iota // removed from the middle of a seqList
	held                      // delivered, its body charged to the budget (Keep)
)
