package conformance

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Invalid queue-feature arguments and expiration properties are refused
// with 406 and RabbitMQ's text, which spells the reason as an Erlang term.

func TestQueueFeatureArgsInvalid(t *testing.T) {
	for _, tc := range []struct {
		name      string
		arg       string
		value     any
		reason    string
		warrenBug string
	}{
		{"x-message-ttl negative", "x-message-ttl", int32(-1), "{value_negative,-1}", ""},
		{"x-message-ttl string", "x-message-ttl", "10", `"expected integer, got longstr"`, ""},
		{"x-expires zero", "x-expires", int32(0), "{value_zero,0}", ""},
		{"x-expires negative", "x-expires", int32(-5), "{value_negative,-5}", ""},
		{"x-max-length negative", "x-max-length", int32(-1), "{value_negative,-1}", ""},
		{"x-max-length-bytes negative", "x-max-length-bytes", int32(-1), "{value_negative,-1}", ""},
		{"x-max-priority 256", "x-max-priority", int32(256), "{max_value_exceeded,256}", ""},
		{"x-max-priority negative", "x-max-priority", int32(-1), "{value_negative,-1}", ""},
		{"x-overflow bogus", "x-overflow", "bogus", "invalid_overflow", ""},
		{"x-overflow not a string", "x-overflow", int32(1), "{unacceptable_type,signedint}", ""},
		{"x-dead-letter-routing-key not a string", "x-dead-letter-routing-key", true, "{unacceptable_type,bool}", ""},
		{"x-single-active-consumer not a bool", "x-single-active-consumer", "yes", "{unacceptable_type,longstr}", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			conn, ch := b.open()
			if tc.warrenBug != "" && !isRabbitMQ(conn) {
				t.Skip(tc.warrenBug)
			}
			q := b.name("q")
			b.cleanupQueue(q)
			_, err := ch.QueueDeclare(q, false, false, false, false, amqp.Table{tc.arg: tc.value})
			expectError(t, err, amqp.PreconditionFailed, invalidArg(tc.arg, q, tc.reason))
			if conn.IsClosed() {
				t.Fatal("406 closed the connection")
			}
		})
	}
}

// rabbitmq: x-dead-letter-exchange has a text of its own for a bad type.
func TestQueueDeadLetterExchangeNotAString(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.name("q")
	b.cleanupQueue(q)
	_, err := ch.QueueDeclare(q, false, false, false, false, amqp.Table{"x-dead-letter-exchange": int32(1)})
	expectError(t, err, amqp.PreconditionFailed, replyText("PRECONDITION_FAILED - invalid type 'signedint' for arg 'x-dead-letter-exchange' in queue '"+q+"' in vhost '/'"))
	if conn.IsClosed() {
		t.Fatal("406 closed the connection")
	}
}

// rabbitmq 3.10 puts no upper bound on x-message-ttl and x-expires.
func TestQueueLargeTTLAccepted(t *testing.T) {
	for _, arg := range []string{"x-message-ttl", "x-expires"} {
		t.Run(arg, func(t *testing.T) {
			b := setup(t)
			_, ch := b.open()
			b.declareQueue(ch, b.name("q"), false, false, false, amqp.Table{arg: int64(4294967296)})
		})
	}
}

// rabbitmq: the x-dead-letter-routing-key needs an x-dead-letter-exchange.
func TestQueueDeadLetterRoutingKeyAlone(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.name("q")
	b.cleanupQueue(q)
	_, err := ch.QueueDeclare(q, false, false, false, false, amqp.Table{"x-dead-letter-routing-key": "k"})
	expectError(t, err, amqp.PreconditionFailed, invalidArg("x-dead-letter-routing-key", q, "routing_key_but_no_dlx_defined"))
	if conn.IsClosed() {
		t.Fatal("406 closed the connection")
	}
}

// An expiration property that is not a TTL closes the channel with 406.
func TestPublishExpirationInvalid(t *testing.T) {
	for _, tc := range []struct {
		name, expiration, reason string
		warrenBug                string
	}{
		{"not a number", "soon", "no_integer", ""},
		{"negative", "-1", "{value_negative,-1}", ""},
		{"trailing text", "10s", "{leftover_string,\"s\"}", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			conn, ch := b.open()
			if tc.warrenBug != "" && !isRabbitMQ(conn) {
				t.Skip(tc.warrenBug)
			}
			q := b.queue(ch)
			closes := notifyClose(ch)
			if err := ch.Publish("", q, false, false, expiringMsg("m", tc.expiration)); err != nil {
				t.Fatal(err)
			}
			expectClose(t, closes, amqp.PreconditionFailed, "PRECONDITION_FAILED - invalid expiration '"+tc.expiration+"': "+tc.reason)
			if conn.IsClosed() {
				t.Fatal("406 closed the connection")
			}
			equal(t, "messages", func() int { m, _ := b.counts(q); return m }(), 0)
		})
	}
}

// rabbitmq 3.10 puts no upper bound on an expiration.
func TestPublishExpirationLarge(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.queue(ch)
	b.publishConfirmed(pub, "", q, expiringMsg("m", "4294967296"))
	d := get(t, ch, q, true)
	equal(t, "expiration", d.Expiration, "4294967296")
}
