package server_test

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// TestDurableDefinitionsRouteAfterRestart: durable exchanges of every
// kind, durable queues, queue bindings (with arguments, and from a
// built-in exchange) and an exchange-to-exchange binding come back with
// their flags and arguments, and route as before, over two restarts.
func TestDurableDefinitionsRouteAfterRestart(t *testing.T) {
	b := startDurable(t)
	ch := b.channel()
	must(t, ch.ExchangeDeclare("dur.direct", "direct", true, false, false, false, amqp091.Table{"alternate-exchange": "dur.ae"}), "declare dur.direct")
	must(t, ch.ExchangeDeclare("dur.topic", "topic", true, false, false, false, nil), "declare dur.topic")
	must(t, ch.ExchangeDeclare("dur.headers", "headers", true, false, false, false, nil), "declare dur.headers")
	must(t, ch.ExchangeDeclare("dur.fanout", "fanout", true, false, false, false, nil), "declare dur.fanout")
	must(t, ch.ExchangeDeclare("dur.inner", "direct", true, false, true, false, nil), "declare internal dur.inner")
	for _, q := range []string{"dur.q.direct", "dur.q.topic", "dur.q.headers", "dur.q.fanout", "dur.q.e2e", "dur.q.amq"} {
		declareDurableQueue(t, ch, q, nil)
	}
	must(t, ch.QueueBind("dur.q.direct", "k1", "dur.direct", false, nil), "bind direct")
	must(t, ch.QueueBind("dur.q.topic", "a.*.c", "dur.topic", false, nil), "bind topic a.*.c")
	must(t, ch.QueueBind("dur.q.topic", "#.z", "dur.topic", false, nil), "bind topic #.z")
	must(t, ch.QueueBind("dur.q.headers", "", "dur.headers", false, amqp091.Table{"x-match": "all", "color": "red", "size": int32(3)}), "bind headers")
	must(t, ch.QueueBind("dur.q.fanout", "ignored", "dur.fanout", false, nil), "bind fanout")
	must(t, ch.QueueBind("dur.q.amq", "amqk", "amq.direct", false, nil), "bind from amq.direct")
	// dur.topic --e2e.#--> dur.inner (internal) --e2e.x--> dur.q.e2e
	must(t, ch.ExchangeBind("dur.inner", "e2e.#", "dur.topic", false, nil), "bind dur.topic to dur.inner")
	must(t, ch.QueueBind("dur.q.e2e", "e2e.x", "dur.inner", false, nil), "bind dur.inner to dur.q.e2e")

	for round := 1; round <= 2; round++ {
		b.restart()
		b.expectRecovered(map[string]int64{"exchanges": 5, "queues": 6, "bindings": 8})
		pub := b.confirmChannel()
		tag := fmt.Sprintf("r%d", round)
		publishConfirmed(t, pub, "dur.direct", "k1", persistent(tag+"-direct-k1"))
		publishConfirmed(t, pub, "dur.direct", "k2", persistent(tag+"-direct-k2"))
		publishConfirmed(t, pub, "dur.topic", "a.b.c", persistent(tag+"-topic-abc"))
		publishConfirmed(t, pub, "dur.topic", "a.b", persistent(tag+"-topic-ab"))
		publishConfirmed(t, pub, "dur.topic", "x.y.z", transient(tag+"-topic-xyz"))
		publishConfirmed(t, pub, "dur.topic", "e2e.x", persistent(tag+"-e2e-x"))
		publishConfirmed(t, pub, "dur.topic", "e2e.y", persistent(tag+"-e2e-y"))
		red := persistent(tag + "-headers-red")
		red.Headers = amqp091.Table{"color": "red", "size": int32(3)}
		blue := persistent(tag + "-headers-blue")
		blue.Headers = amqp091.Table{"color": "blue", "size": int32(3)}
		publishConfirmed(t, pub, "dur.headers", "", red, blue)
		publishConfirmed(t, pub, "dur.fanout", "any", persistent(tag+"-fanout"))
		publishConfirmed(t, pub, "amq.direct", "amqk", persistent(tag+"-amq"))

		get := b.channel()
		want := map[string][]string{
			"dur.q.direct":  {tag + "-direct-k1"},
			"dur.q.topic":   {tag + "-topic-abc", tag + "-topic-xyz"},
			"dur.q.headers": {tag + "-headers-red"},
			"dur.q.fanout":  {tag + "-fanout"},
			"dur.q.e2e":     {tag + "-e2e-x"},
			"dur.q.amq":     {tag + "-amq"},
		}
		for q, w := range want {
			if got := bodies(getAll(t, get, q, true)); !reflect.DeepEqual(got, w) {
				t.Errorf("round %d: queue '%s' got %q, want %q", round, q, got, w)
			}
		}

		// Flags and arguments came back: equivalent redeclarations pass,
		// different ones fail with 406.
		ch := b.channel()
		must(t, ch.ExchangeDeclare("dur.direct", "direct", true, false, false, false, amqp091.Table{"alternate-exchange": "dur.ae"}), "redeclare dur.direct")
		must(t, ch.ExchangeDeclare("dur.inner", "direct", true, false, true, false, nil), "redeclare dur.inner")
		declareDurableQueue(t, ch, "dur.q.direct", nil)
		expectCode(t, b.channel().ExchangeDeclare("dur.direct", "direct", true, false, false, false, nil), amqp091.PreconditionFailed, "dur.direct without its alternate-exchange")
		expectCode(t, b.channel().ExchangeDeclare("dur.direct", "direct", false, false, false, false, amqp091.Table{"alternate-exchange": "dur.ae"}), amqp091.PreconditionFailed, "dur.direct transient")
		expectCode(t, b.channel().ExchangeDeclare("dur.topic", "direct", true, false, false, false, nil), amqp091.PreconditionFailed, "dur.topic as direct")
		expectCode(t, b.channel().ExchangeDeclare("dur.inner", "direct", true, false, false, false, nil), amqp091.PreconditionFailed, "dur.inner not internal")
		_, err := b.channel().QueueDeclare("dur.q.direct", false, false, false, false, nil)
		expectCode(t, err, amqp091.PreconditionFailed, "dur.q.direct transient")
	}
}

