package stream

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/amqp"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/stream"
)

// api sends a request to the management API and decodes a JSON answer
// into out (nil: none); it returns the status.
func (tg target) api(t *testing.T, method, path string, out any) int {
	t.Helper()
	if tg.mgmtURL == "" {
		t.Skip("STREAM_URL without MANAGEMENT_URL: no management API to check")
	}
	u, err := url.Parse(tg.mgmtURL)
	if err != nil {
		t.Fatal(err)
	}
	pass, _ := u.User.Password()
	user := u.User.Username()
	u.User = nil
	req, err := http.NewRequest(method, strings.TrimRight(u.String(), "/")+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: %v in %.300s", method, path, err, body)
		}
	}
	return resp.StatusCode
}

// pollAPI GETs path until ok accepts the decoded list (RabbitMQ's
// statistics come every 5 s), failing after waitTimeout.
func (tg target) pollAPI(t *testing.T, path string, ok func([]map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		var got []map[string]any
		if st := tg.api(t, "GET", path, &got); st != http.StatusOK {
			t.Fatalf("GET %s: %d", path, st)
		}
		if ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: not as expected within %v: %v", path, waitTimeout, got)
		}
		time.Sleep(100 * time.Millisecond) // polling the API, with a deadline
	}
}

// hasKeys fails the test for each key m lacks.
func hasKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %q: %v", what, k, m)
		}
	}
}

