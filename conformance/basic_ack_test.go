package conformance

// basic.ack, basic.nack, basic.reject and basic.recover, and what happens to
// unacknowledged messages.

import (
	"fmt"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestBasicAckMultiple(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.queue(ch)
	b.fill(conn, q, "m", 4)
	for range 4 {
		get(t, ch, q, false)
	}
	if err := ch.Ack(3, true); err != nil {
		t.Fatal(err)
	}
	// Closing the channel requeues only the one not acked.
	if err := ch.Close(); err != nil {
		t.Fatal(err)
	}
	b.waitCounts(q, 1, 0)
	d := get(t, b.channel(conn), q, true)
	equal(t, "left over", string(d.Body), "m3")
	equal(t, "redelivered", d.Redelivered, true)
}

// Requeued messages go back to their original position, marked redelivered.
func TestBasicNackRequeueOriginalPosition(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.queue(ch)
	b.fill(conn, q, "m", 5)
	for i := range 3 {
		equal(t, "got", string(get(t, ch, q, false).Body), fmt.Sprintf("m%d", i))
	}
	// m0 and m1 back in front of m3, m4; m2 stays unacked.
	if err := ch.Nack(2, true, true); err != nil {
		t.Fatal(err)
	}
	// Then m2 is dropped.
	if err := ch.Reject(3, false); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 4 {
		d := get(t, ch, q, true)
		got = append(got, fmt.Sprintf("%s:%v", d.Body, d.Redelivered))
	}
	equalStrings(t, "order after requeue", got, []string{"m0:true", "m1:true", "m3:false", "m4:false"})
	expectEmpty(t, ch, q)
}

func TestBasicRejectRequeue(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.queue(ch)
	b.fill(conn, q, "m", 2)
	deliveries := consume(t, ch, q, "c", false)
	first := recv(t, deliveries)
	equal(t, "first", string(first.Body), "m0")
	equal(t, "redelivered", first.Redelivered, false)
	second := recv(t, deliveries)
	if err := ch.Reject(first.DeliveryTag, true); err != nil {
		t.Fatal(err)
	}
	again := recv(t, deliveries)
	equal(t, "redelivered body", string(again.Body), "m0")
	equal(t, "redelivered flag", again.Redelivered, true)
	equal(t, "new delivery tag", again.DeliveryTag, 3)
	if err := ch.Ack(again.DeliveryTag, false); err != nil {
		t.Fatal(err)
	}
	if err := ch.Nack(second.DeliveryTag, false, false); err != nil {
		t.Fatal(err)
	}
	b.waitCounts(q, 0, 1)
	expectNoneBuffered(t, deliveries)
}

func TestBasicUnknownDeliveryTag(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(ch *amqp.Channel) error
		text string
	}{
		{"ack", func(ch *amqp.Channel) error { return ch.Ack(5, false) }, "PRECONDITION_FAILED - unknown delivery tag 5"},
		{"ack multiple", func(ch *amqp.Channel) error { return ch.Ack(7, true) }, "PRECONDITION_FAILED - unknown delivery tag 7"},
		{"nack", func(ch *amqp.Channel) error { return ch.Nack(9, false, true) }, "PRECONDITION_FAILED - unknown delivery tag 9"},
		{"reject", func(ch *amqp.Channel) error { return ch.Reject(11, false) }, "PRECONDITION_FAILED - unknown delivery tag 11"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			conn, ch := b.open()
			q := b.queue(ch)
			b.fill(conn, q, "m", 1)
			get(t, ch, q, false) // delivery tag 1 is outstanding
			closes := notifyClose(ch)
			if err := tc.do(ch); err != nil {
				t.Fatal(err)
			}
			expectClose(t, closes, amqp.PreconditionFailed, tc.text)
			// The outstanding message went back when the channel closed.
			b.waitCounts(q, 1, 0)
		})
	}
}

func TestBasicDoubleAck(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.queue(ch)
	b.fill(conn, q, "m", 1)
	d := get(t, ch, q, false)
	closes := notifyClose(ch)
	if err := ch.Ack(d.DeliveryTag, false); err != nil {
		t.Fatal(err)
	}
	if err := ch.Ack(d.DeliveryTag, false); err != nil {
		t.Fatal(err)
	}
	expectClose(t, closes, amqp.PreconditionFailed, "PRECONDITION_FAILED - unknown delivery tag 1")
	b.waitCounts(q, 0, 0)
}

