package server

// Inline writes: at moderate rates a delivery is one small batch, and
// waking the consumer connection's writer goroutine for it costs more than
// the write (a futex wake-up, a thread switch, and often an idle thread
// spun up to look for work). So a connection's reader, which routes a
// publish and delivers it to consumers on other connections, keeps the
// connections whose output it made pending (conn.deferred) and writes
// them out itself just before it blocks on its socket: one non-blocking
// write each, with no goroutine hand-off. It adapts to load on its own:
//
//   - only a connection whose output was idle (nothing pending, no writer
//     at work) is deferred; one already busy is woken as before, so at
//     full load the writers keep writing in parallel with the readers;
//   - output deferred past inlineMax is handed to the writer at once, so
//     a reader with a long read buffer does not hold deliveries back;
//   - a write the socket does not take whole (a slow consumer) leaves
//     the rest (outbound.carry) to the writer, which blocks for it; the
//     reader never waits on another connection's socket.
//
// Who writes is decided by outbound.mu.writing: the writer goroutine and
// an inline flusher each take it to write a batch and give it back after.

// inlineMax is the output from which a deferred connection's writer is
// woken instead of waiting for the reader to flush.
const inlineMax = 16 << 10

// Flush implements queue.Flusher: it writes out the output the reader's
// deliveries left pending on other connections. Only c's reader calls it.
func (c *conn) Flush() {
	for i, d := range c.deferred {
		d.flushInline()
		c.deferred[i] = nil
	}
	c.deferred = c.deferred[:0]
}

// deferLocked decides, under o.mu, after a delivery was appended, whether
// the writer needs a wake-up: false when the output was idle before
// (wasIdle) and the goroutine delivering flushes it itself (f), which then
// gets d to flush; or when a flush is already due and the output is still
// small.
func (o *outbound) deferLocked(wasIdle bool, f *conn, d *conn) (wake bool) {
	if o.mu.deferred {
		if o.pendingLocked() < inlineMax {
			return false
		}
		o.mu.deferred = false // too much to wait: the writer takes it
		return true
	}
	if wasIdle && f != nil && d.wsock != nil {
		o.mu.deferred = true
		f.deferred = append(f.deferred, d)
		return false
	}
	return true
}

// writeFrom appends frames built by fn to the output of d, like write, on
// the reader of f, which flushes d's output before it blocks when d's was
// idle. It reports false if the output is closed.
func (o *outbound) writeFrom(f, d *conn, fn func(b []byte) []byte) bool {
	o.mu.Lock()
	if o.mu.closed {
		o.mu.Unlock()
		return false
	}
	wasIdle := o.idleLocked()
	o.mu.buf = fn(o.mu.buf)
	wake := o.deferLocked(wasIdle, f, d)
	o.mu.Unlock()
	if wake {
		o.signal()
	}
	return true
}

// idleLocked reports whether nothing is pending and no one is writing.
func (o *outbound) idleLocked() bool {
	return !o.mu.writing && !o.mu.deferred && !o.mu.carrying && o.pendingLocked() == 0
}

// flushInline writes c's pending output from the calling goroutine, with
// one non-blocking write, unless the writer is at work or the output holds
// referenced bodies (those go out with writev, from the writer).
func (c *conn) flushInline() {
	o := c.out
	o.mu.Lock()
	if !o.mu.deferred {
		o.mu.Unlock() // the writer took it meanwhile
		return
	}
	o.mu.deferred = false
	if o.mu.writing || o.mu.carrying || o.mu.closed || len(o.mu.segs) > 0 {
		o.mu.Unlock()
		o.signal()
		return
	}
	batch := o.mu.buf
	o.mu.buf = o.spare[:0]
	o.spare = nil
	o.mu.writing = true
	o.mu.Unlock()

	n := c.wsock.WriteOnce(batch) // never waits: a rest goes to the writer
	c.reg.bytesOut.Add(uint64(n))
	if n < len(batch) {
		o.carry = batch[n:]
		o.mu.Lock()
		o.mu.writing = false
		o.mu.carrying = true
		o.mu.inlined++
		o.mu.inlinedShort++
		o.mu.Unlock()
		o.signal()
		return
	}
	unblocked, pending := o.done(batch, nil, true)
	if pending {
		// Appended while the batch was written: the appender's wake-up
		// may have found the writer turned away (take's busy).
		o.signal()
	}
	if unblocked {
		c.wakeConsumers()
	}
}