// The stream protocol's connections in the management API: in
// /api/connections with protocol "stream" (RabbitMQ 3.10 with
// rabbitmq_stream), and, as rabbitmq_stream_management shows them,
// /api/stream/connections, /publishers and /consumers with a publisher's
// and a consumer's figures; DELETE closes the socket (the client's
// consumer is told) and the connection leaves the listings.
func TestStreamConnectionsInManagement(t *testing.T) {
	tg := brokerUnderTest(t)
	env := tg.env(t)
	name := newStream(t, env)
	tag := fmt.Sprintf("mgmt-%d", time.Now().UnixNano())
	prod, err := env.NewProducer(name, stream.NewProducerOptions().SetProducerName(tag+"-pub").SetClientProvidedName(tag+"-producer"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	publishConfirmed(t, prod, 10, 10, func(i int) *amqp.AMQP10 { return amqp.NewMessage([]byte("m")) })
	rec := newReceived()
	cons, err := env.NewConsumer(name, rec.handler, stream.NewConsumerOptions().SetOffset(stream.OffsetSpecification{}.First()).
		SetClientProvidedName(tag+"-consumer"))
	if err != nil {
		t.Fatal(err)
	}
	closed := cons.NotifyClose()
	rec.wait(t, 10)

	// /api/connections: the two stream connections, named by the client.
	byName := map[string]map[string]any{}
	tg.pollAPI(t, "/api/connections", func(cs []map[string]any) bool {
		clear(byName)
		for _, c := range cs {
			if n, _ := c["user_provided_name"].(string); strings.HasPrefix(n, tag) {
				byName[n] = c
			}
		}
		return len(byName) == 2
	})
	var keys []string
	for k := range byName[tag+"-producer"] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	t.Logf("a stream connection's fields: %v", keys)
	pc := byName[tag+"-producer"]
	if pc["protocol"] != "stream" || pc["user"] != "guest" || pc["vhost"] != "/" {
		t.Fatalf("the producer's connection: protocol %v user %v vhost %v, want stream guest /", pc["protocol"], pc["user"], pc["vhost"])
	}
	// RabbitMQ 3.10's fields (it shows no statistics for a stream
	// connection; Warren adds an AMQP connection's state and octets).
	hasKeys(t, "a stream connection", pc, "name", "node", "host", "port", "peer_host", "peer_port", "ssl", "ssl_protocol",
		"ssl_cipher", "ssl_hash", "ssl_key_exchange", "peer_cert_subject", "peer_cert_issuer", "peer_cert_validity", "auth_mechanism",
		"timeout", "frame_max", "channel_max", "client_properties", "connected_at", "user", "vhost", "user_who_performed_action")
	if !tg.rabbit {
		hasKeys(t, "a Warren stream connection", pc, "state", "recv_oct", "send_oct")
	}
	if props, _ := pc["client_properties"].(map[string]any); props["connection_name"] != tag+"-producer" {
		t.Errorf("client_properties %v lack the connection_name", pc["client_properties"])
	}
	consName := byName[tag+"-consumer"]["name"].(string)

	t.Run("rabbitmq_stream_management", func(t *testing.T) {
		var probe []map[string]any
		if st := tg.api(t, "GET", "/api/stream/connections", &probe); st == http.StatusNotFound && tg.rabbit {
			t.Skip("the reference RabbitMQ has no rabbitmq_stream_management plugin: /api/stream/* not checked there")
		}
		// /api/stream/connections[/{vhost}[/{name}]]
		for _, path := range []string{"/api/stream/connections", "/api/stream/connections/%2F"} {
			tg.pollAPI(t, path, func(cs []map[string]any) bool {
				return slices.ContainsFunc(cs, func(c map[string]any) bool { return c["name"] == consName && c["protocol"] == "stream" })
			})
		}
		one := map[string]any{}
		if st := tg.api(t, "GET", "/api/stream/connections/%2F/"+url.PathEscape(consName), &one); st != http.StatusOK || one["name"] != consName {
			t.Fatalf("GET the consumer's stream connection: %d %v", st, one)
		}
		if st := tg.api(t, "GET", "/api/stream/connections/%2F/no-such-connection", nil); st != http.StatusNotFound {
			t.Fatalf("GET a missing stream connection: %d, want 404", st)
		}

		// /api/stream/publishers: the named publisher's figures.
		pubs := tg.pollAPI(t, "/api/stream/publishers/%2F/"+url.PathEscape(name), func(ps []map[string]any) bool {
			return len(ps) == 1 && ps[0]["confirmed"] == 10.0
		})
		hasKeys(t, "a stream publisher", pubs[0], "connection_details", "queue", "publisher_id", "reference", "published", "confirmed", "errored")
		if pubs[0]["reference"] != tag+"-pub" || pubs[0]["published"] != 10.0 || pubs[0]["errored"] != 0.0 {
			t.Errorf("publisher %v: want reference %s, published 10, errored 0", pubs[0], tag+"-pub")
		}
		if q, _ := pubs[0]["queue"].(map[string]any); q["name"] != name || q["vhost"] != "/" {
			t.Errorf("publisher queue %v, want %s in /", pubs[0]["queue"], name)
		}
		// /api/stream/consumers: the consumer's figures.
		subs := tg.pollAPI(t, "/api/stream/consumers/%2F", func(cs []map[string]any) bool {
			return slices.ContainsFunc(cs, func(c map[string]any) bool {
				q, _ := c["queue"].(map[string]any)
				return q["name"] == name && c["consumed"] == 10.0
			})
		})
		for _, c := range subs {
			if q, _ := c["queue"].(map[string]any); q["name"] == name {
				hasKeys(t, "a stream consumer", c, "connection_details", "queue", "subscription_id", "credits", "consumed", "offset", "offset_lag", "properties")
				if cd, _ := c["connection_details"].(map[string]any); cd["name"] != consName || cd["user"] != "guest" {
					t.Errorf("consumer connection_details %v, want %s of guest", cd, consName)
				}
			}
		}
		if st := tg.api(t, "GET", "/api/stream/publishers/%2F/no-such-stream", nil); st != http.StatusNotFound {
			t.Errorf("publishers of a missing stream: %d, want 404", st)
		}

	})
	// DELETE closes the socket: the client's consumer hears of it.
	if st := tg.api(t, "DELETE", "/api/connections/"+url.PathEscape(consName), nil); st != http.StatusNoContent {
		t.Fatalf("DELETE the consumer's connection: %d, want 204", st)
	}
	select {
	case <-closed:
	case <-time.After(waitTimeout):
		t.Fatal("the consumer was not told its connection closed")
	}
	tg.pollAPI(t, "/api/connections", func(cs []map[string]any) bool {
		return !slices.ContainsFunc(cs, func(c map[string]any) bool { return c["name"] == consName })
	})
}
