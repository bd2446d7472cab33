package metrics_test

import (
	"net/http/httptest"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/metrics"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// TestStreamQueueMetrics: a stream queue is a queue whose ready messages
// are its log's length, nothing unacknowledged, with no byte series (as
// RabbitMQ 3.10), and Warren's warren_stream_* figures of its log.
func TestStreamQueueMetrics(t *testing.T) {
	srv, url := servertest.StartServer(t, server.Config{StreamDir: t.TempDir()})
	hs := httptest.NewServer(metrics.New(metrics.Config{Server: srv, DataDir: t.TempDir()}))
	t.Cleanup(hs.Close)
	e := &env{srv: srv, amqpURL: url, httpURL: hs.URL}
	conn := e.dial(t)
	ch := channel(t, conn)
	if _, err := ch.QueueDeclare("s1", true, false, false, false, amqp091.Table{"x-queue-type": "stream"}); err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		dc, err := ch.PublishWithDeferredConfirm("", "s1", false, false, amqp091.Publishing{Body: []byte("0123456789")})
		if err != nil || !dc.Wait() {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	sub := channel(t, conn)
	if err := sub.Qos(2, 0, false); err != nil {
		t.Fatal(err)
	}
	ds, err := sub.Consume("s1", "c1", false, false, false, false, amqp091.Table{"x-stream-offset": int64(1)})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-ds:
		case <-time.After(5 * time.Second):
			t.Fatal("no delivery")
		}
	}
	q := []string{"vhost=/", "queue=s1"}
	fams := e.waitFor(t, "/metrics/per-object",
		expect{"rabbitmq_queue_messages_ready", q, 5},
		expect{"rabbitmq_queue_messages_unacked", q, 0},
		expect{"rabbitmq_queue_messages", q, 5},
		expect{"rabbitmq_queue_consumers", q, 1},
		expect{"warren_stream_first_offset", q, 0},
		expect{"warren_stream_last_offset", q, 4},
		expect{"warren_stream_segments", q, 1},
		expect{"warren_stream_consumer_max_offset_lag", q, 2}, // at 3 of 0..4
	)
	for _, name := range []string{"rabbitmq_queue_messages_ready_bytes", "rabbitmq_queue_messages_bytes", "rabbitmq_queue_messages_ready_ram"} {
		if _, ok := value(fams, name, q...); ok {
			t.Errorf("%s present for a stream; RabbitMQ 3.10 sends none", name)
		}
	}
	if v, _ := value(fams, "warren_stream_bytes", q...); v < 50 {
		t.Errorf("warren_stream_bytes = %v, want >= 50", v)
	}
	if v, _ := value(fams, "warren_stream_last_timestamp_seconds", q...); v < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("warren_stream_last_timestamp_seconds = %v, want about now", v)
	}
	e.waitFor(t, "/metrics",
		expect{"rabbitmq_queue_messages_ready", nil, 5},
		expect{"rabbitmq_queue_messages", nil, 5},
		expect{"rabbitmq_queue_messages_bytes", nil, 0},
	)
	e.waitFor(t, "/metrics/detailed?family=queue_coarse_metrics",
		expect{"rabbitmq_detailed_queue_messages_ready", q, 5},
	)
}
