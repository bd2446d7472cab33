package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"
)

type gotMessage struct {
	PayloadBytes    int            `json:"payload_bytes"`
	Redelivered     bool           `json:"redelivered"`
	Exchange        string         `json:"exchange"`
	RoutingKey      string         `json:"routing_key"`
	MessageCount    int            `json:"message_count"`
	Properties      map[string]any `json:"properties"`
	Payload         string         `json:"payload"`
	PayloadEncoding string         `json:"payload_encoding"`
}

// get POSTs to /api/queues/%2F/{q}/get.
func (e *env) get(q string, body map[string]any) []gotMessage {
	e.t.Helper()
	code, raw, _ := e.do("POST", "/api/queues/%2F/"+esc(q)+"/get", body)
	var out []gotMessage
	if code != http.StatusOK || json.Unmarshal(raw, &out) != nil {
		e.t.Fatalf("get from %q: %d %s", q, code, raw)
	}
	return out
}

func (e *env) publishAMQP(ch *amqp.Channel, q string, bodies ...string) {
	e.t.Helper()
	for _, b := range bodies {
		if err := ch.Publish("", q, false, false, amqp.Publishing{Body: []byte(b), DeliveryMode: 2, Priority: 3,
			Headers: amqp.Table{"n": int32(7)}, MessageId: "id-" + b}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// waitReady waits until AMQP counts n ready messages in q.
func (e *env) waitReady(ch *amqp.Channel, q string, n int) {
	e.t.Helper()
	e.eventually(fmt.Sprintf("%d messages ready in %q", n, q), func() (bool, string) {
		st, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
		if err != nil {
			e.t.Fatal(err)
		}
		return st.Messages == n, fmt.Sprintf("%d", st.Messages)
	})
}

func TestGetAckModes(t *testing.T) {
	e := setup(t)
	q, dlq := e.name("get"), e.name("dead")
	e.cleanupQueue(q)
	e.cleanupQueue(dlq)
	ch := e.channel()
	if _, err := ch.QueueDeclare(dlq, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(q, false, false, false, false, amqp.Table{
		"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq}); err != nil {
		t.Fatal(err)
	}
	e.publishAMQP(ch, q, "one", "two", "three")
	e.waitReady(ch, q, 3)

	// ack_requeue_true: seen, left in the queue, marked redelivered.
	got := e.get(q, map[string]any{"count": 2, "ackmode": "ack_requeue_true", "encoding": "auto"})
	if len(got) != 2 || got[0].Payload != "one" || got[0].PayloadEncoding != "string" || got[0].Redelivered ||
		got[0].MessageCount != 2 || got[1].MessageCount != 1 || got[0].RoutingKey != q || got[0].Exchange != "" ||
		got[0].PayloadBytes != 3 {
		t.Fatalf("ack_requeue_true: %+v", got)
	}
	p := got[0].Properties
	if p["delivery_mode"] != float64(2) || p["priority"] != float64(3) || p["message_id"] != "id-one" ||
		p["headers"].(map[string]any)["n"] != float64(7) {
		t.Errorf("properties: %v", p)
	}
	e.waitReady(ch, q, 3)
	d, ok, err := ch.Get(q, false)
	if err != nil || !ok || string(d.Body) != "one" || !d.Redelivered {
		t.Fatalf("AMQP get after ack_requeue_true: %q redelivered=%v %v %v, want one, redelivered", d.Body, d.Redelivered, ok, err)
	}
	if err := d.Reject(true); err != nil {
		t.Fatal(err)
	}
	e.waitReady(ch, q, 3)

	// base64 and truncate.
	got = e.get(q, map[string]any{"count": 1, "ackmode": "ack_requeue_true", "encoding": "base64", "truncate": 2})
	if len(got) != 1 || got[0].Payload != "b24=" || got[0].PayloadEncoding != "base64" || got[0].PayloadBytes != 3 {
		t.Fatalf("base64, truncate 2: %+v, want payload b24= (\"on\") of 3 bytes", got)
	}
	e.waitReady(ch, q, 3)

	// ack_requeue_false: gone.
	got = e.get(q, map[string]any{"count": 1, "ackmode": "ack_requeue_false", "encoding": "auto"})
	if len(got) != 1 || got[0].Payload != "one" {
		t.Fatalf("ack_requeue_false: %+v", got)
	}
	e.waitReady(ch, q, 2)

	// reject_requeue_false: dead-lettered.
	got = e.get(q, map[string]any{"count": 1, "ackmode": "reject_requeue_false", "encoding": "auto"})
	if len(got) != 1 || got[0].Payload != "two" {
		t.Fatalf("reject_requeue_false: %+v", got)
	}
	e.waitReady(ch, q, 1)
	e.waitReady(ch, dlq, 1)
	d, ok, err = ch.Get(dlq, true)
	if err != nil || !ok || string(d.Body) != "two" || d.Headers["x-death"] == nil {
		t.Fatalf("the dead-lettered message: %q %v %v, want two with x-death", d.Body, ok, err)
	}

	// reject_requeue_true: stays.
	got = e.get(q, map[string]any{"count": 5, "ackmode": "reject_requeue_true", "encoding": "auto"})
	if len(got) != 1 || got[0].Payload != "three" {
		t.Fatalf("reject_requeue_true: %+v", got)
	}
	e.waitReady(ch, q, 1)

	code, raw, _ := e.do("POST", "/api/queues/%2F/"+esc(q)+"/get", map[string]any{"count": 1})
	e.wantError("get without ackmode and encoding", code, raw, http.StatusBadRequest, "bad_request",
		"[{key_missing,ackmode},{key_missing,encoding}]")
}

func TestPublishPropertiesOverAMQP(t *testing.T) {
	e := setup(t)
	q := e.name("props")
	e.cleanupQueue(q)
	ch := e.channel()
	if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if !e.publish("", q, map[string]any{"payload": "aGk=", "payload_encoding": "base64", "properties": map[string]any{
		"delivery_mode": 2, "priority": 4, "correlation_id": "c1", "reply_to": "r", "expiration": "60000",
		"message_id": "m1", "timestamp": 1700000000, "type": "t", "app_id": "a", "content_encoding": "gzip",
		"headers": map[string]any{"s": "x", "i": 5, "b": true, "nested": map[string]any{"k": 1}, "list": []any{1, "two"}},
	}}) {
		t.Fatal("publish to the default exchange: routed false")
	}
	e.waitReady(ch, q, 1)
	d, ok, err := ch.Get(q, true)
	if err != nil || !ok {
		t.Fatalf("AMQP get: %v %v", ok, err)
	}
	if string(d.Body) != "hi" || d.DeliveryMode != 2 || d.Priority != 4 || d.CorrelationId != "c1" || d.ReplyTo != "r" ||
		d.Expiration != "60000" || d.MessageId != "m1" || d.Timestamp.Unix() != 1700000000 || d.Type != "t" ||
		d.AppId != "a" || d.ContentEncoding != "gzip" {
		t.Fatalf("properties over AMQP: %+v", d)
	}
	h := d.Headers
	if h["s"] != "x" || h["i"] != int64(5) || h["b"] != true || h["nested"].(amqp.Table)["k"] != int64(1) {
		t.Fatalf("headers over AMQP: %#v", h)
	}
	if l, ok := h["list"].([]any); !ok || len(l) != 2 || l[0] != int64(1) || l[1] != "two" {
		t.Fatalf("array header over AMQP: %#v", h["list"])
	}
	code, raw, _ := e.do("POST", "/api/exchanges/%2F/amq.default/publish", map[string]any{"routing_key": q})
	e.wantError("publish without properties and payload", code, raw, http.StatusBadRequest, "bad_request",
		"[{key_missing,properties},\n {key_missing,payload},\n {key_missing,payload_encoding}]")
}

func TestMessageRates(t *testing.T) {
	e := setup(t)
	q := e.name("rates")
	e.cleanupQueue(q)
	if _, err := e.rh.DeclareQueue("/", q, rabbithole.QueueSettings{}); err != nil {
		t.Fatal(err)
	}
	ch := e.channel()
	// A publisher paced by a ticker until the rate shows: rates are
	// differences between the sampler's passes, so publishing must span
	// at least two of them.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if ch.Publish("", q, false, false, amqp.Publishing{Body: []byte("r")}) != nil {
					return
				}
			}
		}
	}()
	defer func() { close(stop); <-done }()
	var qi struct {
		Messages        int `json:"messages"`
		MessagesDetails struct {
			Rate float64 `json:"rate"`
		} `json:"messages_details"`
		MessageStats struct {
			Publish        int `json:"publish"`
			PublishDetails struct {
				Rate float64 `json:"rate"`
			} `json:"publish_details"`
		} `json:"message_stats"`
	}
	e.eventually("the queue's publish rate and message rate", func() (bool, string) {
		e.getJSON("/api/queues/%2F/"+esc(q), &qi)
		return qi.MessageStats.Publish > 0 && qi.MessageStats.PublishDetails.Rate > 0 && qi.MessagesDetails.Rate > 0, jsonOf(qi)
	})
	e.eventually("the overview's publish rate and queue totals", func() (bool, string) {
		ov, err := e.rh.Overview()
		if err != nil {
			return false, err.Error()
		}
		return ov.MessageStats.PublishDetails.Rate > 0 && ov.QueueTotals.Messages > 0, jsonOf(ov.MessageStats)
	})
	e.eventually("the vhost's publish rate", func() (bool, string) {
		var v struct {
			MessageStats struct {
				PublishDetails struct{ Rate float64 } `json:"publish_details"`
			} `json:"message_stats"`
		}
		e.getJSON("/api/vhosts/%2F", &v)
		return v.MessageStats.PublishDetails.Rate > 0, jsonOf(v)
	})
	e.eventually("the default exchange's publish_in rate", func() (bool, string) {
		var x struct {
			MessageStats struct {
				PublishIn        int                    `json:"publish_in"`
				PublishInDetails struct{ Rate float64 } `json:"publish_in_details"`
			} `json:"message_stats"`
		}
		e.getJSON("/api/exchanges/%2F/amq.default", &x)
		return x.MessageStats.PublishIn > 0 && x.MessageStats.PublishInDetails.Rate > 0, jsonOf(x)
	})
	// Sorting by a rate path is accepted, and each item has the column.
	var sorted []map[string]any
	e.getJSON("/api/queues/%2F?sort=message_stats.publish_details.rate&sort_reverse=true&columns=name,message_stats.publish_details.rate", &sorted)
	if len(sorted) == 0 {
		t.Fatal("sorted listing is empty")
	}
}
