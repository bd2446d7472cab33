package conformance

import (
	"fmt"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Alternate exchanges (the alternate-exchange exchange argument).

// A message its exchange cannot route goes to the alternate exchange; one
// it can route does not.
func TestAlternateExchangeTakesUnroutable(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	ae := b.declareExchange(ch, "fanout")
	x := b.declareExchangeArgs(ch, "direct", amqp.Table{"alternate-exchange": ae})
	qx, qae := b.queue(ch), b.queue(ch)
	b.bind(ch, qx, "k", x, nil)
	b.bind(ch, qae, "", ae, nil)

	p := b.mandatoryPublisher(conn)
	p.expectRouted(x, "k", amqp.Publishing{Body: []byte("routed")})
	p.expectRouted(x, "other", amqp.Publishing{Body: []byte("alternate")})
	equalStrings(t, "bound queue", drain(t, ch, qx), []string{"routed"})
	d := get(t, ch, qae, true)
	equal(t, "body in the alternate exchange's queue", string(d.Body), "alternate")
	// The message keeps the exchange and key it was published with.
	equal(t, "exchange", d.Exchange, x)
	equal(t, "routing key", d.RoutingKey, "other")
	expectEmpty(t, ch, qae)
}

// Alternate exchanges chain: an alternate exchange that cannot route the
// message uses its own alternate exchange.
func TestAlternateExchangeChain(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	last := b.declareExchange(ch, "fanout")
	middle := b.declareExchangeArgs(ch, "topic", amqp.Table{"alternate-exchange": last})
	first := b.declareExchangeArgs(ch, "direct", amqp.Table{"alternate-exchange": middle})
	qm, ql := b.queue(ch), b.queue(ch)
	b.bind(ch, qm, "a.#", middle, nil)
	b.bind(ch, ql, "", last, nil)

	p := b.mandatoryPublisher(conn)
	p.expectRouted(first, "a.b", amqp.Publishing{Body: []byte("to middle")})
	p.expectRouted(first, "b", amqp.Publishing{Body: []byte("to last")})
	equalStrings(t, "middle's queue", drain(t, ch, qm), []string{"to middle"})
	equalStrings(t, "last's queue", drain(t, ch, ql), []string{"to last"})
}

// Alternate exchanges that refer to each other are each tried once: the
// message is unroutable and a mandatory one comes back.
func TestAlternateExchangeCycle(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	x1, x2 := b.name("x-cycle1"), b.name("x-cycle2")
	b.cleanupExchange(x1)
	b.cleanupExchange(x2)
	for _, d := range [][2]string{{x1, x2}, {x2, x1}} {
		if err := ch.ExchangeDeclare(d[0], "direct", false, false, false, false, amqp.Table{"alternate-exchange": d[1]}); err != nil {
			t.Fatal(err)
		}
	}
	self := b.name("x-self")
	b.cleanupExchange(self)
	if err := ch.ExchangeDeclare(self, "direct", false, false, false, false, amqp.Table{"alternate-exchange": self}); err != nil {
		t.Fatal(err)
	}
	p := b.mandatoryPublisher(conn)
	p.expectReturned(x1, "k", amqp.Publishing{Body: []byte("cycle")})
	p.expectReturned(self, "k", amqp.Publishing{Body: []byte("self")})

	// A queue bound to one exchange of the cycle gets the message once.
	q := b.queue(ch)
	b.bind(ch, q, "k2", x2, nil)
	p.expectRouted(x1, "k2", amqp.Publishing{Body: []byte("through the cycle")})
	equalStrings(t, "queue on the cycle", drain(t, ch, q), []string{"through the cycle"})
}

// An alternate exchange that does not exist routes nothing.
func TestAlternateExchangeMissing(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	x := b.declareExchangeArgs(ch, "direct", amqp.Table{"alternate-exchange": b.name("x-missing")})
	p := b.mandatoryPublisher(conn)
	r := p.expectReturned(x, "k", amqp.Publishing{Body: []byte("lost")})
	equal(t, "returned body", string(r.Body), "lost")
}

// The alternate exchange is used only when the exchange's own bindings
// lead nowhere: an exchange-to-exchange binding that matches counts as a
// route even when the bound exchange then routes nothing.
func TestAlternateExchangeNotUsedWhenBoundExchangeMatches(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	ae := b.declareExchange(ch, "fanout")
	qae := b.queue(ch)
	b.bind(ch, qae, "", ae, nil)
	inner := b.declareExchange(ch, "direct")
	outer := b.declareExchangeArgs(ch, "direct", amqp.Table{"alternate-exchange": ae})
	if err := ch.ExchangeBind(inner, "k", outer, false, nil); err != nil {
		t.Fatal(err)
	}
	p := b.mandatoryPublisher(conn)
	p.expectReturned(outer, "k", amqp.Publishing{Body: []byte("into inner")})
	expectEmpty(t, ch, qae)

	// The alternate exchange of an exchange reached through a binding is
	// used, though.
	ae2 := b.declareExchange(ch, "fanout")
	qae2 := b.queue(ch)
	b.bind(ch, qae2, "", ae2, nil)
	inner2 := b.declareExchangeArgs(ch, "direct", amqp.Table{"alternate-exchange": ae2})
	if err := ch.ExchangeBind(inner2, "j", outer, false, nil); err != nil {
		t.Fatal(err)
	}
	p.expectRouted(outer, "j", amqp.Publishing{Body: []byte("into inner2")})
	equalStrings(t, "inner2's alternate queue", drain(t, ch, qae2), []string{"into inner2"})
	expectEmpty(t, ch, qae)
}

// The alternate exchange may be internal: clients cannot publish to it,
// the broker can.
func TestAlternateExchangeInternal(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	ae := b.name("x-internal-ae")
	b.cleanupExchange(ae)
	if err := ch.ExchangeDeclare(ae, "fanout", false, false, true, false, nil); err != nil {
		t.Fatal(err)
	}
	q := b.queue(ch)
	b.bind(ch, q, "", ae, nil)
	x := b.declareExchangeArgs(ch, "headers", amqp.Table{"alternate-exchange": ae})
	p := b.mandatoryPublisher(conn)
	p.expectRouted(x, "", amqp.Publishing{Headers: amqp.Table{"a": "b"}, Body: []byte("via internal")})
	equalStrings(t, "internal alternate's queue", drain(t, ch, q), []string{"via internal"})
}

// rabbitmq: the alternate-exchange argument must be a string; it is
// checked when the exchange is created.
func TestAlternateExchangeArgumentType(t *testing.T) {
	for _, c := range []struct {
		value any
		typ   string
	}{
		{int32(1), "signedint"},
		{true, "bool"},
		{amqp.Table{"a": "b"}, "table"},
	} {
		t.Run(c.typ, func(t *testing.T) {
			b := setup(t)
			_, ch := b.open()
			closes := notifyClose(ch)
			x := b.name("x-bad-ae")
			b.cleanupExchange(x)
			err := ch.ExchangeDeclare(x, "direct", false, false, false, false, amqp.Table{"alternate-exchange": c.value})
			expectError(t, err, amqp.PreconditionFailed,
				fmt.Sprintf("PRECONDITION_FAILED - invalid type '%s' for arg 'alternate-exchange' in exchange '%s' in vhost '/'", c.typ, x))
			expectClose(t, closes, amqp.PreconditionFailed,
				fmt.Sprintf("PRECONDITION_FAILED - invalid type '%s' for arg 'alternate-exchange' in exchange '%s' in vhost '/'", c.typ, x))
		})
	}
}

// Redeclaring an exchange with another alternate exchange fails.
func TestAlternateExchangeEquivalence(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	x := b.declareExchangeArgs(ch, "direct", amqp.Table{"alternate-exchange": "ae1"})
	if err := ch.ExchangeDeclare(x, "direct", false, false, false, false, amqp.Table{"alternate-exchange": "ae1"}); err != nil {
		t.Fatalf("identical redeclaration: %v", err)
	}
	err := ch.ExchangeDeclare(x, "direct", false, false, false, false, amqp.Table{"alternate-exchange": "ae2"})
	expectError(t, err, amqp.PreconditionFailed,
		fmt.Sprintf("PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange '%s' in vhost '/': received 'ae2' but current is 'ae1'", x))
}
