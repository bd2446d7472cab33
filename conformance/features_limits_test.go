package conformance

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Queue length limits: x-max-length and x-max-length-bytes (ready
// messages and their body bytes), with x-overflow drop-head (the default),
// reject-publish and reject-publish-dlx.

// drop-head dead-letters the oldest ready messages with reason maxlen.
func TestMaxLengthDropHeadDeadLetters(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q, dlq := b.deadLettered(ch, amqp.Table{"x-max-length": int32(2)})
	for _, body := range []string{"m1", "m2", "m3", "m4"} {
		b.publishConfirmed(pub, "", q, textMsg(body))
	}
	b.waitMessages(dlq, 2)
	equalStrings(t, "queue", drain(t, ch, q), []string{"m3", "m4"})
	d := get(t, ch, dlq, true)
	equal(t, "first dead letter", string(d.Body), "m1")
	expectDeaths(t, d, death{count: 1, reason: "maxlen", queue: q, exchange: "", keys: []string{q}})
	expectFirstDeath(t, d, "maxlen", q, "")
	equal(t, "second dead letter", string(get(t, ch, dlq, true).Body), "m2")
}

// Without a dead-letter exchange drop-head just drops; an explicit
// x-overflow drop-head is the same; unacknowledged messages do not count.
func TestMaxLengthDropHead(t *testing.T) {
	for _, tc := range []struct {
		name string
		args amqp.Table
	}{
		{"default", amqp.Table{"x-max-length": int32(2)}},
		{"x-overflow drop-head", amqp.Table{"x-max-length": int32(2), "x-overflow": "drop-head"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			conn, ch := b.open()
			pub := b.confirmChannel(conn)
			q := b.declareQueue(ch, b.name("q"), false, false, false, tc.args)
			b.publishConfirmed(pub, "", q, textMsg("unacked"))
			unacked := get(t, ch, q, false)
			for _, body := range []string{"m1", "m2", "m3"} {
				b.publishConfirmed(pub, "", q, textMsg(body))
			}
			b.waitMessages(q, 2)
			equalStrings(t, "queue", drain(t, ch, q), []string{"m2", "m3"})
			if err := unacked.Ack(false); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// x-max-length 0 keeps nothing ready.
func TestMaxLengthZero(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q, dlq := b.deadLettered(ch, amqp.Table{"x-max-length": int32(0)})
	b.publishConfirmed(pub, "", q, textMsg("m"))
	d := b.waitGet(ch, dlq)
	expectDeaths(t, d, death{count: 1, reason: "maxlen", queue: q, exchange: "", keys: []string{q}})
	expectEmpty(t, ch, q)
}

// reject-publish refuses a message to a full queue: the publisher gets a
// nack, the message is not dead-lettered, and the queue takes messages
// again once there is room.
func TestMaxLengthRejectPublish(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q, dlq := b.deadLettered(ch, amqp.Table{"x-max-length": int32(1), "x-overflow": "reject-publish"})
	equal(t, "first publish acked", b.publishAck(pub, "", q, textMsg("m1")), true)
	equal(t, "second publish acked", b.publishAck(pub, "", q, textMsg("m2")), false)
	equalStrings(t, "queue", drain(t, ch, q), []string{"m1"})
	equal(t, "third publish acked", b.publishAck(pub, "", q, textMsg("m3")), true)
	equalStrings(t, "queue", drain(t, ch, q), []string{"m3"})
	equal(t, "dead letters", func() int { m, _ := b.counts(dlq); return m }(), 0)
}

// reject-publish-dlx nacks too, and dead-letters the refused message with
// reason maxlen.
func TestMaxLengthRejectPublishDLX(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q, dlq := b.deadLettered(ch, amqp.Table{"x-max-length": int32(1), "x-overflow": "reject-publish-dlx"})
	equal(t, "first publish acked", b.publishAck(pub, "", q, textMsg("m1")), true)
	equal(t, "second publish acked", b.publishAck(pub, "", q, textMsg("m2")), false)
	d := b.waitGet(ch, dlq)
	equal(t, "dead letter", string(d.Body), "m2")
	expectDeaths(t, d, death{count: 1, reason: "maxlen", queue: q, exchange: "", keys: []string{q}})
	expectFirstDeath(t, d, "maxlen", q, "")
	equalStrings(t, "queue", drain(t, ch, q), []string{"m1"})
}

// reject-publish without confirms drops the message silently; the
// channel stays open.
func TestMaxLengthRejectPublishNoConfirm(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-max-length": int32(1), "x-overflow": "reject-publish"})
	b.publish(ch, "", q, "m1")
	b.publish(ch, "", q, "m2")
	b.waitMessages(q, 1)
	equalStrings(t, "queue", drain(t, ch, q), []string{"m1"})
	b.publishConfirmed(pub, "", q, textMsg("m3"))
	equalStrings(t, "queue", drain(t, ch, q), []string{"m3"})
}

// x-max-length-bytes counts the bodies of ready messages.
func TestMaxLengthBytes(t *testing.T) {
	t.Run("drop-head", func(t *testing.T) {
		b := setup(t)
		conn, ch := b.open()
		pub := b.confirmChannel(conn)
		q, dlq := b.deadLettered(ch, amqp.Table{"x-max-length-bytes": int32(10)})
		for _, body := range []string{"aaaaa", "bbbbb", "ccccc", ""} {
			b.publishConfirmed(pub, "", q, textMsg(body))
		}
		b.waitMessages(dlq, 1)
		equalStrings(t, "queue", drain(t, ch, q), []string{"bbbbb", "ccccc", ""})
		d := get(t, ch, dlq, true)
		equal(t, "dead letter", string(d.Body), "aaaaa")
		expectDeaths(t, d, death{count: 1, reason: "maxlen", queue: q, exchange: "", keys: []string{q}})
	})
	t.Run("one body too big", func(t *testing.T) {
		b := setup(t)
		conn, ch := b.open()
		pub := b.confirmChannel(conn)
		q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-max-length-bytes": int32(4)})
		b.publishConfirmed(pub, "", q, textMsg("ok"))
		b.publishConfirmed(pub, "", q, textMsg("too big"))
		b.waitMessages(q, 0)
		b.publishConfirmed(pub, "", q, textMsg("fit"))
		equalStrings(t, "queue", drain(t, ch, q), []string{"fit"})
	})
	t.Run("reject-publish", func(t *testing.T) {
		b := setup(t)
		conn, ch := b.open()
		pub := b.confirmChannel(conn)
		q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-max-length-bytes": int32(10), "x-overflow": "reject-publish"})
		equal(t, "first publish acked", b.publishAck(pub, "", q, textMsg("aaaaa")), true)
		equal(t, "second publish acked", b.publishAck(pub, "", q, textMsg("bbbbb")), true)
		equal(t, "third publish acked", b.publishAck(pub, "", q, textMsg("c")), false)
		equalStrings(t, "queue", drain(t, ch, q), []string{"aaaaa", "bbbbb"})
	})
}

// In a priority queue drop-head drops the head: the oldest message of the
// highest priority.
func TestMaxLengthDropHeadPriority(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q, dlq := b.deadLettered(ch, amqp.Table{"x-max-priority": int32(5), "x-max-length": int32(2)})
	for _, m := range []amqp.Publishing{
		{Body: []byte("a1"), Priority: 1}, {Body: []byte("b5"), Priority: 5}, {Body: []byte("c1"), Priority: 1},
	} {
		b.publishConfirmed(pub, "", q, m)
	}
	d := b.waitGet(ch, dlq)
	equal(t, "dropped", string(d.Body), "b5")
	expectDeaths(t, d, death{count: 1, reason: "maxlen", queue: q, exchange: "", keys: []string{q}})
	equalStrings(t, "queue", drain(t, ch, q), []string{"a1", "c1"})
}
