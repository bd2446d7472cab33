package conformance

import (
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// The x-delayed-message exchange of RabbitMQ's delayed-message plugin.
// The plugin does not ship with RabbitMQ's Debian package, so the
// reference broker cannot run these: they are Warren-only.

func skipDelayedOnRabbitMQ(t *testing.T, conn *amqp.Connection) {
	t.Helper()
	if isRabbitMQ(conn) {
		t.Skipf("Warren-only: the rabbitmq_delayed_message_exchange plugin is not installed on the reference RabbitMQ " +
			"(it does not ship with the Debian package)")
	}
}

func (b *broker) delayedExchange(ch *amqp.Channel, typ string) string {
	b.t.Helper()
	return b.declareExchangeArgs(ch, "x-delayed-message", amqp.Table{"x-delayed-type": typ})
}

func delayed(body string, ms any) amqp.Publishing {
	return amqp.Publishing{Body: []byte(body), Headers: amqp.Table{"x-delay": ms}}
}

// A message with x-delay reaches its queues after the delay, with x-delay
// set to minus the delay; the exchange routes as its x-delayed-type.
func TestDelayedMessageDelays(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	skipDelayedOnRabbitMQ(t, conn)
	x := b.delayedExchange(ch, "direct")
	q, other := b.queue(ch), b.queue(ch)
	b.bind(ch, q, "k", x, nil)
	b.bind(ch, other, "other", x, nil)
	deliveries := consume(t, ch, q, "", true)

	start := time.Now()
	b.publishConfirmed(b.confirmChannel(conn), x, "k", delayed("later", int32(300)))
	d := recv(t, deliveries)
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Fatalf("delivered after %v, before the 300 ms delay", waited)
	}
	equal(t, "body", string(d.Body), "later")
	equal(t, "exchange", d.Exchange, x)
	equal(t, "routing key", d.RoutingKey, "k")
	equal(t, "x-delay after the delay", d.Headers["x-delay"], any(int32(-300)))
	b.waitCounts(other, 0, 0)
}

// Without x-delay, or with a delay that is not positive, the message is
// routed at once.
func TestDelayedMessageWithoutDelay(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	skipDelayedOnRabbitMQ(t, conn)
	x := b.delayedExchange(ch, "fanout")
	q := b.queue(ch)
	b.bind(ch, q, "", x, nil)
	pub := b.confirmChannel(conn)
	b.publishConfirmed(pub, x, "", amqp.Publishing{Body: []byte("no header")})
	b.publishConfirmed(pub, x, "", delayed("zero", int32(0)))
	b.publishConfirmed(pub, x, "", delayed("negative", int64(-5000)))
	b.publishConfirmed(pub, x, "", delayed("not a number", "soon"))
	equalStrings(t, "immediate messages", drain(t, ch, q), []string{"no header", "zero", "negative", "not a number"})
}

// Messages come out in due order, whatever the order they went in.
func TestDelayedMessageOrder(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	skipDelayedOnRabbitMQ(t, conn)
	x := b.delayedExchange(ch, "topic")
	q := b.queue(ch)
	b.bind(ch, q, "a.#", x, nil)
	deliveries := consume(t, ch, q, "", true)
	pub := b.confirmChannel(conn)
	b.publishConfirmed(pub, x, "a.b", delayed("third", int32(600)))
	b.publishConfirmed(pub, x, "a.b", delayed("first", "200"))
	b.publishConfirmed(pub, x, "a.b.c", delayed("second", 400.9))
	b.publishConfirmed(pub, x, "b", delayed("unroutable", int32(100)))
	equalStrings(t, "release order", recvBodies(t, deliveries, 3), []string{"first", "second", "third"})
}

// Headers routing applies when the message is released.
func TestDelayedMessageHeadersType(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	skipDelayedOnRabbitMQ(t, conn)
	x := b.delayedExchange(ch, "headers")
	q := b.queue(ch)
	b.bind(ch, q, "", x, amqp.Table{"x-match": "all", "kind": "report"})
	deliveries := consume(t, ch, q, "", true)
	pub := b.confirmChannel(conn)
	b.publishConfirmed(pub, x, "", amqp.Publishing{Body: []byte("other"), Headers: amqp.Table{"x-delay": int32(50), "kind": "other"}})
	b.publishConfirmed(pub, x, "", amqp.Publishing{Body: []byte("report"), Headers: amqp.Table{"x-delay": int32(100), "kind": "report"}})
	d := recv(t, deliveries)
	equal(t, "body", string(d.Body), "report")
	equal(t, "kind header", d.Headers["kind"], any("report"))
}

// A delayed exchange reached through an exchange-to-exchange binding
// delays too; the message keeps the exchange it was published to.
func TestDelayedMessageThroughExchangeBinding(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	skipDelayedOnRabbitMQ(t, conn)
	x := b.delayedExchange(ch, "direct")
	front := b.declareExchange(ch, "fanout")
	if err := ch.ExchangeBind(x, "", front, false, nil); err != nil {
		t.Fatal(err)
	}
	q := b.queue(ch)
	b.bind(ch, q, "k", x, nil)
	deliveries := consume(t, ch, q, "", true)
	start := time.Now()
	b.publishConfirmed(b.confirmChannel(conn), front, "k", delayed("via binding", int32(200)))
	d := recv(t, deliveries)
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("delivered after %v, before the 200 ms delay", waited)
	}
	equal(t, "exchange", d.Exchange, front)
	equal(t, "x-delay", d.Headers["x-delay"], any(int32(-200)))
}

