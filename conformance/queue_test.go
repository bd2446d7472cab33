package conformance

import (
	"fmt"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

func noQueue(q string) string { return "NOT_FOUND - no queue '" + q + "' in vhost '/'" }

func noExchange(x string) string { return "NOT_FOUND - no exchange '" + x + "' in vhost '/'" }

func lockedQueue(q string) string {
	return replyText("RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '" + q + "' in vhost '/'. " +
		"It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.")
}

func TestQueueDeclareServerNamed(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	q1 := b.declareQueue(ch, "", false, false, true, nil)
	q2 := b.declareQueue(ch, "", false, false, true, nil)
	for _, q := range []string{q1, q2} {
		if !strings.HasPrefix(q, "amq.gen-") || len(q) <= len("amq.gen-") {
			t.Fatalf("server-generated name %q, want the prefix amq.gen- and more", q)
		}
		if _, err := ch.QueueDeclarePassive(q, false, false, true, false, nil); err != nil {
			t.Fatalf("passive declare of %q: %v", q, err)
		}
	}
	if q1 == q2 {
		t.Fatalf("two server-named queues share the name %q", q1)
	}
}

func TestQueueDeclarePassiveMissing(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.name("q")
	_, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
	expectError(t, err, amqp.NotFound, noQueue(q))
	if conn.IsClosed() {
		t.Fatal("404 closed the connection")
	}
}

// declare-ok counts ready messages (not unacknowledged ones) and consumers.
func TestQueueDeclareOkCounts(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.queue(ch)
	for i := range 3 {
		b.publishConfirmed(pub, "", q, amqp.Publishing{Body: fmt.Appendf(nil, "m%d", i)})
	}
	got, err := ch.QueueDeclare(q, false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "declare-ok queue", got.Name, q)
	equal(t, "declare-ok message count", got.Messages, 3)
	equal(t, "declare-ok consumer count", got.Consumers, 0)

	cch := b.channel(conn)
	if err := cch.Qos(1, 0, false); err != nil {
		t.Fatal(err)
	}
	d := recv(t, consume(t, cch, q, "", false))
	equal(t, "first delivery", string(d.Body), "m0")
	b.waitCounts(q, 2, 1)
	got, err = ch.QueueDeclarePassive(q, false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "passive declare-ok message count", got.Messages, 2)
	equal(t, "passive declare-ok consumer count", got.Consumers, 1)
}

func TestQueueRedeclareInequivalent(t *testing.T) {
	type props struct {
		durable, autoDelete bool
		args                amqp.Table
	}
	for _, tc := range []struct {
		name        string
		first, then props
		text        string // after "inequivalent arg "
	}{
		{"durable", props{}, props{durable: true},
			"'durable' for queue '%s' in vhost '/': received 'true' but current is 'false'"},
		{"durable false", props{durable: true}, props{},
			"'durable' for queue '%s' in vhost '/': received 'false' but current is 'true'"},
		{"auto_delete", props{}, props{autoDelete: true},
			"'auto_delete' for queue '%s' in vhost '/': received 'true' but current is 'false'"},
		{"x-max-length added", props{}, props{args: amqp.Table{"x-max-length": int32(10)}},
			"'x-max-length' for queue '%s' in vhost '/': received the value '10' of type 'signedint' but current is none"},
		{"x-message-ttl changed", props{args: amqp.Table{"x-message-ttl": int32(1000)}}, props{args: amqp.Table{"x-message-ttl": int32(2000)}},
			"'x-message-ttl' for queue '%s' in vhost '/': received '2000' but current is '1000'"},
		{"x-dead-letter-exchange removed", props{args: amqp.Table{"x-dead-letter-exchange": "dlx"}}, props{},
			"'x-dead-letter-exchange' for queue '%s' in vhost '/': received none but current is the value 'dlx' of type 'longstr'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			conn, ch := b.open()
			f, n := tc.first, tc.then
			q := b.declareQueue(ch, b.name("q"), f.durable, f.autoDelete, false, f.args)
			_, err := ch.QueueDeclare(q, n.durable, n.autoDelete, false, false, n.args)
			expectError(t, err, amqp.PreconditionFailed, "PRECONDITION_FAILED - inequivalent arg "+fmt.Sprintf(tc.text, q))
			if conn.IsClosed() {
				t.Fatal("406 closed the connection")
			}
			ch = b.channel(conn)
			if _, err := ch.QueueDeclare(q, f.durable, f.autoDelete, false, false, f.args); err != nil {
				t.Fatalf("redeclare as first declared: %v", err)
			}
		})
	}
}

