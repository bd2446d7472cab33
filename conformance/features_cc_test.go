package conformance

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Sender-selected distribution (rabbitmq): the CC and BCC headers, arrays
// of longstr routing keys, add routing keys to a publish; BCC is removed
// from the message.

// ccMsg is a message with CC and BCC headers (nil: absent).
func ccMsg(body string, cc, bcc []any) amqp.Publishing {
	h := amqp.Table{}
	if cc != nil {
		h["CC"] = cc
	}
	if bcc != nil {
		h["BCC"] = bcc
	}
	return amqp.Publishing{Headers: h, Body: []byte(body)}
}

// expectCC checks that d carries CC with the keys given and no BCC.
func expectCC(t testing.TB, d amqp.Delivery, keys ...string) {
	t.Helper()
	if _, ok := d.Headers["BCC"]; ok {
		t.Fatalf("message %q still has a BCC header: %v", d.Body, d.Headers)
	}
	if keys == nil {
		if _, ok := d.Headers["CC"]; ok {
			t.Fatalf("message %q has a CC header: %v", d.Body, d.Headers)
		}
		return
	}
	arr, ok := d.Headers["CC"].([]any)
	if !ok {
		t.Fatalf("message %q: CC is %T %v, want an array", d.Body, d.Headers["CC"], d.Headers["CC"])
	}
	got := make([]string, len(arr))
	for i, v := range arr {
		got[i], _ = v.(string)
	}
	equalStrings(t, "CC header", got, keys)
}

// A direct exchange routes by the routing key and by every CC key.
func TestCCDirectTwoMoreQueues(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	x := b.declareExchange(ch, "direct")
	qk, qa, qb, qc := b.queue(ch), b.queue(ch), b.queue(ch), b.queue(ch)
	b.bind(ch, qk, "k", x, nil)
	b.bind(ch, qa, "a", x, nil)
	b.bind(ch, qb, "b", x, nil)
	b.bind(ch, qc, "c", x, nil)
	pub := b.confirmChannel(b.dial())
	b.publishConfirmed(pub, x, "k", ccMsg("m", []any{"a", "b"}, nil))
	for _, q := range []string{qk, qa, qb} {
		d := get(t, ch, q, true)
		equal(t, "body", string(d.Body), "m")
		equal(t, "routing key", d.RoutingKey, "k")
		expectCC(t, d, "a", "b")
		expectEmpty(t, ch, q)
	}
	expectEmpty(t, ch, qc)
}

// A topic exchange matches BCC keys against its patterns; the delivered
// message keeps CC and has no BCC.
func TestCCTopicBCC(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	x := b.declareExchange(ch, "topic")
	qk, qb, qc, qn := b.queue(ch), b.queue(ch), b.queue(ch), b.queue(ch)
	b.bind(ch, qk, "k.#", x, nil)
	b.bind(ch, qb, "b.*", x, nil)
	b.bind(ch, qc, "#.c", x, nil)
	b.bind(ch, qn, "none", x, nil)
	pub := b.confirmChannel(b.dial())
	b.publishConfirmed(pub, x, "k.1", ccMsg("m", []any{"x.c"}, []any{"b.secret"}))
	for _, q := range []string{qk, qb, qc} {
		d := get(t, ch, q, true)
		expectCC(t, d, "x.c")
		expectEmpty(t, ch, q)
	}
	expectEmpty(t, ch, qn)

	// BCC alone: no header is left behind but the others.
	msg := ccMsg("bcc only", nil, []any{"b.1"})
	msg.Headers["other"] = "kept"
	b.publishConfirmed(pub, x, "nowhere", msg)
	d := get(t, ch, qb, true)
	expectCC(t, d)
	equal(t, "other header", headerString(d, "other"), "kept")
	equal(t, "headers", len(d.Headers), 1)
}

// The default exchange routes each CC key to the queue of that name.
func TestCCDefaultExchange(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	q1, q2, q3 := b.queue(ch), b.queue(ch), b.queue(ch)
	pub := b.confirmChannel(b.dial())
	b.publishConfirmed(pub, "", q1, ccMsg("m", []any{q2}, []any{q3, "no such queue"}))
	for _, q := range []string{q1, q2, q3} {
		d := get(t, ch, q, true)
		equal(t, "routing key", d.RoutingKey, q1)
		expectCC(t, d, q2)
	}
}

