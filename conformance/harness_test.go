package conformance

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// waitTimeout bounds every wait in the suite: a delivery, a notification, a
// polled condition. Nothing waits for a fixed time.
const waitTimeout = 5 * time.Second

// testTimeout bounds a whole test, cleanup included. amqp091-go waits for
// the reply to a synchronous method without a deadline, so a broker that
// stops answering would hang the suite: past testTimeout a watchdog fails
// the test and closes its sockets, which ends every pending call.
const testTimeout = 30 * time.Second

// brokerURL returns the broker under test: AMQP_URL when set (any broker,
// e.g. RabbitMQ), otherwise an in-process Warren.
func brokerURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("AMQP_URL"); u != "" {
		return u
	}
	return startWarren(t)
}

// broker is one test's handle on the broker under test. brokerURL is called
// once per test so that every connection of a test reaches the same broker.
type broker struct {
	t   testing.TB
	url string

	watchdog *time.Timer

	mu struct {
		sync.Mutex
		queues    []string
		exchanges []string
		inspector *amqp.Connection
		sockets   []net.Conn // every socket of the test, for the watchdog
		expired   bool       // the watchdog fired
		finished  bool       // cleanup is over: the watchdog must not touch t
	}
}

// setup marks t parallel and returns its broker handle. The cleanup it
// registers first runs last: after the test's own connections are closed it
// deletes, over a fresh connection, every queue and exchange the test named
// through declareQueue/declareExchange/cleanupQueue/cleanupExchange.
func setup(t *testing.T) *broker {
	t.Helper()
	t.Parallel()
	b := &broker{t: t, url: brokerURL(t)}
	b.watchdog = time.AfterFunc(testTimeout, b.expire)
	t.Cleanup(b.cleanup)
	return b
}

func (b *broker) expire() {
	b.mu.Lock()
	defer b.mu.Unlock() // held across Errorf so that cleanup cannot finish meanwhile
	if b.mu.finished {
		return
	}
	b.mu.expired = true
	b.t.Errorf("test still running after %v (is the broker answering?): closing its %d sockets", testTimeout, len(b.mu.sockets))
	for _, c := range b.mu.sockets {
		_ = c.Close()
	}
}

// track records a socket of the test for the watchdog; once the watchdog has
// fired, new sockets are closed at once.
func (b *broker) track(c net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.expired {
		_ = c.Close()
		return
	}
	b.mu.sockets = append(b.mu.sockets, c)
}

// netDial is the Config.Dial of every connection of the test: the client's
// own dialer (with a handshake deadline of waitTimeout), tracked.
func (b *broker) netDial(network, addr string) (net.Conn, error) {
	c, err := amqp.DefaultDial(waitTimeout)(network, addr)
	if err != nil {
		return nil, err
	}
	b.track(c)
	return c, nil
}

// dialURL connects to url with cfg through netDial; the caller closes.
func (b *broker) dialURL(url string, cfg amqp.Config) (*amqp.Connection, error) {
	if cfg.Dial == nil {
		cfg.Dial = b.netDial
	}
	return amqp.DialConfig(url, cfg)
}

func (b *broker) cleanup() {
	defer func() {
		b.mu.Lock()
		b.mu.finished = true
		b.mu.Unlock()
		b.watchdog.Stop()
	}()
	b.mu.Lock()
	queues, exchanges, inspector := b.mu.queues, b.mu.exchanges, b.mu.inspector
	b.mu.Unlock()
	if inspector != nil {
		_ = inspector.Close()
	}
	if len(queues) == 0 && len(exchanges) == 0 {
		return
	}
	conn, err := b.dialURL(b.url, amqp.Config{})
	if err != nil {
		b.t.Errorf("cleanup: dial: %v", err)
		return
	}
	defer conn.Close()
	del := func(kind, name string, f func(ch *amqp.Channel) error) {
		ch, err := conn.Channel()
		if err != nil {
			b.t.Errorf("cleanup: open channel: %v", err)
			return
		}
		if err := f(ch); err != nil {
			// Deleting what is already gone is not an error in RabbitMQ
			// 3.10; anything else is worth a line in the log.
			b.t.Logf("cleanup: delete %s %q: %v", kind, name, err)
			return
		}
		_ = ch.Close()
	}
	for _, q := range queues {
		del("queue", q, func(ch *amqp.Channel) error { _, err := ch.QueueDelete(q, false, false, false); return err })
	}
	for _, x := range exchanges {
		del("exchange", x, func(ch *amqp.Channel) error { return ch.ExchangeDelete(x, false, false) })
	}
}