func TestBasicRecoverRequeue(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.queue(ch)
	b.fill(conn, q, "m", 3)
	deliveries := consume(t, ch, q, "c", false)
	equalStrings(t, "first round", recvBodies(t, deliveries, 3), []string{"m0", "m1", "m2"})
	if err := ch.Recover(true); err != nil {
		t.Fatalf("basic.recover requeue=true: %v", err)
	}
	var got []string
	for range 3 {
		d := recv(t, deliveries)
		if !d.Redelivered {
			t.Fatalf("%q redelivered=false after recover", d.Body)
		}
		got = append(got, string(d.Body))
		if err := ch.Ack(d.DeliveryTag, false); err != nil {
			t.Fatal(err)
		}
	}
	equalStrings(t, "after recover", got, []string{"m0", "m1", "m2"})
	b.waitCounts(q, 0, 1)
}

// rabbitmq: basic.recover with requeue=false is not implemented.
func TestBasicRecoverNoRequeue(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	conns := notifyConnClose(conn)
	err := ch.Recover(false)
	const text = "NOT_IMPLEMENTED - requeue=false"
	expectError(t, err, amqp.NotImplemented, text)
	expectClose(t, conns, amqp.NotImplemented, text)
}

func TestBasicUnackedRequeuedOnChannelClose(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.queue(ch)
	b.fill(conn, q, "m", 3)
	cch := b.channel(conn)
	deliveries := consume(t, cch, q, "c", false)
	recvBodies(t, deliveries, 3)
	if err := cch.Ack(2, false); err != nil {
		t.Fatal(err)
	}
	b.waitCounts(q, 0, 1)
	if err := cch.Close(); err != nil {
		t.Fatal(err)
	}
	b.waitCounts(q, 2, 0)
	var got []string
	for _, d := range []amqp.Delivery{get(t, ch, q, true), get(t, ch, q, true)} {
		got = append(got, fmt.Sprintf("%s:%v", d.Body, d.Redelivered))
	}
	equalStrings(t, "requeued", got, []string{"m0:true", "m2:true"})
}

func TestBasicUnackedRequeuedOnConnectionClose(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.queue(ch)
	b.fill(conn, q, "m", 3)
	consumerConn, cch := b.open()
	deliveries := consume(t, cch, q, "c", false)
	recvBodies(t, deliveries, 3)
	if err := consumerConn.Close(); err != nil {
		t.Fatal(err)
	}
	b.waitCounts(q, 3, 0)
	var got []string
	for range 3 {
		d := get(t, ch, q, true)
		got = append(got, fmt.Sprintf("%s:%v", d.Body, d.Redelivered))
	}
	equalStrings(t, "requeued", got, []string{"m0:true", "m1:true", "m2:true"})
}

func TestBasicNoAckConsumer(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.queue(ch)
	b.fill(conn, q, "m", 5)
	if err := ch.Qos(1, 0, false); err != nil { // prefetch does not apply to no-ack consumers
		t.Fatal(err)
	}
	deliveries := consume(t, ch, q, "c", true)
	equalStrings(t, "no-ack deliveries", recvBodies(t, deliveries, 5), []string{"m0", "m1", "m2", "m3", "m4"})
	b.waitCounts(q, 0, 1)
	// Nothing is outstanding: closing requeues nothing.
	cch := b.channel(conn)
	if err := ch.Close(); err != nil {
		t.Fatal(err)
	}
	b.waitCounts(q, 0, 0)

	// Acking a no-ack delivery is acking an unknown tag.
	b.fill(conn, q, "n", 1)
	closes := notifyClose(cch)
	d := recv(t, consume(t, cch, q, "c2", true))
	if err := cch.Ack(d.DeliveryTag, false); err != nil {
		t.Fatal(err)
	}
	expectClose(t, closes, amqp.PreconditionFailed, "PRECONDITION_FAILED - unknown delivery tag 1")
}
