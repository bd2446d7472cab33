package conformance

import (
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Dead-lettering: x-dead-letter-exchange and x-dead-letter-routing-key,
// the x-death header (RabbitMQ 3.10's format), x-first-death-* and
// RabbitMQ's cycle rule. Expiry is in features_ttl_test.go, maxlen in
// features_limits_test.go, delivery_limit in features_quorum_test.go.

// A message rejected (basic.reject or basic.nack, requeue=false) goes to
// the dead-letter exchange with reason rejected.
func TestDLXRejected(t *testing.T) {
	for _, tc := range []struct {
		name   string
		settle func(d amqp.Delivery) error
	}{
		{"basic.reject", func(d amqp.Delivery) error { return d.Reject(false) }},
		{"basic.nack", func(d amqp.Delivery) error { return d.Nack(false, false) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			conn, ch := b.open()
			pub := b.confirmChannel(conn)
			q, dlq := b.deadLettered(ch, nil)
			b.publishConfirmed(pub, "", q, amqp.Publishing{Body: []byte("m"), Headers: amqp.Table{"h": "v"}})
			if err := tc.settle(get(t, ch, q, false)); err != nil {
				t.Fatal(err)
			}
			d := b.waitGet(ch, dlq)
			equal(t, "body", string(d.Body), "m")
			equal(t, "exchange", d.Exchange, "")
			equal(t, "routing key", d.RoutingKey, dlq)
			equal(t, "redelivered", d.Redelivered, false)
			equal(t, "header h", headerString(d, "h"), "v")
			expectDeaths(t, d, death{count: 1, reason: "rejected", queue: q, exchange: "", keys: []string{q}})
			expectFirstDeath(t, d, "rejected", q, "")
			expectEmpty(t, ch, q)
		})
	}
}

// Rejected with requeue=true is not dead-lettered.
func TestDLXRequeueIsNotDeadLettered(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q, dlq := b.deadLettered(ch, nil)
	b.publishConfirmed(pub, "", q, textMsg("m"))
	if err := get(t, ch, q, false).Reject(true); err != nil {
		t.Fatal(err)
	}
	d := b.waitGet(ch, q)
	equal(t, "requeued", string(d.Body), "m")
	equal(t, "redelivered", d.Redelivered, true)
	if _, ok := d.Headers["x-death"]; ok {
		t.Fatalf("a requeued message has x-death: %v", d.Headers)
	}
	equal(t, "dead letters", func() int { m, _ := b.counts(dlq); return m }(), 0)
}

// Without x-dead-letter-routing-key the dead letter keeps its routing
// key; x-death names the exchange it was published to.
func TestDLXNamedExchangeKeepsRoutingKey(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	px := b.declareExchange(ch, "direct")
	dlx := b.declareExchange(ch, "direct")
	dlq := b.queue(ch)
	b.bind(ch, dlq, "rk", dlx, nil)
	q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-dead-letter-exchange": dlx})
	b.bind(ch, q, "rk", px, nil)
	b.publishConfirmed(pub, px, "rk", textMsg("m"))
	if err := get(t, ch, q, false).Nack(false, false); err != nil {
		t.Fatal(err)
	}
	d := b.waitGet(ch, dlq)
	equal(t, "exchange", d.Exchange, dlx)
	equal(t, "routing key", d.RoutingKey, "rk")
	expectDeaths(t, d, death{count: 1, reason: "rejected", queue: q, exchange: px, keys: []string{"rk"}})
	expectFirstDeath(t, d, "rejected", q, px)
}

// rabbitmq: the expiration property is removed from every dead letter,
// whatever the reason, and kept as original-expiration.
func TestDLXRejectedExpirationMovesToXDeath(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q, dlq := b.deadLettered(ch, nil)
	b.publishConfirmed(pub, "", q, expiringMsg("m", "60000"))
	if err := get(t, ch, q, false).Reject(false); err != nil {
		t.Fatal(err)
	}
	d := b.waitGet(ch, dlq)
	equal(t, "expiration property", d.Expiration, "")
	expectDeaths(t, d, death{count: 1, reason: "rejected", queue: q, exchange: "", keys: []string{q}, origExpiration: "60000"})
}

// A message dead-lettered back and forth between two queues: a death in a
// queue for a reason it already died for there increments that entry's
// count and moves it to the front; x-first-death-* never change.
func TestDLXDeathCountIncrements(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q1, q2 := b.name("q1"), b.name("q2")
	b.declareQueue(ch, q1, false, false, false, amqp.Table{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": q2})
	b.declareQueue(ch, q2, false, false, false, amqp.Table{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": q1})
	b.publishConfirmed(pub, "", q1, textMsg("m"))

	reject := func(q string) amqp.Delivery {
		t.Helper()
		d := b.waitGetAck(ch, q)
		if err := d.Reject(false); err != nil {
			t.Fatal(err)
		}
		return d
	}
	reject(q1)
	d := reject(q2)
	expectDeaths(t, d,
		death{count: 1, reason: "rejected", queue: q1, exchange: "", keys: []string{q1}})
	d = reject(q1)
	expectDeaths(t, d,
		death{count: 1, reason: "rejected", queue: q2, exchange: "", keys: []string{q2}},
		death{count: 1, reason: "rejected", queue: q1, exchange: "", keys: []string{q1}})
	d = reject(q2)
	expectDeaths(t, d,
		death{count: 2, reason: "rejected", queue: q1, exchange: "", keys: []string{q1}},
		death{count: 1, reason: "rejected", queue: q2, exchange: "", keys: []string{q2}})
	d = b.waitGet(ch, q1)
	expectDeaths(t, d,
		death{count: 2, reason: "rejected", queue: q2, exchange: "", keys: []string{q2}},
		death{count: 2, reason: "rejected", queue: q1, exchange: "", keys: []string{q1}})
	expectFirstDeath(t, d, "rejected", q1, "")
}

// A death for another reason in the same queue is an entry of its own.
func TestDLXDeathPerQueueAndReason(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q, dlq := b.deadLettered(ch, nil)
	b.publishConfirmed(pub, "", q, textMsg("m"))
	if err := get(t, ch, q, false).Reject(false); err != nil {
		t.Fatal(err)
	}
	d := b.waitGet(ch, dlq)
	// Back into q through the default exchange, by hand, to expire there:
	// a client-made hop, so no cycle.
	b.publishConfirmed(pub, "", q, amqp.Publishing{Body: d.Body, Headers: d.Headers, Expiration: "10"})
	d = b.waitGet(ch, dlq)
	expectDeaths(t, d,
		death{count: 1, reason: "expired", queue: q, exchange: "", keys: []string{q}, origExpiration: "10"},
		death{count: 1, reason: "rejected", queue: q, exchange: "", keys: []string{q}})
	expectFirstDeath(t, d, "rejected", q, "")
}

// rabbitmq cycle detection: a message that expires in a queue whose
// dead-letter exchange routes it back to that queue, with no rejection on
// the way, is dropped for that queue; other queues the exchange routes to
// still get it.
func TestDLXCycleWithoutRejectionDropped(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	dlx := b.declareExchange(ch, "fanout")
	q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-dead-letter-exchange": dlx})
	witness := b.queue(ch)
	b.bind(ch, q, "", dlx, nil)
	b.bind(ch, witness, "", dlx, nil)

	b.publishConfirmed(pub, "", q, expiringMsg("m1", "20"))
	d := b.waitGet(ch, witness)
	equal(t, "witness", string(d.Body), "m1")
	expectDeaths(t, d, death{count: 1, reason: "expired", queue: q, exchange: "", keys: []string{q}, origExpiration: "20"})
	equal(t, "messages back in the queue", func() int { m, _ := b.counts(q); return m }(), 0)
	// Had m1 gone back to q, it would expire again ahead of m2.
	b.publishConfirmed(pub, "", q, expiringMsg("m2", "20"))
	equal(t, "witness next", string(b.waitGet(ch, witness).Body), "m2")
	expectEmpty(t, ch, q)
	expectEmpty(t, ch, witness)
}

// A rejection breaks the cycle: a message rejected in a queue whose
// dead-letter exchange routes back to it comes back, its count growing.
func TestDLXCycleWithRejectionCycles(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	dlx := b.declareExchange(ch, "fanout")
	q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-dead-letter-exchange": dlx})
	witness := b.queue(ch)
	b.bind(ch, q, "", dlx, nil)
	b.bind(ch, witness, "", dlx, nil)

	b.publishConfirmed(pub, "", q, textMsg("m"))
	for i := int64(1); i <= 3; i++ {
		if err := b.waitGetAck(ch, q).Reject(false); err != nil {
			t.Fatal(err)
		}
		d := b.waitGet(ch, witness)
		expectDeaths(t, d, death{count: i, reason: "rejected", queue: q, exchange: "", keys: []string{q}})
	}
	d := b.waitGet(ch, q)
	expectDeaths(t, d, death{count: 3, reason: "rejected", queue: q, exchange: "", keys: []string{q}})
	expectFirstDeath(t, d, "rejected", q, "")
}

// A retry loop: the message expires in a delay queue, is dead-lettered
// back to the work queue, is rejected there again. The rejection in the
// loop keeps it going, and both entries count.
func TestDLXRetryLoop(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	work, delay := b.name("work"), b.name("delay")
	b.declareQueue(ch, work, false, false, false, amqp.Table{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": delay})
	b.declareQueue(ch, delay, false, false, false, amqp.Table{"x-message-ttl": int32(10), "x-dead-letter-exchange": "", "x-dead-letter-routing-key": work})
	b.publishConfirmed(pub, "", work, textMsg("job"))
	for range 3 {
		if err := b.waitGetAck(ch, work).Reject(false); err != nil {
			t.Fatal(err)
		}
	}
	d := b.waitGet(ch, work)
	expectDeaths(t, d,
		death{count: 3, reason: "expired", queue: delay, exchange: "", keys: []string{delay}},
		death{count: 3, reason: "rejected", queue: work, exchange: "", keys: []string{work}})
	expectFirstDeath(t, d, "rejected", work, "")
}

// rabbitmq: a dead-letter exchange that does not exist drops the message.
func TestDLXMissingExchangeDrops(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-dead-letter-exchange": b.name("missing")})
	b.publishConfirmed(pub, "", q, textMsg("m"))
	if err := get(t, ch, q, false).Reject(false); err != nil {
		t.Fatal(err)
	}
	b.waitCounts(q, 0, 0)
	expectEmpty(t, ch, q)
	if conn.IsClosed() {
		t.Fatal("dead-lettering to a missing exchange closed the connection")
	}
}

// Warren adds RabbitMQ 3.13's x-last-death-* headers: the newest death.
func TestDLXLastDeathHeaders(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	skipOnRabbitMQ(t, conn, "x-last-death-* headers are RabbitMQ 3.13+")
	pub := b.confirmChannel(conn)
	q, dlq := b.deadLettered(ch, nil)
	b.publishConfirmed(pub, "", q, textMsg("m"))
	if err := get(t, ch, q, false).Reject(false); err != nil {
		t.Fatal(err)
	}
	d := b.waitGet(ch, dlq)
	b.publishConfirmed(pub, "", q, amqp.Publishing{Body: d.Body, Headers: d.Headers, Expiration: "10"})
	d = b.waitGet(ch, dlq)
	equal(t, "x-last-death-reason", headerString(d, "x-last-death-reason"), "expired")
	equal(t, "x-last-death-queue", headerString(d, "x-last-death-queue"), q)
	equal(t, "x-last-death-exchange", headerString(d, "x-last-death-exchange"), "")
	expectFirstDeath(t, d, "rejected", q, "")
}

// A message rejected after its queue was deleted goes nowhere: the queue
// and its dead-letter exchange setting went with the deletion.
func TestDLXRejectAfterQueueDeleted(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q, dlq := b.deadLettered(ch, nil)
	b.publishConfirmed(pub, "", q, textMsg("m"))
	d := get(t, ch, q, false)
	if _, err := ch.QueueDelete(q, false, false, false); err != nil {
		t.Fatal(err)
	}
	if err := d.Reject(false); err != nil {
		t.Fatal(err)
	}
	// A round trip on the rejecting channel: the reject has been handled.
	if _, err := ch.QueueDeclarePassive(dlq, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	equal(t, "dead letters", func() int { m, _ := b.counts(dlq); return m }(), 0)
}

// rejectChain declares queues q1..qn, each dead-lettering to the next and
// the last to dlq, passes one message down the chain with rejections and
// returns the dead letter and the queue names.
func rejectChain(t *testing.T, b *broker, ch, pub *amqp.Channel, n int) (amqp.Delivery, []string) {
	t.Helper()
	dlq := b.queue(ch)
	qs := make([]string, n)
	for i := range qs {
		qs[i] = b.name(fmt.Sprintf("q%d", i+1))
	}
	for i := n - 1; i >= 0; i-- {
		next := dlq
		if i < n-1 {
			next = qs[i+1]
		}
		b.declareQueue(ch, qs[i], false, false, false, amqp.Table{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": next})
	}
	b.publishConfirmed(pub, "", qs[0], textMsg("m"))
	for _, q := range qs {
		if err := b.waitGetAck(ch, q).Reject(false); err != nil {
			t.Fatal(err)
		}
	}
	return b.waitGet(ch, dlq), qs
}

// rabbitmq 3.10 (rabbit_dead_letter:group_by_queue_and_reason) rebuilds
// the earlier entries of an x-death of two or more in reverse order at
// each death: only the newest entry is reliably first.
func TestDLXDeathOrder(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	d, qs := rejectChain(t, b, ch, pub, 4)
	rejected := func(q string) death {
		return death{count: 1, reason: "rejected", queue: q, exchange: "", keys: []string{q}}
	}
	// [q1] -> [q2 q1] -> [q3 | reverse(q2 q1)] -> [q4 | reverse(q3 q1 q2)]
	expectDeaths(t, d, rejected(qs[3]), rejected(qs[1]), rejected(qs[0]), rejected(qs[2]))
	expectFirstDeath(t, d, "rejected", qs[0], "")
}

// rabbitmq 3.10: a repeated death in a queue for a reason increments the
// entry's count and keeps the time of the first.
func TestDLXDeathTimeOfFirst(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q1, q2 := b.name("q1"), b.name("q2")
	b.declareQueue(ch, q1, false, false, false, amqp.Table{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": q2})
	b.declareQueue(ch, q2, false, false, false, amqp.Table{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": q1})
	b.publishConfirmed(pub, "", q1, textMsg("m"))
	if err := b.waitGetAck(ch, q1).Reject(false); err != nil {
		t.Fatal(err)
	}
	d := b.waitGetAck(ch, q2)
	first := xDeath(t, d)[0]["time"].(time.Time)
	// x-death times are whole seconds: wait for the next one.
	eventually(t, "the clock to pass the first death's second", func() (bool, string) {
		return time.Now().Truncate(time.Second).After(first), time.Now().String()
	})
	if err := d.Reject(false); err != nil {
		t.Fatal(err)
	}
	if err := b.waitGetAck(ch, q1).Reject(false); err != nil {
		t.Fatal(err)
	}
	d = b.waitGet(ch, q2)
	deaths := xDeath(t, d)
	equal(t, "x-death[0] queue", deaths[0]["queue"], any(q1))
	equal(t, "x-death[0] count", deaths[0]["count"], any(int64(2)))
	equal(t, "x-death[0] time", deaths[0]["time"].(time.Time), first)
	if second := deaths[1]["time"].(time.Time); !second.After(first) {
		t.Fatalf("x-death[1] (%s, the later death) time %v, want after %v", deaths[1]["queue"], second, first)
	}
}