// name returns a name unique to this test on a shared broker: the kind, the
// test name and a random suffix.
func (b *broker) name(kind string) string {
	tn := strings.NewReplacer("/", ".", " ", "_").Replace(b.t.Name())
	if len(tn) > 180 {
		tn = tn[:180]
	}
	return fmt.Sprintf("%s.%s.%08x", kind, tn, rand.Uint32())
}

func (b *broker) cleanupQueue(name string) {
	b.mu.Lock()
	b.mu.queues = append(b.mu.queues, name)
	b.mu.Unlock()
}

func (b *broker) cleanupExchange(name string) {
	b.mu.Lock()
	b.mu.exchanges = append(b.mu.exchanges, name)
	b.mu.Unlock()
}

// dialConfig connects with cfg; a successful connection is closed when the
// test ends.
func (b *broker) dialConfig(cfg amqp.Config) (*amqp.Connection, error) {
	b.t.Helper()
	conn, err := b.dialURL(b.url, cfg)
	if err == nil {
		b.t.Cleanup(func() { _ = conn.Close() })
	}
	return conn, err
}

// dial connects with the client's defaults or fails the test.
func (b *broker) dial() *amqp.Connection {
	b.t.Helper()
	conn, err := b.dialConfig(amqp.Config{})
	if err != nil {
		b.t.Fatalf("dial %s: %v", b.url, err)
	}
	return conn
}

// channel opens a channel on conn or fails the test.
func (b *broker) channel(conn *amqp.Connection) *amqp.Channel {
	b.t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		b.t.Fatalf("open channel: %v", err)
	}
	return ch
}

// open dials a fresh connection and opens one channel on it.
func (b *broker) open() (*amqp.Connection, *amqp.Channel) {
	b.t.Helper()
	conn := b.dial()
	return conn, b.channel(conn)
}

// queue declares a fresh non-durable queue with a unique name, deleted at
// the end of the test.
func (b *broker) queue(ch *amqp.Channel) string {
	b.t.Helper()
	return b.declareQueue(ch, b.name("q"), false, false, false, nil)
}

// declareQueue declares name, registers it for cleanup and fails the test
// on error. It returns the queue's name (the server's when name is "").
func (b *broker) declareQueue(ch *amqp.Channel, name string, durable, autoDelete, exclusive bool, args amqp.Table) string {
	b.t.Helper()
	q, err := ch.QueueDeclare(name, durable, autoDelete, exclusive, false, args)
	if err != nil {
		b.t.Fatalf("queue.declare %q: %v", name, err)
	}
	b.cleanupQueue(q.Name)
	return q.Name
}

// declareExchange declares a fresh non-durable exchange of kind with a
// unique name, deleted at the end of the test.
func (b *broker) declareExchange(ch *amqp.Channel, kind string) string {
	b.t.Helper()
	name := b.name("x-" + kind)
	b.cleanupExchange(name)
	if err := ch.ExchangeDeclare(name, kind, false, false, false, false, nil); err != nil {
		b.t.Fatalf("exchange.declare %q %s: %v", name, kind, err)
	}
	return name
}

// bind binds queue to exchange with key or fails the test.
func (b *broker) bind(ch *amqp.Channel, queue, key, exchange string, args amqp.Table) {
	b.t.Helper()
	if err := ch.QueueBind(queue, key, exchange, false, args); err != nil {
		b.t.Fatalf("queue.bind %q -> %q key %q: %v", queue, exchange, key, err)
	}
}

// publish publishes body and fails the test on a client-side error.
func (b *broker) publish(ch *amqp.Channel, exchange, key, body string) {
	b.t.Helper()
	if err := ch.Publish(exchange, key, false, false, amqp.Publishing{Body: []byte(body)}); err != nil {
		b.t.Fatalf("basic.publish to %q key %q: %v", exchange, key, err)
	}
}

