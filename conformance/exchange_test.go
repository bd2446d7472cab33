package conformance

import (
	"fmt"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestExchangeDeclareKinds(t *testing.T) {
	for _, kind := range []string{"direct", "fanout", "topic", "headers"} {
		t.Run(kind, func(t *testing.T) {
			b := setup(t)
			_, ch := b.open()
			x := b.declareExchange(ch, kind)
			// Redeclaring with the same properties is a no-op.
			if err := ch.ExchangeDeclare(x, kind, false, false, false, false, nil); err != nil {
				t.Fatalf("redeclare: %v", err)
			}
			if err := ch.ExchangeDeclarePassive(x, kind, false, false, false, false, nil); err != nil {
				t.Fatalf("passive declare: %v", err)
			}
		})
	}
}

func TestExchangeDeclareUnknownType(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	conns := notifyConnClose(conn)
	x := b.name("x")
	b.cleanupExchange(x)
	err := ch.ExchangeDeclare(x, "x-no-such-type", false, false, false, false, nil)
	const text = "COMMAND_INVALID - unknown exchange type 'x-no-such-type'"
	expectError(t, err, amqp.CommandInvalid, text)
	expectClose(t, conns, amqp.CommandInvalid, text)
}

func TestExchangeDeclarePassiveMissing(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	x := b.name("x")
	err := ch.ExchangeDeclarePassive(x, "direct", false, false, false, false, nil)
	expectError(t, err, amqp.NotFound, "NOT_FOUND - no exchange '"+x+"' in vhost '/'")
	if conn.IsClosed() {
		t.Fatal("404 closed the connection")
	}
}

// A passive declare checks existence only, not the properties.
func TestExchangeDeclarePassiveIgnoresProperties(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	x := b.declareExchange(ch, "direct")
	if err := ch.ExchangeDeclarePassive(x, "fanout", true, true, true, false, amqp.Table{"alternate-exchange": "ae"}); err != nil {
		t.Fatalf("passive declare with other properties: %v", err)
	}
}

func TestExchangeRedeclareInequivalent(t *testing.T) {
	type props struct {
		kind                          string
		durable, autoDelete, internal bool
		args                          amqp.Table
	}
	for _, tc := range []struct {
		name        string
		first, then props
		text        string // after "inequivalent arg "
	}{
		{"type", props{kind: "direct"}, props{kind: "fanout"},
			"'type' for exchange '%s' in vhost '/': received 'fanout' but current is 'direct'"},
		{"durable", props{kind: "direct"}, props{kind: "direct", durable: true},
			"'durable' for exchange '%s' in vhost '/': received 'true' but current is 'false'"},
		{"durable false", props{kind: "direct", durable: true}, props{kind: "direct"},
			"'durable' for exchange '%s' in vhost '/': received 'false' but current is 'true'"},
		{"auto_delete", props{kind: "topic"}, props{kind: "topic", autoDelete: true},
			"'auto_delete' for exchange '%s' in vhost '/': received 'true' but current is 'false'"},
		{"internal", props{kind: "fanout"}, props{kind: "fanout", internal: true},
			"'internal' for exchange '%s' in vhost '/': received 'true' but current is 'false'"},
		{"alternate-exchange added", props{kind: "direct"}, props{kind: "direct", args: amqp.Table{"alternate-exchange": "ae"}},
			"'alternate-exchange' for exchange '%s' in vhost '/': received the value 'ae' of type 'longstr' but current is none"},
		{"alternate-exchange changed", props{kind: "direct", args: amqp.Table{"alternate-exchange": "ae1"}}, props{kind: "direct", args: amqp.Table{"alternate-exchange": "ae2"}},
			"'alternate-exchange' for exchange '%s' in vhost '/': received 'ae2' but current is 'ae1'"},
		{"alternate-exchange type changed", props{kind: "direct", args: amqp.Table{"alternate-exchange": "ae1"}}, props{kind: "direct", args: amqp.Table{"alternate-exchange": int32(7)}},
			"'alternate-exchange' for exchange '%s' in vhost '/': received '7' but current is 'ae1'"},
		{"alternate-exchange removed", props{kind: "direct", args: amqp.Table{"alternate-exchange": "ae1"}}, props{kind: "direct"},
			"'alternate-exchange' for exchange '%s' in vhost '/': received none but current is the value 'ae1' of type 'longstr'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			conn, ch := b.open()
			x := b.name("x")
			b.cleanupExchange(x)
			f := tc.first
			if err := ch.ExchangeDeclare(x, f.kind, f.durable, f.autoDelete, f.internal, false, f.args); err != nil {
				t.Fatal(err)
			}
			n := tc.then
			err := ch.ExchangeDeclare(x, n.kind, n.durable, n.autoDelete, n.internal, false, n.args)
			expectError(t, err, amqp.PreconditionFailed, "PRECONDITION_FAILED - inequivalent arg "+fmt.Sprintf(tc.text, x))
			if conn.IsClosed() {
				t.Fatal("406 closed the connection")
			}
			// The exchange is unchanged.
			ch = b.channel(conn)
			if err := ch.ExchangeDeclare(x, f.kind, f.durable, f.autoDelete, f.internal, false, f.args); err != nil {
				t.Fatalf("redeclare as first declared: %v", err)
			}
		})
	}
}

