package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/stream"
)

func (ch *channel) basicQos(m *amqp.BasicQos) error {
	if m.PrefetchSize != 0 {
		// rabbitmq: prefetch_size is not implemented.
		return amqp.Errorf(amqp.NotImplemented, "prefetch_size!=0 (%d)", m.PrefetchSize)
	}
	// rabbitmq: global=false limits each new consumer, global=true the channel.
	if m.Global {
		ch.dmu.Lock()
		ch.dmu.globalPrefetch = int(m.PrefetchCount)
		ch.dmu.Unlock()
	} else {
		ch.consumerPrefetch = int(m.PrefetchCount)
		ch.consumerPrefetchA.Store(int32(m.PrefetchCount))
	}
	ch.send(&amqp.BasicQosOk{})
	ch.wakeQueues()
	return nil
}

// wakeQueues asks the queues of the channel's consumers to deliver again.
func (ch *channel) wakeQueues() {
	ch.dmu.Lock()
	qs := make([]*queue.Queue, 0, len(ch.dmu.consumers))
	for _, cs := range ch.dmu.consumers {
		qs = append(qs, cs.q)
	}
	ch.dmu.Unlock()
	for _, q := range qs {
		q.Dispatch()
	}
}

func genTag() string {
	var b [16]byte
	rand.Read(b[:])
	return "amq.ctag-" + base64.RawURLEncoding.EncodeToString(b[:])
}

func (ch *channel) basicConsume(m *amqp.BasicConsume) error {
	if m.Queue == replyToQueue {
		return ch.consumeReplyTo(m)
	}
	q, err := ch.readableQueue(m.Queue)
	if err != nil {
		return err
	}
	tag := m.ConsumerTag
	if tag == "" {
		tag = genTag()
	}
	ch.dmu.Lock()
	_, dup := ch.dmu.consumers[tag]
	ch.dmu.Unlock()
	if dup {
		return amqp.Errorf(amqp.NotAllowed, "attempt to reuse consumer tag '%s'", tag)
	}
	prio, hasPrio := m.Arguments["x-priority"]
	if _, isInt := amqp.IntValue(prio); hasPrio && !isInt {
		return amqp.Errorf(amqp.PreconditionFailed, "invalid arg 'x-priority' for queue '%s' in vhost '%s': \"expected integer, got %s\"", q.Name, ch.c.vhost.name, amqp.FieldTypeName(prio))
	}
	cs := &consumer{
		Consumer: queue.Consumer{Tag: tag, Exclusive: m.Exclusive, NoAck: m.NoAck, Priority: int(intArg(prio)), Conn: ch.c.id,
			Prefetch: ch.consumerPrefetch},
		ch:       ch,
		q:        q,
		noAck:    m.NoAck,
		prefetch: ch.consumerPrefetch,
	}
	cs.Sink = cs
	var start stream.Start
	var track bool
	if q.Stream != nil {
		cs.streamArgs = m.Arguments // listings show them (broker.StreamPositioner)
		if start, err = ch.checkStreamConsume(q, m); err != nil {
			return err
		}
		track, start = automaticTracking(q, &amqp.BasicConsume{ConsumerTag: tag, Arguments: m.Arguments}, start)
	}
	if err := q.AddConsumer(&cs.Consumer); err != nil {
		switch err {
		case queue.ErrExclusiveConsumer, queue.ErrHasConsumers:
			return amqp.Errorf(amqp.AccessRefused, "queue '%s' in vhost '%s' in exclusive use", q.Name, ch.c.vhost.name)
		default:
			return ch.c.vhost.errNoQueue(q.Name)
		}
	}
	ch.dmu.Lock()
	ch.dmu.consumers[tag] = cs
	cs.stats = ch.queueStatsLocked(q)
	ch.dmu.Unlock()
	ch.c.addConsumer(cs)
	if !m.NoWait {
		ch.send(&amqp.BasicConsumeOk{ConsumerTag: tag})
	}
	// Deliveries may start only once consume-ok is queued ahead of them.
	ch.dmu.Lock()
	cs.active = true
	ch.dmu.Unlock()
	if q.Stream != nil {
		sac, _ := m.Arguments["x-single-active-consumer"].(bool)
		cs.startStream(q, start, track, sac)
		return nil
	}
	q.Dispatch()
	return nil
}