// A queue that the routing key and CC and BCC keys all reach gets the
// message once.
func TestCCQueueReachedTwiceGetsOneCopy(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	direct, topic := b.declareExchange(ch, "direct"), b.declareExchange(ch, "topic")
	qd, qt := b.queue(ch), b.queue(ch)
	b.bind(ch, qd, "a", direct, nil)
	b.bind(ch, qd, "b", direct, nil)
	b.bind(ch, qt, "a.*", topic, nil)
	b.bind(ch, qt, "#", topic, nil)
	pub := b.confirmChannel(b.dial())
	b.publishConfirmed(pub, direct, "a", ccMsg("direct", []any{"b", "a"}, []any{"b"}))
	b.publishConfirmed(pub, topic, "a.1", ccMsg("topic", []any{"a.2"}, []any{"z"}))
	b.publishConfirmed(pub, "", qd, ccMsg("default", []any{qd}, []any{qd}))
	equalStrings(t, "direct-bound queue", drain(t, ch, qd), []string{"direct", "default"})
	equalStrings(t, "topic-bound queue", drain(t, ch, qt), []string{"topic"})
}

// Fanout ignores routing keys, CC and BCC included: the message reaches
// the bound queues once, and no queue that a key names.
func TestCCFanoutIgnoresKeys(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	x := b.declareExchange(ch, "fanout")
	bound, named := b.queue(ch), b.queue(ch)
	b.bind(ch, bound, "", x, nil)
	p := b.mandatoryPublisher(conn)
	p.expectRouted(x, named, ccMsg("m", []any{named, bound}, []any{named}))
	equalStrings(t, "bound queue", drain(t, ch, bound), []string{"m"})
	expectEmpty(t, ch, named)

	empty := b.declareExchange(ch, "fanout")
	p.expectReturned(empty, named, ccMsg("unroutable", []any{named}, nil))
}

// A mandatory message that only its CC or BCC keys route is not returned;
// one that nothing routes is, without its BCC header.
func TestCCMandatoryRoutedByCCOnly(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	x := b.declareExchange(ch, "direct")
	q := b.queue(ch)
	b.bind(ch, q, "c", x, nil)
	p := b.mandatoryPublisher(conn)
	p.expectRouted(x, "nowhere", ccMsg("cc", []any{"c"}, nil))
	p.expectRouted(x, "nowhere", ccMsg("bcc", nil, []any{"c"}))
	equalStrings(t, "queue", drain(t, ch, q), []string{"cc", "bcc"})

	r := p.expectReturned(x, "nowhere", ccMsg("returned", []any{"n1"}, []any{"n2"}))
	if _, ok := r.Headers["BCC"]; ok {
		t.Fatalf("returned message has a BCC header: %v", r.Headers)
	}
	if _, ok := r.Headers["CC"]; !ok {
		t.Fatalf("returned message lost its CC header: %v", r.Headers)
	}
}

// CC keys route through exchange-to-exchange bindings and alternate
// exchanges: every exchange on the way routes by all the keys.
func TestCCExchangeToExchangeAndAlternate(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	src := b.declareExchange(ch, "direct")
	dst := b.declareExchange(ch, "direct")
	if err := ch.ExchangeBind(dst, "k", src, false, nil); err != nil {
		t.Fatalf("exchange.bind: %v", err)
	}
	qc := b.queue(ch)
	b.bind(ch, qc, "c", dst, nil)

	ae := b.declareExchange(ch, "topic")
	withAE := b.declareExchangeArgs(ch, "direct", amqp.Table{"alternate-exchange": ae})
	qae, qx := b.queue(ch), b.queue(ch)
	b.bind(ch, qae, "c.#", ae, nil)
	b.bind(ch, qx, "x", withAE, nil)

	pub := b.confirmChannel(b.dial())
	// src routes by "k" to dst, which routes by "c" to qc.
	b.publishConfirmed(pub, src, "k", ccMsg("e2e", []any{"c"}, nil))
	equalStrings(t, "queue behind the exchange binding", drain(t, ch, qc), []string{"e2e"})
	// No key routes in withAE: its alternate routes by the BCC key.
	b.publishConfirmed(pub, withAE, "nowhere", ccMsg("ae", nil, []any{"c.1"}))
	equalStrings(t, "alternate's queue", drain(t, ch, qae), []string{"ae"})
	// A CC key routes in withAE: the alternate is not used.
	b.publishConfirmed(pub, withAE, "nowhere", ccMsg("no ae", []any{"x", "c.2"}, nil))
	equalStrings(t, "withAE's queue", drain(t, ch, qx), []string{"no ae"})
	expectEmpty(t, ch, qae)
}

