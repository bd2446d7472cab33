package server

import (
	"encoding/binary"
	"sort"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/stream"
)

// consumer is one basic.consume subscription. It is the queue's Sink.
type consumer struct {
	queue.Consumer
	ch       *channel
	q        *queue.Queue
	noAck    bool
	prefetch int // 0: unlimited
	// A stream consumer's arguments (set before AddConsumer, then read
	// only) and its position: the next offset it is sent, plus one (0:
	// not known yet). Written by its reader, read by listings.
	streamArgs amqp.Table
	streamPos  atomic.Uint64
	// Guarded by ch.dmu:
	stats    *qStats // the channel's counters for q
	inflight int
	active   bool           // consume-ok is on the wire; deliveries may follow
	reader   *stream.Reader // a stream consumer's reader (stream.go)
	track    *offsetTrack   // its offset tracking, if asked for
	// single active consumer per tag (stream.go): the claim, and whether
	// the consumer was stopped (a hand-over must not start it then)
	claim         uint64
	claimStream   *stream.Stream
	streamStopped bool
}

// pending is an unacknowledged delivery.
type pending struct {
	tag   uint64
	q     *queue.Queue
	e     queue.Entry
	cs    *consumer // nil for basic.get
	acked bool
	// deadline (Server.now) and timeout of the acknowledgement, in
	// nanoseconds; timeout is noAckTimeout if it has none.
	deadline, timeout int64
}

// unackedList keeps pending deliveries in delivery-tag order; tags grow, so
// appends keep it sorted and lookups are binary searches.
type unackedList struct {
	items []pending
	head  int
	live  int
}

func (u *unackedList) push(p pending) {
	u.items = append(u.items, p)
	u.live++
}

func (u *unackedList) find(tag uint64) int {
	live := u.items[u.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i].tag >= tag })
	if i < len(live) && live[i].tag == tag && !live[i].acked {
		return u.head + i
	}
	return -1
}

// take removes the delivery with the tag, or every delivery up to it when
// multiple is set (tag 0 with multiple: all). ok is false if the tag is
// not outstanding.
func (u *unackedList) take(tag uint64, multiple bool, out []pending) ([]pending, bool) {
	if multiple && tag == 0 {
		return append(out, u.takeAll()...), true
	}
	i := u.find(tag)
	if i < 0 {
		return out, false
	}
	if multiple {
		for j := u.head; j <= i; j++ {
			if !u.items[j].acked {
				out = append(out, u.items[j])
				u.items[j].acked = true
				u.live--
			}
		}
	} else {
		out = append(out, u.items[i])
		u.items[i].acked = true
		u.live--
	}
	u.compact()
	return out, true
}

func (u *unackedList) compact() {
	for u.head < len(u.items) && u.items[u.head].acked {
		u.items[u.head] = pending{}
		u.head++
	}
	if u.head == len(u.items) {
		u.items, u.head = u.items[:0], 0
	} else if u.head > 1024 && u.head > len(u.items)/2 {
		n := copy(u.items, u.items[u.head:])
		clear(u.items[n:])
		u.items, u.head = u.items[:n], 0
	}
}

func (u *unackedList) takeAll() []pending {
	var out []pending
	for _, p := range u.items[u.head:] {
		if !p.acked {
			out = append(out, p)
		}
	}
	u.items, u.head, u.live = nil, 0, 0
	return out
}

// creditLocked reports whether cs may take one more delivery to be
// acknowledged. ch.dmu is held.
func (cs *consumer) creditLocked() bool {
	ch := cs.ch
	// spec 0-9-1 basic.qos / rabbitmq per_consumer_qos: both limits apply.
	if cs.prefetch > 0 && cs.inflight >= cs.prefetch {
		return false
	}
	return ch.dmu.globalPrefetch <= 0 || ch.dmu.inflight < ch.dmu.globalPrefetch
}

