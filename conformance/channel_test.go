package conformance

import (
	"errors"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestChannelOpenClose(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	closes := notifyClose(ch)
	if err := ch.Close(); err != nil {
		t.Fatalf("channel.close: %v", err)
	}
	select {
	case e, ok := <-closes:
		if ok {
			t.Fatalf("close notification carries %v, want none for a clean close", e)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no close notification")
	}
	if !ch.IsClosed() {
		t.Fatal("channel not closed")
	}
	if err := ch.Qos(1, 0, false); !errors.Is(err, amqp.ErrClosed) {
		t.Fatalf("basic.qos on a closed channel: got %v, want ErrClosed", err)
	}
	if conn.IsClosed() {
		t.Fatal("closing a channel closed the connection")
	}
	// The connection still opens channels and they work.
	q := b.queue(b.channel(conn))
	equal(t, "server kept the queue", q != "", true)
}

func TestChannelMany(t *testing.T) {
	b := setup(t)
	conn := b.dial()
	const n = 200
	chans := make([]*amqp.Channel, 0, n)
	for i := range n {
		ch, err := conn.Channel()
		if err != nil {
			t.Fatalf("channel %d: %v", i+1, err)
		}
		chans = append(chans, ch)
	}
	q := b.queue(chans[0])
	for i, ch := range chans {
		got, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
		if err != nil {
			t.Fatalf("passive declare on channel %d: %v", i+1, err)
		}
		equal(t, "queue name", got.Name, q)
	}
	for i, ch := range chans {
		if err := ch.Close(); err != nil {
			t.Fatalf("close channel %d: %v", i+1, err)
		}
	}
}

// A soft error closes only its channel; the connection and its other
// channels go on.
func TestChannelSoftErrorClosesOnlyChannel(t *testing.T) {
	b := setup(t)
	conn := b.dial()
	conns := notifyConnClose(conn)
	bad, good := b.channel(conn), b.channel(conn)
	q := b.queue(good)

	missing := b.name("missing")
	_, err := bad.QueueDeclarePassive(missing, false, false, false, false, nil)
	expectError(t, err, amqp.NotFound, "NOT_FOUND - no queue '"+missing+"' in vhost '/'")
	if !bad.IsClosed() {
		t.Fatal("channel still open after a soft error")
	}
	if err := bad.Qos(1, 0, false); !errors.Is(err, amqp.ErrClosed) {
		t.Fatalf("use of the closed channel: got %v, want ErrClosed", err)
	}

	b.publish(good, "", q, "still here")
	equal(t, "body", string(get(t, good, q, true).Body), "still here")
	fresh := b.channel(conn)
	if _, err := fresh.QueueDeclarePassive(q, false, false, false, false, nil); err != nil {
		t.Fatalf("new channel after a soft error: %v", err)
	}
	select {
	case e := <-conns:
		t.Fatalf("connection closed: %v", e)
	default:
	}
}

func TestChannelUnknownDeliveryTag(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	closes := notifyClose(ch)
	if err := ch.Ack(1, false); err != nil {
		t.Fatal(err)
	}
	expectClose(t, closes, amqp.PreconditionFailed, "PRECONDITION_FAILED - unknown delivery tag 1")
	if conn.IsClosed() {
		t.Fatal("a soft error closed the connection")
	}
	b.queue(b.channel(conn))
}

// A hard error closes the connection and with it every channel.
func TestChannelHardErrorClosesConnection(t *testing.T) {
	b := setup(t)
	conn := b.dial()
	conns := notifyConnClose(conn)
	ch, other := b.channel(conn), b.channel(conn)
	others := notifyClose(other)
	x := b.name("x")
	b.cleanupExchange(x)
	err := ch.ExchangeDeclare(x, "no-such-kind", false, false, false, false, nil)
	const text = "COMMAND_INVALID - unknown exchange type 'no-such-kind'"
	expectError(t, err, amqp.CommandInvalid, text)
	expectClose(t, conns, amqp.CommandInvalid, text)
	expectClose(t, others, amqp.CommandInvalid, text)
	if !conn.IsClosed() || !other.IsClosed() {
		t.Fatal("connection or sibling channel still open after a hard error")
	}
}

// A method on a channel that was never opened is a hard 504.
func TestChannelMethodOnUnopenedChannel(t *testing.T) {
	b := setup(t)
	r := b.rawDial()
	r.handshake(rawTune{})
	r.sendMethod(3, 60, 10, []byte{0, 0, 0, 0, 0, 0, 0}) // basic.qos 0 0 false
	r.expectConnectionClose(504, "CHANNEL_ERROR - expected 'channel.open'")
}

// A second channel.open on an open channel is a hard 504.
func TestChannelOpenTwice(t *testing.T) {
	b := setup(t)
	r := b.rawDial()
	r.handshake(rawTune{})
	r.openChannel(1)
	r.sendMethod(1, 20, 10, []byte{0})
	r.expectConnectionClose(504, "CHANNEL_ERROR - second 'channel.open' seen")
}

// channel.flow active=true is acknowledged with flow-ok.
func TestChannelFlowActive(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	if err := ch.Flow(true); err != nil {
		t.Fatalf("channel.flow active=true: %v", err)
	}
	// The channel still works afterwards.
	q := b.queue(ch)
	b.publish(ch, "", q, "m")
	equal(t, "body", string(get(t, ch, q, true).Body), "m")
}

// rabbitmq: a client may not stop the broker's deliveries with
// channel.flow active=false.
func TestChannelFlowInactive(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	conns := notifyConnClose(conn)
	err := ch.Flow(false)
	const text = "NOT_IMPLEMENTED - active=false"
	expectError(t, err, amqp.NotImplemented, text)
	expectClose(t, conns, amqp.NotImplemented, text)
}

// After the broker closes a channel it discards that channel's frames until
// the client's close-ok; then the channel number may be opened again.
func TestChannelFramesDiscardedUntilCloseOk(t *testing.T) {
	b := setup(t)
	r := b.rawDial()
	r.handshake(rawTune{})
	r.openChannel(1)
	missing := b.name("missing")
	var e encoder
	e.u16(0)
	e.shortstr(missing)
	e.u8(1) // passive
	e.table(nil)
	r.sendMethod(1, 50, 10, e.b)
	d := r.expectMethod(1, 20, 40) // channel.close
	code, text := d.u16(), d.shortstr()
	equal(t, "reply code", code, 404)
	equal(t, "reply text", text, noQueue(missing))
	r.sendMethod(1, 60, 10, []byte{0, 0, 0, 0, 0, 1, 0}) // basic.qos, discarded
	r.sendMethod(1, 20, 41, nil)                         // close-ok
	r.openChannel(1)
	r.sendMethod(1, 60, 10, []byte{0, 0, 0, 0, 0, 1, 0})
	r.expectMethod(1, 60, 11)
}

// A method on a channel the client closed is a hard 504.
func TestChannelMethodAfterClose(t *testing.T) {
	b := setup(t)
	r := b.rawDial()
	r.handshake(rawTune{})
	r.openChannel(1)
	var e encoder
	e.u16(200)
	e.shortstr("bye")
	e.u16(0)
	e.u16(0)
	r.sendMethod(1, 20, 40, e.b)
	r.expectMethod(1, 20, 41)
	r.sendMethod(1, 60, 10, []byte{0, 0, 0, 0, 0, 1, 0})
	r.expectConnectionClose(504, "CHANNEL_ERROR - expected 'channel.open'")
}
