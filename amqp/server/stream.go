package server

import (
	"encoding/binary"
	"sort"
	"sync/atomic"
	"time"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/stream"
)

// Stream queues (x-queue-type stream) over AMQP 0-9-1: a consumer reads
// the log from an x-stream-offset on its own reader goroutine
// (queue/stream.Reader), which calls deliverStream for each message;
// acks only give credit back (queue.Queue.Ack wakes the readers).

// checkStreamConsume refuses what RabbitMQ refuses on a stream and
// parses x-stream-offset.
func (ch *channel) checkStreamConsume(q *queue.Queue, m *amqp.BasicConsume) (stream.Start, error) {
	vh := ch.c.vhost.name
	if m.NoAck {
		// rabbitmq: streams need acknowledgements to give credit back.
		return stream.Start{}, amqp.Errorf(amqp.NotImplemented, "automatic acknowledgement not supported by stream queues queue '%s' in vhost '%s'", q.Name, vh)
	}
	if ch.consumerPrefetch == 0 {
		// rabbitmq: a stream consumer needs a basic.qos prefetch (global=false).
		return stream.Start{}, amqp.Errorf(amqp.PreconditionFailed, "consumer prefetch count is not set for 'queue '%s' in vhost '%s''", q.Name, vh)
	}
	start, err := stream.ParseOffset(m.Arguments["x-stream-offset"], time.Now())
	if err != nil {
		// warren: rabbitmq 3.10 answers 541 INTERNAL_ERROR here.
		return stream.Start{}, amqp.Errorf(amqp.PreconditionFailed, "%v for queue '%s' in vhost '%s'", err, q.Name, vh)
	}
	if start.Filter, err = stream.ParseFilter(m.Arguments); err != nil {
		return stream.Start{}, amqp.Errorf(amqp.PreconditionFailed, "%v for queue '%s' in vhost '%s'", err, q.Name, vh)
	}
	return start, nil
}

// automaticTracking reports whether a consume asks for server-side offset
// tracking (lavinmq: x-stream-automatic-offset-tracking), and where the
// consumer then starts: after its tag's tracked offset when x-stream-offset
// is absent or null and one was tracked.
func automaticTracking(q *queue.Queue, m *amqp.BasicConsume, start stream.Start) (bool, stream.Start) {
	on, _ := m.Arguments["x-stream-automatic-offset-tracking"].(bool)
	s, ok := q.Stream.(*stream.Stream)
	if !on || !ok {
		return false, start
	}
	if m.Arguments["x-stream-offset"] == nil {
		if next, ok := s.Tracked(m.ConsumerTag); ok {
			start.Kind, start.Offset = stream.StartOffset, next
		}
	}
	return true, start
}

// offsetTrack follows a tracking consumer's deliveries in offset order;
// its acks move the tag's tracked offset past every offset below which all
// were acknowledged: an unacknowledged gap holds it back. Guarded by the
// channel's dmu.
type offsetTrack struct {
	s     *stream.Stream
	tag   string
	offs  []uint64
	acked []bool
	head  int
}

func (t *offsetTrack) delivered(off uint64) {
	t.offs = append(t.offs, off)
	t.acked = append(t.acked, false)
}

func (t *offsetTrack) ack(off uint64) {
	i := sort.Search(len(t.offs)-t.head, func(i int) bool { return t.offs[t.head+i] >= off }) + t.head
	if i == len(t.offs) || t.offs[i] != off {
		return
	}
	t.acked[i] = true
	start := t.head
	for t.head < len(t.offs) && t.acked[t.head] {
		t.head++
	}
	if t.head == start {
		return
	}
	t.s.Track(t.tag, t.offs[t.head-1]+1)
	if t.head > 1024 && t.head > len(t.offs)/2 {
		n := copy(t.offs, t.offs[t.head:])
		copy(t.acked, t.acked[t.head:])
		t.offs, t.acked, t.head = t.offs[:n], t.acked[:n], 0
	}
}

