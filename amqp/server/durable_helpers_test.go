package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/storage"
)

// Restart tests: a Warren on a store in a directory that outlives it.
// restart shuts the server down with its clients still connected, as a
// stopping broker does, closes the store, and opens both again on the same
// directory. (The kill -9 tests are in cmd/warren.)

// durWait bounds every wait of these tests.
const durWait = 10 * time.Second

var guestUsers = []server.User{{Name: "guest", PasswordHash: server.HashPassword("guest")}}

type durableBroker struct {
	t      testing.TB
	dir    string
	budget int64 // Config.MemoryBudget; 0: the default
	// storeOpts, if set, adjusts the store's options (Dir and Logger set).
	storeOpts func(*storage.Options)
	bodies    *queue.BodyPool // Config.Bodies; nil: the default
	st        *storage.Store
	srv       *server.Server
	url       string
	logs      *observer.ObservedLogs
	conn      *amqp091.Connection // lazily dialled; closed by stop
	serv      chan error          // Serve's result
}

func startDurable(t testing.TB) *durableBroker {
	t.Helper()
	return startDurableBudget(t, 0)
}

// startDurableBudget starts a broker whose queues keep at most budget
// bytes of bodies in memory, paging the rest out.
func startDurableBudget(t testing.TB, budget int64) *durableBroker {
	t.Helper()
	b := &durableBroker{t: t, dir: t.TempDir(), budget: budget}
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *durableBroker) start() {
	b.t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	log := zap.New(core)
	opts := storage.Options{Dir: b.dir, Logger: log}
	if b.storeOpts != nil {
		b.storeOpts(&opts)
	}
	st, err := storage.Open(opts)
	if err != nil {
		b.t.Fatalf("open the store: %v", err)
	}
	srv, err := server.New(server.Config{Users: guestUsers, Store: st, Logger: log, MemoryBudget: b.budget, StreamDir: filepath.Join(b.dir, "streams"), Bodies: b.bodies})
	if err != nil {
		st.Close()
		b.t.Fatalf("start the server on the store: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		st.Close()
		b.t.Fatal(err)
	}
	b.serv = make(chan error, 1)
	go func() { b.serv <- srv.Serve(ln) }()
	b.st, b.srv, b.logs = st, srv, logs
	b.url = "amqp://guest:guest@" + ln.Addr().String() + "/"
}

func (b *durableBroker) stop() {
	if b.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), durWait)
	defer cancel()
	if err := b.srv.Shutdown(ctx); err != nil {
		b.t.Errorf("shutdown: %v", err)
	}
	if err := <-b.serv; !errors.Is(err, server.ErrServerClosed) {
		b.t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
	if b.conn != nil {
		b.conn.Close() // already closed by the server: the error does not matter
		b.conn = nil
	}
	if err := b.st.Close(); err != nil {
		b.t.Errorf("close the store: %v", err)
	}
	b.srv, b.st = nil, nil
}

func (b *durableBroker) restart() {
	b.t.Helper()
	b.stop()
	b.start()
}

func (b *durableBroker) dial() *amqp091.Connection {
	b.t.Helper()
	c, err := amqp091.DialConfig(b.url, amqp091.Config{Dial: amqp091.DefaultDial(durWait)})
	if err != nil {
		b.t.Fatalf("dial: %v", err)
	}
	return c
}

// channel opens a channel on the broker's shared connection.
func (b *durableBroker) channel() *amqp091.Channel {
	b.t.Helper()
	if b.conn == nil || b.conn.IsClosed() {
		b.conn = b.dial()
	}
	ch, err := b.conn.Channel()
	if err != nil {
		b.t.Fatalf("open a channel: %v", err)
	}
	return ch
}

// confirmChannel opens a channel in confirm mode.
func (b *durableBroker) confirmChannel() *amqp091.Channel {
	b.t.Helper()
	ch := b.channel()
	if err := ch.Confirm(false); err != nil {
		b.t.Fatalf("confirm.select: %v", err)
	}
	return ch
}

// recovery returns the fields of this start's "recovered durable state"
// log line.
func (b *durableBroker) recovery() map[string]any {
	b.t.Helper()
	es := b.logs.FilterMessage("recovered durable state").All()
	if len(es) != 1 {
		b.t.Fatalf("%d 'recovered durable state' log lines, want 1", len(es))
	}
	return es[0].ContextMap()
}

// expectRecovered checks counts in the recovery log line.
func (b *durableBroker) expectRecovered(want map[string]int64) {
	b.t.Helper()
	got := b.recovery()
	for k, v := range want {
		if got[k] != v {
			b.t.Errorf("recovered %s = %v, want %d (all: %v)", k, got[k], v, got)
		}
	}
}

func persistent(body string) amqp091.Publishing {
	return amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: []byte(body)}
}

func transient(body string) amqp091.Publishing {
	return amqp091.Publishing{DeliveryMode: amqp091.Transient, Body: []byte(body)}
}

