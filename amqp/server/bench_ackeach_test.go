package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/warrenmq/warren/amqp"
)

// BenchmarkPublishDeliverAckEach is the path of a message at moderate
// rates (issue 14's latency scenarios): one message at a time through a
// real loopback socket, published by one connection, delivered to a
// consumer on another and acked alone (multiple=false) before the next is
// published. The two clients are raw frame writers and readers on the
// codec that allocate nothing per message, so allocs/op is the broker's
// own allocation per message, what paces its garbage collections.
func BenchmarkPublishDeliverAckEach(b *testing.B) {
	addr := startBenchServer(b, Config{})
	cons := dialRaw(b, addr)
	prod := dialRaw(b, addr)

	q := cons.call(&amqp.QueueDeclare{Exclusive: true, AutoDelete: true}, amqp.QueueDeclareOkID).(*amqp.QueueDeclareOk).Queue
	cons.call(&amqp.BasicQos{PrefetchCount: 1000}, amqp.BasicQosOkID)
	cons.call(&amqp.BasicConsume{Queue: q, ConsumerTag: "c"}, amqp.BasicConsumeOkID)

	// One publish as it goes on the wire: method, header and a 16-byte body.
	pub, err := amqp.AppendMethodFrame(nil, 1, &amqp.BasicPublish{RoutingKey: q})
	if err != nil {
		b.Fatal(err)
	}
	if pub, err = amqp.AppendHeaderFrame(pub, 1, amqp.ClassBasic, 16, &amqp.Properties{}); err != nil {
		b.Fatal(err)
	}
	pub = amqp.AppendBodyFrames(pub, 1, make([]byte, 16), 131072)
	ack, err := amqp.AppendMethodFrame(nil, 1, &amqp.BasicAck{DeliveryTag: 1})
	if err != nil {
		b.Fatal(err)
	}
	// The tag is the method frame's first argument: after the frame header
	// (7 bytes) and the class and method ids (4).
	const tagAt = amqp.FrameHeaderSize + 4

	cons.nc.SetDeadline(time.Now().Add(2 * time.Minute))
	prod.nc.SetDeadline(time.Now().Add(2 * time.Minute))
	b.ReportAllocs()
	var tag uint64
	for b.Loop() {
		if _, err := prod.nc.Write(pub); err != nil {
			b.Fatal(err)
		}
		tag++
		for range 3 { // basic.deliver, header, body
			f, err := cons.fr.ReadFrame()
			if err != nil {
				b.Fatal(err)
			}
			if f.Type == amqp.FrameMethod && binary.BigEndian.Uint32(f.Payload) != amqp.BasicDeliverID {
				b.Fatalf("got method %x, want basic.deliver", binary.BigEndian.Uint32(f.Payload))
			}
		}
		binary.BigEndian.PutUint64(ack[tagAt:], tag)
		if _, err := cons.nc.Write(ack); err != nil {
			b.Fatal(err)
		}
	}
}

// startBenchServer serves cfg on 127.0.0.1:0 until the benchmark ends.
func startBenchServer(tb testing.TB, cfg Config) string {
	tb.Helper()
	if cfg.Users == nil {
		cfg.Users = []User{{Name: "guest", PasswordHash: HashPassword("guest")}}
	}
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		<-done
	})
	return ln.Addr().String()
}

// rawClient is a connection with channel 1 open, driven frame by frame.
type rawClient struct {
	tb testing.TB
	nc net.Conn
	fr *amqp.FrameReader
}

func dialRaw(tb testing.TB, addr string) *rawClient {
	tb.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &rawClient{tb: tb, nc: nc, fr: amqp.NewFrameReader(bufio.NewReader(nc), 1<<20)}
	if _, err := nc.Write([]byte(amqp.ProtocolHeader)); err != nil {
		tb.Fatal(err)
	}
	c.expect(0, amqp.ConnectionStartID)
	c.send(0, &amqp.ConnectionStartOk{Mechanism: "PLAIN", Response: "\x00guest\x00guest", Locale: "en_US"})
	c.expect(0, amqp.ConnectionTuneID)
	c.send(0, &amqp.ConnectionTuneOk{ChannelMax: 10, FrameMax: 131072})
	c.send(0, &amqp.ConnectionOpen{VirtualHost: "/"})
	c.expect(0, amqp.ConnectionOpenOkID)
	c.send(1, &amqp.ChannelOpen{})
	c.expect(1, amqp.ChannelOpenOkID)
	return c
}

func (c *rawClient) send(ch uint16, m amqp.Method) {
	c.tb.Helper()
	b, err := amqp.AppendMethodFrame(nil, ch, m)
	if err != nil {
		c.tb.Fatal(err)
	}
	if _, err := c.nc.Write(b); err != nil {
		c.tb.Fatalf("write %s: %v", m.Name(), err)
	}
}

func (c *rawClient) expect(ch uint16, id uint32) amqp.Method {
	c.tb.Helper()
	f, err := c.fr.ReadFrame()
	if err != nil {
		c.tb.Fatalf("read, want %s: %v", amqp.MethodName(amqp.ClassOf(id), amqp.MethodOf(id)), err)
	}
	m, err := amqp.DecodeMethod(f.Payload)
	if err != nil || m.ID() != id || f.Channel != ch {
		c.tb.Fatalf("got %v (%v) on channel %d, want %s", m, err, f.Channel, amqp.MethodName(amqp.ClassOf(id), amqp.MethodOf(id)))
	}
	return m
}

// call sends m on channel 1 and waits for the reply id.
func (c *rawClient) call(m amqp.Method, id uint32) amqp.Method {
	c.tb.Helper()
	c.send(1, m)
	return c.expect(1, id)
}
