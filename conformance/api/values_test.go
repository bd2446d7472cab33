package api

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestFieldValuesRendered: AMQP field-table values of every type, as
// queue arguments (GET /api/queues/{v}/{q}) and as message headers
// (POST .../get), are rendered as RabbitMQ 3.10 renders them: a byte array
// or long string that is UTF-8 as a string, else "Not UTF-8, base64 is:
// ..."; a decimal as its scale, a dot and its value read unsigned (2.12345
// for scale 2 and value 12345: RabbitMQ's own rendering, kept for
// clients that read it); a timestamp as Unix seconds; floats as numbers;
// tables and arrays nested.
func TestFieldValuesRendered(t *testing.T) {
	e := setup(t)
	ch := e.channel()
	q := e.name("values")
	args := amqp.Table{
		"x-bytes": []byte("ab\x00\xff"), "x-utf8-bytes": []byte("zz"), "x-empty-bytes": []byte{},
		"x-bad-str": "ab\xff", "x-str": "é",
		"x-dec": amqp.Decimal{Scale: 2, Value: 12345}, "x-neg-dec": amqp.Decimal{Scale: 1, Value: -5},
		"x-ts": time.Unix(1700000000, 0), "x-f32": float32(1.5), "x-f64": 2.25, "x-int": int32(-7), "x-bool": true,
		"x-arr":    []any{[]byte("zz"), amqp.Decimal{Scale: 1, Value: 5}, int64(3)},
		"x-nested": amqp.Table{"b": []byte("q"), "d": amqp.Decimal{Scale: 0, Value: 9}},
	}
	want := `{"x-arr":["zz",1.5,3],"x-bad-str":"Not UTF-8, base64 is: YWL/","x-bool":true,"x-bytes":"Not UTF-8, base64 is: YWIA/w==",` +
		`"x-dec":2.12345,"x-empty-bytes":"","x-f32":1.5,"x-f64":2.25,"x-int":-7,"x-neg-dec":1.4294967291,` +
		`"x-nested":{"b":"q","d":0.9},"x-str":"é","x-ts":1700000000,"x-utf8-bytes":"zz"}`
	if _, err := ch.QueueDeclare(q, false, true, false, false, args); err != nil {
		t.Fatal(err)
	}
	e.cleanupQueue(q)
	if err := ch.Publish("", q, false, false, amqp.Publishing{Headers: args, Body: []byte("m")}); err != nil {
		t.Fatal(err)
	}
	var qj struct{ Arguments json.RawMessage }
	e.getJSON("/api/queues/%2F/"+esc(q), &qj)
	if got := canonical(t, qj.Arguments); got != want {
		t.Errorf("queue arguments:\n got %s\nwant %s", got, want)
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		code, raw, _ := e.do("POST", "/api/queues/%2F/"+esc(q)+"/get", map[string]any{"count": 1, "ackmode": "ack_requeue_true", "encoding": "auto"})
		var msgs []struct {
			Properties struct{ Headers json.RawMessage }
		}
		if code != http.StatusOK || json.Unmarshal(raw, &msgs) != nil {
			t.Fatalf("get: %d %s", code, raw)
		}
		if len(msgs) == 1 {
			if got := canonical(t, msgs[0].Properties.Headers); got != want {
				t.Errorf("message headers:\n got %s\nwant %s", got, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message never reached the queue")
		}
		time.Sleep(20 * time.Millisecond) // polling the queue, with a deadline
	}
}

// canonical re-encodes a JSON object with sorted keys, numbers as written.
func canonical(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	out, _ := json.Marshal(m)
	return string(out)
}
