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
}

// Size is what the message counts for in byte limits and the memory
// budget: its body.
func (m *Message) Size() int { return len(m.Body) }

// Entry is a message's place in one queue.
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

	gone bool // a tombstone in a seqList
}
