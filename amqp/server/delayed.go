package server

import (
	"encoding/binary"
	"errors"
	"math"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
)

// Delayed messages: the x-delayed-message exchange of RabbitMQ's
// delayed-message plugin. A message whose x-delay header asks an
// x-delayed-message exchange for a delay (exchange.DelayOf) is held back
// by the broker's scheduler, then routed by that exchange as its
// x-delayed-type routes, with x-delay set to minus the delay (the plugin's
// mark of a message that was delayed, which also keeps it from being
// delayed again on its way).
//
// The scheduler is one per broker: a min-heap of due times and one timer
// for the earliest, no goroutine per message. The timer's callback
// releases everything due, routing outside the scheduler's lock, which is
// a leaf.
//
// Divergences from the plugin, which routes a delayed message to nowhere
// at publish time: Warren counts a held message as routed, so a mandatory
// one is not returned and the exchange's alternate exchange does not get
// a copy at once; both apply when the message is released.
//
// # Persistence
//
// A persistent message held by a durable exchange is stored, and its
// publish confirmed once it is on disk. The schedule is a pseudo-queue of
// the store with the id scheduleQueueID: its entry seq is the item's
// number and its meta says when and where the message goes:
//
//	+-------------------+--------+-------+--------+----------+
//	| due Unix ms i64BE | len u8 | vhost | len u8 | exchange |
//	+-------------------+--------+-------+--------+----------+
//
// Released messages are enqueued (stored again for their durable queues)
// before the schedule entry and its message are deleted, so a crash in
// between may deliver twice, never lose. At start-up the entries are read
// back (a due time in the past releases at once).

// scheduleQueueID is the store's queue id for the delayed messages; real
// queues count up from 1.
const scheduleQueueID = math.MaxUint64

// delayedItem is one held message.
type delayedItem struct {
	due    int64  // Unix nanoseconds: due times are wall-clock, like the plugin's
	seq    uint64 // order among equal due times; the store entry's seq
	v      *vhost
	x      string // the delayed exchange that routes it
	msg    *queue.Message
	stored uint64 // the stored message's id; 0: not stored
}

func (a *delayedItem) before(b *delayedItem) bool {
	return a.due < b.due || a.due == b.due && a.seq < b.seq
}

// delayHeap is a min-heap of items by (due, seq).
type delayHeap []delayedItem

func (h *delayHeap) push(it delayedItem) {
	*h = append(*h, it)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].before(&s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *delayHeap) pop() delayedItem {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = delayedItem{}
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s[l].before(&s[m]) {
			m = l
		}
		if r < len(s) && s[r].before(&s[m]) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// scheduler holds delayed messages until they are due. The zero value is
// ready; set s before use.
type scheduler struct {
	s *Server

	mu struct {
		sync.Mutex
		heap    delayHeap
		seq     uint64
		timer   *time.Timer
		armed   bool
		at      int64 // the due time the timer is armed for
		running bool  // a release loop is running
		stopped bool
		drop    []delayedItem // recovered items with nowhere to go
	}
}

// wallNow is the scheduler's clock: Unix nanoseconds.
func wallNow() int64 { return time.Now().UnixNano() }

// hold keeps msg for delay milliseconds, once for each delayed exchange
// that took it. With a confirm tracker, the publish seq waits for the
// items that are stored.
func (sc *scheduler) hold(v *vhost, xs []*exchange.Exchange, delay int64, msg *queue.Message, conf *confirmTracker, seq uint64) {
	s := sc.s
	props := swapDelayHeader(msg.Props, delay)
	due := wallNow() + delay*int64(time.Millisecond)
	for _, x := range xs {
		m := *msg
		m.Props, m.ID = props, 0
		it := delayedItem{due: due, seq: sc.nextSeq(), v: v, x: x.Name, msg: &m}
		if j := s.journal; j != nil && m.Persistent && x.Durable {
			j.store.Throttle()
			it.stored = s.nextMsgID.Add(1)
			var done func(error)
			if conf != nil {
				conf.wait(seq)
				done = func(err error) { conf.done(seq, err, true) }
			}
			b := j.batch()
			b.PutMessage(it.stored, encodeMessage(&m))
			b.PutEntry(scheduleQueueID, it.seq, it.stored, scheduleMeta(due, v.name, x.Name))
			j.submit(b, done)
		}
		sc.push(it)
	}
}

func (sc *scheduler) nextSeq() uint64 {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.mu.seq++
	return sc.mu.seq
}

// push adds an item and arms the timer if it is the earliest.
func (sc *scheduler) push(it delayedItem) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.mu.stopped {
		return
	}
	sc.mu.heap.push(it)
	if !sc.mu.running && (!sc.mu.armed || it.due < sc.mu.at) {
		sc.armLocked(it.due)
	}
}

func (sc *scheduler) armLocked(due int64) {
	sc.mu.armed, sc.mu.at = true, due
	d := time.Duration(due - wallNow())
	if sc.mu.timer == nil {
		sc.mu.timer = time.AfterFunc(d, sc.fire)
	} else {
		sc.mu.timer.Reset(d)
	}
}

// releaseBatch bounds how many due items one pass takes from the heap, so
// that new items are not kept waiting for the lock behind a long burst.
const releaseBatch = 256

