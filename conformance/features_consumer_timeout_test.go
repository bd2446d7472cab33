package conformance

import (
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Consumer acknowledgement timeouts. RabbitMQ 3.10 has only the
// broker-wide consumer_timeout (30 minutes by default, checked once a
// minute), which a test cannot lower without reconfiguring a shared broker;
// the per-queue x-consumer-timeout argument came with RabbitMQ 3.12. These
// tests are Warren-only; the engine tests check the broker-wide setting
// with fake time.

func skipConsumerTimeoutOnRabbitMQ(t *testing.T, conn *amqp.Connection) {
	t.Helper()
	if isRabbitMQ(conn) {
		t.Skipf("Warren-only: RabbitMQ 3.10 has no per-queue x-consumer-timeout (added in 3.12), " +
			"and its broker-wide consumer_timeout cannot be lowered for one test on a shared broker")
	}
}

// A delivery left unacknowledged past the queue's x-consumer-timeout closes
// its channel with RabbitMQ's 406, and goes back to the queue.
func TestConsumerTimeoutClosesChannel(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	skipConsumerTimeoutOnRabbitMQ(t, conn)
	q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-consumer-timeout": int32(200)})
	b.publish(ch, "", q, "slow")
	closes := notifyClose(ch)
	start := time.Now()
	d := recv(t, consume(t, ch, q, "", false))
	equal(t, "body", string(d.Body), "slow")
	// The first channel of a fresh connection is channel 1.
	expectClose(t, closes, amqp.PreconditionFailed, "PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. "+
		"Timeout value used: 200 ms. This timeout value can be configured, see consumers doc guide to learn more")
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("channel closed after %v, before the 200 ms timeout", waited)
	}
	again := get(t, b.channel(conn), q, true)
	equal(t, "requeued body", string(again.Body), "slow")
	equal(t, "redelivered", again.Redelivered, true)
}

// Acknowledged deliveries do not time out, and an auto-ack consumer has
// nothing to time out.
func TestConsumerTimeoutAckedInTime(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	skipConsumerTimeoutOnRabbitMQ(t, conn)
	q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-consumer-timeout": int32(300)})
	closes := notifyClose(ch)
	deliveries := consume(t, ch, q, "", false)
	for i := range 3 {
		b.publish(ch, "", q, fmt.Sprintf("m%d", i))
		d := recv(t, deliveries)
		if err := d.Ack(false); err != nil {
			t.Fatal(err)
		}
	}
	auto := b.channel(conn)
	autoCloses := notifyClose(auto)
	q2 := b.declareQueue(auto, b.name("q"), false, false, false, amqp.Table{"x-consumer-timeout": int32(300)})
	autoDeliveries := consume(t, auto, q2, "", true)
	// Outlive the timeout by a margin; the broker has to stay quiet.
	deadline := time.Now().Add(600 * time.Millisecond)
	for time.Now().Before(deadline) {
		b.publish(auto, "", q2, "auto")
		recv(t, autoDeliveries)
		select {
		case e := <-closes:
			t.Fatalf("channel closed though every delivery was acked: %v", e)
		case e := <-autoCloses:
			t.Fatalf("auto-ack channel closed: %v", e)
		case <-time.After(50 * time.Millisecond): // pacing, not synchronisation
		}
	}
}

// x-consumer-timeout is a non-negative integer (ms).
func TestConsumerTimeoutArgument(t *testing.T) {
	for _, c := range []struct {
		name   string
		value  any
		reason string
	}{
		{"string", "1000", "{unacceptable_type,longstr}"},
		{"negative", int32(-1), "{value_negative,-1}"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := setup(t)
			conn, ch := b.open()
			skipConsumerTimeoutOnRabbitMQ(t, conn)
			q := b.name("q")
			b.cleanupQueue(q)
			_, err := ch.QueueDeclare(q, false, false, false, false, amqp.Table{"x-consumer-timeout": c.value})
			expectError(t, err, amqp.PreconditionFailed,
				fmt.Sprintf("PRECONDITION_FAILED - invalid arg 'x-consumer-timeout' for queue '%s' in vhost '/': %s", q, c.reason))
		})
	}
	t.Run("inequivalent", func(t *testing.T) {
		b := setup(t)
		conn, ch := b.open()
		skipConsumerTimeoutOnRabbitMQ(t, conn)
		q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-consumer-timeout": int32(1000)})
		_, err := ch.QueueDeclare(q, false, false, false, false, amqp.Table{"x-consumer-timeout": int32(2000)})
		expectError(t, err, amqp.PreconditionFailed,
			fmt.Sprintf("PRECONDITION_FAILED - inequivalent arg 'x-consumer-timeout' for queue '%s' in vhost '/': received '2000' but current is '1000'", q))
	})
}
