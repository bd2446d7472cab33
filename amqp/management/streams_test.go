package management_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/management/managementtest"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// startStreamAPI is startAPI with stream queues enabled.
func startStreamAPI(tb testing.TB) *api {
	tb.Helper()
	users := []server.User{{Name: "guest", PasswordHash: server.HashPassword("guest"), Tags: []string{"administrator"}}}
	srv, amqpURL := servertest.StartServer(tb, server.Config{Users: users, StreamDir: tb.TempDir()})
	m, mgmtURL := managementtest.Start(tb, srv, amqpURL, statsInterval(tb))
	return &api{tb: tb, url: mgmtURL, amqpURL: amqpURL, broker: srv.Broker(), srv: srv, api: m}
}

// publishConfirmed publishes n messages of body size sz to queue q on the
// default exchange and waits for their confirms.
func publishConfirmed(t *testing.T, ch *amqp.Channel, q string, n, sz int) {
	t.Helper()
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		dc, err := ch.PublishWithDeferredConfirm("", q, false, false, amqp.Publishing{Body: make([]byte, sz)})
		if err != nil {
			t.Fatal(err)
		}
		if !dc.Wait() {
			t.Fatalf("message %d nacked", i)
		}
	}
}

// TestStreamQueueShape checks a stream queue in GET /api/queues/{v}/{q},
// /api/queues and /api/consumers as RabbitMQ 3.10 shows it (type, the
// log's length as messages and messages_ready, nothing unacknowledged,
// members/online/readers, no classic byte/RAM fields) with Warren's
// figures of its log and each consumer's offset and lag.
func TestStreamQueueShape(t *testing.T) {
	a := startStreamAPI(t)
	if code, raw := a.do("guest", "guest", "PUT", "/api/queues/%2F/s1", `{"durable":true,"arguments":{"x-queue-type":"stream"}}`); code != 201 {
		t.Fatalf("declare: %d %s", code, raw)
	}
	conn, err := amqp.Dial(a.amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pub, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	publishConfirmed(t, pub, "s1", 10, 16)

	sub, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Qos(3, 0, false); err != nil {
		t.Fatal(err)
	}
	ds, err := sub.Consume("s1", "reader-a", false, false, false, false, amqp.Table{"x-stream-offset": int64(4)})
	if err != nil {
		t.Fatal(err)
	}
	// Offsets 4, 5, 6 arrive; unacked, the prefetch holds the reader at 7.
	for want := int64(4); want < 7; want++ {
		select {
		case d := <-ds:
			if got := d.Headers["x-stream-offset"]; got != want {
				t.Fatalf("x-stream-offset %v, want %d", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no delivery")
		}
	}

	var q map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, raw := a.do("guest", "guest", "GET", "/api/queues/%2F/s1", "")
		if code != 200 {
			t.Fatalf("GET queue: %d %s", code, raw)
		}
		q = map[string]any{}
		if err := json.Unmarshal(raw, &q); err != nil {
			t.Fatal(err)
		}
		if cd, _ := q["consumer_details"].([]any); len(cd) == 1 && cd[0].(map[string]any)["offset"] == float64(7) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer offset never 7: %s", raw)
		}
	}
	for k, want := range map[string]any{
		"type": "stream", "messages": float64(10), "messages_ready": float64(10),
		"messages_unacknowledged": float64(0), "consumers": float64(1), "durable": true,
	} {
		if q[k] != want {
			t.Errorf("%s = %v, want %v", k, q[k], want)
		}
	}
	for _, k := range []string{"messages_ram", "messages_paged_out", "message_bytes_ready", "head_message_timestamp", "exclusive_consumer_tag"} {
		if _, ok := q[k]; ok {
			t.Errorf("%s present; RabbitMQ 3.10 has none for a stream", k)
		}
	}
	node, _ := q["node"].(string)
	if r, _ := q["readers"].(map[string]any); r[node] != float64(1) {
		t.Errorf("readers = %v, want {%q: 1}", q["readers"], node)
	}
	if m, _ := q["members"].([]any); len(m) != 1 || m[0] != node {
		t.Errorf("members = %v", q["members"])
	}
	// The stream counts its own traffic (queue.StreamCounter): 10 appended,
	// 3 delivered to be acknowledged.
	if ms, _ := q["message_stats"].(map[string]any); ms["publish"] != float64(10) || ms["deliver"] != float64(3) {
		t.Errorf("message_stats = %v, want publish 10, deliver 3", q["message_stats"])
	}
	st, _ := q["stream"].(map[string]any)
	if st["first_offset"] != float64(0) || st["last_offset"] != float64(9) || st["segments"] != float64(1) || st["max_offset_lag"] != float64(3) {
		t.Errorf("stream = %v, want first 0, last 9, 1 segment, max lag 3", st)
	}
	if b, _ := st["bytes"].(float64); b < 160 || q["message_bytes"] != b {
		t.Errorf("stream bytes %v, message_bytes %v: want equal, >= 160", st["bytes"], q["message_bytes"])
	}
	if ts, _ := st["first_timestamp"].(float64); ts <= 0 || st["last_timestamp"].(float64) < ts {
		t.Errorf("timestamps %v..%v", st["first_timestamp"], st["last_timestamp"])
	}
	c := q["consumer_details"].([]any)[0].(map[string]any)
	if c["offset_lag"] != float64(3) || c["consumer_tag"] != "reader-a" || c["prefetch_count"] != float64(3) {
		t.Errorf("consumer = %v, want tag reader-a, offset 7, lag 3, prefetch 3", c)
	}
	if args, _ := c["arguments"].(map[string]any); args["x-stream-offset"] != float64(4) {
		t.Errorf("consumer arguments = %v, want x-stream-offset 4", c["arguments"])
	}

	// The listings show the same.
	_, raw := a.do("guest", "guest", "GET", "/api/consumers", "")
	var cs []map[string]any
	if err := json.Unmarshal(raw, &cs); err != nil || len(cs) != 1 || cs[0]["offset"] != float64(7) || cs[0]["offset_lag"] != float64(3) {
		t.Errorf("/api/consumers: %s", raw)
	}
	_, raw = a.do("guest", "guest", "GET", "/api/queues?columns=name,type,messages,stream.last_offset", "")
	if want := `[{"messages":10,"name":"s1","stream":{"last_offset":9},"type":"stream"}]`; string(raw) != want {
		t.Errorf("/api/queues: %s, want %s", raw, want)
	}
}

// TestStreamQueueEmpty: an empty stream has no last offset or timestamps,
// and a consumer at next is known at the log's end with no lag.
func TestStreamQueueEmpty(t *testing.T) {
	a := startStreamAPI(t)
	if code, raw := a.do("guest", "guest", "PUT", "/api/queues/%2F/e1", `{"durable":true,"arguments":{"x-queue-type":"stream"}}`); code != 201 {
		t.Fatalf("declare: %d %s", code, raw)
	}
	conn, err := amqp.Dial(a.amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Qos(1, 0, false); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Consume("e1", "tail", false, false, false, false, amqp.Table{"x-stream-offset": "next"}); err != nil {
		t.Fatal(err)
	}
	_, raw := a.do("guest", "guest", "GET", "/api/queues/%2F/e1", "")
	var q struct {
		Messages int64
		Stream   map[string]any
		Details  []map[string]any `json:"consumer_details"`
	}
	if err := json.Unmarshal(raw, &q); err != nil {
		t.Fatal(err)
	}
	want := `map[bytes:0 first_offset:0 first_timestamp:<nil> last_offset:<nil> last_timestamp:<nil> max_offset_lag:0 segments:1]`
	if got := fmt.Sprint(q.Stream); q.Messages != 0 || got != want {
		t.Errorf("messages %d, stream %s; want 0, %s", q.Messages, got, want)
	}
	if len(q.Details) != 1 || q.Details[0]["offset"] != float64(0) || q.Details[0]["offset_lag"] != float64(0) {
		t.Errorf("consumer_details %v, want offset 0, lag 0", q.Details)
	}
}