func (ch *channel) basicCancel(m *amqp.BasicCancel) error {
	if ch.cancelReplyTo(m) {
		return nil
	}
	ch.dmu.Lock()
	cs := ch.dmu.consumers[m.ConsumerTag]
	delete(ch.dmu.consumers, m.ConsumerTag)
	ch.dmu.Unlock()
	if cs != nil {
		ch.detachConsumer(cs)
	}
	// rabbitmq: cancelling an unknown tag is not an error.
	if !m.NoWait {
		ch.send(&amqp.BasicCancelOk{ConsumerTag: m.ConsumerTag})
	}
	return nil
}

// detachConsumer removes cs from its queue, deleting an auto-delete queue
// that lost its last consumer.
func (ch *channel) detachConsumer(cs *consumer) {
	cs.stopStream()
	ch.c.removeConsumer(cs)
	if cs.q.RemoveConsumer(&cs.Consumer) {
		ch.c.vhost.deleteQueue(cs.q, false, false)
	}
}

// Cancelled tells the client that the broker cancelled its consumer,
// because the queue was deleted (broker.Cancelled). Called from any
// goroutine.
func (cs *consumer) Cancelled() {
	ch := cs.ch
	ch.dmu.Lock()
	if ch.dmu.consumers[cs.Tag] != cs {
		ch.dmu.Unlock()
		return
	}
	delete(ch.dmu.consumers, cs.Tag)
	closed := ch.dmu.closed
	ch.dmu.Unlock()
	ch.c.removeConsumer(cs)
	if !closed && ch.c.capCancelNotify {
		ch.send(&amqp.BasicCancel{ConsumerTag: cs.Tag, NoWait: true})
	}
}

func (ch *channel) basicPublish(m *amqp.BasicPublish) error {
	if m.Immediate {
		// rabbitmq: immediate is not implemented since 3.0.
		return amqp.Errorf(amqp.NotImplemented, "immediate=true")
	}
	ch.pub = m
	ch.pubState = pubHeader
	ch.c.published = true // blocked by a resource alarm from now on (alarm.go)
	return nil
}

func (ch *channel) contentHeader(payload []byte) error {
	classID, size, props, err := amqp.SplitContentHeader(payload)
	if err != nil {
		return err
	}
	if classID != amqp.ClassBasic {
		return amqp.Errorf(amqp.FrameError, "content header for class %d, expected %d", classID, amqp.ClassBasic)
	}
	if max := ch.c.srv.cfg.MaxMessageSize; size > uint64(max) {
		ch.pubState = pubIdle
		return amqp.Errorf(amqp.PreconditionFailed, "message size %d is larger than configured max size %d", size, max).On(amqp.BasicPublishID)
	}
	ch.pubSize = size
	if pb, body := ch.c.srv.cfg.Bodies.Get(int(size)); pb != nil {
		// A large body goes into a pooled buffer, not zeroed
		// (queue/body.go); the properties get their own.
		ch.pubProps = append([]byte(nil), props...)
		ch.pubBody, ch.pubPooled = body[:0], pb
	} else {
		// One allocation holds the properties and the body to come.
		buf := make([]byte, len(props), len(props)+int(size))
		copy(buf, props)
		ch.pubProps = buf[:len(props):len(props)]
		ch.pubBody = buf[len(props):len(props)]
	}
	if size == 0 {
		return ch.publishComplete()
	}
	ch.pubState = pubBody
	return nil
}

func (ch *channel) contentBody(payload []byte) error {
	if uint64(len(ch.pubBody)+len(payload)) > ch.pubSize {
		return amqp.Errorf(amqp.FrameError, "content body of %d bytes exceeds the %d declared in the header", len(ch.pubBody)+len(payload), ch.pubSize)
	}
	if n := len(ch.pubBody); len(payload) > 0 && cap(ch.pubBody) > n && &ch.pubBody[:n+1][n] == &payload[0] {
		ch.pubBody = ch.pubBody[:n+len(payload)] // read in place (conn.bodyDst)
	} else {
		ch.pubBody = append(ch.pubBody, payload...)
	}
	if uint64(len(ch.pubBody)) < ch.pubSize {
		return nil
	}
	return ch.publishComplete()
}