// rabbitmq: the reserved prefix is checked only when the exchange would be
// created; a predeclared exchange may be redeclared as it is.
func TestExchangeDeclareReservedPrefix(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	x := "amq." + b.name("x")
	err := ch.ExchangeDeclare(x, "direct", false, false, false, false, nil)
	expectError(t, err, amqp.AccessRefused, "ACCESS_REFUSED - exchange name '"+x+"' contains reserved prefix 'amq.*'")

	ch = b.channel(conn)
	if err := ch.ExchangeDeclare("amq.direct", "direct", true, false, false, false, nil); err != nil {
		t.Fatalf("equivalent redeclare of amq.direct: %v", err)
	}
	err = ch.ExchangeDeclare("amq.direct", "fanout", true, false, false, false, nil)
	expectError(t, err, amqp.PreconditionFailed, "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'amq.direct' in vhost '/': received 'fanout' but current is 'direct'")
}

func TestExchangePredeclared(t *testing.T) {
	b := setup(t)
	conn := b.dial()
	for _, x := range []struct{ name, kind string }{
		{"amq.direct", "direct"},
		{"amq.fanout", "fanout"},
		{"amq.topic", "topic"},
		{"amq.headers", "headers"},
		{"amq.match", "headers"},
	} {
		ch := b.channel(conn)
		if err := ch.ExchangeDeclarePassive(x.name, x.kind, true, false, false, false, nil); err != nil {
			t.Errorf("passive declare %q: %v", x.name, err)
		}
	}
}

func TestExchangePredeclaredRoute(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q := b.queue(ch)
	b.bind(ch, q, q, "amq.direct", nil)
	b.publishConfirmed(pub, "amq.direct", q, amqp.Publishing{Body: []byte("via amq.direct")})
	b.publishConfirmed(pub, "amq.direct", q+".other", amqp.Publishing{Body: []byte("elsewhere")})
	equalStrings(t, "queue contents", drain(t, ch, q), []string{"via amq.direct"})
}

func TestExchangePublishToInternal(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	x := b.name("x")
	b.cleanupExchange(x)
	if err := ch.ExchangeDeclare(x, "fanout", false, false, true, false, nil); err != nil {
		t.Fatal(err)
	}
	closes := notifyClose(ch)
	b.publish(ch, x, "", "m")
	expectClose(t, closes, amqp.AccessRefused, "ACCESS_REFUSED - cannot publish to internal exchange '"+x+"' in vhost '/'")
}