// Arguments a queue ignores for equivalence may change on redeclare.
func TestQueueRedeclareSameIsNoop(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	args := amqp.Table{"x-max-length": int32(10), "x-message-ttl": int32(60000)}
	q := b.declareQueue(ch, b.name("q"), true, false, false, args)
	got, err := ch.QueueDeclare(q, true, false, false, false, args)
	if err != nil {
		t.Fatalf("identical redeclare: %v", err)
	}
	equal(t, "name", got.Name, q)
}

func TestQueueDeclareReservedPrefix(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := "amq." + b.name("q")
	b.cleanupQueue(q)
	_, err := ch.QueueDeclare(q, false, false, false, false, nil)
	expectError(t, err, amqp.AccessRefused, "ACCESS_REFUSED - queue name '"+q+"' contains reserved prefix 'amq.*'")

	// A passive declare of such a name is a plain lookup.
	ch = b.channel(conn)
	_, err = ch.QueueDeclarePassive(q, false, false, false, false, nil)
	expectError(t, err, amqp.NotFound, noQueue(q))
}

func TestQueueBindMissing(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.queue(ch)
	x := b.declareExchange(ch, "direct")
	missing := b.name("missing")

	err := ch.QueueBind(q, "k", missing, false, nil)
	expectError(t, err, amqp.NotFound, noExchange(missing))

	ch = b.channel(conn)
	err = ch.QueueBind(missing, "k", x, false, nil)
	expectError(t, err, amqp.NotFound, noQueue(missing))

}

// rabbitmq: queue.unbind and exchange.unbind succeed when the queue or an
// exchange is missing, as when the binding is.
func TestQueueUnbindMissingSucceeds(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	q := b.queue(ch)
	x := b.declareExchange(ch, "direct")
	missing := b.name("missing")
	for _, u := range []struct {
		name string
		err  error
	}{
		{"queue.unbind missing queue", ch.QueueUnbind(missing, "k", x, nil)},
		{"queue.unbind missing exchange", ch.QueueUnbind(q, "k", missing, nil)},
		{"queue.unbind missing binding", ch.QueueUnbind(q, "k", x, nil)},
		{"exchange.unbind missing destination", ch.ExchangeUnbind(missing, "k", x, false, nil)},
		{"exchange.unbind missing source", ch.ExchangeUnbind(x, "k", missing, false, nil)},
	} {
		if u.err != nil {
			t.Fatalf("%s: %v", u.name, u.err)
		}
	}
}

func TestQueueBindUnbind(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.queue(ch)
	x := b.declareExchange(ch, "direct")
	b.bind(ch, q, "k1", x, nil)
	b.bind(ch, q, "k2", x, nil)
	b.bind(ch, q, "k2", x, nil) // binding twice is one binding
	for _, k := range []string{"k1", "k2", "k3"} {
		b.publishConfirmed(pub, x, k, amqp.Publishing{Body: []byte(k)})
	}
	equalStrings(t, "bound to k1 and k2", drain(t, ch, q), []string{"k1", "k2"})

	if err := ch.QueueUnbind(q, "k1", x, nil); err != nil {
		t.Fatalf("queue.unbind: %v", err)
	}
	// rabbitmq: unbinding what is not bound succeeds.
	if err := ch.QueueUnbind(q, "never-bound", x, nil); err != nil {
		t.Fatalf("queue.unbind of a missing binding: %v", err)
	}
	for _, k := range []string{"k1", "k2"} {
		b.publishConfirmed(pub, x, k, amqp.Publishing{Body: []byte(k)})
	}
	equalStrings(t, "bound to k2 only", drain(t, ch, q), []string{"k2"})
}

