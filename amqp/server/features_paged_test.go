package server_test

import (
	"fmt"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// TestTTLPagedMessagesExpire: messages with a TTL that were paged out past
// the memory budget expire too, with no consumer and nothing else going
// on: once those in memory are gone, the rest are read back and dropped.
func TestTTLPagedMessagesExpire(t *testing.T) {
	t.Parallel()
	b := startDurableBudget(t, 16<<10)
	ch := b.channel()
	// The TTL outlasts the publishing, so that nothing but the expiry
	// itself can start the read-ahead.
	_, err := ch.QueueDeclare("paged.ttl", false, false, false, false, amqp091.Table{"x-message-ttl": int32(500)})
	must(t, err, "declare paged.ttl")
	const n = 1500
	msgs := make([]amqp091.Publishing, n)
	for i := range msgs {
		msgs[i] = transient(fmt.Sprintf("m%d-%0100d", i, 0))
	}
	before := b.st.Metrics()
	publishConfirmed(t, b.confirmChannel(), "", "paged.ttl", msgs...)
	deadline := time.Now().Add(durWait)
	for b.st.Metrics().OpsWritten == before.OpsWritten { // page-outs are not confirmed: their writes trail
		if time.Now().After(deadline) {
			t.Fatal("no transient message was paged out: the test needs a smaller budget")
		}
		<-time.After(time.Millisecond) // the polling interval
	}
	for {
		m := queueCount(t, ch, "paged.ttl")
		if m == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("'paged.ttl' still holds %d of %d messages with a 500 ms TTL after %v", m, n, durWait)
		}
		<-time.After(10 * time.Millisecond) // the polling interval
	}
}
