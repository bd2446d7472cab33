package management_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzDefinitionBodies sends arbitrary JSON bodies to the endpoints that
// take policies, permissions, topic permissions, users, limits and
// parameters: every answer is a status below 500, and nothing panics.
func FuzzDefinitionBodies(f *testing.F) {
	a := startAPI(f, nil)
	paths := []string{
		"/api/policies/%2F/fz", "/api/operator-policies/%2F/fz", "/api/permissions/other/guest",
		"/api/topic-permissions/other/guest", "/api/users/fz", "/api/vhost-limits/%2F/max-queues",
		"/api/user-limits/fz/max-channels", "/api/parameters/vhost-limits/%2F/limits", "/api/global-parameters/fz",
	}
	for _, seed := range []string{
		`{"pattern": ".*", "definition": {"max-length": 1}, "priority": 1, "apply-to": "queues"}`,
		`{"configure": ".*", "write": ".*", "read": ".*"}`,
		`{"exchange": "amq.topic", "write": "^a", "read": ".*"}`,
		`{"password": "p", "tags": "management"}`,
		`{"value": 5}`, `{"value": {"max-queues": 5}}`, `{"pattern": "[", "definition": {}}`, `null`, `[]`, ``,
	} {
		for i := range paths {
			f.Add(uint8(i), seed)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		path := paths[int(which)%len(paths)]
		req := httptest.NewRequest("PUT", path, strings.NewReader(body))
		req.RemoteAddr = "127.0.0.1:1234" // guest is loopback-only
		req.SetBasicAuth("guest", "guest")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.api.ServeHTTP(rec, req)
		if rec.Code >= http.StatusInternalServerError {
			t.Fatalf("PUT %s %q: %d %s", path, body, rec.Code, rec.Body)
		}
	})
}

// FuzzObjectBodies sends arbitrary JSON bodies to the endpoints that take
// vhost bodies, queue and exchange declarations (with arguments),
// bindings, publishes, gets and moves: every answer is a status below
// 500, and nothing panics.
func FuzzObjectBodies(f *testing.F) {
	a := startAPI(f, nil)
	for _, q := range []string{"fzq", "fzsrc"} {
		if code, raw := a.do("guest", "guest", "PUT", "/api/queues/%2F/"+q, `{"durable":false}`); code != http.StatusCreated {
			f.Fatalf("declare %s: %d %s", q, code, raw)
		}
	}
	calls := []struct{ method, path string }{
		{"PUT", "/api/vhosts/fz-vhost"},
		{"PUT", "/api/queues/%2F/fz-q"},
		{"PUT", "/api/queues/%2F/fzq"},
		{"PUT", "/api/exchanges/%2F/fz-x"},
		{"POST", "/api/bindings/%2F/e/amq.direct/q/fzq"},
		{"POST", "/api/bindings/%2F/e/amq.direct/e/amq.fanout"},
		{"POST", "/api/exchanges/%2F/amq.default/publish"},
		{"POST", "/api/exchanges/%2F/amq.headers/publish"},
		{"POST", "/api/queues/%2F/fzq/get"},
		{"POST", "/api/queues/%2F/fzsrc/actions/move"},
	}
	for _, seed := range []string{
		`{"description": "d", "tags": "a,b", "default_queue_type": "quorum", "tracing": false}`,
		`{"description": "d", "tags": ["a"], "metadata": {"description": "x"}}`,
		`{"durable": true, "auto_delete": false, "arguments": {"x-max-length": 10, "x-queue-type": "classic", "x-message-ttl": 1000}}`,
		`{"durable": false, "arguments": {"x-queue-type": "stream", "x-max-age": "1D", "x-dead-letter-exchange": "amq.direct"}}`,
		`{"type": "topic", "durable": true, "internal": false, "arguments": {"alternate-exchange": "amq.fanout"}}`,
		`{"type": "x-delayed-message", "arguments": {"x-delayed-type": "direct"}}`,
		`{"routing_key": "k", "arguments": {"x-match": "all", "a": 1, "b": [1, "x", {"c": null}]}}`,
		`{"routing_key": "fzq", "payload": "aGVsbG8=", "payload_encoding": "base64", "properties": {"delivery_mode": 2, "headers": {"h": 1.5, "l": [true]}, "priority": 300, "expiration": "-1"}}`,
		`{"routing_key": "fzq", "payload": "m", "payload_encoding": "string", "properties": {"timestamp": 1e30, "user_id": "nobody"}}`,
		`{"count": 5, "ackmode": "ack_requeue_false", "encoding": "base64", "truncate": 1}`,
		`{"count": -1, "ackmode": "reject_requeue_true", "encoding": "auto"}`,
		`{"destination": "fzq", "count": 3}`, `{"to_queue": "fzq"}`, `{"to_exchange": "amq.direct", "routing_key": "fzq", "copy": true}`,
		`{"arguments": 5}`, `{"arguments": {"x-max-length": "ten"}}`, `{"type": 1}`, `null`, `[]`, ``, `{`, `"x"`,
	} {
		for i := range calls {
			f.Add(uint8(i), seed)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		c := calls[int(which)%len(calls)]
		req := httptest.NewRequest(c.method, c.path, strings.NewReader(body))
		req.RemoteAddr = "127.0.0.1:1234" // guest is loopback-only
		req.SetBasicAuth("guest", "guest")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.api.ServeHTTP(rec, req)
		if rec.Code >= http.StatusInternalServerError {
			t.Fatalf("%s %s %q: %d %s", c.method, c.path, body, rec.Code, rec.Body)
		}
	})
}