// An internal exchange still routes what another exchange sends it.
func TestExchangeInternalRoutesFromExchange(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	src := b.declareExchange(ch, "fanout")
	internal := b.name("x-internal")
	b.cleanupExchange(internal)
	if err := ch.ExchangeDeclare(internal, "fanout", false, false, true, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeBind(internal, "", src, false, nil); err != nil {
		t.Fatal(err)
	}
	q := b.queue(ch)
	b.bind(ch, q, "", internal, nil)
	b.publishConfirmed(pub, src, "", amqp.Publishing{Body: []byte("m")})
	equalStrings(t, "queue contents", drain(t, ch, q), []string{"m"})
}

func TestExchangeDeleteIfUnused(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	x := b.declareExchange(ch, "direct")
	q := b.queue(ch)
	b.bind(ch, q, "k", x, nil)

	err := ch.ExchangeDelete(x, true, false)
	expectError(t, err, amqp.PreconditionFailed, "PRECONDITION_FAILED - exchange '"+x+"' in vhost '/' in use")

	ch = b.channel(conn)
	if err := ch.ExchangeDeclarePassive(x, "direct", false, false, false, false, nil); err != nil {
		t.Fatalf("exchange gone after a refused delete: %v", err)
	}
	if err := ch.QueueUnbind(q, "k", x, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDelete(x, true, false); err != nil {
		t.Fatalf("delete if-unused of an unused exchange: %v", err)
	}
	err = ch.ExchangeDeclarePassive(x, "direct", false, false, false, false, nil)
	expectError(t, err, amqp.NotFound, "NOT_FOUND - no exchange '"+x+"' in vhost '/'")
}

// Deleting an exchange removes its bindings: the queue survives and no
// longer receives from a redeclared exchange of the same name.
func TestExchangeDeleteRemovesBindings(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	x := b.declareExchange(ch, "fanout")
	q := b.queue(ch)
	b.bind(ch, q, "", x, nil)
	if err := ch.ExchangeDelete(x, false, false); err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare(x, "fanout", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	b.publishConfirmed(pub, x, "", amqp.Publishing{Body: []byte("m")})
	b.waitCounts(q, 0, 0)
}

// rabbitmq: deleting an exchange that does not exist succeeds.
func TestExchangeDeleteMissing(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	x := b.name("x")
	if err := ch.ExchangeDelete(x, false, false); err != nil {
		t.Fatalf("delete of a missing exchange: %v", err)
	}
	if err := ch.ExchangeDelete(x, true, false); err != nil {
		t.Fatalf("delete if-unused of a missing exchange: %v", err)
	}
	if ch.IsClosed() || conn.IsClosed() {
		t.Fatal("delete of a missing exchange closed the channel")
	}
}

func TestExchangeDeleteDefault(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	err := ch.ExchangeDelete("", false, false)
	expectError(t, err, amqp.AccessRefused, "ACCESS_REFUSED - operation not permitted on the default exchange")
}

func TestExchangeDeletePredeclared(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	err := ch.ExchangeDelete("amq.fanout", false, false)
	expectError(t, err, amqp.AccessRefused, "ACCESS_REFUSED - deletion of system exchange 'amq.fanout' in vhost '/' not allowed")

	// Any amq. name, even one that does not exist.
	ch = b.channel(conn)
	x := "amq." + b.name("x")
	err = ch.ExchangeDelete(x, false, false)
	expectError(t, err, amqp.AccessRefused, "ACCESS_REFUSED - deletion of system exchange '"+x+"' in vhost '/' not allowed")

	ch = b.channel(conn)
	if err := ch.ExchangeDeclarePassive("amq.fanout", "fanout", true, false, false, false, nil); err != nil {
		t.Fatalf("amq.fanout gone after a refused delete: %v", err)
	}
}

func TestExchangeDeclareDefault(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	err := ch.ExchangeDeclare("", "direct", true, false, false, false, nil)
	expectError(t, err, amqp.AccessRefused, "ACCESS_REFUSED - operation not permitted on the default exchange")
}

func TestExchangeBindToDefault(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.queue(ch)
	err := ch.QueueBind(q, "k", "", false, nil)
	expectError(t, err, amqp.AccessRefused, "ACCESS_REFUSED - operation not permitted on the default exchange")

	ch = b.channel(conn)
	err = ch.QueueUnbind(q, q, "", nil)
	expectError(t, err, amqp.AccessRefused, "ACCESS_REFUSED - operation not permitted on the default exchange")
}

func TestExchangeDefaultRoutesByQueueName(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	q1, q2 := b.queue(ch), b.queue(ch)
	b.publishConfirmed(pub, "", q1, amqp.Publishing{Body: []byte("one")})
	b.publishConfirmed(pub, "", q2, amqp.Publishing{Body: []byte("two")})
	b.publishConfirmed(pub, "", b.name("nobody"), amqp.Publishing{Body: []byte("lost")})
	equalStrings(t, "q1", drain(t, ch, q1), []string{"one"})
	equalStrings(t, "q2", drain(t, ch, q2), []string{"two"})
}

func TestExchangeToExchangeBinding(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	src := b.declareExchange(ch, "direct")
	dst := b.declareExchange(ch, "fanout")
	q := b.queue(ch)
	b.bind(ch, q, "", dst, nil)
	if err := ch.ExchangeBind(dst, "k", src, false, nil); err != nil {
		t.Fatalf("exchange.bind: %v", err)
	}
	b.publishConfirmed(pub, src, "k", amqp.Publishing{Body: []byte("routed")})
	b.publishConfirmed(pub, src, "other", amqp.Publishing{Body: []byte("not routed")})
	equalStrings(t, "after bind", drain(t, ch, q), []string{"routed"})

	if err := ch.ExchangeUnbind(dst, "k", src, false, nil); err != nil {
		t.Fatalf("exchange.unbind: %v", err)
	}
	b.publishConfirmed(pub, src, "k", amqp.Publishing{Body: []byte("after unbind")})
	equalStrings(t, "after unbind", drain(t, ch, q), nil)
}

func TestExchangeBindMissing(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	x := b.declareExchange(ch, "direct")
	missing := b.name("missing")

	err := ch.ExchangeBind(x, "k", missing, false, nil)
	expectError(t, err, amqp.NotFound, "NOT_FOUND - no exchange '"+missing+"' in vhost '/'")

	ch = b.channel(conn)
	err = ch.ExchangeBind(missing, "k", x, false, nil)
	expectError(t, err, amqp.NotFound, "NOT_FOUND - no exchange '"+missing+"' in vhost '/'")
}

// A cycle of exchange bindings delivers each message once to each queue,
// and so does a diamond.
func TestExchangeBindingCycleAndDiamond(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	x1 := b.declareExchange(ch, "fanout")
	x2 := b.declareExchange(ch, "fanout")
	x3 := b.declareExchange(ch, "fanout")
	for _, e := range [][2]string{{x1, x2}, {x2, x1}, {x1, x3}, {x3, x2}, {x2, x2}} {
		if err := ch.ExchangeBind(e[1], "", e[0], false, nil); err != nil {
			t.Fatalf("exchange.bind %s -> %s: %v", e[0], e[1], err)
		}
	}
	q := b.queue(ch)
	b.bind(ch, q, "", x2, nil)
	b.bind(ch, q, "", x3, nil)
	b.publishConfirmed(pub, x1, "", amqp.Publishing{Body: []byte("once")})
	b.publishConfirmed(pub, x2, "", amqp.Publishing{Body: []byte("once more")})
	equalStrings(t, "queue contents", drain(t, ch, q), []string{"once", "once more"})
}

func TestTopicRouting(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	x := b.declareExchange(ch, "topic")
	keys := []string{"", "order", "order.eu", "order.new.eu", "order.new.us", "order.new.big.eu", "a.b", "eu"}
	cases := []struct {
		pattern string
		want    []string
		queue   string
	}{
		{pattern: "#", want: keys},
		{pattern: "*", want: []string{"order", "eu"}},
		{pattern: "", want: []string{""}},
		{pattern: "order", want: []string{"order"}},
		{pattern: "order.*", want: []string{"order.eu"}},
		{pattern: "order.*.eu", want: []string{"order.new.eu"}},
		{pattern: "order.#", want: []string{"order", "order.eu", "order.new.eu", "order.new.us", "order.new.big.eu"}},
		{pattern: "order.#.eu", want: []string{"order.eu", "order.new.eu", "order.new.big.eu"}},
		{pattern: "#.eu", want: []string{"order.eu", "order.new.eu", "order.new.big.eu", "eu"}},
		{pattern: "*.b", want: []string{"a.b"}},
		{pattern: "*.*", want: []string{"order.eu", "a.b"}},
		{pattern: "#.#", want: keys},
		{pattern: "*.#.eu", want: []string{"order.eu", "order.new.eu", "order.new.big.eu"}},
		{pattern: "#.new.#", want: []string{"order.new.eu", "order.new.us", "order.new.big.eu"}},
	}
	for i := range cases {
		cases[i].queue = b.queue(ch)
		b.bind(ch, cases[i].queue, cases[i].pattern, x, nil)
	}
	for _, k := range keys {
		b.publishConfirmed(pub, x, k, amqp.Publishing{Body: []byte(k)})
	}
	for _, tc := range cases {
		got := drain(t, ch, tc.queue)
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
			t.Errorf("binding key %q received %q, want %q", tc.pattern, got, tc.want)
		}
	}
}

func TestHeadersRouting(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	pub := b.confirmChannel(conn)
	x := b.declareExchange(ch, "headers")
	messages := []struct {
		body    string
		headers amqp.Table
	}{
		{"a1-bx", amqp.Table{"a": int32(1), "b": "x"}},
		{"a1", amqp.Table{"a": int32(1)}},
		{"a1-by", amqp.Table{"a": int32(1), "b": "y"}},
		{"none", nil},
		{"a1-bx-c", amqp.Table{"a": int32(1), "b": "x", "c": true}},
		{"bx", amqp.Table{"b": "x"}},
		{"a2", amqp.Table{"a": int32(2)}},
	}
	cases := []struct {
		name  string
		args  amqp.Table
		want  []string
		queue string
	}{
		{name: "all", args: amqp.Table{"x-match": "all", "a": int32(1), "b": "x"}, want: []string{"a1-bx", "a1-bx-c"}},
		{name: "default is all", args: amqp.Table{"a": int32(1), "b": "x"}, want: []string{"a1-bx", "a1-bx-c"}},
		{name: "any", args: amqp.Table{"x-match": "any", "a": int32(1), "b": "x"}, want: []string{"a1-bx", "a1", "a1-by", "a1-bx-c", "bx"}},
		{name: "all of nothing", args: amqp.Table{"x-match": "all"}, want: []string{"a1-bx", "a1", "a1-by", "none", "a1-bx-c", "bx", "a2"}},
		{name: "no arguments", args: nil, want: []string{"a1-bx", "a1", "a1-by", "none", "a1-bx-c", "bx", "a2"}},
		{name: "any of nothing", args: amqp.Table{"x-match": "any"}, want: nil},
	}
	for i := range cases {
		cases[i].queue = b.queue(ch)
		b.bind(ch, cases[i].queue, "ignored", x, cases[i].args)
	}
	for _, m := range messages {
		b.publishConfirmed(pub, x, "any-key", amqp.Publishing{Headers: m.headers, Body: []byte(m.body)})
	}
	for _, tc := range cases {
		got := drain(t, ch, tc.queue)
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
			t.Errorf("binding %s %v received %q, want %q", tc.name, tc.args, got, tc.want)
		}
	}
}
