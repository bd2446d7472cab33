package streamserver

import (
	"encoding/binary"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/queue/stream"
	"github.com/warrenmq/warren/storage/streamlog"
)

// Offset specification types of subscribe and consumer update.
const (
	offsetFirst     = 1
	offsetLast      = 2
	offsetNext      = 3
	offsetOffset    = 4
	offsetTimestamp = 5
)

// deliverPrefix is a Deliver frame's bytes before the chunk: size, key,
// version, subscription id.
const deliverPrefix = 4 + 2 + 2 + 1

// subscription is one subscribe. Its delivery goroutine runs while it is
// active (always, unless it is a single active consumer on standby).
type subscription struct {
	c      *conn
	id     uint8
	name   string // the stream
	s      *stream.Stream
	filter *stream.Filter
	group  *groupKey // single active consumer group, if any
	credit chan struct{}
	props  map[string]string // the subscribe properties
	n      subCounts         // for the management API (info.go)

	mu struct {
		sync.Mutex
		credit  int
		running bool
		quit    chan struct{}
		done    chan struct{}
		gen     uint64 // activations, for late consumer update replies
		active  bool
		closed  bool // unsubscribed: never starts again
	}
}

func (c *conn) subscribe(d *decoder) {
	corr, id, name, typ := d.u32(), d.u8(), d.str(), d.u16()
	var off uint64
	if typ == offsetOffset || typ == offsetTimestamp {
		off = d.u64()
	}
	credit := d.u16()
	props := d.strMap()
	if d.err != nil {
		return
	}
	start, ok := offsetSpec(typ, off)
	s := c.lookupStream(name)
	code := uint16(codeOK)
	c.mu.Lock()
	_, exists := c.mu.subs[id]
	c.mu.Unlock()
	sac := props["single-active-consumer"] == "true"
	switch {
	case s == nil:
		code = codeStreamDoesNotExist
	case !c.permitted(name, broker.Read):
		code = codeAccessRefused
	case exists:
		code = codeSubscriptionIDExists
	case !ok:
		code = codePreconditionFailed
	case sac && props["name"] == "":
		// rabbitmq: a single active consumer needs a name.
		code = codePreconditionFailed
	}
	if code != codeOK {
		c.send(response(keySubscribe, corr, code).done())
		return
	}
	sub := &subscription{c: c, id: id, name: name, s: s, credit: make(chan struct{}, 1), props: props}
	sub.mu.credit = int(credit)
	if f := subscriptionFilter(props); f != nil {
		sub.filter = f
		start.Filter = f
	}
	c.mu.Lock()
	c.mu.subs[id] = sub
	c.mu.Unlock()
	c.send(response(keySubscribe, corr, codeOK).done())
	if sac {
		key := groupKey{vhost: c.vhost.Name(), stream: name, name: props["name"]}
		sub.group = &key
		partition := -1
		if super := props["super-stream"]; super != "" {
			for i, p := range c.partitionsOf(super) {
				if p == name {
					partition = i
				}
			}
		}
		c.s.sac.join(key, &member{c: c, sub: sub}, partition)
		return
	}
	c.startDelivery(sub, start)
}

// offsetSpec reads an offset specification (false: unknown type).
func offsetSpec(typ uint16, off uint64) (stream.Start, bool) {
	switch typ {
	case offsetFirst:
		return stream.Start{Kind: stream.StartFirst}, true
	case offsetLast:
		return stream.Start{Kind: stream.StartLast}, true
	case offsetNext:
		return stream.Start{Kind: stream.StartNext}, true
	case offsetOffset:
		return stream.Start{Kind: stream.StartOffset, Offset: off}, true
	case offsetTimestamp:
		return stream.Start{Kind: stream.StartTime, Time: time.UnixMilli(int64(off))}, true
	}
	return stream.Start{}, false
}

