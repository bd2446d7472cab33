package management_test

import (
	"encoding/json"
	"net/http"
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// TestMoveEndpoint checks POST /api/queues/{v}/{q}/actions/move: bad
// bodies are 400s with a readable reason, a missing source a 404, and a
// move to an exchange with a routing key lands where the key routes,
// checked over AMQP.
func TestMoveEndpoint(t *testing.T) {
	a := startAPI(t, nil)
	conn, err := amqp091.Dial(a.amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"src", "dst"} {
		if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := ch.QueueBind("dst", "k", "amq.direct", false, nil); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := ch.Publish("", "src", false, false, amqp091.Publishing{Body: []byte("m")}); err != nil {
			t.Fatal(err)
		}
	}
	const path = "/api/queues/%2F/src/actions/move"
	const help = `destination must be {"queue":name}, {"exchange":name,"routing_key":key} or "origin"`
	for _, c := range []struct {
		path, body string
		code       int
		err        string
		reason     string
	}{
		{path, `{}`, 400, "bad_request", "[{key_missing,destination}]"},
		{path, `{"destination":"elsewhere"}`, 400, "bad_request", help},
		{path, `{"destination":{"queue":"a","exchange":"b"}}`, 400, "bad_request", help},
		{path, `{"destination":{}}`, 400, "bad_request", help},
		{path, `{"destination":7}`, 400, "bad_request", help},
		{path, `{"destination":{"queue":"dst"},"count":-1}`, 400, "bad_request", "count must be a non-negative integer"},
		{path, `{"destination":{"queue":"dst"},"count":"x"}`, 400, "bad_request", "not_json"},
		{path, `{"destination":{"queue":"nope"}}`, 400, "bad_request", "destination: no queue 'nope' in vhost '/'"},
		{path, `{"destination":{"exchange":"nope"}}`, 400, "bad_request", "destination: no exchange 'nope' in vhost '/'"},
		{path, `not json`, 400, "bad_request", "not_json"},
		{"/api/queues/%2F/none/actions/move", `{"destination":"origin"}`, 404, "Object Not Found", "Not Found"},
	} {
		code, raw := a.do("guest", "guest", "POST", c.path, c.body)
		wantError(t, c.body, code, raw, c.code, c.err, c.reason)
	}
	if q, _ := ch.QueueDeclarePassive("src", true, false, false, false, nil); q.Messages != 3 {
		t.Fatalf("the refused moves left %d messages on src, want 3", q.Messages)
	}

	code, raw := a.do("guest", "guest", "POST", path, `{"destination":{"exchange":"amq.direct","routing_key":"k"},"count":2}`)
	var res struct{ Moved, Unroutable, NoOrigin int }
	if code != http.StatusOK || json.Unmarshal(raw, &res) != nil || res.Moved != 2 {
		t.Fatalf("move 2 to amq.direct/k: %d %s", code, raw)
	}
	// Unroutable: the message stays on the source.
	code, raw = a.do("guest", "guest", "POST", path, `{"destination":{"exchange":"amq.direct","routing_key":"none"}}`)
	if code != http.StatusOK || string(raw) != `{"moved":0,"unroutable":1,"no_origin":0}` {
		t.Fatalf("an unroutable move: %d %s", code, raw)
	}
	src, _ := ch.QueueDeclarePassive("src", true, false, false, false, nil)
	dst, _ := ch.QueueDeclarePassive("dst", true, false, false, false, nil)
	if src.Messages != 1 || dst.Messages != 2 {
		t.Errorf("after the moves src %d dst %d, want 1 and 2", src.Messages, dst.Messages)
	}
	d, ok, err := ch.Get("dst", true)
	if err != nil || !ok || d.Exchange != "amq.direct" || d.RoutingKey != "k" {
		t.Errorf("a moved message: %v %v from %q/%q, want amq.direct/k", err, ok, d.Exchange, d.RoutingKey)
	}
}
