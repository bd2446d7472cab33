package conformance

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Helpers of the queue-feature tests: TTL, dead-lettering, length limits,
// priorities, quorum queues, x-expires and argument validation
// (features_{ttl,dlx,limits,priority,quorum,expires,args}_test.go).

// death is one expected entry of a message's x-death header.
type death struct {
	count    int64
	reason   string // rejected, expired, maxlen, delivery_limit
	queue    string
	exchange string
	keys     []string // routing-keys
	// origExpiration is the message's expiration property before it died;
	// "" when it had none, and then the entry has no original-expiration.
	origExpiration string
}

// xDeath returns d's x-death header, which must be an array of tables.
func xDeath(t testing.TB, d amqp.Delivery) []amqp.Table {
	t.Helper()
	raw, ok := d.Headers["x-death"]
	if !ok {
		t.Fatalf("message %q has no x-death header; headers: %v", d.Body, d.Headers)
	}
	arr, ok := raw.([]any)
	if !ok {
		t.Fatalf("x-death is a %T, want an array", raw)
	}
	out := make([]amqp.Table, len(arr))
	for i, v := range arr {
		tb, ok := v.(amqp.Table)
		if !ok {
			t.Fatalf("x-death[%d] is a %T, want a table", i, v)
		}
		out[i] = tb
	}
	return out
}

