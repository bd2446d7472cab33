package server_test

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/alarm"
	"github.com/warrenmq/warren/amqp/server"
)

// alarmBroker is an in-memory server on 127.0.0.1:0 with a Monitor whose
// memory reading the test sets (used), checked by the test (Check), not
// by a ticker.
type alarmBroker struct {
	t    *testing.T
	srv  *server.Server
	mon  *alarm.Monitor
	used atomic.Int64
	url  string
}

func startAlarmBroker(t *testing.T) *alarmBroker {
	t.Helper()
	b := &alarmBroker{t: t}
	b.mon = alarm.New(alarm.Config{
		MemoryHighWatermark: alarm.Watermark{Absolute: 1000},
		MemoryUsed:          b.used.Load,
	})
	srv, err := server.New(server.Config{
		Users:     []server.User{{Name: "guest", PasswordHash: server.HashPassword("guest")}},
		Heartbeat: server.NoHeartbeat,
		Alarms:    b.mon,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	b.srv, b.url = srv, "amqp://guest:guest@"+ln.Addr().String()+"/"
	return b
}

// setMemory sets the memory reading and checks it.
func (b *alarmBroker) setMemory(n int64) {
	b.used.Store(n)
	b.mon.Check()
}

func (b *alarmBroker) dial() *amqp091.Connection {
	b.t.Helper()
	c, err := amqp091.Dial(b.url)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { c.Close() })
	return c
}

func expectBlocked(t *testing.T, ch <-chan amqp091.Blocking, active bool, reason string) {
	t.Helper()
	select {
	case bl := <-ch:
		if bl.Active != active || bl.Reason != reason {
			t.Fatalf("got %+v, want Active=%v Reason=%q", bl, active, reason)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no connection.blocked/unblocked (want Active=%v) within 10s", active)
	}
}

// recvWithin receives from ch, failing the test after 10 s.
func recvWithin[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
		panic("unreachable")
	}
}

// Under a memory alarm a publishing connection gets connection.blocked
// "low on memory" and is no longer read: its publishes are not confirmed;
// a connection that only consumes goes on receiving and acknowledging.
// When the alarm clears, connection.unblocked arrives and every held
// publish is confirmed and delivered.
func TestMemoryAlarmBlocksPublishers(t *testing.T) {
	t.Parallel()
	b := startAlarmBroker(t)
	if a := b.srv.Alarms().Alarms(); a != 0 {
		t.Fatalf("alarms %v raised at start", a)
	}
	pubConn, conConn := b.dial(), b.dial()
	if v, _ := pubConn.Properties["capabilities"].(amqp091.Table)["connection.blocked"].(bool); !v {
		t.Fatalf("connection.blocked capability not announced: %v", pubConn.Properties["capabilities"])
	}
	blocked := pubConn.NotifyBlocked(make(chan amqp091.Blocking, 4))
	conBlocked := conConn.NotifyBlocked(make(chan amqp091.Blocking, 4))
	pub, err := pubConn.Channel()
	must(t, err, "channel")
	must(t, pub.Confirm(false), "confirm")
	confirms := pub.NotifyPublish(make(chan amqp091.Confirmation, 100))
	_, err = pub.QueueDeclare("alarm.q", false, false, false, false, nil)
	must(t, err, "declare")
	con, err := conConn.Channel()
	must(t, err, "consumer channel")
	deliveries, err := con.Consume("alarm.q", "", false, false, false, false, nil)
	must(t, err, "consume")

	publish := func(i int) {
		t.Helper()
		must(t, pub.PublishWithContext(context.Background(), "", "alarm.q", false, false,
			amqp091.Publishing{Body: []byte(strconv.Itoa(i))}), "publish")
	}
	publish(0)
	if c := recvWithin(t, confirms, "confirm"); !c.Ack || c.DeliveryTag != 1 {
		t.Fatalf("confirm %+v", c)
	}
	d := recvWithin(t, deliveries, "delivery")
	must(t, d.Ack(false), "ack")

	b.setMemory(2000) // above the 1000-byte watermark
	if !b.srv.Alarms().Alarms().Has(alarm.Memory) {
		t.Fatal("memory alarm not raised")
	}
	// The reader notices at its next read: the publish wakes it.
	publish(1)
	expectBlocked(t, blocked, true, "low on memory")
	for i := 2; i < 5; i++ {
		publish(i) // buffered by the client and the socket, not read
	}
	// Publish 1 was read before the reader stopped: confirmed, delivered.
	if c := recvWithin(t, confirms, "confirm"); !c.Ack || c.DeliveryTag != 2 {
		t.Fatalf("confirm %+v", c)
	}
	d = recvWithin(t, deliveries, "delivery")
	if string(d.Body) != "1" {
		t.Fatalf("delivery %q, want 1", d.Body)
	}
	must(t, d.Ack(false), "consumer ack while blocked")
	// The consumer's connection is not blocked: it declares, publishes
	// nothing, gets a message and acknowledges.
	_, err = con.QueueDeclare("alarm.other", false, false, false, false, nil)
	must(t, err, "declare on the consumer's connection while blocked")
	// Held: nothing more is confirmed while the alarm lasts (a bounded
	// look, not a synchronisation).
	select {
	case c := <-confirms:
		t.Fatalf("confirm %+v while blocked", c)
	case d := <-deliveries:
		t.Fatalf("delivery %q while blocked", d.Body)
	case <-time.After(300 * time.Millisecond):
	}
	if states := connStates(b.srv); states["blocked"] != 1 {
		t.Fatalf("connection states %v, want one blocked", states)
	}

	b.setMemory(500)
	expectBlocked(t, blocked, false, "")
	for i := 2; i < 5; i++ {
		if c := recvWithin(t, confirms, "confirm"); !c.Ack || c.DeliveryTag != uint64(i+1) {
			t.Fatalf("confirm %+v, want ack of %d", c, i+1)
		}
		d := recvWithin(t, deliveries, "delivery")
		if string(d.Body) != strconv.Itoa(i) {
			t.Fatalf("delivery %q, want %d", d.Body, i)
		}
		must(t, d.Ack(false), "ack")
	}
	select {
	case bl := <-conBlocked:
		t.Fatalf("the consumer's connection got %+v", bl)
	default:
	}
	if states := connStates(b.srv); states["blocked"] != 0 {
		t.Fatalf("connection states %v after the alarm cleared", states)
	}
}

// The disk alarm blocks with "low on disk"; both alarms give
// "low on memory & disk"; a connection that did not publish is never
// blocked, and one blocked under an alarm closes cleanly.
func TestAlarmReasonsAndClose(t *testing.T) {
	t.Parallel()
	b := startAlarmBroker(t)
	pubConn := b.dial()
	blocked := pubConn.NotifyBlocked(make(chan amqp091.Blocking, 4))
	pub, err := pubConn.Channel()
	must(t, err, "channel")
	must(t, pub.Publish("", "nowhere", false, false, amqp091.Publishing{Body: []byte("x")}), "publish")
	b.setMemory(2000)
	must(t, pub.Publish("", "nowhere", false, false, amqp091.Publishing{Body: []byte("y")}), "publish")
	expectBlocked(t, blocked, true, "low on memory")
	b.setMemory(0)
	expectBlocked(t, blocked, false, "")

	// Closing a blocked connection: Close's connection.close is not read
	// while blocked (as in RabbitMQ); Shutdown's forced close is.
	idle := b.dial()
	idleBlocked := idle.NotifyBlocked(make(chan amqp091.Blocking, 1))
	b.setMemory(2000)
	must(t, pub.Publish("", "nowhere", false, false, amqp091.Publishing{Body: []byte("z")}), "publish")
	expectBlocked(t, blocked, true, "low on memory")
	ich, err := idle.Channel()
	must(t, err, "a connection that never published opens a channel under the alarm")
	must(t, ich.Close(), "close channel")
	select {
	case bl := <-idleBlocked:
		t.Fatalf("idle connection got %+v", bl)
	default:
	}
	closed := pubConn.NotifyClose(make(chan *amqp091.Error, 1))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with a blocked connection: %v", err)
	}
	select {
	case e := <-closed:
		if e == nil || e.Code != 320 {
			t.Fatalf("close %v, want 320 CONNECTION_FORCED", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the blocked connection was not closed by Shutdown")
	}
}

func TestAlarmSetReason(t *testing.T) {
	for set, want := range map[alarm.Set]string{
		alarm.Set(alarm.Memory):              "low on memory",
		alarm.Set(alarm.Disk):                "low on disk",
		alarm.Set(alarm.Memory | alarm.Disk): "low on memory & disk",
	} {
		if got := set.Reason(); got != want {
			t.Errorf("%v: %q, want %q", set, got, want)
		}
	}
}

func connStates(s *server.Server) map[string]int {
	m := map[string]int{}
	for _, c := range s.Connections() {
		m[c.State]++
	}
	return m
}
