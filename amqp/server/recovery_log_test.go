package server_test

import (
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// The two start-up lines count different things and say so. The engine's
// "recovered durable state" counts the queues it declared (empty ones too)
// and the messages restored into them, a copy per queue; its messages and
// entries are the store's (stored once; the delayed schedule's entries
// included). The store's "recovered" line counts queue ids with entries
// on disk, the delayed schedule's among them.
func TestRecoveryLogLinesSayWhatTheyCount(t *testing.T) {
	b := startDurable(t)
	ch := b.channel()
	must(t, ch.ExchangeDeclare("fx", "fanout", true, false, false, false, nil), "declare fx")
	must(t, ch.ExchangeDeclare("dx", "x-delayed-message", true, false, false, false, amqp091.Table{"x-delayed-type": "direct"}), "declare dx")
	for _, q := range []string{"q1", "q2", "q3", "empty1", "empty2"} {
		declareDurableQueue(t, ch, q, nil)
	}
	for _, q := range []string{"q1", "q2", "q3"} {
		must(t, ch.QueueBind(q, "", "fx", false, nil), "bind "+q)
	}
	must(t, ch.QueueBind("q1", "k", "dx", false, nil), "bind q1 to dx")
	pub := b.confirmChannel()
	publishConfirmed(t, pub, "fx", "", persistent("to three queues"))
	publishConfirmed(t, pub, "dx", "k", amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: []byte("in an hour"), Headers: amqp091.Table{"x-delay": int32(3600_000)}})

	b.restart()
	b.expectRecovered(map[string]int64{"queues": 5, "messages_in_queues": 3, "messages": 2, "entries": 4})
	var store map[string]any
	for _, e := range b.logs.FilterMessage("recovered").All() {
		if e.LoggerName == "storage" {
			store = e.ContextMap()
		}
	}
	for k, v := range map[string]int64{"queue_ids_with_entries": 4, "entries_kept": 4, "messages_kept": 2} {
		if store[k] != v {
			t.Errorf("the store's line: %s = %v, want %d (all: %v)", k, store[k], v, store)
		}
	}
}