// TestTransientDefinitionsDoNotSurvive: transient exchanges and queues,
// exclusive durable queues, and bindings with a transient end are gone
// after a restart, with the messages they held; durable ends they were
// bound to stay.
func TestTransientDefinitionsDoNotSurvive(t *testing.T) {
	b := startDurable(t)
	ch := b.channel()
	must(t, ch.ExchangeDeclare("tr.x", "direct", false, false, false, false, nil), "declare tr.x")
	must(t, ch.ExchangeDeclare("dur.fan", "fanout", true, false, false, false, nil), "declare dur.fan")
	_, err := ch.QueueDeclare("tr.q", false, false, false, false, nil)
	must(t, err, "declare tr.q")
	_, err = ch.QueueDeclare("tr.excl", true, false, true, false, nil)
	must(t, err, "declare exclusive durable tr.excl")
	declareDurableQueue(t, ch, "dur.kept", nil)
	must(t, ch.QueueBind("tr.q", "", "dur.fan", false, nil), "bind dur.fan to tr.q")
	must(t, ch.QueueBind("tr.excl", "", "dur.fan", false, nil), "bind dur.fan to tr.excl")
	must(t, ch.QueueBind("dur.kept", "", "dur.fan", false, nil), "bind dur.fan to dur.kept")
	must(t, ch.ExchangeBind("tr.x", "", "dur.fan", false, nil), "bind dur.fan to tr.x")
	must(t, ch.QueueBind("dur.kept", "k", "tr.x", false, nil), "bind tr.x to dur.kept")
	pub := b.confirmChannel()
	// dur.fan -> tr.q, tr.excl, dur.kept, and dur.kept again through tr.x
	// (one entry: a queue is reached once per publish).
	publishConfirmed(t, pub, "dur.fan", "k", persistent("fan-1"))
	publishConfirmed(t, pub, "", "tr.q", persistent("direct-tr.q"))
	publishConfirmed(t, pub, "", "tr.excl", persistent("direct-tr.excl"))
	if n := queueCount(t, b.channel(), "dur.kept"); n != 1 {
		t.Fatalf("dur.kept holds %d messages before the restart, want 1", n)
	}

	b.restart()
	b.expectRecovered(map[string]int64{"exchanges": 1, "queues": 1, "bindings": 1, "messages": 1, "entries": 1})
	b.expectNoQueue("tr.q", "tr.excl")
	b.expectNoExchange("tr.x")
	expectBodies(t, b.channel(), "dur.kept", true, "fan-1")

	// Same names, declared again: the old bindings did not come back.
	ch = b.channel()
	_, err = ch.QueueDeclare("tr.q", false, false, false, false, nil)
	must(t, err, "redeclare tr.q")
	must(t, ch.ExchangeDeclare("tr.x", "direct", false, false, false, false, nil), "redeclare tr.x")
	publishConfirmed(t, b.confirmChannel(), "dur.fan", "k", persistent("fan-2"))
	if n := queueCount(t, ch, "tr.q"); n != 0 {
		t.Errorf("tr.q got %d messages from dur.fan after the restart: its binding survived", n)
	}
	if got := bodies(getAll(t, ch, "dur.kept", true)); !reflect.DeepEqual(got, []string{"fan-2"}) {
		t.Errorf("dur.kept got %q, want only fan-2 (the binding through tr.x must be gone)", got)
	}
}

