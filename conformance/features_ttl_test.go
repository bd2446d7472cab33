package conformance

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Message TTL: the queue's x-message-ttl and the message's expiration
// property (rabbitmq: the smaller wins). TTLs are tens of milliseconds; the
// tests wait for the queue to empty, never for a fixed time.

// A queue's x-message-ttl removes a message no consumer takes, and
// basic.get never returns it.
func TestTTLQueueExpires(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-message-ttl": int32(20)})
	b.publishConfirmed(pub, "", q, textMsg("a"))
	b.publishConfirmed(pub, "", q, textMsg("b"))
	b.waitMessages(q, 0)
	expectEmpty(t, ch, q)
}

// A message's expiration property removes it; a message without one, in
// a queue without x-message-ttl, stays.
func TestTTLPerMessageExpires(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.queue(ch)
	b.publishConfirmed(pub, "", q, expiringMsg("short", "20"))
	b.publishConfirmed(pub, "", q, textMsg("forever"))
	b.waitMessages(q, 1)
	d := get(t, ch, q, true)
	equal(t, "the message left", string(d.Body), "forever")
	expectEmpty(t, ch, q)
}

// rabbitmq: of x-message-ttl and expiration, the smaller applies.
func TestTTLSmallerWins(t *testing.T) {
	t.Run("expiration shorter", func(t *testing.T) {
		b := setup(t)
		conn, ch := b.open()
		pub := b.confirmChannel(conn)
		q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-message-ttl": int32(60000)})
		b.publishConfirmed(pub, "", q, expiringMsg("short", "20"))
		b.publishConfirmed(pub, "", q, textMsg("queue ttl"))
		b.waitMessages(q, 1)
		equal(t, "the message left", string(get(t, ch, q, true).Body), "queue ttl")
	})
	t.Run("x-message-ttl shorter", func(t *testing.T) {
		b := setup(t)
		conn, ch := b.open()
		pub := b.confirmChannel(conn)
		q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-message-ttl": int32(20)})
		b.publishConfirmed(pub, "", q, expiringMsg("long", "60000"))
		b.waitMessages(q, 0)
		expectEmpty(t, ch, q)
	})
}

// rabbitmq: a TTL of 0 (x-message-ttl or expiration) expires a message
// that no consumer can take at once, and dead-letters it as expired; a
// consumer waiting with credit still receives it.
func TestTTLZero(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       amqp.Table
		expiration string
	}{
		{"x-message-ttl 0", amqp.Table{"x-message-ttl": int32(0)}, ""},
		{"expiration 0", nil, "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			conn, ch := b.open()
			pub := b.confirmChannel(conn)
			q, dlq := b.deadLettered(ch, tc.args)

			b.publishConfirmed(pub, "", q, expiringMsg("nobody waits", tc.expiration))
			d := b.waitGet(ch, dlq)
			equal(t, "dead letter", string(d.Body), "nobody waits")
			expectDeaths(t, d, death{count: 1, reason: "expired", queue: q, exchange: "", keys: []string{q}, origExpiration: tc.expiration})
			expectEmpty(t, ch, q)

			ds := consume(t, b.channel(conn), q, "", true)
			b.publishConfirmed(pub, "", q, expiringMsg("taken", tc.expiration))
			equal(t, "delivery", string(recv(t, ds).Body), "taken")
			equal(t, "dead letters", func() int { m, _ := b.counts(dlq); return m }(), 0)
		})
	}
}

// Messages that expire while the only consumer has no prefetch credit are
// never delivered to it, neither when it gets credit back.
func TestTTLExpiredNeverDelivered(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       amqp.Table
		expiration string
	}{
		{"x-message-ttl", amqp.Table{"x-message-ttl": int32(30)}, ""},
		{"expiration", nil, "30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			conn, ch := b.open()
			pub := b.confirmChannel(conn)
			q := b.declareQueue(ch, b.name("q"), false, false, false, tc.args)
			cch := b.channel(conn)
			if err := cch.Qos(1, 0, false); err != nil {
				t.Fatal(err)
			}
			ds := consume(t, cch, q, "", false)
			b.publishConfirmed(pub, "", q, textMsg("held"))
			held := recv(t, ds)
			equal(t, "first delivery", string(held.Body), "held")

			b.publishConfirmed(pub, "", q, expiringMsg("expires 1", tc.expiration))
			b.publishConfirmed(pub, "", q, expiringMsg("expires 2", tc.expiration))
			b.waitCounts(q, 0, 1)
			if err := held.Ack(false); err != nil {
				t.Fatal(err)
			}
			// On the acking channel, so that the ack is handled first.
			b.publish(cch, "", q, "after")
			equal(t, "next delivery", string(recv(t, ds).Body), "after")
			expectNoneBuffered(t, ds)
		})
	}
}