// expectDeaths checks d's x-death, newest first, field by field: exactly
// RabbitMQ's field names, and their types (count long, reason, queue and
// exchange longstr, time timestamp, routing-keys an array of longstr,
// original-expiration longstr). A death's time is in whole seconds and
// not in the future.
func expectDeaths(t testing.TB, d amqp.Delivery, want ...death) {
	t.Helper()
	got := xDeath(t, d)
	if len(got) != len(want) {
		t.Fatalf("x-death has %d entries, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		e := got[i]
		fields := []string{"count", "exchange", "queue", "reason", "routing-keys", "time"}
		if w.origExpiration != "" {
			fields = append(fields, "original-expiration")
		}
		var names []string
		for k := range e {
			names = append(names, k)
		}
		slices.Sort(names)
		slices.Sort(fields)
		if !slices.Equal(names, fields) {
			t.Fatalf("x-death[%d] has fields %q, want %q: %v", i, names, fields, e)
		}
		field := func(name string, want any) {
			t.Helper()
			if g := e[name]; fmt.Sprintf("%T", g) != fmt.Sprintf("%T", want) || g != want {
				t.Fatalf("x-death[%d] %s: got %T %v, want %T %v (entry %v)", i, name, g, g, want, want, e)
			}
		}
		field("count", w.count)
		field("reason", w.reason)
		field("queue", w.queue)
		field("exchange", w.exchange)
		if w.origExpiration != "" {
			field("original-expiration", w.origExpiration)
		}
		keys, ok := e["routing-keys"].([]any)
		if !ok {
			t.Fatalf("x-death[%d] routing-keys: got %T %v, want an array", i, e["routing-keys"], e["routing-keys"])
		}
		var ks []string
		for _, k := range keys {
			s, ok := k.(string)
			if !ok {
				t.Fatalf("x-death[%d] routing-keys holds a %T %v, want longstr", i, k, k)
			}
			ks = append(ks, s)
		}
		equalStrings(t, fmt.Sprintf("x-death[%d] routing-keys", i), ks, w.keys)
		ts, ok := e["time"].(time.Time)
		if !ok {
			t.Fatalf("x-death[%d] time: got %T %v, want a timestamp", i, e["time"], e["time"])
		}
		if ts.Nanosecond() != 0 || ts.After(time.Now().Add(time.Second)) || ts.Before(time.Now().Add(-time.Minute)) {
			t.Fatalf("x-death[%d] time %v: want whole seconds, within the last minute", i, ts)
		}
	}
}

// expectFirstDeath checks the x-first-death-* headers.
func expectFirstDeath(t testing.TB, d amqp.Delivery, reason, queue, exchange string) {
	t.Helper()
	for _, h := range []struct{ name, want string }{
		{"x-first-death-reason", reason},
		{"x-first-death-queue", queue},
		{"x-first-death-exchange", exchange},
	} {
		if g, ok := d.Headers[h.name].(string); !ok || g != h.want {
			t.Fatalf("%s: got %T %v, want longstr %q", h.name, d.Headers[h.name], d.Headers[h.name], h.want)
		}
	}
}

// publishAck publishes msg on a confirm-mode channel and returns whether
// the broker acked (true) or nacked (false) it.
func (b *broker) publishAck(ch *amqp.Channel, exchange, key string, msg amqp.Publishing) bool {
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
	return acked
}

// textMsg is a transient message with a body.
func textMsg(body string) amqp.Publishing { return amqp.Publishing{Body: []byte(body)} }

// expiringMsg is a transient message with an expiration property.
func expiringMsg(body, expiration string) amqp.Publishing {
	return amqp.Publishing{Body: []byte(body), Expiration: expiration}
}

// deadLettered declares a dead-letter queue and a queue whose dead letters
// go to it through the default exchange (x-dead-letter-exchange "",
// x-dead-letter-routing-key the dead-letter queue), with the extra
// arguments args. It returns the queue and the dead-letter queue.
func (b *broker) deadLettered(ch *amqp.Channel, args amqp.Table) (q, dlq string) {
	b.t.Helper()
	dlq = b.declareQueue(ch, b.name("dlq"), false, false, false, nil)
	a := amqp.Table{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq}
	for k, v := range args {
		a[k] = v
	}
	q = b.declareQueue(ch, b.name("q"), false, false, false, a)
	return q, dlq
}

// waitGet polls basic.get (auto-ack) on queue until a message arrives:
// dead letters reach their queue asynchronously.
func (b *broker) waitGet(ch *amqp.Channel, queue string) amqp.Delivery {
	b.t.Helper()
	var d amqp.Delivery
	eventually(b.t, fmt.Sprintf("a message in %q", queue), func() (bool, string) {
		var ok bool
		var err error
		d, ok, err = ch.Get(queue, true)
		if err != nil {
			b.t.Fatalf("basic.get %q: %v", queue, err)
		}
		return ok, "get-empty"
	})
	return d
}

// waitGetAck is waitGet with manual acknowledgement.
func (b *broker) waitGetAck(ch *amqp.Channel, queue string) amqp.Delivery {
	b.t.Helper()
	var d amqp.Delivery
	eventually(b.t, fmt.Sprintf("a message in %q", queue), func() (bool, string) {
		var ok bool
		var err error
		d, ok, err = ch.Get(queue, false)
		if err != nil {
			b.t.Fatalf("basic.get %q: %v", queue, err)
		}
		return ok, "get-empty"
	})
	return d
}

// waitMessages polls until queue holds n ready messages, whatever its
// consumers.
func (b *broker) waitMessages(queue string, n int) {
	b.t.Helper()
	eventually(b.t, fmt.Sprintf("queue %q to hold %d ready messages", queue, n), func() (bool, string) {
		m, _ := b.counts(queue)
		return m == n, fmt.Sprintf("messages=%d", m)
	})
}

// skipOnRabbitMQ skips a test of a Warren extension or improvement that
// RabbitMQ 3.10 does not have.
func skipOnRabbitMQ(t testing.TB, conn *amqp.Connection, why string) {
	t.Helper()
	if isRabbitMQ(conn) {
		t.Skipf("Warren only: %s", why)
	}
}

// headerString is a string header, or "" with its type for the message.
func headerString(d amqp.Delivery, name string) string {
	if s, ok := d.Headers[name].(string); ok {
		return s
	}
	return fmt.Sprintf("<%T %v>", d.Headers[name], d.Headers[name])
}

// invalidArg is the 406 text for a bad queue argument, as RabbitMQ words it.
func invalidArg(arg, queue, reason string) string {
	return replyText(strings.Join([]string{"PRECONDITION_FAILED - invalid arg '", arg, "' for queue '", queue, "' in vhost '/': ", reason}, ""))
}