// startStream starts cs's reader once consume-ok is queued, with offset
// tracking if track is set. With sac (x-single-active-consumer on a
// tracking consumer) the reader starts only when cs is its tag's active
// consumer, and a standby taking over starts at the tag's tracked offset.
func (cs *consumer) startStream(q *queue.Queue, start stream.Start, track, sac bool) {
	s, ok := q.Stream.(*stream.Stream)
	if !ok {
		return
	}
	ch := cs.ch
	if track {
		ch.dmu.Lock()
		cs.track = &offsetTrack{s: s, tag: cs.Tag}
		ch.dmu.Unlock()
	}
	run := func(st stream.Start) {
		switch st.Kind {
		case stream.StartOffset:
			cs.streamPos.Store(st.Offset + 1)
		case stream.StartFirst:
			cs.streamPos.Store(1) // offset 0: the stats count from the log's first
		case stream.StartNext:
			cs.streamPos.Store(s.Info().Next + 1)
		}
		r := s.Read(st, func(e queue.Entry, off uint64) bool { return cs.deliverStream(q, e, off) })
		ch.dmu.Lock()
		if cs.streamStopped {
			ch.dmu.Unlock()
			r.Stop()
			return
		}
		cs.reader = r
		ch.dmu.Unlock()
	}
	if !track || !sac {
		run(start)
		return
	}
	var handover atomic.Bool // set once Claim returned: a later start is a takeover
	id := s.Claim(cs.Tag, func() {
		st := start
		if handover.Load() {
			if next, ok := s.Tracked(cs.Tag); ok {
				st.Kind, st.Offset = stream.StartOffset, next
			}
		}
		run(st)
	})
	handover.Store(true)
	ch.dmu.Lock()
	cs.claim, cs.claimStream = id, s
	ch.dmu.Unlock()
}

// stopStream stops cs's reader, if it has one, and waits for it; an
// active consumer of a tag hands over to the next.
func (cs *consumer) stopStream() {
	ch := cs.ch
	ch.dmu.Lock()
	cs.streamStopped = true
	r := cs.reader
	cs.reader = nil
	id, s := cs.claim, cs.claimStream
	cs.claim, cs.claimStream = 0, nil
	ch.dmu.Unlock()
	if r != nil {
		r.Stop()
	}
	if s != nil {
		s.Unclaim(cs.Tag, id)
	}
}

// deliverStream is TryDeliver for a stream reader: the message goes out
// with its x-stream-offset header (sendLocked), and what waits for the
// ack is only credit (nothing is settled on the stream). It runs on the
// reader's goroutine, with no queue lock held.
func (cs *consumer) deliverStream(q *queue.Queue, e queue.Entry, off uint64) bool {
	ch := cs.ch
	ch.dmu.Lock()
	defer ch.dmu.Unlock()
	if ch.dmu.closed || !cs.active || ch.dmu.consumers[cs.Tag] != cs {
		return false
	}
	if !cs.creditLocked() {
		return false
	}
	tag, ok := cs.sendLocked(e, true, off, nil)
	if !ok {
		return false
	}
	countDeliveryLocked(cs.stats, false, false, false)
	ch.pushUnackedLocked(pending{tag: tag, q: q, e: e, cs: cs})
	if cs.track != nil {
		cs.track.delivered(off)
	}
	cs.inflight++
	ch.dmu.inflight++
	cs.streamPos.Store(off + 2)
	return true
}

// StreamPosition implements broker.StreamPositioner.
func (cs *consumer) StreamPosition() (next uint64, ok bool) {
	p := cs.streamPos.Load()
	return p - 1, p != 0
}

// StreamArgs implements broker.StreamPositioner.
func (cs *consumer) StreamArgs() map[string]any { return cs.streamArgs }

var _ broker.StreamPositioner = (*consumer)(nil)

