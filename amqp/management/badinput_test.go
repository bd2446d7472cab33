package management_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestBadInputNeverCrashes sends malformed and hostile requests: each
// gets a 4xx with a readable reason, and the API keeps answering.
func TestBadInputNeverCrashes(t *testing.T) {
	a := startAPI(t, nil)
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"PUT", "/api/queues/%2F/q", `{"arguments": {"x-max-length": 1.5}}`, http.StatusBadRequest},
		{"PUT", "/api/queues/%2F/q", `{"arguments": {"x-queue-type": "nonsense"}}`, http.StatusBadRequest},
		{"PUT", "/api/queues/%2F/q", `{"durable": "maybe"}`, http.StatusBadRequest},
		{"PUT", "/api/queues/%2F/q", `[1, 2]`, http.StatusBadRequest},
		{"PUT", "/api/queues/%2F/q", `{"arguments": {"deep": [[[[{"a": null}]]]]}}`, http.StatusCreated},
		{"PUT", "/api/exchanges/%2F/x", `{"type": 5}`, http.StatusBadRequest},
		{"PUT", "/api/exchanges/%2F/x", `{"type": "direct", "arguments": {"alternate-exchange": 5}}`, http.StatusBadRequest},
		{"POST", "/api/exchanges/%2F/amq.default/publish", `{"routing_key": "q", "payload": "x", "payload_encoding": "rot13", "properties": {}}`, http.StatusBadRequest},
		{"POST", "/api/exchanges/%2F/amq.default/publish", `{"routing_key": "q", "payload": "x", "payload_encoding": "string", "properties": {"delivery_mode": 7}}`, http.StatusBadRequest},
		{"POST", "/api/exchanges/%2F/amq.default/publish", `{"routing_key": "q", "payload": "x", "payload_encoding": "string", "properties": {"headers": "no"}}`, http.StatusBadRequest},
		{"POST", "/api/exchanges/%2F/amq.default/publish", `{"routing_key": "q", "payload": "x", "payload_encoding": "string", "properties": {"expiration": "-5"}}`, http.StatusBadRequest},
		{"POST", "/api/exchanges/%2F/amq.default/publish", `{"routing_key": "q", "payload": "x", "payload_encoding": "string", "properties": {"user_id": "mallory"}}`, http.StatusBadRequest},
		{"POST", "/api/exchanges/%2F/amq.default/publish", `{"routing_key": "` + strings.Repeat("k", 300) + `", "payload": "x", "payload_encoding": "string", "properties": {"content_type": "` + strings.Repeat("c", 300) + `"}}`, http.StatusBadRequest},
		{"POST", "/api/exchanges/%2F/amq.default/publish", `{"routing_key": "` + strings.Repeat("k", 256) + `", "payload": "x", "payload_encoding": "string", "properties": {}}`, http.StatusBadRequest},
		{"POST", "/api/queues/%2F/q/get", `{"count": -1, "ackmode": "ack_requeue_true", "encoding": "auto"}`, http.StatusBadRequest},
		{"POST", "/api/queues/%2F/q/get", `{"count": 1, "ackmode": "nope", "encoding": "auto"}`, http.StatusBadRequest},
		{"POST", "/api/queues/%2F/q/get", `{"count": 1, "ackmode": "ack_requeue_true", "encoding": "hex"}`, http.StatusBadRequest},
		{"POST", "/api/bindings/%2F/e/amq.direct/q/q", `{"routing_key": 5}`, http.StatusBadRequest},
		{"GET", "/api/queues/%2F?page=1&page_size=99999999999999999999", "", http.StatusBadRequest},
		{"GET", "/api/queues/%2F?page=1&use_regex=true&name=a**", "", http.StatusBadRequest},
		{"GET", "/api/health/checks/port-listener/99999999999999999999", "", http.StatusBadRequest},
	} {
		code, raw := a.do("guest", "guest", c.method, c.path, c.body)
		if code != c.want {
			t.Errorf("%s %s %s: %d %s, want %d", c.method, c.path, c.body, code, raw, c.want)
		}
		if code >= 400 && code != http.StatusMethodNotAllowed && !strings.Contains(string(raw), `"reason":`) {
			t.Errorf("%s %s: %d without a reason: %s", c.method, c.path, code, raw)
		}
	}

	// A close reason longer than a reply text can hold is cut, not fatal.
	conn, err := amqp.Dial(a.amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	name := conn.LocalAddr().String() + " -> " + strings.TrimSuffix(strings.TrimPrefix(a.amqpURL, "amqp://guest:guest@"), "/")
	req, _ := http.NewRequest("DELETE", a.url+"/api/connections/"+strings.ReplaceAll(name, " ", "%20"), nil)
	req.SetBasicAuth("guest", "guest")
	req.Header.Set("X-Reason", strings.Repeat("é", 300))
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusNoContent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DELETE %q: %d", name, res.StatusCode)
		}
		runtimeYield()
	}
	select {
	case ae := <-closed:
		if ae == nil || ae.Code != amqp.ConnectionForced || len(ae.Reason) > 255 {
			t.Fatalf("closed with %v", ae)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the connection stayed open")
	}
	if code, _ := a.do("guest", "guest", "GET", "/api/overview", ""); code != http.StatusOK {
		t.Fatalf("the API after all that: %d", code)
	}
}