// inspect passively declares queue on a connection of its own, so that a
// 404 never disturbs the test's channels.
func (b *broker) inspect(queue string) (amqp.Queue, error) {
	b.t.Helper()
	// Only the test's goroutine inspects; the lock is for cleanup, and is
	// not held while dialing (netDial takes it).
	b.mu.Lock()
	conn := b.mu.inspector
	b.mu.Unlock()
	if conn == nil || conn.IsClosed() {
		var err error
		conn, err = b.dialURL(b.url, amqp.Config{})
		if err != nil {
			b.t.Fatalf("dial inspector: %v", err)
		}
		b.mu.Lock()
		b.mu.inspector = conn
		b.mu.Unlock()
	}
	ch, err := conn.Channel()
	if err != nil {
		b.t.Fatalf("inspector channel: %v", err)
	}
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err == nil {
		_ = ch.Close()
	}
	return q, err
}

// counts returns a queue's ready message count and consumer count, as
// queue.declare-ok reports them.
func (b *broker) counts(queue string) (messages, consumers int) {
	b.t.Helper()
	q, err := b.inspect(queue)
	if err != nil {
		b.t.Fatalf("passive declare %q: %v", queue, err)
	}
	return q.Messages, q.Consumers
}

// waitCounts polls until queue reports the given ready-message and consumer
// counts.
func (b *broker) waitCounts(queue string, messages, consumers int) {
	b.t.Helper()
	eventually(b.t, fmt.Sprintf("queue %q to have %d ready messages and %d consumers", queue, messages, consumers), func() (bool, string) {
		m, c := b.counts(queue)
		return m == messages && c == consumers, fmt.Sprintf("messages=%d consumers=%d", m, c)
	})
}

// waitQueueGone polls until a passive declare of queue answers 404.
func (b *broker) waitQueueGone(queue string) {
	b.t.Helper()
	eventually(b.t, fmt.Sprintf("queue %q to be deleted", queue), func() (bool, string) {
		_, err := b.inspect(queue)
		var e *amqp.Error
		if errors.As(err, &e) && e.Code == amqp.NotFound {
			return true, ""
		}
		return false, fmt.Sprintf("passive declare: err=%v", err)
	})
}

// isRabbitMQ tells from the server properties whether conn reaches RabbitMQ.
// Use it only for the rare test that depends on a broker-specific feature,
// and skip with an explanation.
func isRabbitMQ(conn *amqp.Connection) bool {
	p, _ := conn.Properties["product"].(string)
	return p == "RabbitMQ"
}

// eventually polls cond until it holds or waitTimeout passes. cond returns
// whether it holds and, for the failure message, what it saw.
func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	backoff := time.Millisecond
	var seen string
	for {
		var ok bool
		if ok, seen = cond(); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last seen: %s", waitTimeout, what, seen)
		}
		// Polling interval, not synchronisation: the condition decides.
		<-time.After(backoff)
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

// amqpError extracts the *amqp.Error from err or fails the test.
func amqpError(t testing.TB, err error) *amqp.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want an AMQP error")
	}
	var e *amqp.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %T %v, want *amqp.Error", err, err)
	}
	return e
}

// expectError asserts that err is an *amqp.Error with code and exact text.
func expectError(t testing.TB, err error, code int, text string) {
	t.Helper()
	e := amqpError(t, err)
	if e.Code != code || e.Reason != text {
		t.Fatalf("got error %d %q, want %d %q", e.Code, e.Reason, code, text)
	}
	if !e.Server {
		t.Fatalf("error %d %q was made by the client, want one sent by the server", e.Code, e.Reason)
	}
}

// expectClose waits for a close notification (from Channel.NotifyClose or
// Connection.NotifyClose) and asserts its code and exact text.
func expectClose(t testing.TB, closes <-chan *amqp.Error, code int, text string) {
	t.Helper()
	select {
	case e, ok := <-closes:
		if !ok || e == nil {
			t.Fatalf("closed without an error, want %d %q", code, text)
		}
		expectError(t, e, code, text)
	case <-time.After(waitTimeout):
		t.Fatalf("no close within %v, want %d %q", waitTimeout, code, text)
	}
}

// notifyClose registers a buffered close listener on ch.
func notifyClose(ch *amqp.Channel) <-chan *amqp.Error {
	return ch.NotifyClose(make(chan *amqp.Error, 1))
}

// notifyConnClose registers a buffered close listener on conn.
func notifyConnClose(conn *amqp.Connection) <-chan *amqp.Error {
	return conn.NotifyClose(make(chan *amqp.Error, 1))
}