// TestDurableAutoDeleteKept: the auto-delete flag of durable queues and
// exchanges survives a restart and still takes effect, and what it
// deleted stays deleted.
func TestDurableAutoDeleteKept(t *testing.T) {
	b := startDurable(t)
	ch := b.channel()
	_, err := ch.QueueDeclare("ad.q", true, true, false, false, nil)
	must(t, err, "declare auto-delete ad.q")
	must(t, ch.ExchangeDeclare("ad.x", "fanout", true, true, false, false, nil), "declare auto-delete ad.x")
	declareDurableQueue(t, ch, "ad.target", nil)
	must(t, ch.QueueBind("ad.target", "", "ad.x", false, nil), "bind ad.x to ad.target")

	b.restart()
	b.expectRecovered(map[string]int64{"exchanges": 1, "queues": 2, "bindings": 1})
	_, err = b.channel().QueueDeclare("ad.q", true, false, false, false, nil)
	expectCode(t, err, amqp091.PreconditionFailed, "ad.q redeclared without auto-delete")
	expectCode(t, b.channel().ExchangeDeclare("ad.x", "fanout", true, false, false, false, nil), amqp091.PreconditionFailed, "ad.x redeclared without auto-delete")
	ch = b.channel()
	_, err = ch.QueueDeclare("ad.q", true, true, false, false, nil)
	must(t, err, "redeclare ad.q as it was")
	must(t, ch.ExchangeDeclare("ad.x", "fanout", true, true, false, false, nil), "redeclare ad.x as it was")

	// The last consumer going deletes ad.q; the last binding going, ad.x.
	_, err = ch.Consume("ad.q", "c1", false, false, false, false, nil)
	must(t, err, "consume ad.q")
	must(t, ch.Cancel("c1", false), "cancel c1")
	must(t, ch.QueueUnbind("ad.target", "", "ad.x", nil), "unbind ad.target")
	b.expectNoQueue("ad.q")
	b.expectNoExchange("ad.x")

	b.restart()
	b.expectRecovered(map[string]int64{"exchanges": 0, "queues": 1, "bindings": 0})
	b.expectNoQueue("ad.q")
	b.expectNoExchange("ad.x")
}

// TestPersistentMessagesSurviveInOrder: persistent messages in a durable
// queue come back in publish order, with their properties, exchange and
// routing key, marked redelivered; transient ones do not.
func TestPersistentMessagesSurviveInOrder(t *testing.T) {
	b := startDurable(t)
	ch := b.channel()
	declareDurableQueue(t, ch, "ord", nil)
	must(t, ch.QueueBind("ord", "ordk", "amq.direct", false, nil), "bind amq.direct to ord")
	pub := b.confirmChannel()
	ts := time.Unix(1767225600, 0)
	var want []amqp091.Publishing
	var wantVia []string
	for i := range 120 {
		body := bytes.Repeat([]byte{byte('a' + i%26)}, i*37%2000)
		switch i {
		case 7:
			body = nil // an empty body: a header frame and no body frame
		case 11:
			body = bytes.Repeat([]byte("big"), 100000) // several body frames
		}
		body = append([]byte(fmt.Sprintf("m-%d|", i)), body...)
		m := amqp091.Publishing{
			Headers:       amqp091.Table{"i": int32(i), "s": "x"},
			ContentType:   "application/octet-stream",
			DeliveryMode:  amqp091.Persistent,
			Priority:      uint8(i % 10),
			CorrelationId: fmt.Sprint("corr-", i),
			ReplyTo:       "replies",
			MessageId:     fmt.Sprint("id-", i),
			Timestamp:     ts.Add(time.Duration(i) * time.Second),
			Type:          "t",
			AppId:         "durable_test",
			Body:          body,
		}
		if i%3 == 0 {
			m.DeliveryMode = amqp091.Transient
		}
		exchange, key := "", "ord"
		if i%2 == 1 {
			exchange, key = "amq.direct", "ordk"
		}
		publishConfirmed(t, pub, exchange, key, m)
		if m.DeliveryMode == amqp091.Persistent {
			want = append(want, m)
			wantVia = append(wantVia, exchange+"/"+key)
		}
	}

	b.restart()
	b.expectRecovered(map[string]int64{"queues": 1, "messages": int64(len(want)), "entries": int64(len(want))})
	ds := getAll(t, b.channel(), "ord", true)
	if len(ds) != len(want) {
		t.Fatalf("recovered %d messages, want the %d persistent ones", len(ds), len(want))
	}
	for i, d := range ds {
		w := want[i]
		if !bytes.Equal(d.Body, w.Body) {
			t.Errorf("message %d: body %.20q..., want %.20q...", i, d.Body, w.Body)
			continue
		}
		if !d.Redelivered {
			t.Errorf("message %d: redelivered=false after recovery", i)
		}
		got := amqp091.Publishing{Headers: d.Headers, ContentType: d.ContentType, DeliveryMode: d.DeliveryMode, Priority: d.Priority,
			CorrelationId: d.CorrelationId, ReplyTo: d.ReplyTo, MessageId: d.MessageId, Timestamp: d.Timestamp, Type: d.Type, AppId: d.AppId, Body: d.Body}
		if !got.Timestamp.Equal(w.Timestamp) {
			t.Errorf("message %d: timestamp %v, want %v", i, got.Timestamp, w.Timestamp)
		}
		got.Timestamp = w.Timestamp
		if !reflect.DeepEqual(got, w) {
			t.Errorf("message %d: properties\n got %+v\nwant %+v", i, got, w)
		}
		if via := d.Exchange + "/" + d.RoutingKey; via != wantVia[i] {
			t.Errorf("message %d: exchange/key %q, want %q", i, via, wantVia[i])
		}
	}
}

