package broker

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/storage"
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
// a leaf. A held message is one encoded byte slice (the stored message
// format, see encodeMessage), which the garbage collector need not scan:
// a million held messages are a million small objects, not five million.
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
	dest   *destRef
	msg    []byte // encodeMessage's format
	stored uint64 // the stored message's id; 0: not stored
}

// delayDest is where a held message goes: a delayed exchange, by name.
// The scheduler shares one per exchange among its items.
type delayDest struct {
	v *Vhost
	x string
}

// destRef counts the items held for a destination, under scheduler.mu.
type destRef struct {
	delayDest
	n int
}

// scheduler holds delayed messages until they are due. The zero value is
// ready; set b before use.
type scheduler struct {
	b *Broker

	mu struct {
		sync.Mutex
		heap    delayHeap
		seq     uint64
		dests   map[delayDest]*destRef
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
func (sc *scheduler) hold(v *Vhost, xs []*exchange.Exchange, delay int64, msg *queue.Message, conf Confirm, seq uint64) {
	b := sc.b
	m := *msg
	m.Props = swapDelayHeader(msg.Props, delay)
	raw := encodeMessage(&m)
	due := wallNow() + delay*int64(time.Millisecond)
	for _, x := range xs {
		it := delayedItem{due: due, msg: raw}
		it.seq, it.dest = sc.next(v, x.Name)
		if j := b.journal; j != nil && m.Persistent && x.Durable {
			j.store.Throttle()
			it.stored = b.nextMsgID.Add(1)
			var done func(error)
			if conf != nil {
				conf.Wait(seq)
				done = func(err error) { conf.Done(seq, err, true) }
			}
			sb := j.batch()
			sb.PutMessage(it.stored, raw)
			sb.PutEntry(scheduleQueueID, it.seq, it.stored, scheduleMeta(due, v.name, x.Name))
			j.submit(sb, done)
		}
		sc.push(it)
	}
}

// next numbers a new item and returns its destination.
func (sc *scheduler) next(v *Vhost, x string) (uint64, *destRef) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.mu.seq++
	return sc.mu.seq, sc.destLocked(v, x)
}

func (sc *scheduler) destLocked(v *Vhost, x string) *destRef {
	k := delayDest{v, x}
	d := sc.mu.dests[k]
	if d == nil {
		if sc.mu.dests == nil {
			sc.mu.dests = map[delayDest]*destRef{}
		}
		d = &destRef{delayDest: k}
		sc.mu.dests[k] = d
	}
	d.n++
	return d
}

// popLocked takes the earliest item, forgetting its destination with the
// last item held for it.
func (sc *scheduler) popLocked() delayedItem {
	it := sc.mu.heap.pop()
	if it.dest.n--; it.dest.n == 0 {
		delete(sc.mu.dests, it.dest.delayDest)
	}
	return it
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
		for sc.mu.heap.len() > 0 && sc.mu.heap.minDue() <= now && len(batch) < releaseBatch {
			batch = append(batch, sc.popLocked())
		}
		if len(batch) == 0 {
			break
		}
		sc.mu.Unlock()
		var buf []*queue.Queue
		var del *storage.Batch // the schedule entries to delete, after the releases
		for i := range batch {
			buf = sc.release(&batch[i], buf[:0])
			if it := &batch[i]; it.stored != 0 {
				if del == nil {
					del = sc.b.journal.batch()
				}
				del.DeleteEntry(scheduleQueueID, it.seq)
				del.DeleteMessage(it.stored)
			}
			batch[i] = delayedItem{}
		}
		if del != nil {
			sc.b.journal.submit(del, nil)
		}
		sc.mu.Lock()
	}
	sc.mu.running = false
	if sc.mu.heap.len() > 0 && !sc.mu.stopped {
		sc.armLocked(sc.mu.heap.minDue())
	}
	sc.mu.Unlock()
}

// release routes a due item through its exchange, if the exchange still
// exists. (fire deletes it from the store, after enqueueing.)
func (sc *scheduler) release(it *delayedItem, buf []*queue.Queue) []*queue.Queue {
	b := sc.b
	v := it.dest.v
	if x := v.Exchange(it.dest.x); x != nil {
		m, err := decodeHeld(it.msg)
		if err != nil {
			b.log.Error("a delayed message is malformed; dropped", zap.Error(err))
		} else {
			headers := func() map[string]any { return headersOf(m.Props) }
			// rabbitmq delayed-message plugin: a released message routes
			// by its own keys, CC included (BCC's are gone, see deadLetter).
			buf = v.RouteKeys(x, m.RoutingKey, ccOfProps(m.Props), headers, buf, nil)
			b.enqueue(m, buf, nil, 0, nil)
			clear(buf)
		}
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
	return sc.mu.heap.len()
}

// decodeHeld decodes a held message, with its expiration (validated when
// it was published).
func decodeHeld(raw []byte) (*queue.Message, error) {
	m, err := decodeMessage(0, raw)
	if err != nil {
		return nil, err
	}
	if sum, err := amqp.ScanProperties(m.Props); err == nil && sum.Expiration != nil {
		if ttl, err := strconv.ParseInt(string(sum.Expiration), 10, 64); err == nil && ttl >= 0 {
			m.TTL, m.HasTTL = ttl, true
		}
	}
	return m, nil
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

// ccOfProps returns the keys of the CC header of encoded properties.
func ccOfProps(props []byte) []string {
	sum, err := amqp.ScanProperties(props)
	if err != nil || sum.Headers == nil {
		return nil
	}
	r, _ := amqp.ScanSenderRoutes(sum.Headers)
	return r.Keys
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
	b := sc.b
	it := delayedItem{seq: seq, stored: msgID}
	due, vh, x, err := parseScheduleMeta(meta)
	v := b.Vhost(vh)
	if err == nil && v != nil {
		it.due = due
		if it.msg, err = load(); err == nil {
			_, err = decodeMessage(msgID, it.msg)
		}
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.mu.seq = max(sc.mu.seq, seq)
	if err != nil || v == nil {
		if err != nil {
			b.log.Error("a stored delayed message cannot be read; deleted", zap.Uint64("msg", msgID), zap.Error(err))
		}
		sc.mu.drop = append(sc.mu.drop, it)
		return nil
	}
	it.dest = sc.destLocked(v, x)
	sc.mu.heap.push(it)
	return nil
}

// recovered ends recovery: it deletes the entries with nowhere to go and
// arms the timer.
func (sc *scheduler) recovered() {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if len(sc.mu.drop) > 0 {
		j := sc.b.journal
		sb := j.batch()
		for _, it := range sc.mu.drop {
			sb.DeleteEntry(scheduleQueueID, it.seq)
			sb.DeleteMessage(it.stored)
		}
		j.submit(sb, nil)
		sc.mu.drop = nil
	}
	if n := sc.mu.heap.len(); n > 0 {
		sc.b.log.Info("recovered delayed messages", zap.Int("messages", n))
		sc.armLocked(sc.mu.heap.minDue())
	}
}
