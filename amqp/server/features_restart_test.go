package server_test

import (
	"fmt"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// Restart tests of the queue features: a stored entry keeps its expiry,
// and dead letters are stored like any persistent message. Helpers are in
// durable_test.go.

// deadLetterTo is the arguments of a queue that dead-letters to dlq
// through the default exchange.
func deadLetterTo(dlq string) amqp091.Table {
	return amqp091.Table{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq}
}

// pollGet polls basic.get (auto-ack) on q until n messages came, or fails
// after within.
func pollGet(t testing.TB, ch *amqp091.Channel, q string, n int, within time.Duration) []amqp091.Delivery {
	t.Helper()
	deadline := time.Now().Add(within)
	var out []amqp091.Delivery
	for len(out) < n {
		d, ok, err := ch.Get(q, true)
		if err != nil {
			t.Fatalf("basic.get from '%s': %v", q, err)
		}
		if ok {
			out = append(out, d)
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("'%s': %d of %d messages within %v: %q", q, len(out), n, within, bodies(out))
		}
		<-time.After(time.Millisecond) // the polling interval
	}
	return out
}

// waitCount polls until q holds n ready messages.
func waitCount(t testing.TB, ch *amqp091.Channel, q string, n int) {
	t.Helper()
	deadline := time.Now().Add(durWait)
	for queueCount(t, ch, q) != n {
		if time.Now().After(deadline) {
			t.Fatalf("'%s' holds %d messages after %v, want %d", q, queueCount(t, ch, q), durWait, n)
		}
		<-time.After(time.Millisecond) // the polling interval
	}
}

// deathOf returns the first x-death entry of d and its entry count.
func deathOf(t testing.TB, d amqp091.Delivery) (amqp091.Table, int) {
	t.Helper()
	xd, ok := d.Headers["x-death"].([]any)
	if !ok || len(xd) == 0 {
		t.Fatalf("message %q: x-death %T %v, want a non-empty array", d.Body, d.Headers["x-death"], d.Headers["x-death"])
	}
	e, ok := xd[0].(amqp091.Table)
	if !ok {
		t.Fatalf("message %q: x-death[0] is a %T", d.Body, xd[0])
	}
	return e, len(xd)
}

// TestTTLExpiryKeptAcrossRestart: a persistent message in a durable queue
// keeps its expiry in the store. A message whose time ran out while the
// broker was down is dead-lettered (reason expired) as soon as the broker
// is back, not a TTL after the restart; the per-message expiration and
// the queue's x-message-ttl both count from the publish. A message with
// time left stays.
func TestTTLExpiryKeptAcrossRestart(t *testing.T) {
	t.Parallel()
	const ttl = time.Second
	b := startDurable(t)
	ch := b.channel()
	declareDurableQueue(t, ch, "ttl.dlq", nil)
	declareDurableQueue(t, ch, "ttl.expiration", deadLetterTo("ttl.dlq"))
	qargs := deadLetterTo("ttl.dlq")
	qargs["x-message-ttl"] = int32(ttl / time.Millisecond)
	declareDurableQueue(t, ch, "ttl.queue", qargs)

	keep := persistent("keep")
	keep.Expiration = "600000"
	short := persistent("expiration")
	short.Expiration = fmt.Sprint(ttl.Milliseconds())
	published := time.Now()
	pub := b.confirmChannel()
	// keep at the head: the expired one sits behind it.
	publishConfirmed(t, pub, "", "ttl.expiration", keep, short)
	publishConfirmed(t, pub, "", "ttl.queue", persistent("x-message-ttl"))

	b.stop()
	// Not synchronisation: the TTLs are to run out while the broker is down.
	<-time.After(time.Until(published.Add(ttl + 50*time.Millisecond)))
	b.start()
	b.expectRecovered(map[string]int64{"queues": 3, "entries": 3})

	// Had the restart reset the expiries, they would still be a TTL away.
	ds := pollGet(t, b.channel(), "ttl.dlq", 2, ttl/2)
	got := map[string]amqp091.Delivery{}
	for _, d := range ds {
		got[string(d.Body)] = d
	}
	for body, want := range map[string]struct{ queue, origExpiration string }{
		"expiration":    {"ttl.expiration", short.Expiration},
		"x-message-ttl": {"ttl.queue", ""},
	} {
		d, ok := got[body]
		if !ok {
			t.Fatalf("dead letters %q, want %q among them", bodies(ds), body)
		}
		e, n := deathOf(t, d)
		if n != 1 || e["reason"] != "expired" || e["queue"] != want.queue || e["count"] != int64(1) {
			t.Errorf("dead letter %q: %d deaths, first %v; want 1, expired in '%s'", body, n, e, want.queue)
		}
		if oe, _ := e["original-expiration"].(string); oe != want.origExpiration {
			t.Errorf("dead letter %q: original-expiration %q, want %q", body, oe, want.origExpiration)
		}
		if d.DeliveryMode != amqp091.Persistent || d.Expiration != "" {
			t.Errorf("dead letter %q: delivery mode %d, expiration %q; want persistent, none", body, d.DeliveryMode, d.Expiration)
		}
	}
	ch = b.channel()
	expectBodies(t, ch, "ttl.expiration", true, "keep")
	expectBodies(t, ch, "ttl.queue", true)
}

// TestDeadLettersSurviveRestart: persistent messages dead-lettered into a
// durable queue (rejected, expired, dropped by x-max-length) are stored
// there with their x-death, and the originals are gone from the store.
func TestDeadLettersSurviveRestart(t *testing.T) {
	t.Parallel()
	b := startDurable(t)
	ch := b.channel()
	declareDurableQueue(t, ch, "dl.dlq", nil)
	args := deadLetterTo("dl.dlq")
	args["x-max-length"] = int32(2)
	declareDurableQueue(t, ch, "dl.q", args)
	pub := b.confirmChannel()

	publishConfirmed(t, pub, "", "dl.q", persistent("rejected"))
	d, ok, err := ch.Get("dl.q", false)
	if err != nil || !ok {
		t.Fatalf("basic.get from 'dl.q': %v %v", ok, err)
	}
	must(t, d.Reject(false), "reject")
	expired := persistent("expired")
	expired.Expiration = "1"
	publishConfirmed(t, pub, "", "dl.q", expired)
	waitCount(t, ch, "dl.dlq", 2)
	publishConfirmed(t, pub, "", "dl.q", persistent("maxlen"), persistent("kept 1"), persistent("kept 2"))
	waitCount(t, ch, "dl.dlq", 3)

	b.restart()
	b.expectRecovered(map[string]int64{"queues": 2, "entries": 5, "messages": 5})
	ch = b.channel()
	ds := expectBodies(t, ch, "dl.dlq", true, "rejected", "expired", "maxlen")
	for i, reason := range []string{"rejected", "expired", "maxlen"} {
		e, n := deathOf(t, ds[i])
		rks, _ := e["routing-keys"].([]any)
		if n != 1 || e["reason"] != reason || e["queue"] != "dl.q" || e["count"] != int64(1) || e["exchange"] != "" ||
			len(rks) != 1 || rks[0] != "dl.q" {
			t.Errorf("dead letter %q: %d deaths, first %v; want 1, %s in 'dl.q'", ds[i].Body, n, e, reason)
		}
		if _, ok := e["time"].(time.Time); !ok {
			t.Errorf("dead letter %q: time %T, want a timestamp", ds[i].Body, e["time"])
		}
		if h := ds[i].Headers["x-first-death-reason"]; h != reason {
			t.Errorf("dead letter %q: x-first-death-reason %v, want %s", ds[i].Body, h, reason)
		}
		if ds[i].DeliveryMode != amqp091.Persistent {
			t.Errorf("dead letter %q: delivery mode %d, want persistent", ds[i].Body, ds[i].DeliveryMode)
		}
	}
	expectBodies(t, ch, "dl.q", true, "kept 1", "kept 2")

	b.restart()
	b.expectRecovered(map[string]int64{"entries": 0, "messages": 0})
}

// TestSettledAfterQueueDeleteLeaveNothing: persistent messages delivered
// from a durable queue that is then deleted leave nothing in the store,
// however the client settles them: ack, reject (not dead-lettered: the
// queue is gone), or requeue.
func TestSettledAfterQueueDeleteLeaveNothing(t *testing.T) {
	t.Parallel()
	b := startDurable(t)
	ch := b.channel()
	declareDurableQueue(t, ch, "gone.dlq", nil)
	declareDurableQueue(t, ch, "gone.q", deadLetterTo("gone.dlq"))
	publishConfirmed(t, b.confirmChannel(), "", "gone.q", persistent("acked"), persistent("rejected"), persistent("requeued"))
	ds := getAll(t, ch, "gone.q", false)
	if len(ds) != 3 {
		t.Fatalf("got %d messages, want 3", len(ds))
	}
	_, err := b.channel().QueueDelete("gone.q", false, false, false)
	must(t, err, "delete gone.q")
	must(t, ds[0].Ack(false), "ack")
	must(t, ds[1].Reject(false), "reject")
	must(t, ds[2].Nack(false, true), "nack requeue")
	roundTrip(t, ch, "gone.dlq")
	if n := queueCount(t, ch, "gone.dlq"); n != 0 {
		t.Errorf("'gone.dlq' holds %d messages, want none", n)
	}

	b.restart()
	b.expectRecovered(map[string]int64{"queues": 1, "messages": 0, "entries": 0, "orphans_deleted": 0})
}