// TestPersistentMessageToManyQueues: a persistent message routed to three
// durable queues and a transient one is stored once, comes back in each
// durable queue, and goes from the store when the last of them acks it;
// transient messages are not stored.
func TestPersistentMessageToManyQueues(t *testing.T) {
	b := startDurable(t)
	ch := b.channel()
	must(t, ch.ExchangeDeclare("fan", "fanout", true, false, false, false, nil), "declare fan")
	for _, q := range []string{"f1", "f2", "f3"} {
		declareDurableQueue(t, ch, q, nil)
		must(t, ch.QueueBind(q, "", "fan", false, nil), "bind "+q)
	}
	_, err := ch.QueueDeclare("f4", false, false, false, false, nil)
	must(t, err, "declare transient f4")
	must(t, ch.QueueBind("f4", "", "fan", false, nil), "bind f4")
	pub := b.confirmChannel()

	const size = 64 << 10
	body := append([]byte("once|"), bytes.Repeat([]byte{'x'}, size)...)
	before := b.st.Metrics()
	publishConfirmed(t, pub, "fan", "", amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: body})
	mid := b.st.Metrics()
	// Written once: the body (to a body file: it is large), plus three
	// entries of a few bytes each.
	if n := mid.BytesWritten + mid.BodyBytes - before.BytesWritten - before.BodyBytes; n < size || n >= 2*size {
		t.Errorf("the store wrote %d value bytes for one %d-byte message routed to 3 durable queues, want it once", n, len(body))
	}
	publishConfirmed(t, pub, "fan", "", transient("transient"))
	if after := b.st.Metrics(); after.BytesWritten != mid.BytesWritten || after.BodyBytes != mid.BodyBytes || after.OpsWritten != mid.OpsWritten {
		t.Errorf("a transient message was written to the store: %+v -> %+v", mid, after)
	}

	b.restart()
	b.expectRecovered(map[string]int64{"messages": 1, "entries": 3, "orphans_deleted": 0})
	b.expectNoQueue("f4")
	get := b.channel()
	for _, q := range []string{"f1", "f2"} {
		expectBodies(t, get, q, true, string(body))
	}
	if n := queueCount(t, get, "f3"); n != 1 {
		t.Errorf("f3 holds %d messages, want 1", n)
	}

	b.restart()
	b.expectRecovered(map[string]int64{"messages": 1, "entries": 1, "orphans_deleted": 0})
	expectBodies(t, b.channel(), "f1", true)
	expectBodies(t, b.channel(), "f3", true, string(body))

	b.restart()
	b.expectRecovered(map[string]int64{"messages": 0, "entries": 0, "orphans_deleted": 0})
	get = b.channel()
	for _, q := range []string{"f1", "f2", "f3"} {
		expectBodies(t, get, q, false)
	}
}