// TryDeliver implements queue.Sink. It runs with the queue's lock held.
func (cs *consumer) TryDeliver(q *queue.Queue, e queue.Entry) bool {
	ch := cs.ch
	ch.dmu.Lock()
	defer ch.dmu.Unlock()
	if ch.dmu.closed || !cs.active {
		return false
	}
	if !cs.noAck && !cs.creditLocked() {
		return false
	}
	f, _ := q.Flusher().(*conn)
	tag, ok := cs.sendLocked(e, false, 0, f)
	if !ok {
		return false
	}
	countDeliveryLocked(cs.stats, e.Redelivered, cs.noAck, false)
	if cs.noAck {
		// Settled: the output holds its own reference to a body it
		// references (appendBodyLocked); the entry's ends here.
		e.Msg.Release()
	} else {
		// What waits for the ack: past the memory budget, without its body.
		ch.pushUnackedLocked(pending{tag: tag, q: q, e: q.Keep(e), cs: cs})
		cs.inflight++
		ch.dmu.inflight++
	}
	return true
}

// sendLocked is the output half of a delivery, shared by queues
// (TryDeliver) and stream readers (deliverStream): it takes the next
// delivery tag and appends basic.deliver, the content header and the
// body to the connection's output under one lock, so they never
// interleave; a body from refBody is written from where it lies. A
// stream delivery (stream set) carries the x-stream-offset header off.
// f is the connection whose reader runs the delivery (queue.Flusher;
// nil: a goroutine of the consumer's own). It returns false, sending
// nothing and taking no tag, when the output is full or closed. ch.dmu
// is held.
func (cs *consumer) sendLocked(e queue.Entry, stream bool, off uint64, f *conn) (tag uint64, ok bool) {
	ch := cs.ch
	o := ch.c.out
	o.mu.Lock()
	if o.mu.full || o.mu.closed {
		o.mu.Unlock()
		return 0, false
	}
	wasIdle := o.idleLocked()
	o.reserveLocked() // writer.go
	ch.dmu.nextTag++
	tag = ch.dmu.nextTag
	m := amqp.BasicDeliver{ConsumerTag: cs.Tag, DeliveryTag: tag, Redelivered: e.Redelivered, Exchange: e.Msg.Exchange, RoutingKey: e.Msg.RoutingKey}
	o.mu.buf = appendDeliverFrame(o.mu.buf, ch.id, &m)
	if stream {
		o.mu.buf = appendStreamHeader(o.mu.buf, ch.id, e.Msg, off)
	} else {
		o.mu.buf = amqp.AppendRawHeaderFrame(o.mu.buf, ch.id, amqp.ClassBasic, uint64(len(e.Msg.Body)), deliveryProps(e))
	}
	if len(e.Msg.Body) >= refBody {
		o.appendBodyLocked(ch.id, e.Msg, ch.c.frameMax) // no copy of a large body
	} else {
		o.mu.buf = amqp.AppendBodyFrames(o.mu.buf, ch.id, e.Msg.Body, ch.c.frameMax)
	}
	if o.pendingLocked() >= o.limit {
		o.mu.full = true
	}
	wake := o.deferLocked(wasIdle, f, ch.c)
	o.mu.Unlock()
	if wake {
		o.signal()
	}
	return tag, true
}

// appendDelivery appends basic.deliver, the content header and the body
// frames of one delivery, so they are never interleaved with other frames.
func appendDelivery(b []byte, ch uint16, frameMax uint32, ctag string, tag uint64, e queue.Entry) []byte {
	b = appendDeliveryHead(b, ch, ctag, tag, e)
	return amqp.AppendBodyFrames(b, ch, e.Msg.Body, frameMax)
}

// appendDeliveryHead appends a delivery's basic.deliver and content
// header frames: all but the body.
func appendDeliveryHead(b []byte, ch uint16, ctag string, tag uint64, e queue.Entry) []byte {
	m := amqp.BasicDeliver{ConsumerTag: ctag, DeliveryTag: tag, Redelivered: e.Redelivered, Exchange: e.Msg.Exchange, RoutingKey: e.Msg.RoutingKey}
	b = appendMethodFrame(b, ch, amqp.BasicDeliverID, &m)
	return amqp.AppendRawHeaderFrame(b, ch, amqp.ClassBasic, uint64(len(e.Msg.Body)), deliveryProps(e))
}

