package storage

// Batch collects operations for one Submit. It is not safe for concurrent
// use; reuse it after Submit returns with Reset. The byte slices passed in
// are kept, not copied, until the Submit's done callback has run: do not
// modify them before.
type Batch struct {
	ops   []op
	bytes int64
	err   error // the first invalid operation
}

type opKind uint8

const (
	opPutMessage opKind = iota + 1
	opDeleteMessage
	opPutEntry
	opUpdateEntry
	opDeleteEntry
	opDropQueue
	opPutDefinition
	opDeleteDefinition
	opCompact // internal: flush the memtables (see Store.compact)
)

// op is one operation. For entries id is the queue, seq the position and
// msgID the message; for messages id is the message; for definitions key
// is the full Badger key.
type op struct {
	kind  opKind
	dead  bool // cancelled inside its group: not written
	fresh bool // a put of a key that is not on disk yet (PutEntry, PutMessage)
	id    uint64
	seq   uint64
	msgID uint64
	key   []byte
	val   []byte
	body  []byte // a message's bytes after val (PutMessageParts)
	// release, if set, runs once the writer is done with body (written,
	// cancelled or refused): PutMessagePartsHeld.
	release func()
	// onFile: the message went to a body file; val is now its pointer.
	// Set by the writer on its own copy of the op.
	onFile bool
}

func (o *op) isPut() bool {
	switch o.kind {
	case opPutMessage, opPutEntry, opUpdateEntry, opPutDefinition:
		return true
	}
	return false
}

// weight is what an operation counts for in MaxBatchBytes and
// MaxPendingBytes: its value plus a small overhead for key and bookkeeping.
func (o *op) weight() int64 { return int64(len(o.val)+len(o.body)+len(o.key)) + 32 }

func (b *Batch) add(o op) {
	b.ops = append(b.ops, o)
	b.bytes += o.weight()
}

// Len is the number of operations in the batch.
func (b *Batch) Len() int { return len(b.ops) }

// Reset empties the batch for reuse.
func (b *Batch) Reset() {
	clear(b.ops)
	b.ops = b.ops[:0]
	b.bytes = 0
	b.err = nil
}

// PutMessage stores a message's bytes under msgID. Message ids are the
// engine's: unique, never reused while the message is stored. A message
// routed to several queues is put once and referenced by one entry per
// queue.
func (b *Batch) PutMessage(msgID uint64, data []byte) {
	b.add(op{kind: opPutMessage, fresh: true, id: msgID, val: data})
}

// PutMessageParts stores a message whose bytes are head then body, as
// PutMessage(msgID, head+body) would, without joining them first: a large
// message goes to its body file from where its parts lie.
func (b *Batch) PutMessageParts(msgID uint64, head, body []byte) {
	b.add(op{kind: opPutMessage, fresh: true, id: msgID, val: head, body: body})
}

// PutMessagePartsHeld is PutMessageParts for a body whose buffer its
// owner reuses: the store calls release on its notifier goroutine once
// the group that holds the message is written (or the message was
// cancelled or refused) and it no longer reads body. If the batch is
// never submitted, or Submit fails, release is never called.
func (b *Batch) PutMessagePartsHeld(msgID uint64, head, body []byte, release func()) {
	b.add(op{kind: opPutMessage, fresh: true, id: msgID, val: head, body: body, release: release})
}

// DeleteMessage removes a message. If its PutMessage has not been
// written yet, neither is: the message never reaches the disk.
func (b *Batch) DeleteMessage(msgID uint64) {
	b.add(op{kind: opDeleteMessage, id: msgID})
}

// PutEntry adds a message to a queue at position seq (increasing within
// the queue: recovery returns entries in seq order). meta is opaque to
// the store (delivery count, flags). The entry must be new; use
// UpdateEntry to rewrite one.
func (b *Batch) PutEntry(queueID, seq, msgID uint64, meta []byte) {
	b.add(op{kind: opPutEntry, fresh: true, id: queueID, seq: seq, msgID: msgID, val: meta})
}

// UpdateEntry rewrites an existing entry, for instance to record a
// delivery count.
func (b *Batch) UpdateEntry(queueID, seq, msgID uint64, meta []byte) {
	b.add(op{kind: opUpdateEntry, id: queueID, seq: seq, msgID: msgID, val: meta})
}

// DeleteEntry removes an entry (an ack, or a message dropped from the
// queue). If its PutEntry has not been written yet, neither is.
func (b *Batch) DeleteEntry(queueID, seq uint64) {
	b.add(op{kind: opDeleteEntry, id: queueID, seq: seq})
}

// DropQueue removes every entry of a queue, for a purge or a delete: by
// prefix, not one by one through the engine. Entries put after it (in
// this batch or later ones) are kept, so a purged queue keeps its id. The
// messages the entries referenced are not touched: deleting those no
// longer referenced by any queue is the engine's job (or recovery's).
func (b *Batch) DropQueue(queueID uint64) {
	b.add(op{kind: opDropQueue, id: queueID})
}

// DropEntriesFrom removes the entries of a queue with seq >= from (from
// > 0), key by key: a purge that must keep the older entries of
// deliveries awaiting their acks. Like DropQueue it keeps what is put
// after it and leaves the messages alone.
func (b *Batch) DropEntriesFrom(queueID, from uint64) {
	if from == 0 {
		from = 1 // seq 0 is never used: DropQueue's "every entry" is from == 0
	}
	b.add(op{kind: opDropQueue, id: queueID, seq: from})
}

// PutDefinition stores a definition (see Store.PutDefinition).
func (b *Batch) PutDefinition(kind, key string, value []byte) {
	if err := checkKind(kind); err != nil {
		if b.err == nil {
			b.err = err
		}
		return
	}
	b.add(op{kind: opPutDefinition, key: definitionKey(kind, key), val: value})
}

// DeleteDefinition removes a definition.
func (b *Batch) DeleteDefinition(kind, key string) {
	if err := checkKind(kind); err != nil {
		if b.err == nil {
			b.err = err
		}
		return
	}
	b.add(op{kind: opDeleteDefinition, key: definitionKey(kind, key)})
}