// TestAckedMessagesDoNotComeBack: acks (single, multiple, and through
// basic.get, basic.nack and basic.reject without requeue, and no-ack
// deliveries) remove messages for good; requeued and unacknowledged ones
// come back.
func TestAckedMessagesDoNotComeBack(t *testing.T) {
	b := startDurable(t)
	ch := b.channel()
	declareDurableQueue(t, ch, "acked", nil)
	var msgs []amqp091.Publishing
	for _, s := range seqBodies("m", 1, 30) {
		msgs = append(msgs, persistent(s))
	}
	publishConfirmed(t, b.confirmChannel(), "", "acked", msgs...)

	cons := b.channel()
	must(t, cons.Qos(20, 0, false), "qos")
	deliveries, err := cons.Consume("acked", "c", false, false, false, false, nil)
	must(t, err, "consume")
	var ds []amqp091.Delivery
	for len(ds) < 20 {
		select {
		case d := <-deliveries:
			ds = append(ds, d)
		case <-time.After(durWait):
			t.Fatalf("got %d deliveries, want 20", len(ds))
		}
	}
	must(t, cons.Cancel("c", false), "cancel") // no more deliveries; these 20 stay outstanding
	gone := map[string]bool{}
	for i := range 5 {
		must(t, ds[i].Ack(false), "ack") // m-1..m-5 one by one
		gone[string(ds[i].Body)] = true
	}
	must(t, ds[9].Ack(true), "ack multiple") // m-6..m-10
	for _, d := range ds[5:10] {
		gone[string(d.Body)] = true
	}
	must(t, ds[10].Nack(false, false), "nack, drop") // m-11
	must(t, ds[11].Reject(true), "reject, requeue")  // m-12 goes back
	must(t, ds[12].Reject(false), "reject, drop")    // m-13
	gone[string(ds[10].Body)], gone[string(ds[12].Body)] = true, true
	roundTrip(t, cons, "acked") // m-14..m-20 stay unacknowledged
	get := b.channel()
	for range 2 {
		d, ok, err := get.Get("acked", true) // no-ack: m-12, m-21
		if err != nil || !ok {
			t.Fatalf("no-ack basic.get: ok=%v err=%v", ok, err)
		}
		gone[string(d.Body)] = true
	}
	d, ok, err := get.Get("acked", false) // m-22
	if err != nil || !ok {
		t.Fatalf("basic.get: ok=%v err=%v", ok, err)
	}
	must(t, d.Ack(false), "ack a basic.get")
	gone[string(d.Body)] = true
	roundTrip(t, get, "acked")
	if len(gone) != 15 {
		t.Fatalf("%d messages settled, want 15: %v", len(gone), gone)
	}

	b.restart()
	var want []string
	for _, s := range seqBodies("m", 1, 30) {
		if !gone[s] {
			want = append(want, s)
		}
	}
	expectBodies(t, b.channel(), "acked", true, want...)

	b.restart()
	b.expectRecovered(map[string]int64{"messages": 0, "entries": 0, "orphans_deleted": 0})
}

// TestUnackedMessagesComeBackRedelivered: messages delivered and not
// acknowledged when the broker stops come back, in order, marked
// redelivered, as do those never delivered.
func TestUnackedMessagesComeBackRedelivered(t *testing.T) {
	b := startDurable(t)
	ch := b.channel()
	declareDurableQueue(t, ch, "unacked", nil)
	var msgs []amqp091.Publishing
	for _, s := range seqBodies("u", 1, 15) {
		msgs = append(msgs, persistent(s))
	}
	publishConfirmed(t, b.confirmChannel(), "", "unacked", msgs...)
	cons := b.channel()
	must(t, cons.Qos(10, 0, false), "qos")
	deliveries, err := cons.Consume("unacked", "c", false, false, false, false, nil)
	must(t, err, "consume")
	for i := range 10 {
		select {
		case d := <-deliveries:
			if want := fmt.Sprintf("u-%d", i+1); string(d.Body) != want || d.Redelivered {
				t.Fatalf("delivery %d: %q redelivered=%v, want %q first time", i, d.Body, d.Redelivered, want)
			}
		case <-time.After(durWait):
			t.Fatalf("got %d deliveries, want 10", i)
		}
	}

	b.restart() // the consumer is still connected, holding 10 unacked
	b.expectRecovered(map[string]int64{"messages": 15, "entries": 15})
	expectBodies(t, b.channel(), "unacked", false, seqBodies("u", 1, 15)...)
}