func appendContent(b []byte, ch uint16, frameMax uint32, msg *queue.Message) []byte {
	return appendContentProps(b, ch, frameMax, msg, msg.Props)
}

func appendContentProps(b []byte, ch uint16, frameMax uint32, msg *queue.Message, props []byte) []byte {
	b = amqp.AppendRawHeaderFrame(b, ch, amqp.ClassBasic, uint64(len(msg.Body)), props)
	return amqp.AppendBodyFrames(b, ch, msg.Body, frameMax)
}

// deliveryProps are the properties a delivery carries: the message's, plus
// an x-delivery-count header once it was returned (rabbitmq quorum queues;
// Warren counts on every queue).
func deliveryProps(e queue.Entry) []byte {
	if e.Deliveries == 0 {
		return e.Msg.Props
	}
	p, err := amqp.DecodeProperties(e.Msg.Props)
	if err != nil {
		return e.Msg.Props
	}
	h := amqp.Table{}
	for k, v := range p.Headers {
		h[k] = v
	}
	h["x-delivery-count"] = int64(e.Deliveries)
	p.Headers = h
	raw, err := amqp.AppendProperties(nil, &p)
	if err != nil {
		return e.Msg.Props
	}
	return raw
}

// appendDeliverFrame is appendMethodFrame for basic.deliver, once a
// delivery: a generic call on a pointer type goes through the shape's
// dictionary, and m would escape to the heap (an allocation a delivery).
func appendDeliverFrame(b []byte, ch uint16, m *amqp.BasicDeliver) []byte {
	start := len(b)
	b = append(b, amqp.FrameMethod, byte(ch>>8), byte(ch), 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, amqp.BasicDeliverID)
	b, err := m.AppendArgs(b)
	if err != nil {
		return b[:start] // only over-long short strings fail, and we never build those
	}
	binary.BigEndian.PutUint32(b[start+3:], uint32(len(b)-start-7))
	return append(b, amqp.FrameEnd)
}

// argsAppender is a method's argument encoder, called on the concrete type.
type argsAppender interface {
	AppendArgs(b []byte) ([]byte, error)
}

func appendMethodFrame[M argsAppender](b []byte, ch uint16, id uint32, m M) []byte {
	start := len(b)
	b = append(b, amqp.FrameMethod, byte(ch>>8), byte(ch), 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, id)
	b, err := m.AppendArgs(b)
	if err != nil {
		return b[:start] // only over-long short strings fail, and we never build those
	}
	binary.BigEndian.PutUint32(b[start+3:], uint32(len(b)-start-7))
	return append(b, amqp.FrameEnd)
}

// requeueByQueue puts pending deliveries back on their queues.
func requeueByQueue(ps []pending) {
	forEachQueue(ps, nil, func(q *queue.Queue, es []queue.Entry) { q.Requeue(es) })
}

// forEachQueue groups pending deliveries by queue, keeping their order.
// With scratch, each group's entries go to *scratch, which is kept for
// reuse (cleared): fn must then not keep es.
func forEachQueue(ps []pending, scratch *[]queue.Entry, fn func(q *queue.Queue, es []queue.Entry)) {
	for len(ps) > 0 {
		q := ps[0].q
		var es []queue.Entry
		if scratch != nil {
			es = (*scratch)[:0]
		}
		rest := ps[:0]
		for _, p := range ps {
			if p.q == q {
				es = append(es, p.e)
			} else {
				rest = append(rest, p)
			}
		}
		fn(q, es)
		if scratch != nil {
			clear(es)
			*scratch = es[:0]
		}
		ps = rest
	}
}

func zapChannel(id uint16) zap.Field     { return zap.Uint16("channel", id) }
func zapCode(c amqp.ReplyCode) zap.Field { return zap.Uint16("code", uint16(c)) }
func zapText(t string) zap.Field         { return zap.String("text", t) }

// replyText fits a reply text into its shortstr: rabbitmq cuts a longer
// text to 252 bytes and appends "...".
func replyText(s string) string {
	if len(s) > 255 {
		return s[:252] + "..."
	}
	return s
}