// Only longstr elements of an array count; a CC or BCC that is no array
// fails the publish.
func TestCCValueTypes(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	x := b.declareExchange(ch, "direct")
	q := b.queue(ch)
	b.bind(ch, q, "c", x, nil)
	b.bind(ch, q, "5", x, nil)
	pub := b.confirmChannel(conn)
	b.publishConfirmed(pub, x, "nowhere", ccMsg("mixed", []any{int32(5), []byte("5"), "c"}, nil))
	equalStrings(t, "queue", drain(t, ch, q), []string{"mixed"})
	b.publishConfirmed(pub, x, "nowhere", ccMsg("ints only", []any{int32(5)}, []any{true}))
	expectEmpty(t, ch, q)

	for _, tc := range []struct {
		name string
		val  any
		typ  string
	}{
		{"CC", "c", "longstr"},
		{"BCC", int32(1), "signedint"},
		{"CC", amqp.Table{"c": "c"}, "table"},
	} {
		bad := b.channel(conn)
		closes := notifyClose(bad)
		if err := bad.Publish(x, "c", false, false, amqp.Publishing{Headers: amqp.Table{tc.name: tc.val}}); err != nil {
			t.Fatalf("basic.publish: %v", err)
		}
		expectClose(t, closes, amqp.PreconditionFailed, `PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"`+tc.name+`",`+tc.typ+`}`)
	}
	expectEmpty(t, ch, q)
}

// A dead letter without a dead-letter routing key is routed again by its
// key and its CC keys, and keeps CC; with one, by that key alone, without
// CC. Either way x-death's routing-keys are the key and the CC keys, not
// BCC's.
func TestCCDeadLettered(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	dlx, src := b.declareExchange(ch, "direct"), b.declareExchange(ch, "direct")
	qk, qc, qr := b.queue(ch), b.queue(ch), b.queue(ch)
	b.bind(ch, qk, "k", dlx, nil)
	b.bind(ch, qc, "c", dlx, nil)
	b.bind(ch, qr, "r", dlx, nil)
	pub := b.confirmChannel(b.dial())
	for _, dlrk := range []string{"", "r"} {
		args := amqp.Table{"x-dead-letter-exchange": dlx}
		if dlrk != "" {
			args["x-dead-letter-routing-key"] = dlrk
		}
		q := b.declareQueue(ch, b.name("q"), false, false, false, args)
		b.bind(ch, q, "k", src, nil)
		b.publishConfirmed(pub, src, "k", ccMsg("m", []any{"c"}, []any{"b"}))
		if err := get(t, ch, q, false).Reject(false); err != nil {
			t.Fatalf("basic.reject: %v", err)
		}
		targets := []string{qk, qc}
		if dlrk != "" {
			targets = []string{qr}
		}
		for _, dq := range targets {
			d := b.waitGet(ch, dq)
			if dlrk == "" {
				equal(t, "routing key", d.RoutingKey, "k")
				expectCC(t, d, "c")
			} else {
				equal(t, "routing key", d.RoutingKey, dlrk)
				expectCC(t, d)
			}
			expectDeaths(t, d, death{count: 1, reason: "rejected", queue: q, exchange: src, keys: []string{"k", "c"}})
		}
		for _, dq := range []string{qk, qc, qr} {
			expectEmpty(t, ch, dq)
		}
	}
}

// A delayed message is routed by its CC keys when it is released, and at
// once when it has no delay.
func TestCCDelayed(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	skipDelayedOnRabbitMQ(t, conn)
	x := b.delayedExchange(ch, "direct")
	qc := b.queue(ch)
	b.bind(ch, qc, "c", x, nil)
	pub := b.confirmChannel(conn)
	later := ccMsg("later", []any{"c"}, nil)
	later.Headers["x-delay"] = int32(50)
	b.publishConfirmed(pub, x, "k", later)
	b.publishConfirmed(pub, x, "k", ccMsg("now", nil, []any{"c"}))
	equal(t, "first", string(b.waitGet(ch, qc).Body), "now")
	d := b.waitGet(ch, qc)
	equal(t, "second", string(d.Body), "later")
	expectCC(t, d, "c")
}
