package server

import (
	"sync"
	"time"
)

// outbound is a connection's queue of encoded frames. Producers (the
// connection's reader and publishers on other connections delivering to
// its consumers) append under mu; the writer goroutine swaps the batch out
// and writes it with no lock held, one write per batch.
type outbound struct {
	mu struct {
		sync.Mutex
		buf     []byte
		closed  bool
		full    bool // over the cap: consumers take no deliveries
		written time.Time
	}
	spare []byte // owned by the writer
	wake  chan struct{}
	limit int
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

// take swaps out the pending batch. The caller returns it with done.
func (o *outbound) take() (batch []byte, closed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	batch = o.mu.buf
	o.mu.buf = o.spare[:0]
	o.spare = nil
	return batch, o.mu.closed
}

// done gives a written batch back for reuse and reports whether the
// connection just dropped below its cap (its consumers may take more).
func (o *outbound) done(batch []byte, now time.Time) (unblocked bool) {
	if cap(batch) > 2*o.limit {
		batch = nil // do not keep a huge buffer after one very large message
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.spare = batch[:0]
	o.mu.written = now
	if o.mu.full && len(o.mu.buf) < o.limit/2 {
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
