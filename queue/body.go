package queue

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// Large bodies come from a BodyPool instead of make, so that the runtime
// does not zero a fresh megabyte for every large publish (the profile of
// 1 MiB messages spent 16% of the broker's CPU in memclr). A pooled body
// is reference counted; it goes back to the pool when the count falls to
// zero, and is then written over by the next publish. The rules below
// make a premature return impossible; a missed return only leaves the
// buffer to the garbage collector.
//
// References (each one is a Retain, ended by exactly one Release):
//
//	publisher  the front end that read the body holds one from the
//	           BodyPool.Get until its publish call returns
//	entry      a queue takes one for each Entry it creates (publishLocked);
//	           the Entry carries it: ready list -> delivery (a Sink's
//	           pending ack) -> ready list again (Requeue). Only a front
//	           end that knows the delivery is done with the body releases
//	           it: amqp/server on basic.ack of a delivery, and right after
//	           a no-ack delivery or basic.get was queued for output.
//	           The queue ends it itself when the entry drops its body
//	           from memory: paged out at publish (publishLocked) or
//	           made hollow past the memory budget (hollowLocked), after
//	           the store took its own reference.
//	output     a delivery written from where the body lies (amqp/server's
//	           writev of bodies from 64 KiB) holds one until the write
//	           returned
//	store      a body handed to the store (amqp/broker's putBody, for a
//	           persistent message or a page-out) holds one until the
//	           store's group holding it is written (storage's
//	           PutMessagePartsHeld calls Release)
//
// Every other end of an entry keeps its reference for good (Pin, or
// simply no Release): dead-lettered, expired, dropped, purged, moved,
// settled by the management API, deleted with its queue, acknowledged
// inside a transaction. Those are rare, and some hand the body on
// without a count of their own (a dead-lettered or moved copy shares the
// body), so the body must never come back to the pool after them. A
// message read back from the
// store, and any message not built by a front end from a pool, has no
// pooled body (body nil): Retain, Release and Pin do nothing.
//
// Concurrency: the count is atomic; the bytes are written only by the
// publisher before the first Retain by a queue, and read-only after.

// BodyPool hands out large body buffers by size class: four classes per
// power of two (a body wastes at most a fifth of its buffer), from
// MinPooledBody to MaxPooledBody. Each class is a sync.Pool, which the
// garbage collector empties when buffers sit unused.
type BodyPool struct {
	classes [numClasses]sync.Pool
	// Poison fills every buffer returned with poisonByte and makes a
	// release below zero panic: a test hook that turns a premature return
	// into a corrupt body, and a double release into a crash.
	poison bool
	gets   atomic.Uint64 // buffers handed out
	reused atomic.Uint64 // of them, taken from the pool
	puts   atomic.Uint64 // buffers returned
}

// BodyPoolStats counts a pool's traffic (for tests and debugging).
type BodyPoolStats struct{ Gets, Reused, Puts uint64 }

const (
	// MinPooledBody is the smallest body drawn from a pool: below it,
	// zeroing costs little next to the rest of a publish.
	MinPooledBody = 64 << 10
	// MaxPooledBody is the largest; a larger body is allocated.
	MaxPooledBody = 64 << 20

	minShift   = 16 // log2(MinPooledBody)
	numClasses = 4*(26-minShift) + 1
	poisonByte = 0xDB
)

// NewBodyPool returns an empty pool. poison: see BodyPool.
func NewBodyPool(poison bool) *BodyPool { return &BodyPool{poison: poison} }

// BodyBuf is one pooled buffer and its reference count.
type BodyBuf struct {
	refs  atomic.Int64
	class uint8
	buf   []byte // the whole buffer, len == the class size
	pool  *BodyPool
}

// classOf is the smallest class holding n bytes (MinPooledBody <= n <=
// MaxPooledBody), and that class's size.
func classOf(n int) (int, int) {
	if n <= MinPooledBody {
		return 0, MinPooledBody
	}
	// n-1 has its top bit at e; the class sizes of that octave are
	// 2^e + k*2^(e-2), k = 1..4.
	e := bits.Len(uint(n-1)) - 1
	step := 1 << (e - 2)
	k := (n - 1 - 1<<e) / step // 0..3
	return 4*(e-minShift) + k + 1, 1<<e + (k+1)*step
}

// Get returns a buffer of at least n bytes, not zeroed, with one
// reference (the publisher's), and its first n bytes. It returns nil when
// n is outside the pooled sizes (the caller allocates) or p is nil.
func (p *BodyPool) Get(n int) (*BodyBuf, []byte) {
	if p == nil || n < MinPooledBody || n > MaxPooledBody {
		return nil, nil
	}
	c, size := classOf(n)
	p.gets.Add(1)
	b, _ := p.classes[c].Get().(*BodyBuf)
	if b == nil {
		b = &BodyBuf{class: uint8(c), buf: make([]byte, size), pool: p}
	} else {
		p.reused.Add(1)
	}
	b.refs.Store(1)
	return b, b.buf[:n:n]
}

// Stats reports the pool's traffic so far.
func (p *BodyPool) Stats() BodyPoolStats {
	return BodyPoolStats{Gets: p.gets.Load(), Reused: p.reused.Load(), Puts: p.puts.Load()}
}

func (b *BodyBuf) retain() { b.refs.Add(1) }

// pinned is a count no set of releases brings to zero.
const pinned = 1 << 40

func (b *BodyBuf) pin() { b.refs.Add(pinned) }

// Release ends the reference Get returned, when no message took it over
// (SetPooledBody) or after its publish call (queue/body.go's rules).
func (b *BodyBuf) Release() { b.release() }

func (b *BodyBuf) release() {
	n := b.refs.Add(-1)
	if n > 0 {
		return
	}
	p := b.pool
	if n < 0 {
		if p.poison {
			panic("queue: a pooled body released once too often")
		}
		return // a bug, but never hand a buffer out twice
	}
	if p.poison {
		b.buf[0] = poisonByte
		for i := 1; i < len(b.buf); i *= 2 {
			copy(b.buf[i:], b.buf[:i])
		}
	}
	p.puts.Add(1)
	p.classes[b.class].Put(b)
}

// SetPooledBody records that m's body (and nothing else of m) lies in b,
// taking over the reference Get returned: the publisher's. Called once by
// the front end that built m, before m is published.
func (m *Message) SetPooledBody(b *BodyBuf) { m.pooled = b }

// Pooled reports whether m's body lies in a pooled buffer.
func (m *Message) Pooled() bool { return m.pooled != nil }

// Retain takes one more reference on m's pooled body (see the rules at
// the top of this file). It does nothing for a body not pooled.
func (m *Message) Retain() {
	if m.pooled != nil {
		m.pooled.retain()
	}
}

// Release ends one reference on m's pooled body; the last one returns
// the buffer to its pool.
func (m *Message) Release() {
	if m.pooled != nil {
		m.pooled.release()
	}
}

// Pin keeps m's pooled body out of the pool for good: for a holder that
// takes no reference of its own (a copy sharing the body, an
// asynchronous store write).
func (m *Message) Pin() {
	if m.pooled != nil {
		m.pooled.pin()
	}
}
