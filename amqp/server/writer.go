package server

import (
	"net"
	"sync"

	"github.com/warrenmq/warren/amqp"
)

// outbound is a connection's queue of encoded frames. Producers (the
// connection's reader and publishers on other connections delivering to
// its consumers) append under mu; the writer goroutine swaps the batch out
// and writes it with no lock held, one write per batch.
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
		closed   bool
		full     bool // over the cap: consumers take no deliveries
	}
	spare     []byte   // owned by the writer
	spareSegs [][]byte // owned by the writer
	wake      chan struct{}
	limit     int
}

// refBody is the body size from which deliveries reference the body
// instead of copying it.
const refBody = 64 << 10

// pendingLocked is the bytes waiting to be written.
func (o *outbound) pendingLocked() int { return len(o.mu.buf) + o.mu.refBytes }

// appendBodyLocked appends the body frames of body, referencing the
// payloads.
func (o *outbound) appendBodyLocked(ch uint16, body []byte, frameMax uint32) {
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
// batch alone. The caller writes it (see writeTo) and returns it with done.
func (o *outbound) take() (batch []byte, segs [][]byte, closed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	batch = o.mu.buf
	if len(o.mu.segs) > 0 {
		segs = append(o.mu.segs, batch[o.mu.mark:])
	}
	o.mu.buf = o.spare[:0]
	o.mu.segs = o.spareSegs[:0]
	o.spare, o.spareSegs = nil, nil
	o.mu.mark, o.mu.refBytes = 0, 0
	return batch, segs, o.mu.closed
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

// done gives a written batch back for reuse and reports whether the
// connection just dropped below its cap (its consumers may take more).
func (o *outbound) done(batch []byte, segs [][]byte) (unblocked bool) {
	if cap(batch) > 2*o.limit {
		batch = nil // do not keep a huge buffer after one very large message
	}
	clear(segs) // let the bodies go
	o.mu.Lock()
	defer o.mu.Unlock()
	o.spare, o.spareSegs = batch[:0], segs[:0]
	if o.mu.full && o.pendingLocked() < o.limit/2 {
		o.mu.full = false
		return true
	}
	return false
}

func (o *outbound) close() {
	o.mu.Lock()
	o.mu.closed = true
	o.mu.Unlock()
	o.signal()
}