// TestDeletedDurableQueueStaysDeleted: a deleted durable queue does not
// come back, nor its messages (ready or unacknowledged at the delete) nor
// its bindings; a new queue of the same name starts empty and unbound.
func TestDeletedDurableQueueStaysDeleted(t *testing.T) {
	b := startDurable(t)
	ch := b.channel()
	must(t, ch.ExchangeDeclare("del.x", "direct", true, false, false, false, nil), "declare del.x")
	declareDurableQueue(t, ch, "del.keep", nil)
	declareDurableQueue(t, ch, "del.q", nil)
	must(t, ch.QueueBind("del.q", "k", "del.x", false, nil), "bind del.q")
	must(t, ch.QueueBind("del.keep", "k", "del.x", false, nil), "bind del.keep")
	var msgs []amqp091.Publishing
	for _, s := range seqBodies("d", 1, 10) {
		msgs = append(msgs, persistent(s))
	}
	publishConfirmed(t, b.confirmChannel(), "del.x", "k", msgs...)
	holder := b.channel()
	for range 3 { // unacknowledged at the delete
		if _, ok, err := holder.Get("del.q", false); err != nil || !ok {
			t.Fatalf("basic.get: ok=%v err=%v", ok, err)
		}
	}
	n, err := ch.QueueDelete("del.q", false, false, false)
	must(t, err, "delete del.q")
	if n != 7 {
		t.Errorf("queue.delete-ok message count %d, want 7", n)
	}

	b.restart()
	b.expectRecovered(map[string]int64{"queues": 1, "bindings": 1, "messages": 10, "entries": 10})
	b.expectNoQueue("del.q")
	ch = b.channel()
	declareDurableQueue(t, ch, "del.q", nil)
	publishConfirmed(t, b.confirmChannel(), "del.x", "k", persistent("after"))
	if n := queueCount(t, ch, "del.q"); n != 0 {
		t.Errorf("the new del.q got %d messages through the old queue's binding", n)
	}

	b.restart()
	b.expectRecovered(map[string]int64{"queues": 2, "bindings": 1, "messages": 11, "entries": 11})
	expectBodies(t, b.channel(), "del.q", false)
	expectBodies(t, b.channel(), "del.keep", false, append(seqBodies("d", 1, 10), "after")...)
}

// TestRequeueOnDeletedQueueReleasesMessages: messages unacknowledged when
// their durable queue is deleted, then requeued by the channel's close,
// leave the store at once, not at the next start-up's orphan sweep.
func TestRequeueOnDeletedQueueReleasesMessages(t *testing.T) {
	b := startDurable(t)
	ch := b.channel()
	declareDurableQueue(t, ch, "leak", nil)
	var msgs []amqp091.Publishing
	for _, s := range seqBodies("l", 1, 5) {
		msgs = append(msgs, persistent(s))
	}
	publishConfirmed(t, b.confirmChannel(), "", "leak", msgs...)
	holder := b.channel()
	for range 3 {
		if _, ok, err := holder.Get("leak", false); err != nil || !ok {
			t.Fatalf("basic.get: ok=%v err=%v", ok, err)
		}
	}
	_, err := ch.QueueDelete("leak", false, false, false)
	must(t, err, "delete leak")
	must(t, holder.Close(), "close the channel holding 3 unacked") // requeued onto a deleted queue

	b.restart()
	b.expectRecovered(map[string]int64{"messages": 0, "entries": 0, "orphans_deleted": 0})
}

// TestDeletedExchangeBindingsGone: deleting a durable exchange removes
// the stored bindings from and to it.
func TestDeletedExchangeBindingsGone(t *testing.T) {
	b := startDurable(t)
	ch := b.channel()
	must(t, ch.ExchangeDeclare("dx.src", "topic", true, false, false, false, nil), "declare dx.src")
	must(t, ch.ExchangeDeclare("dx.mid", "direct", true, false, false, false, nil), "declare dx.mid")
	declareDurableQueue(t, ch, "dx.q", nil)
	must(t, ch.ExchangeBind("dx.mid", "#", "dx.src", false, nil), "bind dx.src to dx.mid")
	must(t, ch.QueueBind("dx.q", "k", "dx.mid", false, nil), "bind dx.mid to dx.q")
	must(t, ch.ExchangeDelete("dx.mid", false, false), "delete dx.mid")

	b.restart()
	b.expectRecovered(map[string]int64{"exchanges": 1, "queues": 1, "bindings": 0})
	b.expectNoExchange("dx.mid")
	ch = b.channel()
	must(t, ch.ExchangeDeclare("dx.mid", "direct", true, false, false, false, nil), "redeclare dx.mid")
	publishConfirmed(t, b.confirmChannel(), "dx.src", "k", persistent("x"))
	publishConfirmed(t, b.confirmChannel(), "dx.mid", "k", persistent("y"))
	if n := queueCount(t, ch, "dx.q"); n != 0 {
		t.Errorf("dx.q got %d messages through bindings of a deleted exchange", n)
	}
}