// subscriptionFilter reads the filter.N and match-unfiltered properties
// (RabbitMQ 3.13's stream filtering); nil without filter values.
func subscriptionFilter(props map[string]string) *stream.Filter {
	var keys []string
	for k := range props {
		if strings.HasPrefix(k, "filter.") {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Strings(keys)
	f := &stream.Filter{MatchUnfiltered: props["match-unfiltered"] == "true"}
	for _, k := range keys {
		f.Values = append(f.Values, props[k])
	}
	return f
}

// startDelivery starts sub's delivery goroutine at start.
func (c *conn) startDelivery(sub *subscription, start stream.Start) {
	sub.mu.Lock()
	if sub.mu.running || sub.mu.closed {
		sub.mu.Unlock()
		return
	}
	sub.mu.running = true
	quit, done := make(chan struct{}), make(chan struct{})
	sub.mu.quit, sub.mu.done = quit, done
	sub.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(done)
		c.deliver(sub, start, quit)
	}()
}

// stopDelivery stops sub's delivery goroutine and waits for it.
func (sub *subscription) stopDelivery() {
	sub.mu.Lock()
	if !sub.mu.running {
		sub.mu.Unlock()
		return
	}
	sub.mu.running = false
	close(sub.mu.quit)
	done := sub.mu.done
	sub.mu.Unlock()
	// A delivery waiting for room in the output wakes to see quit.
	sub.c.out.Lock()
	sub.c.room.Broadcast()
	sub.c.out.Unlock()
	<-done
}

// deliver sends sub's chunks as stored, one credit each, until quit.
func (c *conn) deliver(sub *subscription, start stream.Start, quit chan struct{}) {
	cr := sub.s.Chunks(start)
	defer cr.Close()
	// Written buffers come back here for the next chunks: no garbage per
	// chunk while a consumer replays.
	free := make(chan []byte, 4)
	for {
		sub.mu.Lock()
		credit := sub.mu.credit
		sub.mu.Unlock()
		if credit <= 0 {
			select {
			case <-sub.credit:
				continue
			case <-quit:
				return
			case <-c.quit:
				return
			case <-sub.s.Stopped():
				c.streamStopped(sub)
				return
			}
		}
		changed := sub.s.Changed()
		var spare []byte
		select {
		case spare = <-free:
		default:
		}
		var ch streamlog.RawChunk
		var ok bool
		var err error
		if c.minFile >= 0 {
			ch, ok, err = cr.NextSendable(spare, deliverPrefix, c.minFile) // sendfile.go
		} else {
			ch, ok, err = cr.NextInto(spare, deliverPrefix)
		}
		if err != nil {
			c.log.Warn("stream delivery: reading the log", zap.String("stream", sub.name), zap.Error(err))
		}
		if err != nil || !ok {
			if spare != nil {
				select {
				case free <- spare:
				default:
				}
			}
			select {
			case <-changed:
				continue
			case <-quit:
				return
			case <-c.quit:
				return
			case <-sub.s.Stopped():
				c.streamStopped(sub)
				return
			}
		}
		b := ch.Buf
		binary.BigEndian.PutUint32(b, uint32(deliverPrefix-4+ch.Len(deliverPrefix)))
		binary.BigEndian.PutUint16(b[4:], keyDeliver)
		binary.BigEndian.PutUint16(b[6:], 1)
		b[8] = sub.id
		sub.mu.Lock()
		sub.mu.credit--
		sub.mu.Unlock()
		sub.n.consumed.Add(uint64(ch.Count))
		sub.n.offset.Store(ch.First)
		if !c.sendWait(b, ch.Records, quit, free) {
			return
		}
	}
}

func (c *conn) credit(d *decoder) {
	id, n := d.u8(), d.u16()
	if d.err != nil {
		return
	}
	c.mu.Lock()
	sub := c.mu.subs[id]
	c.mu.Unlock()
	if sub == nil {
		// The only credit response: an unknown subscription.
		f := newFrame(keyCredit|responseBit, 1, 3)
		f.u16(codeSubscriptionIDNotExist)
		f.u8(id)
		c.send(f.done())
		return
	}
	sub.mu.Lock()
	sub.mu.credit += int(n)
	sub.mu.Unlock()
	select {
	case sub.credit <- struct{}{}:
	default:
	}
}

func (c *conn) unsubscribe(d *decoder) {
	corr, id := d.u32(), d.u8()
	if d.err != nil {
		return
	}
	c.mu.Lock()
	sub := c.mu.subs[id]
	delete(c.mu.subs, id)
	c.mu.Unlock()
	if sub == nil {
		c.send(response(keyUnsubscribe, corr, codeSubscriptionIDNotExist).done())
		return
	}
	c.endSubscription(sub)
	c.send(response(keyUnsubscribe, corr, codeOK).done())
}

// endSubscription stops sub and takes it out of its group.
func (c *conn) endSubscription(sub *subscription) {
	sub.mu.Lock()
	sub.mu.closed, sub.mu.active = true, false
	sub.mu.gen++
	sub.mu.Unlock()
	sub.stopDelivery()
	if sub.group != nil {
		c.s.sac.leave(*sub.group, c, sub)
	}
}

func (c *conn) storeOffset(d *decoder) {
	ref, name, off := d.str(), d.str(), d.u64()
	if d.err != nil {
		return
	}
	// rabbitmq: no response; a missing stream or a refusal is only logged.
	s := c.lookupStream(name)
	if s == nil || ref == "" || len(ref) > 256 || !c.permitted(name, broker.Read) {
		c.log.Debug("stream store offset refused", zap.String("stream", name), zap.String("reference", ref))
		return
	}
	s.StoreOffset(ref, off)
}

func (c *conn) queryOffset(d *decoder) {
	corr, ref, name := d.u32(), d.str(), d.str()
	if d.err != nil {
		return
	}
	s, code := c.readable(name) // publish.go
	off := uint64(0)
	if s != nil {
		var ok bool
		if off, ok = s.QueryOffset(ref); !ok {
			code = codeNoOffset
		}
	}
	f := response(keyQueryOffset, corr, code)
	f.u64(off)
	c.send(f.done())
}

// streamStopped tells the client that sub's stream is gone (deleted
// over AMQP 0-9-1 or the HTTP API, say), from sub's delivery goroutine,
// which then returns.
func (c *conn) streamStopped(sub *subscription) {
	c.mu.Lock()
	if c.mu.subs[sub.id] == sub {
		delete(c.mu.subs, sub.id)
	}
	c.mu.Unlock()
	sub.mu.Lock()
	sub.mu.closed = true
	sub.mu.Unlock()
	if sub.group != nil {
		// Not from here: a hand-over holding the groups' lock may be
		// waiting for this goroutine to stop. (The delivery goroutine's
		// own count keeps the wait group above zero for this Add.)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.s.sac.leave(*sub.group, c, sub)
		}()
	}
	f := newFrame(keyMetadataUpdate, 1, 4+len(sub.name))
	f.u16(codeStreamNotAvailable)
	f.str(sub.name)
	c.send(f.done())
}

// streamGone sends a metadata update for a deleted stream this
// connection publishes to or reads, and drops those publishers and
// subscriptions (the client closes its side on the update).
func (c *conn) streamGone(vhost, name string) {
	c.mu.Lock()
	if c.mu.vhost != vhost {
		c.mu.Unlock()
		return
	}
	var gone []*subscription
	for id, sub := range c.mu.subs {
		if sub.name == name {
			gone = append(gone, sub)
			delete(c.mu.subs, id)
		}
	}
	c.mu.Unlock()
	for _, sub := range gone {
		c.endSubscription(sub)
	}
	f := newFrame(keyMetadataUpdate, 1, 4+len(name))
	f.u16(codeStreamNotAvailable)
	f.str(name)
	c.send(f.done())
}