// recv waits for one delivery.
func recv(t testing.TB, deliveries <-chan amqp.Delivery) amqp.Delivery {
	t.Helper()
	select {
	case d, ok := <-deliveries:
		if !ok {
			t.Fatalf("delivery channel closed, want a delivery")
		}
		return d
	case <-time.After(waitTimeout):
		t.Fatalf("no delivery within %v", waitTimeout)
	}
	return amqp.Delivery{}
}

// recvBodies waits for n deliveries and returns their bodies in order.
func recvBodies(t testing.TB, deliveries <-chan amqp.Delivery, n int) []string {
	t.Helper()
	bodies := make([]string, 0, n)
	for range n {
		bodies = append(bodies, string(recv(t, deliveries).Body))
	}
	return bodies
}

// expectNoneBuffered asserts that no delivery is waiting in deliveries right
// now. It does not wait: callers first establish, through the queue's
// counts, that nothing more can be in flight.
func expectNoneBuffered(t testing.TB, deliveries <-chan amqp.Delivery) {
	t.Helper()
	select {
	case d := <-deliveries:
		t.Fatalf("unexpected delivery %q (tag %d)", d.Body, d.DeliveryTag)
	default:
	}
}

// get does a basic.get that must return a message.
func get(t testing.TB, ch *amqp.Channel, queue string, autoAck bool) amqp.Delivery {
	t.Helper()
	d, ok, err := ch.Get(queue, autoAck)
	if err != nil {
		t.Fatalf("basic.get %q: %v", queue, err)
	}
	if !ok {
		t.Fatalf("basic.get %q: get-empty, want a message", queue)
	}
	return d
}

// expectEmpty does a basic.get that must answer get-empty.
func expectEmpty(t testing.TB, ch *amqp.Channel, queue string) {
	t.Helper()
	d, ok, err := ch.Get(queue, true)
	if err != nil {
		t.Fatalf("basic.get %q: %v", queue, err)
	}
	if ok {
		t.Fatalf("basic.get %q: got %q, want get-empty", queue, d.Body)
	}
}

// consume starts a consumer or fails the test.
func consume(t testing.TB, ch *amqp.Channel, queue, tag string, autoAck bool) <-chan amqp.Delivery {
	t.Helper()
	d, err := ch.Consume(queue, tag, autoAck, false, false, false, nil)
	if err != nil {
		t.Fatalf("basic.consume %q: %v", queue, err)
	}
	return d
}

// equal fails the test when got != want.
func equal[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

// equalStrings fails the test when the slices differ.
func equalStrings(t testing.TB, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

// confirmChannel opens a channel in confirm mode on conn.
func (b *broker) confirmChannel(conn *amqp.Connection) *amqp.Channel {
	b.t.Helper()
	ch := b.channel(conn)
	if err := ch.Confirm(false); err != nil {
		b.t.Fatalf("confirm.select: %v", err)
	}
	return ch
}

// publishConfirmed publishes msg on a confirm-mode channel and waits for the
// broker's ack, after which the message is in every queue it was routed to
// (or was dropped as unroutable). It fails the test on a nack.
func (b *broker) publishConfirmed(ch *amqp.Channel, exchange, key string, msg amqp.Publishing) {
	b.t.Helper()
	dc, err := ch.PublishWithDeferredConfirm(exchange, key, false, false, msg)
	if err != nil {
		b.t.Fatalf("basic.publish to %q key %q: %v", exchange, key, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	acked, err := dc.WaitContext(ctx)
	if err != nil {
		b.t.Fatalf("waiting for the confirm of a publish to %q key %q: %v", exchange, key, err)
	}
	if !acked {
		b.t.Fatalf("publish to %q key %q was nacked", exchange, key)
	}
}

// drain gets every ready message of queue with basic.get (auto-ack) and
// returns their bodies in order.
func drain(t testing.TB, ch *amqp.Channel, queue string) []string {
	t.Helper()
	var bodies []string
	for {
		d, ok, err := ch.Get(queue, true)
		if err != nil {
			t.Fatalf("basic.get %q: %v", queue, err)
		}
		if !ok {
			return bodies
		}
		bodies = append(bodies, string(d.Body))
	}
}

// replyText returns text as it goes on the wire. rabbitmq: a reply text
// longer than a shortstr's 255 bytes is cut to its first 252 bytes and
// "...".
func replyText(text string) string {
	if len(text) > 255 {
		return text[:252] + "..."
	}
	return text
}
