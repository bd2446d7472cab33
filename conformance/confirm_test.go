package conformance

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestConfirmSelect(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.queue(ch)
	pub := b.confirmChannel(conn)
	// Selecting again is harmless.
	if err := pub.Confirm(false); err != nil {
		t.Fatalf("second confirm.select: %v", err)
	}
	confirms := pub.NotifyPublish(make(chan amqp.Confirmation, 20))
	x := b.declareExchange(ch, "fanout")
	for i := range 10 {
		exchange, key := "", q
		if i%3 == 0 {
			exchange, key = x, "" // unroutable: acked all the same
		}
		if err := pub.Publish(exchange, key, false, false, amqp.Publishing{Body: fmt.Appendf(nil, "m%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for want := uint64(1); want <= 10; want++ {
		select {
		case c := <-confirms:
			equal(t, "confirm delivery tag", c.DeliveryTag, want)
			equal(t, "confirm ack", c.Ack, true)
		case <-time.After(waitTimeout):
			t.Fatalf("no confirm for delivery tag %d", want)
		}
	}
	b.waitCounts(q, 6, 0)
}

// On the wire: basic.ack tags ascend, each tag is confirmed exactly once,
// and a multiple ack covers every unconfirmed tag up to its own.
func TestConfirmAcksOnTheWire(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	q := b.queue(ch)

	r := b.rawDial()
	r.handshake(rawTune{})
	r.openChannel(1)
	r.sendMethod(1, 85, 10, []byte{0}) // confirm.select nowait=false
	r.expectMethod(1, 85, 11)

	const n = 200
	var burst []byte
	for i := range n {
		var e encoder
		e.u16(60)
		e.u16(40)
		e.u16(0)
		e.shortstr("")
		e.shortstr(q)
		e.u8(0)
		burst = appendFrame(burst, frameMethod, 1, e.b)
		body := fmt.Appendf(nil, "m%d", i)
		var h encoder
		h.u16(60)
		h.u16(0)
		h.u64(uint64(len(body)))
		h.u16(0) // no properties
		burst = appendFrame(burst, frameHeader, 1, h.b)
		burst = appendFrame(burst, frameBody, 1, body)
	}
	r.write(burst) // one write: the broker is free to batch its acks

	var confirmed uint64
	multiples := 0
	for confirmed < n {
		d := r.expectMethod(1, 60, 80)
		tag := binary.BigEndian.Uint64(d.take(8))
		multiple := d.u8()&1 == 1
		if d.err != nil {
			t.Fatal(d.err)
		}
		switch {
		case multiple && tag > confirmed:
			multiples++
			confirmed = tag
		case !multiple && tag == confirmed+1:
			confirmed = tag
		default:
			t.Fatalf("basic.ack tag %d multiple=%v after tags up to %d were confirmed", tag, multiple, confirmed)
		}
	}
	equal(t, "last confirmed tag", confirmed, n)
	t.Logf("%d of the acks had multiple=true", multiples)
	b.waitCounts(q, n, 0)
}

func appendFrame(dst []byte, typ byte, channel uint16, payload []byte) []byte {
	dst = append(dst, typ)
	dst = binary.BigEndian.AppendUint16(dst, channel)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	dst = append(dst, payload...)
	return append(dst, frameEnd)
}

// A queue that rejects publishes when full makes the broker nack.
func TestConfirmNackRejectPublish(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-max-length": int32(1), "x-overflow": "reject-publish"})
	pub := b.confirmChannel(conn)
	confirms := pub.NotifyPublish(make(chan amqp.Confirmation, 2))
	for _, body := range []string{"fits", "overflows"} {
		if err := pub.Publish("", q, false, false, amqp.Publishing{Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []amqp.Confirmation{{DeliveryTag: 1, Ack: true}, {DeliveryTag: 2, Ack: false}} {
		select {
		case c := <-confirms:
			equal(t, "confirmation", c, want)
		case <-time.After(waitTimeout):
			t.Fatalf("no confirmation, want %+v", want)
		}
	}
	equalStrings(t, "queue contents", drain(t, ch, q), []string{"fits"})
}

func TestConfirmOnTxChannel(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	if err := ch.Tx(); err != nil {
		t.Fatal(err)
	}
	err := ch.Confirm(false)
	expectError(t, err, amqp.PreconditionFailed, "PRECONDITION_FAILED - cannot switch from tx to confirm mode")
	if conn.IsClosed() {
		t.Fatal("406 closed the connection")
	}
}

func TestTxOnConfirmChannel(t *testing.T) {
	b := setup(t)
	conn := b.dial()
	ch := b.confirmChannel(conn)
	err := ch.Tx()
	expectError(t, err, amqp.PreconditionFailed, "PRECONDITION_FAILED - cannot switch from confirm to tx mode")
	if conn.IsClosed() {
		t.Fatal("406 closed the connection")
	}
}