// appendStreamHeader appends the content header frame of a stream
// delivery: msg's properties with the x-stream-offset header off,
// spliced in place into b (no copy of the properties elsewhere), or,
// for properties the splice cannot handle, through streamPropsSlow.
func appendStreamHeader(b []byte, ch uint16, msg *queue.Message, off uint64) []byte {
	start := len(b)
	b = append(b, amqp.FrameHeader, byte(ch>>8), byte(ch), 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, amqp.ClassBasic)
	b = append(b, 0, 0) // weight
	b = binary.BigEndian.AppendUint64(b, uint64(len(msg.Body)))
	var ok bool
	if b, ok = spliceStreamOffset(b, msg.Props, off); !ok {
		return amqp.AppendRawHeaderFrame(b[:start], ch, amqp.ClassBasic, uint64(len(msg.Body)), streamPropsSlow(msg.Props, off))
	}
	binary.BigEndian.PutUint32(b[start+3:], uint32(len(b)-start-7))
	return append(b, amqp.FrameEnd)
}

// streamProps are a stream message's properties with the x-stream-offset
// header (rabbitmq: every delivery from a stream carries it, a long).
func streamProps(raw []byte, off uint64) []byte {
	if out, ok := spliceStreamOffset(nil, raw, off); ok {
		return out
	}
	return streamPropsSlow(raw, off)
}

// spliceStreamOffset appends raw, encoded properties, to dst with the
// x-stream-offset header spliced into them (one copy, no decoding). ok
// is false, dst unchanged, for properties it cannot splice into (flag
// continuation, bounds that do not add up): the slow path decodes them.
func spliceStreamOffset(dst, raw []byte, off uint64) (_ []byte, ok bool) {
	const (
		flagContentType     = 0x8000
		flagContentEncoding = 0x4000
		flagHeaders         = 0x2000
		flagMore            = 0x0001
		entry               = 1 + len(streamOffsetKey) + 1 + 8
	)
	if len(raw) < 2 {
		return dst, false
	}
	flags := binary.BigEndian.Uint16(raw)
	if flags&flagMore != 0 {
		return dst, false
	}
	pos := 2
	if flags&flagContentType != 0 {
		if pos >= len(raw) {
			return dst, false
		}
		pos += 1 + int(raw[pos])
	}
	if flags&flagContentEncoding != 0 {
		if pos >= len(raw) {
			return dst, false
		}
		pos += 1 + int(raw[pos])
	}
	if pos > len(raw) {
		return dst, false
	}
	if flags&flagHeaders != 0 {
		if pos+4 > len(raw) {
			return dst, false
		}
		tl := int(binary.BigEndian.Uint32(raw[pos:]))
		end := pos + 4 + tl
		if end > len(raw) {
			return dst, false
		}
		dst = append(dst, raw[:pos]...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(tl+entry))
		dst = append(dst, raw[pos+4:end]...)
		dst = appendStreamOffset(dst, off)
		return append(dst, raw[end:]...), true
	}
	dst = binary.BigEndian.AppendUint16(dst, flags|flagHeaders)
	dst = append(dst, raw[2:pos]...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(entry))
	dst = appendStreamOffset(dst, off)
	return append(dst, raw[pos:]...), true
}

const streamOffsetKey = "x-stream-offset"

// appendStreamOffset appends the table entry x-stream-offset = off (a long).
func appendStreamOffset(b []byte, off uint64) []byte {
	b = append(b, byte(len(streamOffsetKey)))
	b = append(b, streamOffsetKey...)
	b = append(b, 'l')
	return binary.BigEndian.AppendUint64(b, off)
}

// streamPropsSlow decodes the properties, sets the header and encodes
// them again.
func streamPropsSlow(raw []byte, off uint64) []byte {
	p, err := amqp.DecodeProperties(raw)
	if err != nil {
		return raw
	}
	h := amqp.Table{}
	for k, v := range p.Headers {
		h[k] = v
	}
	h[streamOffsetKey] = int64(off)
	p.Headers = h
	out, err := amqp.AppendProperties(nil, &p)
	if err != nil {
		return raw
	}
	return out
}