// TestPurgeSurvivesRestart: purged messages do not come back, and the
// queue keeps working after the purge.
func TestPurgeSurvivesRestart(t *testing.T) {
	b := startDurable(t)
	ch := b.channel()
	declareDurableQueue(t, ch, "purged", nil)
	var msgs []amqp091.Publishing
	for _, s := range seqBodies("p", 1, 20) {
		msgs = append(msgs, persistent(s))
	}
	pub := b.confirmChannel()
	publishConfirmed(t, pub, "", "purged", msgs...)
	n, err := ch.QueuePurge("purged", false)
	must(t, err, "purge")
	if n != 20 {
		t.Errorf("queue.purge-ok count %d, want 20", n)
	}
	publishConfirmed(t, pub, "", "purged", persistent("after-1"), persistent("after-2"))

	b.restart()
	b.expectRecovered(map[string]int64{"messages": 2, "entries": 2, "orphans_deleted": 0})
	expectBodies(t, b.channel(), "purged", false, "after-1", "after-2")
}

// TestQueueArgsSurviveRestart: queue arguments are stored: redeclaring
// with other ones fails after a restart, and the limits still apply.
func TestQueueArgsSurviveRestart(t *testing.T) {
	b := startDurable(t)
	ch := b.channel()
	dropArgs := amqp091.Table{"x-max-length": int32(3)}
	rejectArgs := amqp091.Table{"x-max-length": int32(2), "x-overflow": "reject-publish"}
	declareDurableQueue(t, ch, "args.drop", dropArgs)
	declareDurableQueue(t, ch, "args.reject", rejectArgs)

	b.restart()
	ch = b.channel()
	declareDurableQueue(t, ch, "args.drop", dropArgs)
	declareDurableQueue(t, ch, "args.reject", rejectArgs)
	_, err := b.channel().QueueDeclare("args.drop", true, false, false, false, amqp091.Table{"x-max-length": int32(4)})
	expectCode(t, err, amqp091.PreconditionFailed, "args.drop with another x-max-length")
	_, err = b.channel().QueueDeclare("args.reject", true, false, false, false, amqp091.Table{"x-max-length": int32(2)})
	expectCode(t, err, amqp091.PreconditionFailed, "args.reject without x-overflow")

	pub := b.confirmChannel()
	var msgs []amqp091.Publishing
	for _, s := range seqBodies("a", 1, 5) {
		msgs = append(msgs, persistent(s))
	}
	publishConfirmed(t, pub, "", "args.drop", msgs...)
	if acks := publishAcks(t, pub, "", "args.reject", msgs[:3]...); !reflect.DeepEqual(acks, []bool{true, true, false}) {
		t.Errorf("reject-publish queue of 2 confirmed %v, want [true true false]", acks)
	}

	b.restart()
	b.expectRecovered(map[string]int64{"queues": 2, "messages": 5, "entries": 5, "orphans_deleted": 0})
	expectBodies(t, b.channel(), "args.drop", false, "a-3", "a-4", "a-5")
	expectBodies(t, b.channel(), "args.reject", false, "a-1", "a-2")
}

// TestConfirmedPersistentPublishesSurvive: in confirm mode every
// persistent publish is acked, in order, and a restart finds every
// acked message. (cmd/warren's crash test checks the same across kill -9.)
func TestConfirmedPersistentPublishesSurvive(t *testing.T) {
	const n, window = 2000, 256
	b := startDurable(t)
	declareDurableQueue(t, b.channel(), "confirmed", nil)
	pub := b.confirmChannel()
	confirms := pub.NotifyPublish(make(chan amqp091.Confirmation, window))
	body := bytes.Repeat([]byte{'c'}, 1024)
	next := uint64(1)
	sent := 0
	deadline := time.After(4 * durWait)
	for next <= n {
		if sent < n && sent-int(next-1) < window {
			m := amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: append(fmt.Appendf(nil, "%06d|", sent+1), body...)}
			must(t, pub.PublishWithContext(context.Background(), "", "confirmed", false, false, m), "publish")
			sent++
			continue
		}
		select {
		case c := <-confirms:
			if c.DeliveryTag != next || !c.Ack {
				t.Fatalf("confirm %+v, want an ack of %d", c, next)
			}
			next++
		case <-deadline:
			t.Fatalf("%d of %d publishes confirmed", next-1, n)
		}
	}
	syncs := b.st.Metrics().Syncs
	t.Logf("%d persistent publishes confirmed with %d store syncs", n, syncs)

	b.restart()
	b.expectRecovered(map[string]int64{"messages": n, "entries": n})
	ds := getAll(t, b.channel(), "confirmed", true)
	if len(ds) != n {
		t.Fatalf("recovered %d of %d confirmed messages", len(ds), n)
	}
	for i, d := range ds {
		if want := fmt.Sprintf("%06d|", i+1); !bytes.HasPrefix(d.Body, []byte(want)) {
			t.Fatalf("message %d starts %.7q, want %q", i, d.Body, want)
		}
	}
}

