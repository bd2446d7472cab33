package stream

import (
	"context"
	"fmt"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/amqp"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/stream"
)

// A message published over AMQP 0-9-1 into a stream is read by the stream
// client with its properties and headers (application properties).
func TestCrossProtocolFromAMQP091(t *testing.T) {
	t.Parallel()
	tg := brokerUnderTest(t)
	conn := tg.amqp(t)
	env := tg.env(t)
	name := newStream(t, env)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1_700_000_000, 0)
	pub := amqp091.Publishing{
		ContentType: "application/json", ContentEncoding: "utf-8", DeliveryMode: 2, Priority: 5,
		CorrelationId: "corr-1", ReplyTo: "replies", MessageId: "msg-1", Timestamp: ts, Type: "order.created",
		UserId: "guest", AppId: "shop", Headers: amqp091.Table{"region": "eu", "count": int32(3), "ok": true},
		Body: []byte(`{"id":1}`),
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "", name, true, false, pub)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if ok, err := dc.WaitContext(ctx); !ok || err != nil {
		t.Fatalf("confirm: %v, %v", ok, err)
	}
	r := newReceived()
	c, err := env.NewConsumer(name, r.handler, stream.NewConsumerOptions().SetOffset(stream.OffsetSpecification{}.First()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, msgs := r.wait(t, 1)
	m := msgs[0]
	t.Logf("AMQP 0-9-1 -> stream: properties %+v application properties %v annotations %v header %+v body %s",
		m.Properties, m.ApplicationProperties, m.Annotations, m.Header, m.GetData())
	p := m.Properties
	if p == nil {
		t.Fatal("no properties")
	}
	if p.MessageID != "msg-1" || p.CorrelationID != "corr-1" || p.ReplyTo != "replies" || p.ContentType != "application/json" ||
		p.ContentEncoding != "utf-8" || string(p.UserID) != "guest" || !p.CreationTime.Equal(ts) {
		t.Errorf("properties: %+v", p)
	}
	ap := m.ApplicationProperties
	if ap["region"] != "eu" || fmt.Sprint(ap["count"]) != "3" || ap["ok"] != true {
		t.Errorf("application properties: %v", ap)
	}
	// Delivery mode and priority: Warren writes the AMQP 1.0 header
	// section (durable, priority), as RabbitMQ 3.13 does; RabbitMQ 3.10
	// writes message annotations x-basic-delivery-mode, x-basic-priority.
	inHeader := m.Header != nil && m.Header.Durable && m.Header.Priority == 5
	inAnnotations := fmt.Sprint(m.Annotations["x-basic-delivery-mode"]) == "2" && fmt.Sprint(m.Annotations["x-basic-priority"]) == "5"
	if !inHeader && !inAnnotations {
		t.Errorf("delivery mode and priority: header %+v, annotations %v", m.Header, m.Annotations)
	}
	if string(m.GetData()) != `{"id":1}` {
		t.Errorf("body %q", m.GetData())
	}
}

// A message published by the stream client is read over AMQP 0-9-1 with
// its properties and application properties (as headers).
func TestCrossProtocolToAMQP091(t *testing.T) {
	t.Parallel()
	tg := brokerUnderTest(t)
	conn := tg.amqp(t)
	env := tg.env(t)
	name := newStream(t, env)
	p := newProducer(t, env, name)
	publishConfirmed(t, p, 1, 1, func(int) *amqp.AMQP10 {
		m := amqp.NewMessage([]byte("from the stream client"))
		m.Properties = &amqp.MessageProperties{MessageID: "s-1", CorrelationID: "c-1", ContentType: "text/plain", ReplyTo: "back"}
		m.ApplicationProperties = map[string]any{"k": "v", "n": int64(7)}
		return m
	})
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Qos(10, 0, false); err != nil {
		t.Fatal(err)
	}
	d, err := ch.Consume(name, "", false, false, false, false, amqp091.Table{"x-stream-offset": "first"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-d:
		t.Logf("stream -> AMQP 0-9-1: message-id %q correlation-id %q content-type %q reply-to %q headers %v body %q",
			m.MessageId, m.CorrelationId, m.ContentType, m.ReplyTo, m.Headers, m.Body)
		if m.MessageId != "s-1" || m.CorrelationId != "c-1" || m.ContentType != "text/plain" || m.ReplyTo != "back" {
			t.Errorf("properties: %+v", m)
		}
		if m.Headers["k"] != "v" || fmt.Sprint(m.Headers["n"]) != "7" {
			t.Errorf("headers: %v", m.Headers)
		}
		if string(m.Body) != "from the stream client" {
			t.Errorf("body %q", m.Body)
		}
		m.Ack(false)
	case <-time.After(waitTimeout):
		t.Fatal("no delivery over AMQP 0-9-1")
	}
}

// A stream deleted over AMQP 0-9-1: its stream protocol consumer is told
// (metadata update) and closed by the client.
func TestStreamDeletedOverAMQP091(t *testing.T) {
	t.Parallel()
	tg := brokerUnderTest(t)
	conn := tg.amqp(t)
	env := tg.env(t)
	name := newStream(t, env)
	c, err := env.NewConsumer(name, func(stream.ConsumerContext, *amqp.Message) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	closed := c.NotifyClose()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDelete(name, false, false, false); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-closed:
		t.Logf("consumer closed: %+v", e)
	case <-time.After(waitTimeout):
		t.Fatal("the consumer was not told of its stream's deletion over AMQP 0-9-1")
	}
}
