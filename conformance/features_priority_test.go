package conformance

import (
	"fmt"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Priorities: message priority in an x-max-priority queue, consumer
// x-priority, and x-single-active-consumer.

func withPriority(body string, p uint8) amqp.Publishing {
	return amqp.Publishing{Body: []byte(body), Priority: p}
}

// A priority queue delivers higher priorities first, in publish order
// within a priority; no priority counts as 0.
func TestPriorityQueueOrder(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-max-priority": int32(10)})
	for _, m := range []amqp.Publishing{
		withPriority("p1", 1), withPriority("p5a", 5), withPriority("p9a", 9), textMsg("none"),
		withPriority("p0", 0), withPriority("p5b", 5), withPriority("p9b", 9),
	} {
		b.publishConfirmed(pub, "", q, m)
	}
	want := []string{"p9a", "p9b", "p5a", "p5b", "p1", "none", "p0"}
	equal(t, "ready", func() int { m, _ := b.counts(q); return m }(), len(want))
	equalStrings(t, "consumed", recvBodies(t, consume(t, ch, q, "", true), len(want)), want)
}

// basic.get takes the highest priority too.
func TestPriorityQueueGet(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-max-priority": int32(2)})
	for _, m := range []amqp.Publishing{withPriority("low", 0), withPriority("high", 2), withPriority("mid", 1)} {
		b.publishConfirmed(pub, "", q, m)
	}
	equalStrings(t, "got", drain(t, ch, q), []string{"high", "mid", "low"})
}

// A priority above x-max-priority counts as x-max-priority.
func TestPriorityAboveMaxCapped(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-max-priority": int32(3)})
	for _, m := range []amqp.Publishing{withPriority("p5", 5), withPriority("p1", 1), withPriority("p3", 3), withPriority("p200", 200)} {
		b.publishConfirmed(pub, "", q, m)
	}
	equalStrings(t, "got", drain(t, ch, q), []string{"p5", "p3", "p200", "p1"})
}

// A queue without x-max-priority ignores message priorities.
func TestPriorityIgnoredWithoutMaxPriority(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.queue(ch)
	for _, m := range []amqp.Publishing{withPriority("p0", 0), withPriority("p9", 9), withPriority("p5", 5)} {
		b.publishConfirmed(pub, "", q, m)
	}
	equalStrings(t, "got", drain(t, ch, q), []string{"p0", "p9", "p5"})
}

// A requeued message goes back to its place in its priority.
func TestPriorityRequeue(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-max-priority": int32(5)})
	for _, m := range []amqp.Publishing{withPriority("a5", 5), withPriority("b5", 5), withPriority("c1", 1)} {
		b.publishConfirmed(pub, "", q, m)
	}
	d := get(t, ch, q, false)
	equal(t, "first", string(d.Body), "a5")
	if err := d.Nack(false, true); err != nil {
		t.Fatal(err)
	}
	b.waitMessages(q, 3)
	equalStrings(t, "got", drain(t, ch, q), []string{"a5", "b5", "c1"})
}

// consumerOn starts a manual-ack consumer with x-priority prio on a
// channel of its own with prefetch.
func (b *broker) consumerOn(conn *amqp.Connection, q string, prefetch int, args amqp.Table) (*amqp.Channel, <-chan amqp.Delivery) {
	b.t.Helper()
	ch := b.channel(conn)
	if err := ch.Qos(prefetch, 0, false); err != nil {
		b.t.Fatal(err)
	}
	ds, err := ch.Consume(q, "", false, false, false, false, args)
	if err != nil {
		b.t.Fatalf("basic.consume %q %v: %v", q, args, err)
	}
	return ch, ds
}

// rabbitmq consumer priorities: a higher-priority consumer with credit
// gets every message; a lower one gets messages only while the higher has
// none left.
func TestConsumerPriority(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.queue(ch)
	// The low one first: registration order must not matter.
	_, low := b.consumerOn(conn, q, 100, amqp.Table{"x-priority": int32(1)})
	highCh, high := b.consumerOn(conn, q, 3, amqp.Table{"x-priority": int32(10)})
	_, none := b.consumerOn(conn, q, 100, nil)

	for i := range 3 {
		b.publishConfirmed(pub, "", q, textMsg(fmt.Sprintf("h%d", i)))
	}
	got := recvBodies(t, high, 3) // all three: none went elsewhere
	equalStrings(t, "high", got, []string{"h0", "h1", "h2"})

	for i := range 2 {
		b.publishConfirmed(pub, "", q, textMsg(fmt.Sprintf("l%d", i)))
	}
	equalStrings(t, "low", recvBodies(t, low, 2), []string{"l0", "l1"})
	b.waitCounts(q, 0, 3)
	expectNoneBuffered(t, high)
	expectNoneBuffered(t, none)

	// Credit back: the ack and the next publish on one channel, in order.
	if err := highCh.Ack(0, true); err != nil { // tag 0 multiple: everything
		t.Fatal(err)
	}
	b.publish(highCh, "", q, "h3")
	equal(t, "high again", string(recv(t, high).Body), "h3")
}

// Consumers of one priority share messages round-robin.
func TestConsumerPrioritySameLevelRoundRobin(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.queue(ch)
	_, a := b.consumerOn(conn, q, 100, amqp.Table{"x-priority": int32(5)})
	_, c := b.consumerOn(conn, q, 100, amqp.Table{"x-priority": int32(5)})
	_, low := b.consumerOn(conn, q, 100, nil)
	for i := range 4 {
		b.publishConfirmed(pub, "", q, textMsg(fmt.Sprintf("m%d", i)))
	}
	equalStrings(t, "first", recvBodies(t, a, 2), []string{"m0", "m2"})
	equalStrings(t, "second", recvBodies(t, c, 2), []string{"m1", "m3"})
	expectNoneBuffered(t, low)
}

// rabbitmq x-single-active-consumer: only the first consumer receives;
// when it cancels, the next takes over.
func TestSingleActiveConsumer(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-single-active-consumer": true})
	firstCh := b.channel(conn)
	first := consume(t, firstCh, q, "first", true)
	_, second := b.consumerOn(conn, q, 100, nil)
	for i := range 3 {
		b.publishConfirmed(pub, "", q, textMsg(fmt.Sprintf("m%d", i)))
	}
	equalStrings(t, "first consumer", recvBodies(t, first, 3), []string{"m0", "m1", "m2"})
	b.waitCounts(q, 0, 2)
	expectNoneBuffered(t, second)

	if err := firstCh.Cancel("first", false); err != nil {
		t.Fatal(err)
	}
	for i := 3; i < 5; i++ {
		b.publishConfirmed(pub, "", q, textMsg(fmt.Sprintf("m%d", i)))
	}
	equalStrings(t, "second consumer", recvBodies(t, second, 2), []string{"m3", "m4"})
}

// The active consumer waits for credit: the others get nothing meanwhile.
// When it cancels with messages unacknowledged, the next takes over at
// once; the unacknowledged ones stay on the cancelled consumer's channel.
func TestSingleActiveConsumerCancelWithUnacked(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	skipOnRabbitMQ(t, conn, "RabbitMQ 3.10 crashes the queue when the active consumer is cancelled with unacknowledged messages (rabbitmq-server#5460)")
	pub := b.confirmChannel(conn)
	q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-single-active-consumer": true})
	firstCh, first := b.consumerOn(conn, q, 1, nil)
	_, second := b.consumerOn(conn, q, 100, nil)
	for i := range 3 {
		b.publishConfirmed(pub, "", q, textMsg(fmt.Sprintf("m%d", i)))
	}
	d := recv(t, first)
	equal(t, "first consumer", string(d.Body), "m0")
	b.waitMessages(q, 2) // m1 and m2 wait for the active consumer's credit
	expectNoneBuffered(t, second)

	if err := firstCh.Cancel(d.ConsumerTag, false); err != nil {
		t.Fatal(err)
	}
	equalStrings(t, "second consumer", recvBodies(t, second, 2), []string{"m1", "m2"})
	if err := d.Ack(false); err != nil {
		t.Fatal(err)
	}
	b.publishConfirmed(pub, "", q, textMsg("m3"))
	equal(t, "second consumer again", string(recv(t, second).Body), "m3")
}

// When the active consumer's channel closes, its unacknowledged messages
// go back and the next consumer gets them, in order.
func TestSingleActiveConsumerChannelClosed(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-single-active-consumer": true})
	firstCh, first := b.consumerOn(conn, q, 1, nil)
	_, second := b.consumerOn(conn, q, 100, nil)
	for i := range 3 {
		b.publishConfirmed(pub, "", q, textMsg(fmt.Sprintf("m%d", i)))
	}
	equal(t, "first consumer", string(recv(t, first).Body), "m0")
	b.waitMessages(q, 2)
	expectNoneBuffered(t, second)
	if err := firstCh.Close(); err != nil {
		t.Fatal(err)
	}
	ds := []amqp.Delivery{recv(t, second), recv(t, second), recv(t, second)}
	equalStrings(t, "second consumer", []string{string(ds[0].Body), string(ds[1].Body), string(ds[2].Body)}, []string{"m0", "m1", "m2"})
	equal(t, "m0 redelivered", ds[0].Redelivered, true)
}

// rabbitmq: a consumer's x-priority must be an integer.
func TestConsumerPriorityNotAnInteger(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	q := b.queue(ch)
	_, err := ch.Consume(q, "", false, false, false, false, amqp.Table{"x-priority": "high"})
	expectError(t, err, amqp.PreconditionFailed, invalidArg("x-priority", q, `"expected integer, got longstr"`))
}