// An expired message is dead-lettered with reason expired. A per-message
// expiration becomes x-death's original-expiration and leaves the
// properties; other headers stay.
func TestTTLExpiryDeadLetters(t *testing.T) {
	t.Run("expiration", func(t *testing.T) {
		b := setup(t)
		conn, ch := b.open()
		pub := b.confirmChannel(conn)
		q, dlq := b.deadLettered(ch, nil)
		b.publishConfirmed(pub, "", q, amqp.Publishing{Body: []byte("m"), Expiration: "20", Headers: amqp.Table{"h": "v"}, MessageId: "id-1"})
		d := b.waitGet(ch, dlq)
		equal(t, "body", string(d.Body), "m")
		equal(t, "expiration property", d.Expiration, "")
		equal(t, "message-id", d.MessageId, "id-1")
		equal(t, "header h", headerString(d, "h"), "v")
		equal(t, "exchange", d.Exchange, "")
		equal(t, "routing key", d.RoutingKey, dlq)
		expectDeaths(t, d, death{count: 1, reason: "expired", queue: q, exchange: "", keys: []string{q}, origExpiration: "20"})
		expectFirstDeath(t, d, "expired", q, "")
	})
	t.Run("x-message-ttl", func(t *testing.T) {
		b := setup(t)
		conn, ch := b.open()
		pub := b.confirmChannel(conn)
		q, dlq := b.deadLettered(ch, amqp.Table{"x-message-ttl": int32(20)})
		b.publishConfirmed(pub, "", q, textMsg("m"))
		d := b.waitGet(ch, dlq)
		equal(t, "body", string(d.Body), "m")
		expectDeaths(t, d, death{count: 1, reason: "expired", queue: q, exchange: "", keys: []string{q}})
		expectFirstDeath(t, d, "expired", q, "")
	})
}

// Warren removes an expired message wherever it sits in the queue, not
// only at the head, and dead-letters it at once.
func TestTTLExpiresBehindTheHead(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	skipOnRabbitMQ(t, conn, "RabbitMQ 3.10 expires messages only when they reach the head of the queue")
	pub := b.confirmChannel(conn)
	q, dlq := b.deadLettered(ch, nil)
	b.publishConfirmed(pub, "", q, textMsg("head"))
	b.publishConfirmed(pub, "", q, expiringMsg("middle", "20"))
	b.publishConfirmed(pub, "", q, textMsg("tail"))
	d := b.waitGet(ch, dlq)
	equal(t, "dead letter", string(d.Body), "middle")
	expectDeaths(t, d, death{count: 1, reason: "expired", queue: q, exchange: "", keys: []string{q}, origExpiration: "20"})
	equalStrings(t, "queue", drain(t, ch, q), []string{"head", "tail"})
}

// A message whose TTL ran out while it was delivered is not expired then
// (TTL applies to ready messages); requeued, it expires at once and is
// dead-lettered as expired, not redelivered.
func TestTTLRequeuedAfterExpiry(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q, dlq := b.deadLettered(ch, nil)
	b.publishConfirmed(pub, "", q, expiringMsg("m", "200"))
	d := get(t, ch, q, false)
	// A clock: once this one, published later with the same TTL, has
	// expired, so has m's TTL.
	b.publishConfirmed(pub, "", q, expiringMsg("clock", "200"))
	equal(t, "clock", string(b.waitGet(ch, dlq).Body), "clock")
	if err := d.Nack(false, true); err != nil {
		t.Fatal(err)
	}
	dl := b.waitGet(ch, dlq)
	equal(t, "dead letter", string(dl.Body), "m")
	expectDeaths(t, dl, death{count: 1, reason: "expired", queue: q, exchange: "", keys: []string{q}, origExpiration: "200"})
	expectEmpty(t, ch, q)
}
