package stream

import (
	"fmt"
	"testing"
	"time"

	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/amqp"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/message"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/stream"
)

// Publishing with confirms, then reading from first: every message, in
// order, at offsets 0..n-1.
func TestPublishConfirmConsumeFirst(t *testing.T) {
	t.Parallel()
	tg := brokerUnderTest(t)
	env := tg.env(t)
	name := newStream(t, env)
	p := newProducer(t, env, name)
	const n = 5000
	publishConfirmed(t, p, n, 500, body)
	r := newReceived()
	c, err := env.NewConsumer(name, r.handler, stream.NewConsumerOptions().SetOffset(stream.OffsetSpecification{}.First()).SetCRCCheck(true))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	offs, msgs := r.wait(t, n)
	for i := range n {
		if offs[i] != int64(i) || string(msgs[i].GetData()) != fmt.Sprintf("m%06d", i) {
			t.Fatalf("message %d: offset %d body %q", i, offs[i], msgs[i].GetData())
		}
	}
}

// Sub-entry batching, without compression and with gzip: each record of
// a sub-entry is a message of its own.
func TestSubEntryBatching(t *testing.T) {
	t.Parallel()
	tg := brokerUnderTest(t)
	env := tg.env(t)
	for _, comp := range []struct {
		name string
		c    stream.Compression
	}{{"none", stream.Compression{}.None()}, {"gzip", stream.Compression{}.Gzip()}} {
		t.Run(comp.name, func(t *testing.T) {
			name := newStream(t, env)
			p, err := env.NewProducer(name, stream.NewProducerOptions().SetSubEntrySize(50).SetCompression(comp.c))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			const n = 1000
			// A sub-entry is confirmed by its first publishing id only.
			ch := p.NotifyPublishConfirmation()
			var msgs []message.StreamMessage
			for i := range n {
				msgs = append(msgs, body(i))
			}
			if err := p.BatchSend(msgs); err != nil {
				t.Fatal(err)
			}
			got := 0
			deadline := time.After(waitTimeout)
			for got < n {
				select {
				case cs := <-ch:
					for _, c := range cs {
						if !c.IsConfirmed() {
							t.Fatalf("not confirmed: %v", c.GetError())
						}
						got += 1 + len(c.LinkedMessages())
					}
				case <-deadline:
					t.Fatalf("%d of %d confirmed", got, n)
				}
			}
			r := newReceived()
			c, err := env.NewConsumer(name, r.handler, stream.NewConsumerOptions().SetOffset(stream.OffsetSpecification{}.First()))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			offs, rm := r.wait(t, n)
			for i := range n {
				if offs[i] != int64(i) || string(rm[i].GetData()) != fmt.Sprintf("m%06d", i) {
					t.Fatalf("message %d: offset %d body %q", i, offs[i], rm[i].GetData())
				}
			}
		})
	}
}

// Deduplication: a named producer's publishing ids at or below the last
// one written are confirmed and dropped; the sequence is queryable.
func TestDeduplication(t *testing.T) {
	t.Parallel()
	tg := brokerUnderTest(t)
	env := tg.env(t)
	name := newStream(t, env)
	send := func(from, to int) {
		t.Helper()
		p, err := env.NewProducer(name, stream.NewProducerOptions().SetProducerName("dedup"))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		publishConfirmed(t, p, to-from+1, 100, func(i int) *amqp.AMQP10 {
			m := body(from + i)
			m.SetPublishingId(int64(from + i))
			return m
		})
	}
	send(1, 10)
	seq, err := env.QuerySequence("dedup", name)
	if err != nil || seq != 10 {
		t.Fatalf("query publisher sequence: %d, %v; want 10", seq, err)
	}
	send(5, 15) // 5..10 again: dropped
	if seq, err := env.QuerySequence("dedup", name); err != nil || seq != 15 {
		t.Fatalf("query publisher sequence: %d, %v; want 15", seq, err)
	}
	if seq, err := env.QuerySequence("nobody", name); err != nil || seq != 0 {
		t.Fatalf("query publisher sequence of an unknown publisher: %d, %v; want 0", seq, err)
	}
	r := newReceived()
	c, err := env.NewConsumer(name, r.handler, stream.NewConsumerOptions().SetOffset(stream.OffsetSpecification{}.First()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, msgs := r.wait(t, 15)
	for i, m := range msgs {
		if want := fmt.Sprintf("m%06d", i+1); string(m.GetData()) != want {
			t.Fatalf("message %d is %q, want %q", i, m.GetData(), want)
		}
	}
	// Nothing after the 15th: publish a marker and check it comes next.
	p := newProducer(t, env, name)
	publishConfirmed(t, p, 1, 1, func(int) *amqp.AMQP10 { return amqp.NewMessage([]byte("marker")) })
	_, msgs = r.wait(t, 16)
	if len(msgs) != 16 || string(msgs[15].GetData()) != "marker" {
		t.Fatalf("after the 15: %d messages, the 16th %q", len(msgs), msgs[15].GetData())
	}
}