// TestMessageIDsAfterRestart: messages published after a restart never
// take the place of stored ones, even when the highest ids were deleted
// before it.
func TestMessageIDsAfterRestart(t *testing.T) {
	b := startDurable(t)
	declareDurableQueue(t, b.channel(), "ids", nil)
	publishConfirmed(t, b.confirmChannel(), "", "ids", persistent("A"), persistent("B"), persistent("C"))
	ch := b.channel()
	ds := getAll(t, ch, "ids", false)
	must(t, ds[2].Ack(false), "ack C") // the highest id goes
	must(t, ds[1].Nack(true, true), "requeue A and B")
	queueCount(t, ch, "ids")

	b.restart()
	publishConfirmed(t, b.confirmChannel(), "", "ids", persistent("D"), persistent("E"))
	b.restart()
	ch = b.channel()
	ds = expectBodies(t, ch, "ids", false, "A", "B", "D", "E")
	must(t, ds[1].Ack(false), "ack B")
	must(t, ds[3].Ack(false), "ack E")
	queueCount(t, ch, "ids")
	b.restart()
	publishConfirmed(t, b.confirmChannel(), "", "ids", persistent("F"))
	b.restart()
	expectBodies(t, b.channel(), "ids", false, "A", "D", "F")
}

// TestPagedMessagesSurviveRestart: with a memory budget far below the
// backlog, queues page bodies out and recover only the budget's worth;
// persistent messages in durable queues still come back once each, in
// order, intact, over three restarts, with the first ones already acked.
func TestPagedMessagesSurviveRestart(t *testing.T) {
	const n = 3000
	b := startDurableBudget(t, 64<<10)
	ch := b.channel()
	must(t, ch.ExchangeDeclare("pf", "fanout", true, false, false, false, nil), "declare pf")
	for _, q := range []string{"paged", "paged2"} {
		declareDurableQueue(t, ch, q, nil)
		must(t, ch.QueueBind(q, "", "pf", false, nil), "bind "+q)
	}
	pad := string(bytes.Repeat([]byte{'p'}, 1000))
	var msgs []amqp091.Publishing
	var want []string
	for i := 1; i <= n; i++ {
		body := fmt.Sprintf("p-%d|%s", i, pad)
		msgs = append(msgs, persistent(body))
		want = append(want, body)
	}
	publishConfirmed(t, b.confirmChannel(), "pf", "", msgs...)
	// Take and ack the first 100 of paged, so settled entries are in the mix.
	get := b.channel()
	for i := range 100 {
		d, ok, err := get.Get("paged", false)
		if err != nil || !ok || string(d.Body) != want[i] {
			t.Fatalf("basic.get %d: ok=%v err=%v body %.10q", i, ok, err, d.Body)
		}
		must(t, d.Ack(false), "ack")
	}
	roundTrip(t, get, "paged")
	wantPaged := want[100:]

	for round := 1; round <= 3; round++ {
		b.restart()
		b.expectRecovered(map[string]int64{"queues": 2, "messages": n, "entries": int64(n + len(wantPaged))})
		// Read both whole, paged with basic.get (which must read ahead, not
		// answer get-empty, when only disk holds the rest) and paged2 with
		// basic.consume; unacked, they stay for the next round, acked in
		// the last.
		for q, w := range map[string][]string{"paged": wantPaged, "paged2": want} {
			ch := b.channel()
			var ds []amqp091.Delivery
			if q == "paged" {
				ds = getAll(t, ch, q, false)
			} else {
				ds = consumeAll(t, ch, q)
			}
			if got := bodies(ds); !reflect.DeepEqual(got, w) {
				t.Fatalf("round %d: queue '%s' holds %d messages, want %d (first difference: %s)", round, q, len(got), len(w), firstDiff(got, w))
			}
			if round == 3 {
				must(t, ds[len(ds)-1].Ack(true), "ack "+q)
				roundTrip(t, ch, q)
			}
		}
	}
	b.restart()
	b.expectRecovered(map[string]int64{"messages": 0, "entries": 0, "orphans_deleted": 0})
}

// consumeAll receives every message of q through basic.consume, without
// acknowledging them, and cancels the consumer.
