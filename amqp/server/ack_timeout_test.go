package server

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
)

// Channel-level helpers for the pipe client of heartbeat_test.go.

func (p *pipeClient) sendOn(ch uint16, m amqp.Method) {
	p.t.Helper()
	b, err := amqp.AppendMethodFrame(nil, ch, m)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatalf("write %s: %v", m.Name(), err)
	}
}

// publishOn publishes body to the default exchange with routing key key.
func (p *pipeClient) publishOn(ch uint16, key, body string) {
	p.t.Helper()
	b, err := amqp.AppendMethodFrame(nil, ch, &amqp.BasicPublish{RoutingKey: key})
	if err != nil {
		p.t.Fatal(err)
	}
	props, _ := amqp.AppendProperties(nil, &amqp.Properties{})
	b = amqp.AppendRawHeaderFrame(b, ch, amqp.ClassBasic, uint64(len(body)), props)
	b = amqp.AppendBodyFrames(b, ch, []byte(body), 131072)
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatalf("publish: %v", err)
	}
}

// expectOn reads the next method frame on channel ch, which must be id.
func (p *pipeClient) expectOn(ch uint16, id uint32) amqp.Method {
	p.t.Helper()
	f, err := p.fr.ReadFrame()
	if err != nil {
		p.t.Fatalf("read, want %s: %v", amqp.MethodName(amqp.ClassOf(id), amqp.MethodOf(id)), err)
	}
	if f.Type != amqp.FrameMethod || f.Channel != ch {
		p.t.Fatalf("got frame type %d on channel %d, want %s on channel %d", f.Type, f.Channel, amqp.MethodName(amqp.ClassOf(id), amqp.MethodOf(id)), ch)
	}
	m, err := amqp.DecodeMethod(f.Payload)
	if err != nil || m.ID() != id {
		p.t.Fatalf("got %v (%v), want %s", m, err, amqp.MethodName(amqp.ClassOf(id), amqp.MethodOf(id)))
	}
	return m
}

// expectContent reads a content header and body on channel ch.
func (p *pipeClient) expectContent(ch uint16, body string) {
	p.t.Helper()
	for _, typ := range []uint8{amqp.FrameHeader, amqp.FrameBody} {
		f, err := p.fr.ReadFrame()
		if err != nil || f.Type != typ || f.Channel != ch {
			p.t.Fatalf("read content frame: type %d channel %d err %v, want type %d on channel %d", f.Type, f.Channel, err, typ, ch)
		}
		if typ == amqp.FrameBody && string(f.Payload) != body {
			p.t.Fatalf("body %q, want %q", f.Payload, body)
		}
	}
}

func (p *pipeClient) openChannel(ch uint16) {
	p.t.Helper()
	p.sendOn(ch, &amqp.ChannelOpen{})
	p.expectOn(ch, amqp.ChannelOpenOkID)
}

func (p *pipeClient) declare(ch uint16, name string, args amqp.Table) {
	p.t.Helper()
	p.sendOn(ch, &amqp.QueueDeclare{Queue: name, Arguments: args})
	p.expectOn(ch, amqp.QueueDeclareOkID)
}

// consume starts an acknowledging consumer and reads its first delivery.
func (p *pipeClient) consumeOne(ch uint16, queueName, body string) uint64 {
	p.t.Helper()
	p.sendOn(ch, &amqp.BasicConsume{Queue: queueName, ConsumerTag: "c-" + queueName})
	p.expectOn(ch, amqp.BasicConsumeOkID)
	return p.expectDelivery(ch, body)
}

func (p *pipeClient) expectDelivery(ch uint16, body string) uint64 {
	p.t.Helper()
	d := p.expectOn(ch, amqp.BasicDeliverID).(*amqp.BasicDeliver)
	p.expectContent(ch, body)
	return d.DeliveryTag
}

func timeoutText(ch uint16, ms int) string {
	return fmt.Sprintf("PRECONDITION_FAILED - delivery acknowledgement on channel %d timed out. Timeout value used: %d ms. "+
		"This timeout value can be configured, see consumers doc guide to learn more", ch, ms)
}

// expectTimeoutClose waits for the channel.close of an acknowledgement
// timeout, which must come after exactly after (fake time).
func (p *pipeClient) expectTimeoutClose(ch uint16, ms int, start time.Time, after time.Duration) {
	p.t.Helper()
	c := p.expectOn(ch, amqp.ChannelCloseID).(*amqp.ChannelClose)
	if waited := time.Since(start); waited != after {
		p.t.Errorf("channel closed after %v, want %v", waited, after)
	}
	if c.ReplyCode != amqp.PreconditionFailed || c.ReplyText != timeoutText(ch, ms) || c.ClassID != 0 || c.MethodID != 0 {
		p.t.Fatalf("channel.close %d %q (%d,%d), want 406 %q", c.ReplyCode, c.ReplyText, c.ClassID, c.MethodID, timeoutText(ch, ms))
	}
	p.sendOn(ch, &amqp.ChannelCloseOk{})
}

