package conformance

import (
	"fmt"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// x-queue-type quorum (durable only; x-delivery-count on redeliveries;
// x-delivery-limit), and Warren's extension of the delivery count and
// limit to classic queues.

// rabbitmq: a quorum queue is durable, not exclusive, not auto-delete.
func TestQuorumQueueProperties(t *testing.T) {
	for _, tc := range []struct {
		name                           string
		durable, autoDelete, exclusive bool
		property                       string
	}{
		{"non-durable", false, false, false, "non-durable"},
		{"exclusive", true, false, true, "exclusive-owner"},
		{"auto-delete", true, true, false, "auto-delete"},
		// rabbitmq checks auto-delete, then exclusive, then durable.
		{"non-durable exclusive", false, false, true, "exclusive-owner"},
		{"non-durable auto-delete", false, true, false, "auto-delete"},
		{"exclusive auto-delete", true, true, true, "auto-delete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			conn, ch := b.open()
			q := b.name("qq")
			b.cleanupQueue(q)
			_, err := ch.QueueDeclare(q, tc.durable, tc.autoDelete, tc.exclusive, false, amqp.Table{"x-queue-type": "quorum"})
			expectError(t, err, amqp.PreconditionFailed,
				fmt.Sprintf("PRECONDITION_FAILED - invalid property '%s' for queue '%s' in vhost '/'", tc.property, q))
			if conn.IsClosed() {
				t.Fatal("406 closed the connection")
			}
			b.declareQueue(b.channel(conn), q, true, false, false, amqp.Table{"x-queue-type": "quorum"})
		})
	}
}

// A quorum queue counts returns: a redelivery carries x-delivery-count
// (a long), and a message returned more often than x-delivery-limit is
// dead-lettered with reason delivery_limit. (Consumed, not got: RabbitMQ
// 3.10's basic.get on a quorum queue sets x-delivery-count 0 on the first
// delivery too.)
func TestQuorumDeliveryLimit(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	dlq := b.queue(ch)
	q := b.declareQueue(ch, b.name("qq"), true, false, false, amqp.Table{
		"x-queue-type": "quorum", "x-delivery-limit": int32(2),
		"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq,
	})
	b.publishConfirmed(pub, "", q, textMsg("m"))
	expectDeliveryCounts(t, b, conn, q, 3)
	d := b.waitGet(ch, dlq)
	equal(t, "dead letter", string(d.Body), "m")
	expectDeaths(t, d, death{count: 1, reason: "delivery_limit", queue: q, exchange: "", keys: []string{q}})
	expectFirstDeath(t, d, "delivery_limit", q, "")
	expectEmpty(t, ch, q)
}

// The count and limit apply to consumers too, and x-delivery-limit 0
// allows no return at all.
func TestQuorumDeliveryLimitZeroConsumer(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	dlq := b.queue(ch)
	q := b.declareQueue(ch, b.name("qq"), true, false, false, amqp.Table{
		"x-queue-type": "quorum", "x-delivery-limit": int32(0),
		"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq,
	})
	_, ds := b.consumerOn(conn, q, 1, nil)
	b.publishConfirmed(pub, "", q, textMsg("m"))
	d := recv(t, ds)
	if _, ok := d.Headers["x-delivery-count"]; ok {
		t.Fatalf("first delivery has x-delivery-count: %v", d.Headers)
	}
	if err := d.Nack(false, true); err != nil {
		t.Fatal(err)
	}
	d = b.waitGet(ch, dlq)
	expectDeaths(t, d, death{count: 1, reason: "delivery_limit", queue: q, exchange: "", keys: []string{q}})
	b.waitCounts(q, 0, 1)
	expectNoneBuffered(t, ds)
}

// expectDeliveryCounts consumes the single message of q n times,
// returning it each time with basic.nack requeue=true: the first delivery
// has no x-delivery-count, the i-th redelivery has i. The consumer is
// cancelled before the last return.
func expectDeliveryCounts(t *testing.T, b *broker, conn *amqp.Connection, q string, n int) {
	t.Helper()
	ch, ds := b.consumerOn(conn, q, 1, nil)
	for i := range n {
		d := recv(t, ds)
		c, ok := d.Headers["x-delivery-count"]
		switch {
		case i == 0 && ok:
			t.Fatalf("first delivery has x-delivery-count %T %v", c, c)
		case i > 0 && (!ok || c != int64(i)):
			t.Fatalf("delivery %d: x-delivery-count %T %v, want long %d", i+1, c, c, i)
		}
		equal(t, fmt.Sprintf("delivery %d redelivered", i+1), d.Redelivered, i > 0)
		if i == n-1 {
			if err := ch.Cancel(d.ConsumerTag, false); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Nack(false, true); err != nil {
			t.Fatal(err)
		}
	}
}

// Without x-delivery-limit, Warren's quorum queues allow 20 returns
// (RabbitMQ 4's default).
func TestQuorumDefaultDeliveryLimit(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	skipOnRabbitMQ(t, conn, "RabbitMQ 3.10 quorum queues have no default delivery limit (4.0 sets 20)")
	pub := b.confirmChannel(conn)
	dlq := b.queue(ch)
	q := b.declareQueue(ch, b.name("qq"), true, false, false, amqp.Table{
		"x-queue-type": "quorum", "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq,
	})
	b.publishConfirmed(pub, "", q, textMsg("m"))
	expectDeliveryCounts(t, b, conn, q, 21)
	d := b.waitGet(ch, dlq)
	expectDeaths(t, d, death{count: 1, reason: "delivery_limit", queue: q, exchange: "", keys: []string{q}})
}

// Warren counts deliveries on classic queues too.
func TestClassicDeliveryCount(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	skipOnRabbitMQ(t, conn, "RabbitMQ 3.10 sets x-delivery-count on quorum queues only")
	pub := b.confirmChannel(conn)
	q := b.queue(ch)
	b.publishConfirmed(pub, "", q, textMsg("m"))
	expectDeliveryCounts(t, b, conn, q, 4)
	b.waitMessages(q, 1)
	c := get(t, ch, q, true).Headers["x-delivery-count"]
	equal(t, "x-delivery-count on basic.get", c, any(int64(4)))
}

// Warren applies x-delivery-limit to classic queues too.
func TestClassicDeliveryLimit(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	skipOnRabbitMQ(t, conn, "RabbitMQ 3.10 applies x-delivery-limit to quorum queues only")
	pub := b.confirmChannel(conn)
	q, dlq := b.deadLettered(ch, amqp.Table{"x-delivery-limit": int32(1)})
	b.publishConfirmed(pub, "", q, textMsg("m"))
	expectDeliveryCounts(t, b, conn, q, 2)
	d := b.waitGet(ch, dlq)
	expectDeaths(t, d, death{count: 1, reason: "delivery_limit", queue: q, exchange: "", keys: []string{q}})
	expectEmpty(t, ch, q)
}

// rabbitmq: arguments quorum queues do not support are refused.
func TestQuorumUnsupportedArgs(t *testing.T) {
	for _, tc := range []struct {
		arg   string
		value any
	}{
		{"x-max-priority", int32(5)},
		{"x-queue-mode", "lazy"},
	} {
		t.Run(tc.arg, func(t *testing.T) {
			b := setup(t)
			_, ch := b.open()
			q := b.name("qq")
			b.cleanupQueue(q)
			_, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": "quorum", tc.arg: tc.value})
			expectError(t, err, amqp.PreconditionFailed, replyText(
				fmt.Sprintf("PRECONDITION_FAILED - invalid arg '%s' for queue '%s' in vhost '/' of queue type rabbit_quorum_queue", tc.arg, q)))
		})
	}
}
