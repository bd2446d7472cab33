package conformance

import (
	"errors"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// x-expires: a queue unused for that long (no consumers, no declare, no
// basic.get) is deleted.

// waitQueueExpired polls until a passive declare of queue answers 404. A
// passive declare is a use that restarts x-expires (RabbitMQ's and
// Warren's), so the polls are further apart than expires, or the queue
// would never expire.
func (b *broker) waitQueueExpired(queue string, expires time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		_, err := b.inspect(queue)
		var e *amqp.Error
		if errors.As(err, &e) && e.Code == amqp.NotFound {
			return
		}
		if err != nil {
			b.t.Fatalf("passive declare %q: %v", queue, err)
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("queue %q with x-expires %v still there after %v", queue, expires, waitTimeout)
		}
		<-time.After(3 * expires) // the polling interval, not synchronisation
	}
}

const queueExpires = 30 * time.Millisecond

func TestExpiresDeletesUnusedQueue(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	q := b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{"x-expires": int32(queueExpires / time.Millisecond)})
	b.waitQueueExpired(q, queueExpires)
}

// Messages do not keep a queue; they go with it, not dead-lettered.
func TestExpiresDeletesQueueWithMessages(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q, dlq := b.deadLettered(ch, amqp.Table{"x-expires": int32(queueExpires / time.Millisecond)})
	b.publishConfirmed(pub, "", q, textMsg("m"))
	b.waitQueueExpired(q, queueExpires)
	equal(t, "dead letters", func() int { m, _ := b.counts(dlq); return m }(), 0)
}

// A queue with a consumer is in use: it outlives an unused one declared
// after it, and expires once its consumer is cancelled.
func TestExpiresKeptWhileConsumed(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	args := amqp.Table{"x-expires": int32(queueExpires / time.Millisecond)}
	used := b.declareQueue(ch, b.name("used"), false, false, false, args)
	cch := b.channel(conn)
	consume(t, cch, used, "c", true)
	unused := b.declareQueue(ch, b.name("unused"), false, false, false, args)
	b.waitQueueExpired(unused, queueExpires)
	_, consumers := b.counts(used)
	equal(t, "consumers of the used queue", consumers, 1)

	if err := cch.Cancel("c", false); err != nil {
		t.Fatal(err)
	}
	b.waitQueueExpired(used, queueExpires)
}
