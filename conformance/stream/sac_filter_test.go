package stream

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/amqp"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/message"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/stream"
)

// Single active consumer on a plain stream: of two consumers sharing a
// name one reads; when it leaves, the other is told it is active and
// resumes after the stored offset.
func TestSingleActiveConsumerOnStream(t *testing.T) {
	t.Parallel()
	tg := brokerUnderTest(t)
	tg.warrenOnly(t, "stream single active consumer", "3.11")
	env := tg.env(t)
	name := newStream(t, env)
	p := newProducer(t, env, name)
	publishConfirmed(t, p, 100, 100, body)

	var mu sync.Mutex
	var events []string
	member := func(who string, r *received) *stream.Consumer {
		sac := stream.NewSingleActiveConsumer(func(s string, active bool) stream.OffsetSpecification {
			mu.Lock()
			events = append(events, fmt.Sprintf("%s active=%v", who, active))
			mu.Unlock()
			if off, err := env.QueryOffset("reader", name); err == nil {
				return stream.OffsetSpecification{}.Offset(off + 1)
			}
			return stream.OffsetSpecification{}.First()
		})
		c, err := env.NewConsumer(name, func(ctx stream.ConsumerContext, m *amqp.Message) {
			r.handler(ctx, m)
			if ctx.Consumer.GetOffset() == 49 {
				ctx.Consumer.StoreCustomOffset(49)
			}
		}, stream.NewConsumerOptions().SetConsumerName("reader").SetSingleActiveConsumer(sac).SetManualCommit())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ra, rb := newReceived(), newReceived()
	a := member("A", ra)
	b := member("B", rb)
	defer b.Close()
	ra.wait(t, 100)
	if rb.count() != 0 {
		t.Fatalf("the standby got %d messages", rb.count())
	}
	// The stored offset (49) is in before A leaves.
	deadline := time.Now().Add(waitTimeout)
	for {
		if off, err := env.QueryOffset("reader", name); err == nil && off == 49 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("offset 49 never stored")
		}
		pollPause()
	}
	a.Close()
	offs, _ := rb.wait(t, 50)
	if offs[0] != 50 || offs[49] != 99 {
		t.Fatalf("B took over at %d..%d, want 50..99", offs[0], offs[49])
	}
	mu.Lock()
	t.Logf("consumer updates: %v", events)
	mu.Unlock()
}

// Filtering (RabbitMQ 3.13): a publisher's filter values go with its
// messages; a consumer filtering on one value gets its chunks and, after
// the client's post-filter, its messages.
func TestFiltering(t *testing.T) {
	t.Parallel()
	tg := brokerUnderTest(t)
	tg.warrenOnly(t, "stream filtering", "3.13")
	env := tg.env(t)
	name := newStream(t, env)
	p, err := env.NewProducer(name, stream.NewProducerOptions().SetFilter(stream.NewProducerFilter(func(m message.StreamMessage) string {
		return m.GetApplicationProperties()["region"].(string)
	})))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// Each region in its own publishes: its own chunks.
	for _, region := range []string{"eu", "us", "eu"} {
		publishConfirmed(t, p, 50, 50, func(i int) *amqp.AMQP10 {
			m := amqp.NewMessage([]byte(region))
			m.ApplicationProperties = map[string]any{"region": region}
			return m
		})
	}
	r := newReceived()
	c, err := env.NewConsumer(name, r.handler, stream.NewConsumerOptions().SetOffset(stream.OffsetSpecification{}.First()).
		SetFilter(stream.NewConsumerFilter([]string{"us"}, false, func(m *amqp.Message) bool { return m.ApplicationProperties["region"] == "us" })))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, msgs := r.wait(t, 50)
	for _, m := range msgs {
		if string(m.GetData()) != "us" {
			t.Fatalf("a %q message through the filter", m.GetData())
		}
	}
	// Nothing else: a marker in "us" comes next.
	publishConfirmed(t, p, 1, 1, func(int) *amqp.AMQP10 {
		m := amqp.NewMessage([]byte("us-marker"))
		m.ApplicationProperties = map[string]any{"region": "us"}
		return m
	})
	_, msgs = r.wait(t, 51)
	if len(msgs) != 51 || string(msgs[50].GetData()) != "us-marker" {
		t.Fatalf("%d messages, the last %q", len(msgs), msgs[len(msgs)-1].GetData())
	}
}
