package metrics_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/metrics"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// env is an in-process Warren with its metrics endpoints, both on
// 127.0.0.1:0.
type env struct {
	srv     *server.Server
	amqpURL string
	httpURL string
}

func start(t testing.TB) *env {
	t.Helper()
	srv, url := servertest.StartServer(t, server.Config{})
	hs := httptest.NewServer(metrics.New(metrics.Config{Server: srv, DataDir: t.TempDir()}))
	t.Cleanup(hs.Close)
	return &env{srv: srv, amqpURL: url, httpURL: hs.URL}
}

func (e *env) dial(t testing.TB) *amqp091.Connection {
	t.Helper()
	c, err := amqp091.Dial(e.amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func channel(t testing.TB, c *amqp091.Connection) *amqp091.Channel {
	t.Helper()
	ch, err := c.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// scrape GETs path and parses it with Prometheus's text parser.
func (e *env) scrape(t testing.TB, path string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(e.httpURL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: parse: %v", path, err)
	}
	return fams
}

// value is the sample of name whose labels include want ("k=v" pairs);
// ok is false if there is none.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for _, kv := range want {
			k, v, _ := strings.Cut(kv, "=")
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// expect is one expected sample: name{labels} == v.
type expect struct {
	name   string
	labels []string
	v      float64
}

func (x expect) String() string {
	return fmt.Sprintf("%s{%s} = %v", x.name, strings.Join(x.labels, ","), x.v)
}

// waitFor scrapes path until every expectation holds, or fails after a
// deadline with what it saw last (counters reach readers at the end of
// the reader's batch, so a scrape may briefly lag a client's call).
func (e *env) waitFor(t testing.TB, path string, want ...expect) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		fams := e.scrape(t, path)
		var bad []string
		for _, x := range want {
			if v, ok := value(fams, x.name, x.labels...); !ok || v != x.v {
				bad = append(bad, fmt.Sprintf("want %v, got %v (present: %v)", x, v, ok))
			}
		}
		if len(bad) == 0 {
			return fams
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s:\n  %s", path, strings.Join(bad, "\n  "))
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}

func TestPerObjectQueueDepth(t *testing.T) {
	e := start(t)
	ch := channel(t, e.dial(t))
	if _, err := ch.QueueDeclare("q3", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	acks := ch.NotifyPublish(make(chan amqp091.Confirmation, 3))
	for i := range 3 {
		if err := ch.Publish("", "q3", false, false, amqp091.Publishing{Body: []byte(fmt.Sprint("m", i))}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if c := <-acks; !c.Ack {
			t.Fatalf("publish %d nacked", c.DeliveryTag)
		}
	}
	q := []string{"vhost=/", "queue=q3"}
	e.waitFor(t, "/metrics/per-object",
		expect{"rabbitmq_queue_messages_ready", q, 3},
		expect{"rabbitmq_queue_messages_unacked", q, 0},
		expect{"rabbitmq_queue_messages", q, 3},
		expect{"rabbitmq_queue_messages_ready_bytes", q, 6},
		expect{"rabbitmq_queue_messages_published_total", q, 3},
		expect{"rabbitmq_queue_consumers", q, 0},
	)

	// One delivered, not acknowledged yet.
	if _, ok, err := ch.Get("q3", false); err != nil || !ok {
		t.Fatalf("basic.get: %v %v", ok, err)
	}
	e.waitFor(t, "/metrics/per-object",
		expect{"rabbitmq_queue_messages_ready", q, 2},
		expect{"rabbitmq_queue_messages_unacked", q, 1},
		expect{"rabbitmq_queue_messages", q, 3},
	)
	// The aggregated output has the same figures without labels.
	e.waitFor(t, "/metrics",
		expect{"rabbitmq_queue_messages_ready", nil, 2},
		expect{"rabbitmq_queue_messages_unacked", nil, 1},
		expect{"rabbitmq_queues", nil, 1},
	)
}

func TestChannelCounters(t *testing.T) {
	e := start(t)
	pubConn := e.dial(t)
	pub := channel(t, pubConn)
	if _, err := pub.QueueDeclare("work", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := pub.Confirm(false); err != nil {
		t.Fatal(err)
	}
	acks := pub.NotifyPublish(make(chan amqp091.Confirmation, 16))
	returns := pub.NotifyReturn(make(chan amqp091.Return, 1))
	const n = 10
	for range n {
		if err := pub.Publish("", "work", false, false, amqp091.Publishing{Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	// Unroutable: one mandatory (returned), one not (dropped).
	pub.Publish("amq.direct", "nowhere", true, false, amqp091.Publishing{Body: []byte("r")})
	pub.Publish("amq.direct", "nowhere", false, false, amqp091.Publishing{Body: []byte("d")})
	for range n + 2 {
		if c := <-acks; !c.Ack {
			t.Fatalf("publish %d nacked", c.DeliveryTag)
		}
	}
	if r := <-returns; r.ReplyCode != 312 {
		t.Fatalf("return: %d %s", r.ReplyCode, r.ReplyText)
	}

	conConn := e.dial(t)
	con := channel(t, conConn)
	ds, err := con.Consume("work", "", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		d := <-ds
		if i == n-1 {
			d.Ack(true) // acknowledges all ten
		}
	}
	if _, ok, err := con.Get("work", false); err != nil || ok {
		t.Fatalf("basic.get on an empty queue: %v %v", ok, err)
	}

	// Per object: by channel and exchange, by channel and queue.
	fams := e.waitFor(t, "/metrics/per-object",
		expect{"rabbitmq_channel_messages_published_total", []string{"vhost=/", "exchange="}, n},
		expect{"rabbitmq_channel_messages_confirmed_total", []string{"vhost=/", "exchange="}, n},
		expect{"rabbitmq_channel_messages_published_total", []string{"exchange=amq.direct"}, 2},
		expect{"rabbitmq_channel_messages_unroutable_returned_total", []string{"exchange=amq.direct"}, 1},
		expect{"rabbitmq_channel_messages_unroutable_dropped_total", []string{"exchange=amq.direct"}, 1},
		expect{"rabbitmq_channel_messages_delivered_ack_total", []string{"vhost=/", "queue=work"}, n},
		expect{"rabbitmq_channel_messages_acked_total", []string{"queue=work"}, n},
		expect{"rabbitmq_channel_get_empty_total", []string{"queue=work"}, 1},
		expect{"rabbitmq_connections", nil, 2},
		expect{"rabbitmq_channels", nil, 2},
		expect{"rabbitmq_consumers", nil, 1},
	)
	if got := len(fams["rabbitmq_connection_incoming_bytes_total"].GetMetric()); got != 2 {
		t.Errorf("connection_incoming_bytes_total: %d series, want one per connection (2)", got)
	}

	// Aggregated, and still there once the channels and connections
	// closed: the totals never go down.
	pub.Close()
	pubConn.Close()
	con.Close()
	conConn.Close()
	fams = e.waitFor(t, "/metrics",
		expect{"rabbitmq_channel_messages_published_total", nil, n + 2},
		expect{"rabbitmq_channel_messages_confirmed_total", nil, n + 2},
		expect{"rabbitmq_channel_messages_unroutable_returned_total", nil, 1},
		expect{"rabbitmq_channel_messages_unroutable_dropped_total", nil, 1},
		expect{"rabbitmq_channel_messages_delivered_ack_total", nil, n},
		expect{"rabbitmq_channel_messages_delivered_total", nil, 0},
		expect{"rabbitmq_channel_messages_acked_total", nil, n},
		expect{"rabbitmq_channel_messages_redelivered_total", nil, 0},
		expect{"rabbitmq_channel_get_empty_total", nil, 1},
		expect{"rabbitmq_queue_messages_published_total", nil, n},
		expect{"rabbitmq_connections", nil, 0},
		expect{"rabbitmq_channels", nil, 0},
		expect{"rabbitmq_connections_opened_total", nil, 2},
		expect{"rabbitmq_connections_closed_total", nil, 2},
		expect{"rabbitmq_channels_opened_total", nil, 2},
		expect{"rabbitmq_channels_closed_total", nil, 2},
		expect{"rabbitmq_queues_declared_total", nil, 1},
		expect{"rabbitmq_queues_created_total", nil, 1},
		expect{"rabbitmq_global_messages_received_total", []string{"protocol=amqp091"}, n + 2},
		expect{"rabbitmq_global_messages_routed_total", []string{"protocol=amqp091"}, n},
	)
	if in, _ := value(fams, "rabbitmq_connection_incoming_bytes_total"); in == 0 {
		t.Error("connection_incoming_bytes_total is 0 after two closed connections")
	}
}

func TestRedeliveredAndNoAck(t *testing.T) {
	e := start(t)
	c := e.dial(t)
	ch := channel(t, c)
	ch.QueueDeclare("r", false, false, false, false, nil)
	for range 2 {
		ch.Publish("", "r", false, false, amqp091.Publishing{Body: []byte("x")})
	}
	m, ok, err := ch.Get("r", false)
	if err != nil || !ok {
		t.Fatalf("get: %v %v", ok, err)
	}
	m.Nack(false, true) // back to the queue, redelivered next
	e.waitFor(t, "/metrics/per-object", expect{"rabbitmq_queue_messages_ready", []string{"queue=r"}, 2})
	ds, err := ch.Consume("r", "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-ds
	<-ds
	e.waitFor(t, "/metrics",
		expect{"rabbitmq_channel_get_ack_total", nil, 1},
		expect{"rabbitmq_channel_messages_delivered_total", nil, 2}, // no-ack
		expect{"rabbitmq_channel_messages_redelivered_total", nil, 1},
		expect{"rabbitmq_channel_messages_acked_total", nil, 0}, // a nack is no ack
	)
}

func TestDetailed(t *testing.T) {
	e := start(t)
	ch := channel(t, e.dial(t))
	ch.QueueDeclare("dq", false, false, false, false, nil)
	ch.ExchangeDeclare("dx", "fanout", false, false, false, false, nil)
	ch.QueueBind("dq", "", "dx", false, nil)
	ch.Publish("dx", "", false, false, amqp091.Publishing{Body: []byte("x")})
	q := []string{"vhost=/", "queue=dq"}
	fams := e.waitFor(t, "/metrics/detailed?family=queue_coarse_metrics&family=exchange_bindings&family=no_such_family",
		expect{"rabbitmq_detailed_queue_messages_ready", q, 1},
		expect{"rabbitmq_detailed_queue_messages", q, 1},
		expect{"rabbitmq_cluster_exchange_bindings", []string{"vhost=/", "exchange=dx", "type=fanout"}, 1},
		expect{"rabbitmq_cluster_exchange_bindings", []string{"exchange=amq.direct", "type=direct"}, 0},
		expect{"rabbitmq_build_info", nil, 1},
		expect{"rabbitmq_identity_info", []string{"rabbitmq_cluster=warren"}, 1},
	)
	for name := range fams {
		switch name {
		case "rabbitmq_detailed_queue_messages_ready", "rabbitmq_detailed_queue_messages_unacked",
			"rabbitmq_detailed_queue_messages", "rabbitmq_cluster_exchange_bindings",
			"rabbitmq_build_info", "rabbitmq_identity_info":
		default:
			t.Errorf("family %s in the detailed output; not asked for", name)
		}
	}
	if _, ok := value(fams, "rabbitmq_cluster_exchange_bindings", "exchange="); ok {
		t.Error("the default exchange is listed; RabbitMQ leaves it out")
	}

	// Another vhost's queues are left out.
	fams = e.scrape(t, "/metrics/detailed?family=queue_coarse_metrics&vhost=other")
	if _, ok := value(fams, "rabbitmq_detailed_queue_messages_ready"); ok {
		t.Error("vhost=other: a queue of / is listed")
	}
	// Unknown families alone: only the identity.
	fams = e.scrape(t, "/metrics/detailed?family=no_such_family")
	if len(fams) != 2 || fams["rabbitmq_build_info"] == nil || fams["rabbitmq_identity_info"] == nil {
		t.Errorf("unknown family: got families %v, want build_info and identity_info", keys(fams))
	}
	// No family: an empty output, as RabbitMQ's.
	if body := get(t, e.httpURL+"/metrics/detailed", http.StatusOK); body != "" {
		t.Errorf("no family: got %q, want an empty body", body)
	}
}

func TestBadRequests(t *testing.T) {
	e := start(t)
	if body := get(t, e.httpURL+"/metrics/nope", http.StatusNotFound); !strings.Contains(body, "/metrics/per-object") {
		t.Errorf("404 body %q does not name the endpoints", body)
	}
	resp, err := http.Post(e.httpURL+"/metrics", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /metrics: %s, Allow %q; want 405 with Allow: GET, HEAD", resp.Status, resp.Header.Get("Allow"))
	}
	// A family or vhost full of odd bytes is just not found.
	e.scrape(t, "/metrics/detailed?family=%00%ff&vhost=%2F%0A")

	// AMQP names are bytes; a label value is UTF-8, with bad bytes
	// replaced, and the rest of the scrape is whole.
	ch := channel(t, e.dial(t))
	if _, err := ch.QueueDeclare("bad\xff\"name", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	ch.QueueDeclare("good", false, false, false, false, nil)
	e.waitFor(t, "/metrics/per-object",
		expect{"rabbitmq_queue_messages_ready", []string{"queue=bad\uFFFD\"name"}, 0},
		expect{"rabbitmq_queue_messages_ready", []string{"queue=good"}, 0},
		expect{"rabbitmq_queues", nil, 2},
	)
}

// TestDashboardNames checks that /metrics exports every metric RabbitMQ's
// RabbitMQ-Overview dashboard queries, and Go's runtime metrics.
func TestDashboardNames(t *testing.T) {
	e := start(t)
	f, err := os.Open("testdata/rabbitmq-overview-metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fams := e.scrape(t, "/metrics")
	sc := bufio.NewScanner(f)
	names := 0
	for sc.Scan() {
		name := strings.TrimSpace(sc.Text())
		if name == "" || strings.HasPrefix(name, "#") {
			continue
		}
		names++
		if fams[name] == nil {
			t.Errorf("%s: queried by RabbitMQ-Overview, not in /metrics", name)
		}
	}
	if names < 30 {
		t.Fatalf("read %d names from the dashboard's list; the list is truncated", names)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "process_open_fds"} {
		if fams[name] == nil {
			t.Errorf("%s: Go runtime or process metric missing from /metrics", name)
		}
	}
	// The dashboards join on identity_info's labels.
	for _, l := range fams["rabbitmq_identity_info"].GetMetric()[0].GetLabel() {
		if l.GetName() == "rabbitmq_node" && !strings.HasPrefix(l.GetValue(), "warren@") {
			t.Errorf("rabbitmq_node = %q, want warren@host", l.GetValue())
		}
	}
	if fams["rabbitmq_queue_messages_ready"].GetType() != dto.MetricType_GAUGE ||
		fams["rabbitmq_channel_messages_published_total"].GetType() != dto.MetricType_COUNTER {
		t.Error("types differ from RabbitMQ's: queue_messages_ready is a gauge, channel_messages_published_total a counter")
	}
}

func get(t testing.TB, url string, status int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %s, want %d", url, resp.Status, status)
	}
	return string(b)
}

func keys(m map[string]*dto.MetricFamily) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

var amqpMsg = amqp091.Publishing{Body: []byte("0123456789")}

// TestDeletedQueuesLeaveChannels: a channel that gets from one temporary
// queue after another keeps their counts in its totals, but not a series
// (nor the queue) for each.
func TestDeletedQueuesLeaveChannels(t *testing.T) {
	e := start(t)
	ch := channel(t, e.dial(t))
	const n = 300
	for i := range n {
		q, err := ch.QueueDeclare("", false, true, true, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, err := ch.Get(q.Name, true); err != nil || ok {
			t.Fatalf("get %d: %v %v", i, ok, err)
		}
		if _, err := ch.QueueDelete(q.Name, false, false, false); err != nil {
			t.Fatal(err)
		}
	}
	e.waitFor(t, "/metrics", expect{"rabbitmq_channel_get_empty_total", nil, n})
	fams := e.scrape(t, "/metrics/per-object")
	if got := len(fams["rabbitmq_channel_get_empty_total"].GetMetric()); got > 65 {
		t.Errorf("%d channel_get_empty_total series after %d deleted queues; want the deleted queues pruned", got, n)
	}
}