// The queue's x-consumer-timeout closes the channel of a delivery left
// unacknowledged that long, and the delivery goes back to the queue.
func TestAckTimeoutPerQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := startPipeConn(t, Config{Heartbeat: NoHeartbeat})
		p.handshake(0)
		p.openChannel(1)
		p.declare(1, "q", amqp.Table{"x-consumer-timeout": int32(5000)})
		p.publishOn(1, "q", "m1")
		start := time.Now()
		p.consumeOne(1, "q", "m1")
		p.expectTimeoutClose(1, 5000, start, 5*time.Second)

		p.openChannel(2)
		p.sendOn(2, &amqp.BasicGet{Queue: "q", NoAck: true})
		g := p.expectOn(2, amqp.BasicGetOkID).(*amqp.BasicGetOk)
		p.expectContent(2, "m1")
		if !g.Redelivered {
			t.Errorf("the timed-out delivery came back without redelivered")
		}
		p.nc.Close()
	})
}

// Config.ConsumerTimeout applies to queues without the argument, and to
// basic.get deliveries too.
func TestAckTimeoutBrokerWide(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := startPipeConn(t, Config{Heartbeat: NoHeartbeat, ConsumerTimeout: 2 * time.Second})
		p.handshake(0)
		p.openChannel(3)
		p.declare(3, "q", nil)
		p.publishOn(3, "q", "m1")
		p.sendOn(3, &amqp.BasicGet{Queue: "q"})
		p.expectOn(3, amqp.BasicGetOkID)
		p.expectContent(3, "m1")
		start := time.Now()
		p.expectTimeoutClose(3, 2000, start, 2*time.Second)
		p.nc.Close()
	})
}

// Deliveries acknowledged in time keep the channel open, however long it
// lives.
func TestAckTimeoutAckedInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := startPipeConn(t, Config{Heartbeat: NoHeartbeat, ConsumerTimeout: 5 * time.Second})
		p.handshake(0)
		p.openChannel(1)
		p.declare(1, "q", nil)
		p.publishOn(1, "q", "m1")
		tag := p.consumeOne(1, "q", "m1")
		for i := 2; i <= 5; i++ {
			time.Sleep(4 * time.Second) // fake time: just short of the timeout
			p.publishOn(1, "q", fmt.Sprintf("m%d", i))
			next := p.expectDelivery(1, fmt.Sprintf("m%d", i))
			p.sendOn(1, &amqp.BasicAck{DeliveryTag: tag})
			tag = next
		}
		p.sendOn(1, &amqp.BasicAck{DeliveryTag: tag})

		frames := make(chan amqp.Frame, 1)
		go func() {
			for {
				f, err := p.fr.ReadFrame()
				if err != nil {
					close(frames)
					return
				}
				frames <- f
			}
		}()
		time.Sleep(time.Hour)
		synctest.Wait()
		select {
		case f := <-frames:
			t.Fatalf("got a frame of type %d an hour after the last ack", f.Type)
		default:
		}
		p.nc.Close()
	})
}

// With deliveries of several timeouts on a channel, the shortest deadline
// wins even when it is not the oldest delivery's.
func TestAckTimeoutMixedTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := startPipeConn(t, Config{Heartbeat: NoHeartbeat})
		p.handshake(0)
		p.openChannel(1)
		p.declare(1, "slow", amqp.Table{"x-consumer-timeout": int64(60000)})
		p.declare(1, "fast", amqp.Table{"x-consumer-timeout": int16(3000)})
		p.publishOn(1, "slow", "s1")
		p.publishOn(1, "fast", "f1")
		start := time.Now()
		p.consumeOne(1, "slow", "s1")
		time.Sleep(time.Second)
		p.consumeOne(1, "fast", "f1")
		p.expectTimeoutClose(1, 3000, start, 4*time.Second)
		p.nc.Close()
	})
}

// A negative Config.ConsumerTimeout disables the timeout.
func TestAckTimeoutDisabled(t *testing.T) {
	s := &Server{cfg: Config{ConsumerTimeout: -1}}
	if got := s.ackTimeout(queue.New(queue.Config{Name: "q"})); got != noAckTimeout {
		t.Fatalf("ackTimeout with ConsumerTimeout<0 = %d, want none", got)
	}
	q := queue.New(queue.Config{Name: "q", Args: map[string]any{"x-consumer-timeout": int32(250)}})
	if got := s.ackTimeout(q); got != int64(250*time.Millisecond) {
		t.Fatalf("ackTimeout with x-consumer-timeout=250 = %d, want 250 ms", got)
	}
}