// A held message counts as routed: a mandatory one is not returned. When
// it is released to nowhere, the exchange's alternate exchange takes it.
// (The plugin returns mandatory delayed messages at once, and gives them
// to the alternate exchange at publish time.)
func TestDelayedMessageMandatoryAndAlternate(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	skipDelayedOnRabbitMQ(t, conn)
	ae := b.declareExchange(ch, "fanout")
	qae := b.queue(ch)
	b.bind(ch, qae, "", ae, nil)
	x := b.declareExchangeArgs(ch, "x-delayed-message", amqp.Table{"x-delayed-type": "direct", "alternate-exchange": ae})
	p := b.mandatoryPublisher(conn)
	p.expectRouted(x, "nowhere", delayed("held", int32(150)))
	deliveries := consume(t, ch, qae, "", true)
	d := recv(t, deliveries)
	equal(t, "alternate exchange's message", string(d.Body), "held")
	equal(t, "x-delay", d.Headers["x-delay"], any(int32(-150)))
}

// A message whose exchange is deleted before it is due goes nowhere.
func TestDelayedMessageExchangeDeleted(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	skipDelayedOnRabbitMQ(t, conn)
	doomed, kept := b.delayedExchange(ch, "fanout"), b.delayedExchange(ch, "fanout")
	q := b.queue(ch)
	b.bind(ch, q, "", doomed, nil)
	b.bind(ch, q, "", kept, nil)
	pub := b.confirmChannel(conn)
	b.publishConfirmed(pub, doomed, "", delayed("lost", int32(100)))
	b.publishConfirmed(pub, kept, "", delayed("marker", int32(300)))
	if err := ch.ExchangeDelete(doomed, false, false); err != nil {
		t.Fatal(err)
	}
	deliveries := consume(t, ch, q, "", true)
	equal(t, "first delivery", string(recv(t, deliveries).Body), "marker")
}

// Messages published in a transaction are held from the commit; a
// rollback drops them.
func TestDelayedMessageInTransaction(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	skipDelayedOnRabbitMQ(t, conn)
	x := b.delayedExchange(ch, "fanout")
	q := b.queue(ch)
	b.bind(ch, q, "", x, nil)
	tx := b.channel(conn)
	if err := tx.Tx(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Publish(x, "", false, false, delayed("rolled back", int32(50))); err != nil {
		t.Fatal(err)
	}
	if err := tx.TxRollback(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Publish(x, "", false, false, delayed("committed", int32(100))); err != nil {
		t.Fatal(err)
	}
	if err := tx.TxCommit(); err != nil {
		t.Fatal(err)
	}
	deliveries := consume(t, ch, q, "", true)
	equal(t, "first delivery", string(recv(t, deliveries).Body), "committed")
}

// rabbitmq delayed-message plugin: x-delayed-type must name an exchange
// type.
func TestDelayedMessageExchangeArguments(t *testing.T) {
	for _, c := range []struct {
		name string
		args amqp.Table
		code int
		text string
	}{
		{"missing", nil, amqp.PreconditionFailed, "PRECONDITION_FAILED - Invalid argument, 'x-delayed-type' must be an existing exchange type"},
		{"not a string", amqp.Table{"x-delayed-type": int32(1)}, amqp.PreconditionFailed, "PRECONDITION_FAILED - Invalid argument, 'x-delayed-type' must be an existing exchange type"},
		{"itself", amqp.Table{"x-delayed-type": "x-delayed-message"}, amqp.PreconditionFailed, "PRECONDITION_FAILED - Invalid argument, 'x-delayed-type' must be an existing exchange type"},
		{"unknown", amqp.Table{"x-delayed-type": "foo"}, amqp.CommandInvalid, "COMMAND_INVALID - unknown exchange type 'foo'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := setup(t)
			conn, ch := b.open()
			skipDelayedOnRabbitMQ(t, conn)
			x := b.name("x-delayed")
			b.cleanupExchange(x)
			closes := notifyClose(ch)
			if c.code == amqp.CommandInvalid {
				closes = notifyConnClose(conn)
			}
			err := ch.ExchangeDeclare(x, "x-delayed-message", false, false, false, false, c.args)
			expectError(t, err, c.code, c.text)
			expectClose(t, closes, c.code, c.text)
		})
	}
	t.Run("redeclare", func(t *testing.T) {
		b := setup(t)
		conn, ch := b.open()
		skipDelayedOnRabbitMQ(t, conn)
		x := b.delayedExchange(ch, "direct")
		if err := ch.ExchangeDeclare(x, "x-delayed-message", false, false, false, false, amqp.Table{"x-delayed-type": "direct"}); err != nil {
			t.Fatalf("identical redeclaration: %v", err)
		}
		err := ch.ExchangeDeclare(x, "direct", false, false, false, false, nil)
		expectError(t, err, amqp.PreconditionFailed,
			fmt.Sprintf("PRECONDITION_FAILED - inequivalent arg 'type' for exchange '%s' in vhost '/': received 'direct' but current is 'x-delayed-message'", x))
	})
}