// publishAcks publishes msgs on a confirm-mode channel and returns, for
// each, whether the broker acked (true) or nacked it.
func publishAcks(t testing.TB, ch *amqp091.Channel, exchange, key string, msgs ...amqp091.Publishing) []bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), durWait)
	defer cancel()
	dcs := make([]*amqp091.DeferredConfirmation, len(msgs))
	for i, m := range msgs {
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false, m)
		if err != nil {
			t.Fatalf("publish %d to '%s' with key '%s': %v", i, exchange, key, err)
		}
		dcs[i] = dc
	}
	acks := make([]bool, len(msgs))
	for i, dc := range dcs {
		ok, err := dc.WaitContext(ctx)
		if err != nil {
			t.Fatalf("confirm of publish %d to '%s' with key '%s': %v", i, exchange, key, err)
		}
		acks[i] = ok
	}
	return acks
}

// publishConfirmed publishes msgs and requires every one acked.
func publishConfirmed(t testing.TB, ch *amqp091.Channel, exchange, key string, msgs ...amqp091.Publishing) {
	t.Helper()
	for i, ok := range publishAcks(t, ch, exchange, key, msgs...) {
		if !ok {
			t.Fatalf("publish %d to '%s' with key '%s' was nacked", i, exchange, key)
		}
	}
}

// getAll takes every ready message of q with basic.get (manual ack), and
// acknowledges them all if ack is set.
func getAll(t testing.TB, ch *amqp091.Channel, q string, ack bool) []amqp091.Delivery {
	t.Helper()
	var out []amqp091.Delivery
	for {
		d, ok, err := ch.Get(q, false)
		if err != nil {
			t.Fatalf("basic.get from '%s': %v", q, err)
		}
		if !ok {
			break
		}
		out = append(out, d)
	}
	if ack && len(out) > 0 {
		if err := out[len(out)-1].Ack(true); err != nil {
			t.Fatal(err)
		}
		roundTrip(t, ch, q)
	}
	return out
}

// roundTrip makes a synchronous call on ch: when it returns, the broker
// has handled every frame sent before on the channel (acks have no reply).
func roundTrip(t testing.TB, ch *amqp091.Channel, q string) {
	t.Helper()
	queueCount(t, ch, q)
}

func bodies(ds []amqp091.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = string(d.Body)
	}
	return out
}

// expectBodies takes every message of q (acknowledging them if ack) and
// checks their bodies, in order, and that all are redelivered.
func expectBodies(t testing.TB, ch *amqp091.Channel, q string, ack bool, want ...string) []amqp091.Delivery {
	t.Helper()
	ds := getAll(t, ch, q, ack)
	if got := bodies(ds); !reflect.DeepEqual(got, want) && (len(got) > 0 || len(want) > 0) {
		t.Errorf("queue '%s' holds %q, want %q", q, got, want)
	}
	for _, d := range ds {
		if !d.Redelivered {
			t.Errorf("queue '%s': recovered message %q has redelivered=false", q, d.Body)
		}
	}
	return ds
}

func seqBodies(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}

func queueCount(t testing.TB, ch *amqp091.Channel, q string) int {
	t.Helper()
	st, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("passive declare of queue '%s': %v", q, err)
	}
	return st.Messages
}

// expectCode checks that err is an AMQP error with code.
func expectCode(t testing.TB, err error, code int, what string) {
	t.Helper()
	var ae *amqp091.Error
	if !errors.As(err, &ae) || ae.Code != code {
		t.Errorf("%s: got %v, want reply code %d", what, err, code)
	}
}

func (b *durableBroker) expectNoQueue(names ...string) {
	b.t.Helper()
	for _, name := range names {
		_, err := b.channel().QueueDeclarePassive(name, true, false, false, false, nil)
		expectCode(b.t, err, amqp091.NotFound, "passive declare of queue '"+name+"'")
	}
}

func (b *durableBroker) expectNoExchange(names ...string) {
	b.t.Helper()
	for _, name := range names {
		err := b.channel().ExchangeDeclarePassive(name, "direct", true, false, false, false, nil)
		expectCode(b.t, err, amqp091.NotFound, "passive declare of exchange '"+name+"'")
	}
}

func must(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func declareDurableQueue(t testing.TB, ch *amqp091.Channel, name string, args amqp091.Table) {
	t.Helper()
	_, err := ch.QueueDeclare(name, true, false, false, false, args)
	must(t, err, "declare durable queue '"+name+"'")
}

func consumeAll(t testing.TB, ch *amqp091.Channel, q string) []amqp091.Delivery {
	t.Helper()
	n := queueCount(t, ch, q)
	ds, err := ch.Consume(q, "all", false, false, false, false, nil)
	must(t, err, "consume "+q)
	out := make([]amqp091.Delivery, 0, n)
	timeout := time.After(durWait)
	for len(out) < n {
		select {
		case d := <-ds:
			out = append(out, d)
		case <-timeout:
			t.Fatalf("consume from '%s': %d of %d messages within %v", q, len(out), n, durWait)
		}
	}
	must(t, ch.Cancel("all", false), "cancel")
	return out
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("#%d %.12q, want %.12q", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("#%d (one list ends)", min(len(got), len(want)))
}
