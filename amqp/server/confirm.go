package server

import (
	"sync"

	"github.com/warrenmq/warren/amqp"
)

// confirmTracker numbers a confirm-mode channel's publishes and tells the
// client when each is safe: at once for a transient message, after the
// store's sync for a persistent one. Acks go out in publish order, a run
// of them as one basic.ack with multiple set; a failed publish is nacked.
// The reader goroutine adds; store callbacks complete from the store's
// notifier goroutine; mu orders both.
type confirmTracker struct {
	ch *channel

	mu struct {
		sync.Mutex
		base    uint64 // publish sequence number of items[head]
		items   []confirmState
		head    int
		next    uint64 // the last sequence number handed out
		settled uint64 // everything up to here was acked or nacked
		closed  bool   // the channel is gone: send nothing more
		// reader: the flush runs on the channel's reader, which writes
		// the acks out itself before it blocks (inline.go).
		reader bool
	}
}

type confirmState struct {
	waiting int32    // outstanding store writes, plus one while publishing
	failed  bool     // nack instead of ack
	ex      *exStats // the publish's exchange, to count the ack
}

func newConfirmTracker(ch *channel) *confirmTracker {
	t := &confirmTracker{ch: ch}
	t.mu.base = 1
	return t
}

// begin numbers a new publish to the exchange of ex, held open until end.
func (t *confirmTracker) begin(ex *exStats) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mu.next++
	t.mu.items = append(t.mu.items, confirmState{waiting: 1, ex: ex})
	return t.mu.next
}

// Wait adds one store write that seq must wait for (broker.Confirm).
func (t *confirmTracker) Wait(seq uint64) {
	t.mu.Lock()
	t.mu.items[t.mu.head+int(seq-t.mu.base)].waiting++
	t.mu.Unlock()
}

// Done completes one wait of seq (or the publish itself), failing it on
// an error (broker.Confirm). With flush set (a store callback) it asks the
// connection's writer to send what became ready: callbacks come one per
// write, and the writer sends one frame for all that completed meanwhile.
func (t *confirmTracker) Done(seq uint64, err error, flush bool) {
	t.mu.Lock()
	it := &t.mu.items[t.mu.head+int(seq-t.mu.base)]
	it.waiting--
	if err != nil {
		it.failed = true
	}
	t.mu.Unlock()
	if flush {
		t.ch.c.requestConfirmFlush(t)
	}
}

// flush sends the acks and nacks that are ready.
func (t *confirmTracker) flush() {
	t.mu.Lock()
	t.flushLocked()
	t.mu.Unlock()
}

// flushFromReader is flush on the channel's reader.
func (t *confirmTracker) flushFromReader() {
	t.mu.Lock()
	t.mu.reader = true
	t.flushLocked()
	t.mu.reader = false
	t.mu.Unlock()
}

// sendLocked sends one ack or nack.
func (t *confirmTracker) sendLocked(m amqp.Method) {
	if t.mu.reader {
		c := t.ch.c
		c.out.writeFrom(c, c, func(b []byte) []byte { return appendMethod(c, b, t.ch.id, m) })
		return
	}
	t.ch.send(m)
}

// close stops the tracker: a later store callback sends nothing on a
// channel number that may already be reused.
func (t *confirmTracker) close() {
	t.mu.Lock()
	t.mu.closed = true
	t.mu.Unlock()
}

func (t *confirmTracker) flushLocked() {
	if t.mu.closed {
		return
	}
	n := 0
	items := t.mu.items[t.mu.head:]
	ackFrom := t.mu.settled + 1
	for n < len(items) && items[n].waiting == 0 {
		seq := t.mu.base + uint64(n)
		if items[n].failed {
			t.ackLocked(ackFrom, seq-1)
			t.sendLocked(&amqp.BasicNack{DeliveryTag: seq})
			ackFrom = seq + 1
		} else {
			items[n].ex.confirmed++
		}
		n++
	}
	if n == 0 {
		return
	}
	last := t.mu.base + uint64(n) - 1
	t.ackLocked(ackFrom, last)
	t.mu.settled = last
	t.mu.base += uint64(n)
	t.mu.head += n
	// Reuse the front of the slice once it is mostly settled.
	if t.mu.head == len(t.mu.items) {
		t.mu.items, t.mu.head = t.mu.items[:0], 0
	} else if t.mu.head > 1024 && t.mu.head > len(t.mu.items)/2 {
		k := copy(t.mu.items, t.mu.items[t.mu.head:])
		t.mu.items, t.mu.head = t.mu.items[:k], 0
	}
}

// ackLocked acknowledges from..to, as one frame.
func (t *confirmTracker) ackLocked(from, to uint64) {
	if to < from {
		return
	}
	t.sendLocked(&amqp.BasicAck{DeliveryTag: to, Multiple: to > from})
}

// unconfirmed is how many publishes wait for their confirm.
func (t *confirmTracker) unconfirmed() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int(t.mu.next - t.mu.settled)
}
