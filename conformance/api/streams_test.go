package api

import (
	"fmt"
	"slices"
	"testing"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"
)

// A stream queue's and a stream consumer's fields, each in RabbitMQ
// 3.10's answer (rabbitmq_stream enabled) and in Warren's, and the
// classic queue fields neither has for a stream.
var (
	streamShape = []string{"arguments", "auto_delete", "consumers", "durable", "effective_policy_definition",
		"exclusive", "members", "message_stats", "messages", "messages_details.rate", "messages_ready",
		"messages_ready_details.rate", "messages_unacknowledged", "messages_unacknowledged_details.rate", "name",
		"node", "online", "operator_policy", "policy", "readers", "state", "type", "vhost", "consumer_details"}
	streamConsumerShape = []string{"consumer_tag", "queue.name", "channel_details.name", "ack_required",
		"prefetch_count", "arguments.x-stream-offset", "active", "activity_status"}
	streamAbsent = []string{"messages_ram", "messages_ready_ram", "messages_paged_out", "message_bytes_ready",
		"message_bytes_unacknowledged", "head_message_timestamp", "exclusive_consumer_tag"}
)

// TestStreamJSONFieldsAreRabbitMQs: a stream queue with messages and a
// consumer at an offset, in GET /api/queues/{v}/{q} and /api/consumers:
// type stream, the log's length as messages and messages_ready, nothing
// unacknowledged, RabbitMQ's stream fields, no classic byte/RAM fields.
func TestStreamJSONFieldsAreRabbitMQs(t *testing.T) {
	e := setup(t)
	q := e.name("stream")
	e.cleanupQueue(q)
	if _, err := e.rh.DeclareQueue("/", q, rabbithole.QueueSettings{Durable: true, Arguments: map[string]any{"x-queue-type": "stream"}}); err != nil {
		t.Fatal(err)
	}
	conn := e.dial("", nil)
	pub, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		dc, err := pub.PublishWithDeferredConfirm("", q, false, false, amqp.Publishing{Body: []byte(fmt.Sprint("m", i))})
		if err != nil || !dc.Wait() {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Qos(1, 0, false); err != nil {
		t.Fatal(err)
	}
	tag := e.name("tag")
	ds, err := ch.Consume(q, tag, false, false, false, false, amqp.Table{"x-stream-offset": int64(1)})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-ds:
		if d.Headers["x-stream-offset"] != int64(1) {
			t.Fatalf("first delivery at x-stream-offset %v, want 1", d.Headers["x-stream-offset"])
		}
	case <-timeoutC():
		t.Fatal("no delivery")
	}
	e.eventually("the stream queue has RabbitMQ's fields", func() (bool, string) {
		var m map[string]any
		e.getJSON("/api/queues/%2F/"+esc(q), &m)
		if missing := missingFields(m, streamShape); len(missing) > 0 {
			return false, fmt.Sprintf("missing %v in %s", missing, jsonOf(m))
		}
		if m["type"] != "stream" || m["messages"] != float64(3) || m["messages_ready"] != float64(3) || m["messages_unacknowledged"] != float64(0) {
			return false, "type/messages not yet: " + jsonOf(m)
		}
		if cd, _ := m["consumer_details"].([]any); len(cd) != 1 {
			return false, "no consumer yet: " + jsonOf(m)
		}
		for _, k := range streamAbsent {
			if _, ok := m[k]; ok {
				t.Errorf("%s in a stream queue's answer: %s", k, jsonOf(m))
			}
		}
		return true, ""
	})
	e.eventually("the stream consumer has RabbitMQ's fields", func() (bool, string) {
		var items []map[string]any
		e.getJSON("/api/consumers/%2F", &items)
		i := slices.IndexFunc(items, func(m map[string]any) bool { return m["consumer_tag"] == tag })
		if i < 0 {
			return false, "not listed yet"
		}
		if missing := missingFields(items[i], streamConsumerShape); len(missing) > 0 {
			return false, fmt.Sprintf("missing %v in %s", missing, jsonOf(items[i]))
		}
		return true, ""
	})
}
