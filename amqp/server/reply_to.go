package server

import (
	"encoding/binary"
	"strings"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/queue"
)

// Direct reply-to (rabbitmq: amq.rabbitmq.reply-to). A requester consumes
// the pseudo-queue amq.rabbitmq.reply-to in no-ack mode and publishes its
// requests with that reply_to; the broker rewrites it to
// amq.rabbitmq.reply-to.<token>, a name only this consumer answers to. A
// reply published to the default exchange with that routing key goes
// straight to the consumer, with no queue in between; if the consumer is
// gone the reply is unroutable.
//
// The core keeps the registry of names (broker.AddReplyConsumer), whose
// lock is a leaf: a publisher looks the consumer up, releases it, then
// delivers under the consumer's channel.dmu (replyConsumer.DeliverReply).

const (
	replyToQueue  = broker.ReplyToQueue
	replyToPrefix = replyToQueue + "."
)

// replyConsumer is a channel's direct reply-to consumer, the core's
// broker.ReplyConsumer.
type replyConsumer struct {
	ch   *channel
	tag  string
	name string // amq.rabbitmq.reply-to.<token>
	// cancelled is guarded by ch.dmu: no reply is delivered once it is set.
	cancelled bool
}

// consumeReplyTo is basic.consume of amq.rabbitmq.reply-to.
//
// rabbitmq: the consumer must be no-ack ("reply consumer cannot
// acknowledge") and one per channel ("reply consumer already set"), both
// 406; a tag in use by a queue consumer of the channel is 530.
func (ch *channel) consumeReplyTo(m *amqp.BasicConsume) error {
	ch.dmu.Lock()
	_, dup := ch.dmu.consumers[m.ConsumerTag]
	ch.dmu.Unlock()
	switch {
	case dup:
		return amqp.Errorf(amqp.NotAllowed, "attempt to reuse consumer tag '%s'", m.ConsumerTag)
	case !m.NoAck:
		return amqp.Errorf(amqp.PreconditionFailed, "reply consumer cannot acknowledge")
	case ch.reply != nil:
		return amqp.Errorf(amqp.PreconditionFailed, "reply consumer already set")
	}
	tag := m.ConsumerTag
	if tag == "" {
		tag = genTag()
	}
	ch.reply = &replyConsumer{ch: ch, tag: tag, name: broker.NewReplyName()}
	ch.c.srv.core.AddReplyConsumer(ch.reply.name, ch.reply)
	if !m.NoWait {
		ch.send(&amqp.BasicConsumeOk{ConsumerTag: tag})
	}
	return nil
}

// cancelReplyTo is basic.cancel of the reply consumer; it reports whether
// tag was the reply consumer's.
func (ch *channel) cancelReplyTo(m *amqp.BasicCancel) bool {
	if ch.reply == nil || ch.reply.tag != m.ConsumerTag {
		return false
	}
	ch.dropReplyTo()
	if !m.NoWait {
		ch.send(&amqp.BasicCancelOk{ConsumerTag: m.ConsumerTag})
	}
	return true
}

// dropReplyTo forgets the reply consumer: its name routes nothing more.
func (ch *channel) dropReplyTo() {
	rc := ch.reply
	if rc == nil {
		return
	}
	ch.reply = nil
	ch.c.srv.core.RemoveReplyConsumer(rc.name, rc)
	ch.dmu.Lock()
	rc.cancelled = true
	ch.dmu.Unlock()
}

// directReplyTo rewrites the reply_to property amq.rabbitmq.reply-to of a
// message published on this channel to the name of its reply consumer.
// Other properties come back unchanged.
//
// rabbitmq: publishing with that reply_to on a channel without a reply
// consumer is 406 "fast reply consumer does not exist".
func (ch *channel) directReplyTo(props []byte) ([]byte, error) {
	if len(props) < 2 || binary.BigEndian.Uint16(props)&amqp.FlagReplyTo == 0 {
		return props, nil
	}
	p, err := amqp.DecodeProperties(props)
	if err != nil || p.ReplyTo != replyToQueue {
		return props, nil // ScanProperties reports malformed properties
	}
	if ch.reply == nil {
		return nil, amqp.Errorf(amqp.PreconditionFailed, "fast reply consumer does not exist")
	}
	p.ReplyTo = ch.reply.name
	out, err := amqp.AppendProperties(make([]byte, 0, len(props)+len(p.ReplyTo)), &p)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeliverReply delivers a reply to the consumer (broker.ReplyConsumer)
// and reports whether it took it. Called from any goroutine.
func (rc *replyConsumer) DeliverReply(msg *queue.Message) bool {
	ch := rc.ch
	ch.dmu.Lock()
	defer ch.dmu.Unlock()
	if rc.cancelled || ch.dmu.closed {
		return false
	}
	ch.dmu.nextTag++
	tag := ch.dmu.nextTag
	return ch.c.out.write(func(b []byte) []byte {
		return appendDelivery(b, ch.id, ch.c.frameMax, rc.tag, tag, queue.Entry{Msg: msg})
	})
}

// Active reports whether the consumer still takes replies
// (broker.ReplyConsumer).
func (rc *replyConsumer) Active() bool {
	rc.ch.dmu.Lock()
	defer rc.ch.dmu.Unlock()
	return !rc.cancelled && !rc.ch.dmu.closed
}

// declareReplyTo is queue.declare of a name starting with
// amq.rabbitmq.reply-to, passive or not.
//
// rabbitmq: amq.rabbitmq.reply-to itself always exists, and
// amq.rabbitmq.reply-to.<token> while its consumer does; both answer with
// 0 messages and 1 consumer. Anything else is 404.
func (ch *channel) declareReplyTo(m *amqp.QueueDeclare) error {
	name := strings.NewReplacer("\r", "", "\n", "").Replace(m.Queue)
	exists := name == replyToQueue
	if !exists && broker.IsReplyKey(name) {
		if rc := ch.c.srv.core.ReplyConsumer(name); rc != nil {
			exists = rc.Active()
		}
	}
	if !exists {
		return ch.c.vhost.errNoQueue(name)
	}
	ch.lastQueue = name
	if !m.NoWait {
		ch.send(&amqp.QueueDeclareOk{Queue: name, MessageCount: 0, ConsumerCount: 1})
	}
	return nil
}
