package server

import (
	"net"
	"sync"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
)

// outbound is a connection's queue of encoded frames. Producers (the
// connection's reader and publishers on other connections delivering to
// its consumers) append under mu; the writer goroutine swaps the batch out
// and writes it with no lock held, one write per batch. A publishing
// reader may write a small batch itself instead (inline.go); mu.writing
// says who writes.
//
// Large bodies are not copied: their frames' headers and ends go into buf
// and the payload is referenced where it lies (message bodies are never
// modified), and the batch goes out with one writev. segs then holds the
// pending output in order, up to buf[mark:].
type outbound struct {
	mu struct {
		sync.Mutex
		buf      []byte
		segs     [][]byte
		mark     int // buf[mark:] is not in segs yet
		refBytes int // referenced body bytes in segs
		// refs are the messages whose pooled bodies segs reference, one
		// output reference each (queue/body.go), released once the
		// batch is written.
		refs   []*queue.Message
		closed bool
		full   bool // over the cap: consumers take no deliveries
		// writing: the writer goroutine or an inline flusher is writing
		// a batch taken out; it owns spare, spareSegs and carry.
		writing bool
		// deferred: a reader will flush this output before it blocks
		// (inline.go), so appending needs no wake-up.
		deferred bool
		// carrying: carry holds bytes; only the writer goroutine may take
		// the output next, so that nothing overtakes them.
		carrying bool
		// inlined and inlinedShort count inline writes, and those the
		// socket did not take whole (for tests and debugging).
		inlined, inlinedShort uint64
	}
	spare     []byte   // owned by who is writing
	spareSegs [][]byte // owned by who is writing
	// writing is the refs of the batch being written, owned by who is
	// writing; spareRefs its emptied array for reuse.
	writingRefs, spareRefs []*queue.Message
	// carry is what an inline write left unwritten: the writer writes it
	// before anything taken after it.
	carry []byte
	wake  chan struct{}
	limit int
}

// refBody is the body size from which deliveries reference the body
// instead of copying it.
const refBody = 64 << 10

// pendingLocked is the bytes waiting to be written.
func (o *outbound) pendingLocked() int { return len(o.mu.buf) + o.mu.refBytes }

// appendBodyLocked appends the body frames of m's body, referencing the
// payloads, and holds an output reference on a pooled body until the
// batch is written.
func (o *outbound) appendBodyLocked(ch uint16, m *queue.Message, frameMax uint32) {
	m.Retain()
	o.mu.refs = append(o.mu.refs, m)
	body := m.Body
	chunk := int(frameMax) - amqp.FrameOverhead
	if frameMax == 0 || chunk <= 0 {
		chunk = len(body)
	}
	for len(body) > 0 {
		n := min(chunk, len(body))
		o.mu.buf = amqp.AppendFrameHeader(o.mu.buf, amqp.FrameBody, ch, n)
		end := len(o.mu.buf)
		o.mu.segs = append(o.mu.segs, o.mu.buf[o.mu.mark:end:end], body[:n:n])
		o.mu.refBytes += n
		o.mu.mark = end
		o.mu.buf = append(o.mu.buf, amqp.FrameEnd)
		body = body[n:]
	}
}

// growStep is the spare room below which reserveLocked grows the buffer.
const growStep = 128 << 10

// reserveLocked grows a filling buffer to the cap (plus a step) in one
// allocation before deliveries are appended, instead of letting append
// grow it by a quarter at a time: each of those steps leaves the old
// array as garbage, some five times the cap in all before a collection,
// which at a small memory high watermark was most of the overshoot when a
// consumer started on a full queue. A small buffer (an idle or quiet
// connection) is left to append.
func (o *outbound) reserveLocked() {
	b := o.mu.buf
	if len(b) < growStep || cap(b)-len(b) >= growStep || cap(b) >= o.limit+growStep {
		return
	}
	nb := make([]byte, len(b), max(o.limit, len(b))+growStep)
	copy(nb, b)
	// Frames not yet in segs are copied; those in segs point into the old
	// array, which stays alive until the batch is written.
	o.mu.buf = nb
}

func newOutbound(limit int) *outbound {
	return &outbound{wake: make(chan struct{}, 1), limit: limit}
}

// appendLocked signals the writer after frames were appended under mu.
func (o *outbound) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// write appends frames built by fn and wakes the writer. It reports false
// if the connection's output is closed.
func (o *outbound) write(fn func(b []byte) []byte) bool {
	o.mu.Lock()
	if o.mu.closed {
		o.mu.Unlock()
		return false
	}
	o.mu.buf = fn(o.mu.buf)
	o.mu.Unlock()
	o.signal()
	return true
}

// take swaps out the pending batch: segs, if any body is referenced, else
// batch alone. The caller writes it (see writeTo), after carry if set, and
// returns it with done. busy: an inline flush is writing; it wakes the
// writer again when it is through.
func (o *outbound) take() (batch []byte, segs [][]byte, closed, busy bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.mu.writing {
		return nil, nil, o.mu.closed, true
	}
	o.mu.writing = true
	o.mu.deferred = false // the writer takes what a reader was to flush
	o.mu.carrying = false // the writer writes carry first
	batch = o.mu.buf
	if len(o.mu.segs) > 0 {
		segs = append(o.mu.segs, batch[o.mu.mark:])
	}
	o.mu.buf = o.spare[:0]
	o.mu.segs = o.spareSegs[:0]
	o.spare, o.spareSegs = nil, nil
	o.writingRefs, o.mu.refs = o.mu.refs, o.spareRefs[:0]
	o.spareRefs = nil
	o.mu.mark, o.mu.refBytes = 0, 0
	return batch, segs, o.mu.closed, false
}

// writeTo writes a batch taken with take.
func writeTo(nc net.Conn, batch []byte, segs [][]byte) error {
	if segs == nil {
		_, err := nc.Write(batch)
		return err
	}
	bufs := net.Buffers(segs) // WriteTo consumes its own copy of the header
	_, err := bufs.WriteTo(nc)
	return err
}

// done gives a written batch back for reuse, ends the write, and reports
// whether the connection just dropped below its cap (its consumers may
// take more) and whether output is pending (or the output closed)
// meanwhile. inline: the batch was written inline (counted).
func (o *outbound) done(batch []byte, segs [][]byte, inline bool) (unblocked, pending bool) {
	if cap(batch) > 2*o.limit {
		batch = nil // do not keep a huge buffer after one very large message
	}
	clear(segs) // let the bodies go
	refs := o.writingRefs
	for i, m := range refs {
		m.Release() // written: the socket has its bytes
		refs[i] = nil
	}
	o.writingRefs = nil
	o.mu.Lock()
	defer o.mu.Unlock()
	o.spare, o.spareSegs, o.spareRefs = batch[:0], segs[:0], refs[:0]
	o.mu.writing = false
	if inline {
		o.mu.inlined++
	}
	pending = o.pendingLocked() > 0 || o.mu.closed
	if o.mu.full && o.pendingLocked() < o.limit/2 {
		o.mu.full = false
		return true, pending
	}
	return false, pending
}

func (o *outbound) close() {
	o.mu.Lock()
	o.mu.closed = true
	o.mu.Unlock()
	o.signal()
}