func TestQueuePurge(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.queue(ch)
	for i := range 5 {
		b.publishConfirmed(pub, "", q, amqp.Publishing{Body: fmt.Appendf(nil, "m%d", i)})
	}
	// One message delivered and not acknowledged is not purged.
	d := get(t, ch, q, false)
	equal(t, "got", string(d.Body), "m0")
	n, err := ch.QueuePurge(q, false)
	if err != nil {
		t.Fatalf("queue.purge: %v", err)
	}
	equal(t, "purge-ok message count", n, 4)
	n, err = ch.QueuePurge(q, false)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "second purge-ok message count", n, 0)
	if err := ch.Nack(d.DeliveryTag, false, true); err != nil {
		t.Fatal(err)
	}
	equalStrings(t, "after purge and requeue", drain(t, ch, q), []string{"m0"})

	missing := b.name("missing")
	_, err = ch.QueuePurge(missing, false)
	expectError(t, err, amqp.NotFound, noQueue(missing))
}

func TestQueueDelete(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.queue(ch)
	x := b.declareExchange(ch, "fanout")
	b.bind(ch, q, "", x, nil)
	for i := range 3 {
		b.publishConfirmed(pub, "", q, amqp.Publishing{Body: fmt.Appendf(nil, "m%d", i)})
	}
	n, err := ch.QueueDelete(q, false, false, false)
	if err != nil {
		t.Fatalf("queue.delete: %v", err)
	}
	equal(t, "delete-ok message count", n, 3)
	_, err = ch.QueueDeclarePassive(q, false, false, false, false, nil)
	expectError(t, err, amqp.NotFound, noQueue(q))

	// Its bindings went with it: the exchange is unused now.
	ch = b.channel(conn)
	if err := ch.ExchangeDelete(x, true, false); err != nil {
		t.Fatalf("delete if-unused of the exchange the queue was bound to: %v", err)
	}
}

func TestQueueDeleteIfUnused(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.queue(ch)
	consume(t, b.channel(conn), q, "", false)
	_, err := ch.QueueDelete(q, true, false, false)
	expectError(t, err, amqp.PreconditionFailed, "PRECONDITION_FAILED - queue '"+q+"' in vhost '/' in use")
	b.waitCounts(q, 0, 1)
}

func TestQueueDeleteIfEmpty(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.queue(ch)
	b.publishConfirmed(pub, "", q, amqp.Publishing{Body: []byte("m")})
	_, err := ch.QueueDelete(q, false, true, false)
	expectError(t, err, amqp.PreconditionFailed, "PRECONDITION_FAILED - queue '"+q+"' in vhost '/' not empty")
	b.waitCounts(q, 1, 0)

	ch = b.channel(conn)
	equal(t, "body", string(get(t, ch, q, true).Body), "m")
	n, err := ch.QueueDelete(q, true, true, false)
	if err != nil {
		t.Fatalf("delete if-unused if-empty of an unused empty queue: %v", err)
	}
	equal(t, "delete-ok message count", n, 0)
}

// rabbitmq: deleting a queue that does not exist succeeds with a count of 0.
func TestQueueDeleteMissing(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	q := b.name("missing")
	n, err := ch.QueueDelete(q, false, false, false)
	if err != nil {
		t.Fatalf("delete of a missing queue: %v", err)
	}
	equal(t, "delete-ok message count", n, 0)
	if _, err := ch.QueueDelete(q, true, true, false); err != nil {
		t.Fatalf("delete if-unused if-empty of a missing queue: %v", err)
	}
}

