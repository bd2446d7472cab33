package server

import (
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/warrenmq/warren/alarm"
	"github.com/warrenmq/warren/amqp"
)

// An alarm that rises while a publish is half read does not hold the rest
// of that publish: the reader completes the message, routes and confirms
// it, and stops reading only between messages. Over net.Pipe each client
// write is one server read, so the method frame and the header and body
// arrive in two reads; before the fix the reader blocked between them and
// the publish stayed unconfirmed until the alarm cleared (the
// TestMemoryAlarmBlocksPublishers hang seen in CI when TCP split a publish).
func TestAlarmCompletesThePublishBeingRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var used atomic.Int64
		mon := alarm.New(alarm.Config{
			MemoryHighWatermark: alarm.Watermark{Absolute: 1000},
			MemoryUsed:          used.Load,
		})
		p := startPipeConn(t, Config{Heartbeat: NoHeartbeat, Alarms: mon})
		p.handshake(0)
		p.openChannel(1)
		p.sendOn(1, &amqp.ConfirmSelect{})
		p.expectOn(1, amqp.ConfirmSelectOkID)
		p.declare(1, "split.q", nil)
		p.publishOn(1, "split.q", "0")
		if ack := p.expectOn(1, amqp.BasicAckID).(*amqp.BasicAck); ack.DeliveryTag != 1 {
			t.Fatalf("ack %+v, want tag 1", ack)
		}
		synctest.Wait() // the reader is blocked reading the socket

		used.Store(2000)
		mon.Check()
		if !mon.Alarms().Has(alarm.Memory) {
			t.Fatal("the memory alarm is not raised")
		}
		p.sendOn(1, &amqp.BasicPublish{RoutingKey: "split.q"}) // read at once: the reader was reading
		props, _ := amqp.AppendProperties(nil, &amqp.Properties{})
		rest := amqp.AppendRawHeaderFrame(nil, 1, amqp.ClassBasic, 1, props)
		rest = amqp.AppendBodyFrames(rest, 1, []byte("1"), 131072)
		done := make(chan struct{})
		go func() {
			defer close(done)
			p.nc.Write(rest) // blocks for ever if the reader stopped mid-message
		}()
		if ack := p.expectOn(1, amqp.BasicAckID).(*amqp.BasicAck); ack.DeliveryTag != 2 {
			t.Fatalf("ack %+v, want tag 2", ack)
		}
		<-done
		used.Store(0)
		mon.Check()
		p.nc.Close()
	})
}
