package conformance

import (
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Helpers of the features_*_test.go files (alternate exchanges, direct
// reply-to, consumer timeouts, delayed messages).

// declareExchangeArgs declares a fresh non-durable exchange of kind with
// arguments, deleted at the end of the test.
func (b *broker) declareExchangeArgs(ch *amqp.Channel, kind string, args amqp.Table) string {
	b.t.Helper()
	name := b.name("x-" + kind)
	b.cleanupExchange(name)
	if err := ch.ExchangeDeclare(name, kind, false, false, false, false, args); err != nil {
		b.t.Fatalf("exchange.declare %q %s %v: %v", name, kind, args, err)
	}
	return name
}

// mandatoryPublisher publishes mandatory messages on a confirm-mode
// channel and tells, once each is confirmed, whether it came back.
type mandatoryPublisher struct {
	t        testing.TB
	ch       *amqp.Channel
	returns  chan amqp.Return
	confirms chan amqp.Confirmation
}

func (b *broker) mandatoryPublisher(conn *amqp.Connection) *mandatoryPublisher {
	b.t.Helper()
	ch := b.confirmChannel(conn)
	return &mandatoryPublisher{
		t:        b.t,
		ch:       ch,
		returns:  ch.NotifyReturn(make(chan amqp.Return, 16)),
		confirms: ch.NotifyPublish(make(chan amqp.Confirmation, 16)),
	}
}

// publish publishes msg with mandatory set, waits for its ack and returns
// the basic.return that came with it, if any.
func (p *mandatoryPublisher) publish(exchange, key string, msg amqp.Publishing) (amqp.Return, bool) {
	p.t.Helper()
	if err := p.ch.Publish(exchange, key, true, false, msg); err != nil {
		p.t.Fatalf("basic.publish to %q key %q: %v", exchange, key, err)
	}
	select {
	case c := <-p.confirms:
		if !c.Ack {
			p.t.Fatalf("publish to %q key %q was nacked", exchange, key)
		}
	case <-time.After(waitTimeout):
		p.t.Fatalf("no confirm for a publish to %q key %q", exchange, key)
	}
	// amqp091-go hands frames over in wire order, and RabbitMQ sends a
	// return before the ack: it is buffered by now if there is one.
	select {
	case r := <-p.returns:
		return r, true
	default:
		return amqp.Return{}, false
	}
}

// expectReturned publishes a mandatory message that must come back with
// 312 NO_ROUTE.
func (p *mandatoryPublisher) expectReturned(exchange, key string, msg amqp.Publishing) amqp.Return {
	p.t.Helper()
	r, ok := p.publish(exchange, key, msg)
	if !ok {
		p.t.Fatalf("mandatory publish to %q key %q was not returned", exchange, key)
	}
	equal(p.t, "reply code", r.ReplyCode, 312)
	equal(p.t, "reply text", r.ReplyText, "NO_ROUTE")
	equal(p.t, "returned exchange", r.Exchange, exchange)
	equal(p.t, "returned routing key", r.RoutingKey, key)
	return r
}

// expectRouted publishes a mandatory message that must not come back.
func (p *mandatoryPublisher) expectRouted(exchange, key string, msg amqp.Publishing) {
	p.t.Helper()
	if r, ok := p.publish(exchange, key, msg); ok {
		p.t.Fatalf("mandatory publish to %q key %q was returned: %d %s", exchange, key, r.ReplyCode, r.ReplyText)
	}
}
