package main

import (
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/amqp"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/message"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/stream"
)

// streamEnv opens a stream client environment on p's stream listener.
func (p *brokerProc) streamEnv() *stream.Environment {
	p.t.Helper()
	p.mu.Lock()
	addr := p.mu.stream
	p.mu.Unlock()
	if addr == "" {
		p.t.Fatalf("no stream protocol listening line:\n%s", p.tail())
	}
	opts := stream.NewEnvironmentOptions().SetUri("rabbitmq-stream://guest:guest@" + addr + "/")
	opts.TCPParameters.WriteBuffer, opts.TCPParameters.ReadBuffer = 1<<20, 1<<20
	env, err := stream.NewEnvironment(opts)
	if err != nil {
		p.t.Fatalf("stream environment: %v\n%s", err, p.tail())
	}
	return env
}

// dedupMessage is publishing id id, its body the id.
func dedupMessage(id int64) message.StreamMessage {
	m := amqp.NewMessage(binary.BigEndian.AppendUint64(nil, uint64(id)))
	m.SetPublishingId(id)
	return m
}

// TestCrashStreamDedup kills the broker with SIGKILL while a named
// publisher (deduplication) sends, restarts it, and republishes every
// publishing id from the first: the broker must drop exactly those
// already written, whatever the kill cut. The stream then holds each id
// once, in order: no duplicate, no gap.
func TestCrashStreamDedup(t *testing.T) {
	const total, batch = 30000, 100
	dir := t.TempDir()
	p := startBroker(t, dir)
	env := p.streamEnv()
	if err := env.DeclareStream("dedup", nil); err != nil {
		t.Fatal(err)
	}
	prod, err := env.NewProducer("dedup", stream.NewProducerOptions().SetProducerName("shop"))
	if err != nil {
		t.Fatal(err)
	}
	var confirmed atomic.Int64
	enough := make(chan struct{})
	confirms := prod.NotifyPublishConfirmation()
	go func() {
		for cs := range confirms {
			for _, c := range cs {
				if c.IsConfirmed() && confirmed.Add(1) == 5000 {
					close(enough)
				}
			}
		}
	}()
	sendDone := make(chan struct{})
	go func() {
		defer close(sendDone)
		for id := int64(1); id <= total; id += batch {
			var ms []message.StreamMessage
			for j := id; j < id+batch; j++ {
				ms = append(ms, dedupMessage(j))
			}
			if prod.BatchSend(ms) != nil {
				return // the broker is gone
			}
		}
	}()
	select {
	case <-enough:
	case <-time.After(crashWait):
		t.Fatalf("5000 confirms not within %v:\n%s", crashWait, p.tail())
	}
	p.kill() // while publishing
	<-sendDone
	env.Close()
	before := confirmed.Load()

	p = startBroker(t, dir)
	env = p.streamEnv()
	defer env.Close()
	prod, err = env.NewProducer("dedup", stream.NewProducerOptions().SetProducerName("shop"))
	if err != nil {
		t.Fatal(err)
	}
	last, err := prod.GetLastPublishingId()
	if err != nil {
		t.Fatal(err)
	}
	if last < before {
		t.Fatalf("the broker says publishing id %d is the last written, but %d were confirmed before the kill", last, before)
	}
	t.Logf("%d confirmed before the kill; %d written (the publisher's sequence after the restart)", before, last)
	var reconfirmed atomic.Int64
	allConfirmed := make(chan struct{})
	confirms = prod.NotifyPublishConfirmation()
	go func() {
		for cs := range confirms {
			for _, c := range cs {
				if c.IsConfirmed() && reconfirmed.Add(1) == total {
					close(allConfirmed)
				}
			}
		}
	}()
	// Everything again, from the first id: duplicates are confirmed and
	// dropped.
	for id := int64(1); id <= total; id += batch {
		var ms []message.StreamMessage
		for j := id; j < id+batch; j++ {
			ms = append(ms, dedupMessage(j))
		}
		if err := prod.BatchSend(ms); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-allConfirmed:
	case <-time.After(crashWait):
		t.Fatalf("%d of %d republished confirmed:\n%s", reconfirmed.Load(), total, p.tail())
	}

	// A marker after them (a producer without deduplication), then count
	// up to it: each id once, in order, and nothing else.
	plain, err := env.NewProducer("dedup", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.Send(amqp.NewMessage([]byte("end"))); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 4096)
	cons, err := env.NewConsumer("dedup", func(_ stream.ConsumerContext, m *amqp.Message) {
		got <- m.GetData()
	}, stream.NewConsumerOptions().SetOffset(stream.OffsetSpecification{}.First()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	for want := uint64(1); ; want++ {
		select {
		case b := <-got:
			if string(b) == "end" {
				if want != total+1 {
					t.Fatalf("the marker after %d messages, want %d", want-1, total)
				}
				return
			}
			if id := binary.BigEndian.Uint64(b); id != want {
				t.Fatalf("message %d of the stream is id %d: a duplicate or a gap (%d confirmed before the kill, %d written)", want, id, before, last)
			}
		case <-time.After(crashWait):
			t.Fatalf("read %d of %d and no marker", want-1, total)
		}
	}
}