func (ch *channel) publishComplete() error {
	pub := ch.pub
	ch.pub, ch.pubState = nil, pubIdle
	body, props, pooled := ch.pubBody, ch.pubProps, ch.pubPooled
	ch.pubBody, ch.pubProps, ch.pubPooled = nil, nil, nil
	err := ch.publish(pub, props, body, pooled)
	if pooled != nil {
		pooled.Release() // the publisher's reference (queue/body.go)
	}
	if err != nil {
		if ae, ok := err.(*amqp.Error); ok && ae.ClassID == 0 {
			return ae.On(amqp.BasicPublishID)
		}
		return err
	}
	return nil
}

// publish routes and enqueues one message. pooled, if set, is the pooled
// buffer body lies in; the caller holds the publisher's reference on it
// until publish returns.
func (ch *channel) publish(pub *amqp.BasicPublish, props, body []byte, pooled *queue.BodyBuf) error {
	v := ch.c.vhost
	if err := ch.permitted(broker.ResourceExchange, pub.Exchange, broker.Write); err != nil {
		return err
	}
	x := v.exchange(pub.Exchange)
	if x == nil {
		return v.errNoExchange(pub.Exchange)
	}
	if x.Kind == exchange.Topic {
		if err := ch.topicPermitted(x.Name, pub.RoutingKey, broker.Write); err != nil {
			return err
		}
	}
	if x.Internal {
		return amqp.Errorf(amqp.AccessRefused, "cannot publish to internal exchange '%s' in vhost '%s'", x.Name, v.name)
	}
	sum, err := amqp.ScanProperties(props)
	if err != nil {
		return err
	}
	var cc []string
	var ccErr error
	if sum.Headers != nil {
		props, sum, cc, ccErr = senderRoutes(props, sum)
	}
	if props, err = ch.directReplyTo(props); err != nil {
		return err
	}
	if sum.UserID != nil && string(sum.UserID) != ch.c.user && !ch.c.impersonator {
		// rabbitmq: a user_id property must name the authenticated user,
		// unless that user has the impersonator tag.
		return amqp.Errorf(amqp.PreconditionFailed, "user_id property set to '%s' but authenticated user was '%s'", sum.UserID, ch.c.user)
	}
	msg := &queue.Message{
		Exchange:   pub.Exchange,
		RoutingKey: pub.RoutingKey,
		Props:      props,
		Body:       body,
		Persistent: sum.DeliveryMode == 2,
		Priority:   sum.Priority,
	}
	msg.SetPooledBody(pooled)
	if sum.Expiration != nil {
		ttl, reason := parseExpiration(string(sum.Expiration))
		if reason != "" {
			return amqp.Errorf(amqp.PreconditionFailed, "invalid expiration '%s': %s", sum.Expiration, reason)
		}
		msg.TTL, msg.HasTTL = ttl, true
	}
	if ccErr != nil {
		// rabbitmq: the user_id and expiration checks come first.
		return ccErr
	}
	headers := func() map[string]any {
		if sum.Headers == nil {
			return nil
		}
		t, _ := amqp.DecodeTable(sum.Headers)
		return t
	}
	var ext broker.Extra
	qs := v.routeExt(x, pub.RoutingKey, cc, headers, ch.routeBuf[:0], &ext)
	if ch.tx {
		msg.Pin() // held past the publish, uncounted (queue/body.go)
		ch.txPubs = append(ch.txPubs, txPublish{msg: msg, mandatory: pub.Mandatory, queues: append([]*queue.Queue(nil), qs...), ext: ext})
		return nil
	}
	ch.deliverPublished(msg, pub.Mandatory, qs, &ext)
	clear(qs)
	ch.routeBuf = qs[:0]
	return nil
}