func TestQueueExclusiveOtherConnection(t *testing.T) {
	b := setup(t)
	_, owner := b.open()
	q := b.declareQueue(owner, b.name("q"), false, false, true, nil)
	other := b.dial()
	x := b.declareExchange(b.channel(other), "fanout")
	bound := b.declareExchange(owner, "fanout")
	b.bind(owner, q, "", bound, nil)

	for _, op := range []struct {
		name string
		do   func(ch *amqp.Channel) error
	}{
		{"declare", func(ch *amqp.Channel) error { _, err := ch.QueueDeclare(q, false, false, true, false, nil); return err }},
		{"declare non-exclusive", func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclare(q, false, false, false, false, nil)
			return err
		}},
		{"passive declare", func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclarePassive(q, false, false, true, false, nil)
			return err
		}},
		{"consume", func(ch *amqp.Channel) error { _, err := ch.Consume(q, "", false, false, false, false, nil); return err }},
		{"get", func(ch *amqp.Channel) error { _, _, err := ch.Get(q, false); return err }},
		{"bind", func(ch *amqp.Channel) error { return ch.QueueBind(q, "", x, false, nil) }},
		{"unbind", func(ch *amqp.Channel) error { return ch.QueueUnbind(q, "", bound, nil) }},
		{"purge", func(ch *amqp.Channel) error { _, err := ch.QueuePurge(q, false); return err }},
		{"delete", func(ch *amqp.Channel) error { _, err := ch.QueueDelete(q, false, false, false); return err }},
	} {
		err := op.do(b.channel(other))
		e := amqpError(t, err)
		if e.Code != amqp.ResourceLocked || e.Reason != lockedQueue(q) {
			t.Errorf("%s from another connection: got %d %q, want %d %q", op.name, e.Code, e.Reason, amqp.ResourceLocked, lockedQueue(q))
		}
	}

	// Publishing to it from another connection is allowed.
	pub := b.confirmChannel(other)
	b.publishConfirmed(pub, "", q, amqp.Publishing{Body: []byte("from elsewhere")})
	equalStrings(t, "owner reads", drain(t, owner, q), []string{"from elsewhere"})
}

