package server_test

import (
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

func delayedPub(body string, mode uint8, ms int32) amqp091.Publishing {
	return amqp091.Publishing{DeliveryMode: mode, Body: []byte(body), Headers: amqp091.Table{"x-delay": ms}}
}

// Persistent messages held by a durable delayed exchange survive a
// restart: one due while the broker is down is released at start-up, one
// due later on time. Transient messages, and those of a non-durable
// delayed exchange, are lost. Released messages are not held again after
// another restart.
func TestDelayedMessagesSurviveRestart(t *testing.T) {
	b := startDurable(t)
	ch := b.channel()
	must(t, ch.ExchangeDeclare("dx", "x-delayed-message", true, false, false, false, amqp091.Table{"x-delayed-type": "direct"}), "declare dx")
	must(t, ch.ExchangeDeclare("nd", "x-delayed-message", false, false, false, false, amqp091.Table{"x-delayed-type": "direct"}), "declare nd")
	declareDurableQueue(t, ch, "q", nil)
	must(t, ch.QueueBind("q", "k", "dx", false, nil), "bind to dx")
	must(t, ch.QueueBind("q", "k", "nd", false, nil), "bind to nd")

	pub := b.confirmChannel()
	start := time.Now()
	publishConfirmed(t, pub, "dx", "k",
		delayedPub("early", amqp091.Persistent, 500),
		delayedPub("late", amqp091.Persistent, 3000),
		delayedPub("transient", amqp091.Transient, 400),
	)
	publishConfirmed(t, pub, "nd", "k", delayedPub("non-durable exchange", amqp091.Persistent, 400))
	b.stop()
	// "early" falls due while the broker is down.
	for time.Since(start) < 600*time.Millisecond {
		<-time.After(20 * time.Millisecond) // waiting for the wall clock, not for an event
	}
	b.start()
	if es := b.logs.FilterMessage("recovered delayed messages").All(); len(es) != 1 || es[0].ContextMap()["messages"] != int64(2) {
		t.Fatalf("recovery logged %v, want 2 delayed messages", es)
	}
	ch = b.channel()
	deliveries, err := ch.Consume("q", "", false, false, false, false, nil)
	must(t, err, "consume q")
	recvBody := func() amqp091.Delivery {
		t.Helper()
		select {
		case d := <-deliveries:
			must(t, d.Ack(false), "ack")
			return d
		case <-time.After(durWait):
			t.Fatal("no delivery")
		}
		return amqp091.Delivery{}
	}
	d := recvBody()
	if string(d.Body) != "early" || d.Headers["x-delay"] != int32(-500) || d.DeliveryMode != amqp091.Persistent {
		t.Fatalf("first delivery %q x-delay %v mode %d, want early, -500, persistent", d.Body, d.Headers["x-delay"], d.DeliveryMode)
	}
	d = recvBody()
	if string(d.Body) != "late" {
		t.Fatalf("second delivery %q, want late (the lost messages were due before it)", d.Body)
	}
	if since := time.Since(start); since < 3*time.Second {
		t.Fatalf("late released %v after its publish, before its 3 s delay", since)
	}

	// Released messages left the schedule (and were acked from q).
	roundTrip(t, ch, "q")
	b.restart()
	if es := b.logs.FilterMessage("recovered delayed messages").All(); len(es) != 0 {
		t.Fatalf("after the releases, recovery still logged %v", es)
	}
	ch = b.channel()
	publishConfirmed(t, b.confirmChannel(), "dx", "k", delayedPub("marker", amqp091.Persistent, 100))
	deliveries, err = ch.Consume("q", "", false, false, false, false, nil)
	must(t, err, "consume q")
	if d := recvBody(); string(d.Body) != "marker" {
		t.Fatalf("after a second restart got %q, want only the new marker", d.Body)
	}
}