// senderRoutes reads the CC and BCC headers of a publish with headers
// (amqp.ScanSenderRoutes) and removes BCC from its properties, in place,
// returning the properties and their summary anew.
//
// rabbitmq sender-selected distribution: BCC is removed before the
// message is routed (a headers exchange does not see it), stored,
// delivered or returned; CC stays.
func senderRoutes(props []byte, sum amqp.PropertySummary) ([]byte, amqp.PropertySummary, []string, error) {
	r, err := amqp.ScanSenderRoutes(sum.Headers)
	if err != nil || r.BCCEnd == 0 {
		return props, sum, r.Keys, err
	}
	props = amqp.DeleteTableField(props, sum.HeadersAt, r.BCCStart, r.BCCEnd)
	// The summary's slices alias the bytes that moved.
	sum, err = amqp.ScanProperties(props)
	return props, sum, r.Keys, err
}

// errRejected fails the confirm of a publish a full queue refused.
var errRejected = errors.New("rejected by a full queue")

// deliverPublished hands a routed message to the core (broker.Vhost.Publish),
// returns it if it was mandatory and unroutable, and counts it for
// confirms: a persistent message's confirm waits for its store writes.
func (ch *channel) deliverPublished(msg *queue.Message, mandatory bool, qs []*queue.Queue, ext *broker.Extra) {
	p := broker.Publish{Msg: msg, Queues: qs, Extra: *ext, Publisher: ch.c.id, Flusher: ch.c}
	xs := ch.exchangeStats(msg.Exchange)
	if ch.confirm {
		p.Confirm, p.Seq = ch.conf, ch.conf.begin(xs)
	}
	routed, rejected, err := ch.c.vhost.core.Publish(&p)
	ch.c.countPublish(xs, routed || err != nil, mandatory)
	if err != nil {
		// Refused before it reached any queue: a nack means not accepted,
		// so a publisher that retries duplicates nothing. Without confirms
		// the message is dropped, as a full queue's reject-publish drops it.
		if ch.confirm {
			ch.conf.Done(p.Seq, err, false)
			ch.confirmDirty = true
		}
		return
	}
	if !routed && mandatory {
		// spec 0-9-1 basic.return: before the confirm, as RabbitMQ orders them.
		ch.c.out.write(func(b []byte) []byte {
			m := amqp.BasicReturn{ReplyCode: amqp.NoRoute, ReplyText: "NO_ROUTE", Exchange: msg.Exchange, RoutingKey: msg.RoutingKey}
			b = appendMethodFrame(b, ch.id, amqp.BasicReturnID, &m)
			return appendContent(b, ch.id, ch.c.frameMax, msg)
		})
	}
	if ch.confirm {
		var err error
		if rejected {
			err = errRejected // rabbitmq: reject-publish nacks
		}
		ch.conf.Done(p.Seq, err, false)
		ch.confirmDirty = true
	}
}

func (ch *channel) basicGet(m *amqp.BasicGet) error {
	q, err := ch.readableQueue(m.Queue)
	if err != nil {
		return err
	}
	if q.Stream != nil {
		// rabbitmq: a stream is read by consumers only.
		return amqp.Errorf(amqp.NotImplemented, "basic.get not supported by stream queues queue '%s' in vhost '%s'", q.Name, ch.c.vhost.name)
	}
	e, kept, remaining, ok := q.Get(m.NoAck)
	if !ok {
		ch.dmu.Lock()
		ch.queueStatsLocked(q).getEmpty++
		ch.dmu.Unlock()
		ch.send(&amqp.BasicGetEmpty{})
		return nil
	}
	// Tags are assigned and frames queued under dmu, as deliveries are, so
	// that tags reach the client in order.
	ch.dmu.Lock()
	ch.dmu.nextTag++
	tag := ch.dmu.nextTag
	countDeliveryLocked(ch.queueStatsLocked(q), e.Redelivered, m.NoAck, true)
	if !m.NoAck {
		ch.pushUnackedLocked(pending{tag: tag, q: q, e: kept})
	}
	ch.c.out.write(func(b []byte) []byte {
		gm := amqp.BasicGetOk{DeliveryTag: tag, Redelivered: e.Redelivered, Exchange: e.Msg.Exchange, RoutingKey: e.Msg.RoutingKey, MessageCount: uint32(remaining)}
		b = appendMethodFrame(b, ch.id, amqp.BasicGetOkID, &gm)
		return appendContentProps(b, ch.id, ch.c.frameMax, e.Msg, deliveryProps(e))
	})
	ch.dmu.Unlock()
	e.Msg.Release() // copied out: the reference Get gave us

	return nil
}