func TestQueueExclusiveDeletedWithConnection(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.declareQueue(ch, b.name("q"), false, false, true, nil)
	if _, err := ch.QueueDeclarePassive(q, false, false, true, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	b.waitQueueGone(q)
}

// An exclusive queue survives the channel that declared it.
func TestQueueExclusiveSurvivesChannel(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.declareQueue(ch, b.name("q"), false, false, true, nil)
	if err := ch.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.channel(conn).QueueDeclarePassive(q, false, false, true, false, nil); err != nil {
		t.Fatalf("exclusive queue gone with its channel: %v", err)
	}
}

func TestQueueAutoDeleteLastConsumer(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.declareQueue(ch, b.name("q"), false, true, false, nil)
	// Never consumed: it stays.
	b.waitCounts(q, 0, 0)

	c1, c2 := b.channel(conn), b.channel(conn)
	consume(t, c1, q, "c1", false)
	consume(t, c2, q, "c2", false)
	b.waitCounts(q, 0, 2)
	if err := c1.Cancel("c1", false); err != nil {
		t.Fatal(err)
	}
	b.waitCounts(q, 0, 1)
	if err := c2.Cancel("c2", false); err != nil {
		t.Fatal(err)
	}
	b.waitQueueGone(q)
}

// Closing the channel of the last consumer also deletes an auto-delete queue.
func TestQueueAutoDeleteConsumerChannelClosed(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.declareQueue(ch, b.name("q"), false, true, false, nil)
	cch := b.channel(conn)
	consume(t, cch, q, "", false)
	b.waitCounts(q, 0, 1)
	if err := cch.Close(); err != nil {
		t.Fatal(err)
	}
	b.waitQueueGone(q)
}

// rabbitmq: a reply text over 255 bytes is cut to 252 bytes and "...".
func TestQueueLongReplyTextTruncated(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	q := b.name("q") + "." + strings.Repeat("long", 80)
	q = q[:250]
	_, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
	full := noQueue(q)
	want := full[:252] + "..."
	expectError(t, err, amqp.NotFound, want)
	equal(t, "reply text length", len(amqpError(t, err).Reason), 255)
}

// spec 0-9-1: an empty queue name means the queue last declared on the
// channel.
func TestQueueLastDeclaredName(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.declareQueue(ch, "", false, false, true, nil)
	x := b.declareExchange(ch, "fanout")
	if err := ch.QueueBind("", "", x, false, nil); err != nil {
		t.Fatalf("queue.bind of the last declared queue: %v", err)
	}
	b.publishConfirmed(b.confirmChannel(conn), x, "", amqp.Publishing{Body: []byte("m")})
	n, err := ch.QueuePurge("", false)
	if err != nil {
		t.Fatalf("queue.purge of the last declared queue: %v", err)
	}
	equal(t, "purged through the binding", n, 1)
	deliveries, err := ch.Consume("", "c", true, false, false, false, nil)
	if err != nil {
		t.Fatalf("basic.consume of the last declared queue: %v", err)
	}
	b.publish(ch, "", q, "direct")
	equal(t, "consumed", string(recv(t, deliveries).Body), "direct")
	if err := ch.Cancel("c", false); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDelete("", false, false, false); err != nil {
		t.Fatalf("queue.delete of the last declared queue: %v", err)
	}
	_, err = ch.QueueDeclarePassive(q, false, false, true, false, nil)
	expectError(t, err, amqp.NotFound, noQueue(q))
}

func TestQueueNoPreviouslyDeclared(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	_, err := ch.Consume("", "", false, false, false, false, nil)
	expectError(t, err, amqp.NotFound, "NOT_FOUND - no previously declared queue")
	ch = b.channel(conn)
	err = ch.QueueBind("", "k", "amq.direct", false, nil)
	expectError(t, err, amqp.NotFound, "NOT_FOUND - no previously declared queue")
	// A passive declare of "" is a lookup of the queue named "".
	ch = b.channel(conn)
	_, err = ch.QueueDeclarePassive("", false, false, false, false, nil)
	expectError(t, err, amqp.NotFound, "NOT_FOUND - no queue '' in vhost '/'")
}

// rabbitmq: the exclusive flag must match on redeclare, even from the owner.
func TestQueueRedeclareExclusiveMismatch(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	eq := b.declareQueue(ch, b.name("q"), false, false, true, nil)
	_, err := ch.QueueDeclare(eq, false, false, false, false, nil)
	expectError(t, err, amqp.ResourceLocked, lockedQueue(eq))

	ch = b.channel(conn)
	q := b.queue(ch)
	_, err = ch.QueueDeclare(q, false, false, true, false, nil)
	expectError(t, err, amqp.ResourceLocked, lockedQueue(q))
}

func TestQueueDeclareInvalidArguments(t *testing.T) {
	for _, tc := range []struct {
		name string
		args amqp.Table
		text string // after the queue name
	}{
		{"x-max-length longstr", amqp.Table{"x-max-length": "abc"},
			`PRECONDITION_FAILED - invalid arg 'x-max-length' for queue '%s' in vhost '/': "expected integer, got longstr"`},
		{"x-max-length negative", amqp.Table{"x-max-length": int32(-1)},
			`PRECONDITION_FAILED - invalid arg 'x-max-length' for queue '%s' in vhost '/': {value_negative,-1}`},
		{"x-queue-type unknown", amqp.Table{"x-queue-type": "nope"},
			`PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue '%s' in vhost '/': "unsupported queue type 'nope'"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			_, ch := b.open()
			q := b.name("q")
			b.cleanupQueue(q)
			_, err := ch.QueueDeclare(q, false, false, false, false, tc.args)
			expectError(t, err, amqp.PreconditionFailed, fmt.Sprintf(tc.text, q))
		})
	}
}
