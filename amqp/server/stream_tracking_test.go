package server_test

import (
	"fmt"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// Warren-only (lavinmq's consumer argument; RabbitMQ tracks offsets over
// its stream protocol only): x-stream-automatic-offset-tracking keeps, by
// consumer tag, the offset after the highest one below which every
// delivery was acked; a consumer with the same tag and no x-stream-offset
// (or a null one) resumes there, across reconnects and restarts.

func trackingConsumer(t *testing.T, conn *amqp091.Connection, q, tag string, offset any) (*amqp091.Channel, <-chan amqp091.Delivery) {
	t.Helper()
	ch, err := conn.Channel()
	must(t, err, "channel.open")
	must(t, ch.Qos(100, 0, false), "basic.qos")
	args := amqp091.Table{"x-stream-automatic-offset-tracking": true, "x-stream-offset": offset}
	ds, err := ch.Consume(q, tag, false, false, false, false, args)
	must(t, err, "basic.consume")
	return ch, ds
}

func recvOne(t *testing.T, ds <-chan amqp091.Delivery) amqp091.Delivery {
	t.Helper()
	select {
	case d := <-ds:
		return d
	case <-time.After(durWait):
		t.Fatalf("no delivery within %v", durWait)
	}
	return amqp091.Delivery{}
}

func TestStreamAutomaticOffsetTracking(t *testing.T) {
	t.Parallel()
	b := startDurable(t)
	declareDurableQueue(t, b.channel(), "s", amqp091.Table{"x-queue-type": "stream"})
	var msgs []amqp091.Publishing
	for i := range 10 {
		msgs = append(msgs, transient(fmt.Sprintf("m-%d", i)))
	}
	publishConfirmed(t, b.confirmChannel(), "", "s", msgs...)

	conn := b.dial()
	ch, ds := trackingConsumer(t, conn, "s", "reader", "first")
	var held amqp091.Delivery
	for i := range 10 {
		d := recvOne(t, ds)
		if string(d.Body) != fmt.Sprintf("m-%d", i) {
			t.Fatalf("delivery %d is %q", i, d.Body)
		}
		if i == 5 {
			held = d // not acked: holds the tracked offset back
			continue
		}
		must(t, d.Ack(false), "ack")
	}
	_ = held
	must(t, ch.Close(), "channel.close") // m-5 goes back unacked

	// The same tag resumes at the gap; a null x-stream-offset counts as none.
	ch, ds = trackingConsumer(t, conn, "s", "reader", nil)
	for i := 5; i < 10; i++ {
		d := recvOne(t, ds)
		if string(d.Body) != fmt.Sprintf("m-%d", i) {
			t.Fatalf("resumed delivery is %q, want m-%d", d.Body, i)
		}
		must(t, d.Ack(false), "ack")
	}
	must(t, ch.Close(), "channel.close")

	b.restart()
	publishConfirmed(t, b.confirmChannel(), "", "s", transient("m-10"))
	conn = b.dial()
	_, ds = trackingConsumer(t, conn, "s", "reader", nil)
	if d := recvOne(t, ds); string(d.Body) != "m-10" || d.Headers["x-stream-offset"] != int64(10) {
		t.Fatalf("after a restart the tracked reader got %q at %v, want m-10 at 10", d.Body, d.Headers["x-stream-offset"])
	}
	// Another tag has nothing tracked: it starts where x-stream-offset says.
	_, ds = trackingConsumer(t, conn, "s", "other", "first")
	if d := recvOne(t, ds); string(d.Body) != "m-0" {
		t.Fatalf("a new tag from first got %q", d.Body)
	}
	// An explicit x-stream-offset wins over the tracked one.
	_, ds = trackingConsumer(t, conn, "s", "reader", int64(3))
	if d := recvOne(t, ds); string(d.Body) != "m-3" {
		t.Fatalf("explicit offset 3 got %q", d.Body)
	}
}

// With x-single-active-consumer on tracking consumers, one consumer per
// tag reads; a standby takes over exactly where the active one's acks
// stopped.
func TestStreamSingleActiveConsumerPerTag(t *testing.T) {
	t.Parallel()
	b := startDurable(t)
	declareDurableQueue(t, b.channel(), "s", amqp091.Table{"x-queue-type": "stream"})
	var msgs []amqp091.Publishing
	for i := range 10 {
		msgs = append(msgs, transient(fmt.Sprintf("m-%d", i)))
	}
	publishConfirmed(t, b.confirmChannel(), "", "s", msgs...)
	sac := func(conn *amqp091.Connection, offset any) (*amqp091.Channel, <-chan amqp091.Delivery) {
		ch, err := conn.Channel()
		must(t, err, "channel.open")
		must(t, ch.Qos(100, 0, false), "basic.qos")
		ds, err := ch.Consume("s", "t", false, false, false, false, amqp091.Table{
			"x-stream-automatic-offset-tracking": true, "x-single-active-consumer": true, "x-stream-offset": offset})
		must(t, err, "basic.consume")
		return ch, ds
	}

	chA, dsA := sac(b.dial(), "first")
	var got []amqp091.Delivery
	for range 10 {
		got = append(got, recvOne(t, dsA))
	}
	for _, d := range got[:4] {
		must(t, d.Ack(false), "ack")
	}
	must(t, chA.Qos(100, 0, false), "a round trip after the acks")

	// B joins while A is active: it waits. Its tag's tracked offset is 4
	// now; had it started, its first delivery would be m-4.
	_, dsB := sac(b.dial(), nil)
	for _, d := range got[4:6] {
		must(t, d.Ack(false), "ack")
	}
	must(t, chA.Qos(100, 0, false), "a round trip after the acks")
	must(t, chA.Close(), "channel.close") // A leaves; B takes over at 6
	for i := 6; i < 10; i++ {
		if d := recvOne(t, dsB); string(d.Body) != fmt.Sprintf("m-%d", i) {
			t.Fatalf("the standby got %q, want m-%d", d.Body, i)
		}
	}
}