// settle removes deliveries from the unacknowledged list, releasing
// prefetch credit, and counts them as acknowledged if ack is set.
// The pending deliveries are appended to dst[:0].
func (ch *channel) settle(tag uint64, multiple, ack bool, dst []pending) ([]pending, error) {
	ch.dmu.Lock()
	ps, ok := ch.dmu.unacked.take(tag, multiple, dst)
	if !ok {
		ch.dmu.Unlock()
		return nil, amqp.Errorf(amqp.PreconditionFailed, "unknown delivery tag %d", tag)
	}
	for _, p := range ps {
		if p.cs != nil {
			p.cs.inflight--
			ch.dmu.inflight--
		}
	}
	if ack {
		for _, p := range ps {
			if p.cs != nil && p.cs.track != nil {
				p.cs.track.ack(p.e.Seq) // a stream delivery's Seq is its offset
			}
			if p.cs != nil {
				p.cs.stats.acked++
			} else {
				ch.queueStatsLocked(p.q).acked++
			}
		}
	}
	ch.dmu.Unlock()
	return ps, nil
}

func (ch *channel) basicAck(tag uint64, multiple bool) error {
	if ch.tx {
		return ch.txSettle(tag, multiple, true, false)
	}
	// The reader's scratch slices: acking a message allocates nothing.
	ps, err := ch.settle(tag, multiple, true, ch.ackPending[:0])
	if err != nil {
		return err
	}
	forEachQueue(ps, &ch.ackEntries, func(q *queue.Queue, es []queue.Entry) {
		q.Ack(es) // keeps nothing of es
		for _, e := range es {
			e.Msg.Release() // the entry's reference (queue/body.go)
		}
		q.Dispatch()
	})
	clear(ps)
	ch.ackPending = ps[:0]
	return nil
}

func (ch *channel) basicNack(tag uint64, multiple, requeue bool) error {
	if ch.tx {
		return ch.txSettle(tag, multiple, false, requeue)
	}
	ps, err := ch.settle(tag, multiple, false, nil)
	if err != nil {
		return err
	}
	forEachQueue(ps, nil, func(q *queue.Queue, es []queue.Entry) {
		if requeue {
			q.Requeue(es)
		} else {
			q.Reject(es) // to the dead-letter exchange, if any
			q.Dispatch()
		}
	})
	return nil
}

func (ch *channel) basicRecover(requeue bool) error {
	if !requeue {
		// rabbitmq: recover with requeue=false is not supported.
		return amqp.Errorf(amqp.NotImplemented, "requeue=false")
	}
	ch.dmu.Lock()
	ps := ch.dmu.unacked.takeAll()
	for _, p := range ps {
		if p.cs != nil {
			p.cs.inflight--
		}
	}
	ch.dmu.inflight = 0
	ch.dmu.Unlock()
	ch.send(&amqp.BasicRecoverOk{})
	requeueByQueue(ps)
	return nil
}

// intArg reads an integer argument of any AMQP integer type (0 if none).
func intArg(v any) int64 {
	n, _ := amqp.IntValue(v)
	return n
}

// parseExpiration reads the expiration property as RabbitMQ does (Erlang's
// string:to_integer): a decimal TTL in milliseconds, or the reason it is
// refused.
func parseExpiration(s string) (ttl int64, reason string) {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == i {
		return 0, "no_integer"
	}
	n, err := strconv.ParseInt(s[:j], 10, 64)
	switch {
	case err != nil:
		return 0, "no_integer"
	case j < len(s):
		return 0, fmt.Sprintf("{leftover_string,%q}", s[j:])
	case n < 0:
		return 0, fmt.Sprintf("{value_negative,%d}", n)
	}
	return n, ""
}