// fire runs on the timer's goroutine: it releases every item that is due,
// in due order, then arms the timer for the next one.
func (sc *scheduler) fire() {
	sc.mu.Lock()
	sc.mu.armed = false
	if sc.mu.running || sc.mu.stopped {
		sc.mu.Unlock()
		return
	}
	sc.mu.running = true
	var batch []delayedItem
	for {
		if sc.mu.stopped {
			break
		}
		now := wallNow()
		batch = batch[:0]
		for len(sc.mu.heap) > 0 && sc.mu.heap[0].due <= now && len(batch) < releaseBatch {
			batch = append(batch, sc.mu.heap.pop())
		}
		if len(batch) == 0 {
			break
		}
		sc.mu.Unlock()
		var buf []*queue.Queue
		for i := range batch {
			buf = sc.release(&batch[i], buf[:0])
			batch[i] = delayedItem{}
		}
		sc.mu.Lock()
	}
	sc.mu.running = false
	if len(sc.mu.heap) > 0 && !sc.mu.stopped {
		sc.armLocked(sc.mu.heap[0].due)
	}
	sc.mu.Unlock()
}

// release routes a due item through its exchange, if the exchange still
// exists, and deletes it from the store.
func (sc *scheduler) release(it *delayedItem, buf []*queue.Queue) []*queue.Queue {
	s := sc.s
	if x := it.v.exchange(it.x); x != nil {
		m := *it.msg
		m.ID = 0
		headers := func() map[string]any { return headersOf(m.Props) }
		buf = it.v.route(x, m.RoutingKey, headers, buf)
		s.enqueue(&m, buf, nil, 0)
		clear(buf)
	}
	if it.stored != 0 {
		j := s.journal
		b := j.batch()
		b.DeleteEntry(scheduleQueueID, it.seq)
		b.DeleteMessage(it.stored)
		j.submit(b, nil)
	}
	return buf
}

// stop stops releasing: Shutdown calls it. Held messages stay in the store.
func (sc *scheduler) stop() {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.mu.stopped = true
	if sc.mu.timer != nil {
		sc.mu.timer.Stop()
	}
}

// len reports how many messages are held.
func (sc *scheduler) len() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return len(sc.mu.heap)
}

// headersOf decodes the header table of encoded properties.
func headersOf(props []byte) map[string]any {
	sum, err := amqp.ScanProperties(props)
	if err != nil || sum.Headers == nil {
		return nil
	}
	t, _ := amqp.DecodeTable(sum.Headers)
	return t
}

// swapDelayHeader returns the properties with x-delay set to -delay.
//
// rabbitmq delayed-message plugin (swap_delay_header): the released
// message carries x-delay as a negative signedint, so that it is not
// delayed again and consumers can tell it was delayed.
func swapDelayHeader(props []byte, delay int64) []byte {
	p, err := amqp.DecodeProperties(props)
	if err != nil {
		return props // ScanProperties accepted them: cannot happen
	}
	h := make(amqp.Table, len(p.Headers))
	for k, v := range p.Headers {
		h[k] = v
	}
	if delay <= math.MaxInt32 {
		h["x-delay"] = int32(-delay)
	} else {
		h["x-delay"] = -delay
	}
	p.Headers = h
	out, err := amqp.AppendProperties(make([]byte, 0, len(props)+16), &p)
	if err != nil {
		return props
	}
	return out
}

func scheduleMeta(due int64, vhost, x string) []byte {
	b := make([]byte, 0, 10+len(vhost)+len(x))
	b = binary.BigEndian.AppendUint64(b, uint64(due/int64(time.Millisecond)))
	b = append(b, byte(len(vhost)))
	b = append(b, vhost...)
	b = append(b, byte(len(x)))
	return append(b, x...)
}

var errBadSchedule = errors.New("stored schedule entry is malformed")

func parseScheduleMeta(meta []byte) (due int64, vhost, x string, err error) {
	if len(meta) < 9 {
		return 0, "", "", errBadSchedule
	}
	due = int64(binary.BigEndian.Uint64(meta)) * int64(time.Millisecond)
	meta = meta[8:]
	n := int(meta[0])
	if len(meta) < 1+n+1 {
		return 0, "", "", errBadSchedule
	}
	vhost = string(meta[1 : 1+n])
	meta = meta[1+n:]
	n = int(meta[0])
	if len(meta) != 1+n {
		return 0, "", "", errBadSchedule
	}
	return due, vhost, string(meta[1:]), nil
}

// recoverEntry takes back a stored schedule entry at start-up, before any
// connection; load reads its message. An entry for a vhost no longer
// configured, or that cannot be read, is deleted by recovered.
func (sc *scheduler) recoverEntry(seq, msgID uint64, meta []byte, load func() ([]byte, error)) error {
	s := sc.s
	it := delayedItem{seq: seq, stored: msgID}
	due, vh, x, err := parseScheduleMeta(meta)
	if err == nil {
		it.due, it.x, it.v = due, x, s.vhosts[vh]
		var raw []byte
		if raw, err = load(); err == nil {
			it.msg, err = decodeMessage(msgID, raw)
		}
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.mu.seq = max(sc.mu.seq, seq)
	if err != nil || it.v == nil {
		if err != nil {
			s.log.Error("a stored delayed message cannot be read; deleted", zap.Uint64("msg", msgID), zap.Error(err))
		}
		sc.mu.drop = append(sc.mu.drop, it)
		return nil
	}
	sc.mu.heap.push(it)
	return nil
}

// recovered ends recovery: it deletes the entries with nowhere to go and
// arms the timer.
func (sc *scheduler) recovered() {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if len(sc.mu.drop) > 0 {
		j := sc.s.journal
		b := j.batch()
		for _, it := range sc.mu.drop {
			b.DeleteEntry(scheduleQueueID, it.seq)
			b.DeleteMessage(it.stored)
		}
		j.submit(b, nil)
		sc.mu.drop = nil
	}
	if n := len(sc.mu.heap); n > 0 {
		sc.s.log.Info("recovered delayed messages", zap.Int("messages", n))
		sc.armLocked(sc.mu.heap[0].due)
	}
}
