package server_test

import (
	"context"
	"fmt"
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/queue"
)

func queueInfo(v *broker.Vhost, name string) broker.QueueInfo {
	info, _ := v.QueueInfo(name)
	return info
}

// TestListingsOverAMQP reads the core's listings after real AMQP traffic:
// publish, deliver, ack, requeue, reject to a dead-letter exchange,
// expire, get and get-empty, and finds the consumer's connection and
// channel.
func TestListingsOverAMQP(t *testing.T) {
	srv, url := startServer(t)
	conn := dialNamed(t, url, "lister")
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	must(t, ch.Confirm(false), "confirm.select")
	must(t, ch.ExchangeDeclare("work-x", "topic", true, false, false, false, nil), "declare work-x")
	must(t, ch.ExchangeDeclare("dlx", "fanout", false, false, false, false, nil), "declare dlx")
	for _, q := range []struct {
		name string
		args amqp091.Table
	}{
		{"work", amqp091.Table{"x-dead-letter-exchange": "dlx"}},
		{"dead", nil},
		{"short", amqp091.Table{"x-message-ttl": int32(0)}},
	} {
		if _, err := ch.QueueDeclare(q.name, q.name == "work", false, false, false, q.args); err != nil {
			t.Fatal(err)
		}
	}
	must(t, ch.QueueBind("work", "work.#", "work-x", false, nil), "bind work")
	must(t, ch.QueueBind("dead", "", "dlx", false, nil), "bind dead")

	pub := func(x, key, body string) {
		t.Helper()
		dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), x, key, false, false, amqp091.Publishing{Body: []byte(body)})
		if err != nil || !dc.Wait() {
			t.Fatalf("publish %s: %v", body, err)
		}
	}
	for _, b := range []string{"m1", "m2", "m3", "m4"} {
		pub("work-x", "work.a", b)
	}
	pub("", "short", "gone") // no consumer: expires at once
	pub("work-x", "nowhere", "unroutable")

	cch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	must(t, cch.Qos(10, 0, false), "qos")
	ds, err := cch.Consume("work", "c1", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	next := func() amqp091.Delivery {
		t.Helper()
		d, ok := <-ds
		if !ok {
			t.Fatal("deliveries closed")
		}
		return d
	}
	var got [4]amqp091.Delivery
	for i := range got {
		got[i] = next()
	}
	must(t, got[0].Ack(false), "ack")
	must(t, got[1].Nack(false, true), "nack requeue")
	if again := next(); !again.Redelivered || string(again.Body) != "m2" {
		t.Fatalf("redelivered %q, redelivered=%v", again.Body, again.Redelivered)
	}
	must(t, got[2].Reject(false), "reject") // to dlx -> dead

	v := srv.Broker().Vhost("/")
	eventually(t, func() string {
		w := queueInfo(v, "work")
		want := queue.Counters{Published: 4, Delivered: 5, Redelivered: 1, Acked: 1, Requeued: 1, Rejected: 1, DeadLettered: 1}
		if w.Counters != want || w.Unacked != 2 || w.UnackedBytes != 4 || w.Ready != 0 || w.Consumers != 1 {
			return fmt.Sprintf("work: %+v\nwant counters %+v, 2 unacked", w, want)
		}
		if d := queueInfo(v, "dead"); d.Ready != 1 || d.ReadyBytes != 2 || d.Counters.Published != 1 {
			return fmt.Sprintf("dead: %+v", d)
		}
		return ""
	})
	if s := queueInfo(v, "short"); s.Ready != 0 || s.Counters.Published != 1 || s.Counters.Expired != 1 {
		t.Fatalf("short: %+v", s)
	}

	// basic.get, with no ack and on an empty queue.
	if _, ok, err := ch.Get("dead", true); err != nil || !ok {
		t.Fatalf("get: %v %v", ok, err)
	}
	if _, ok, err := ch.Get("dead", true); err != nil || ok {
		t.Fatalf("second get: %v %v", ok, err)
	}
	if d := queueInfo(v, "dead"); d.Counters.GetNoAck != 1 || d.Counters.GetEmpty != 1 || d.Ready != 0 {
		t.Fatalf("dead after gets: %+v", d)
	}

	var qnames []string
	for _, q := range v.Queues() {
		qnames = append(qnames, q.Name)
	}
	if fmt.Sprint(qnames) != "[dead short work]" {
		t.Fatalf("queues %v", qnames)
	}
	if w := queueInfo(v, "work"); !w.Durable || w.Args["x-dead-letter-exchange"] != "dlx" || w.State != "running" {
		t.Fatalf("work: %+v", w)
	}

	xs := map[string]broker.ExchangeInfo{}
	for _, x := range v.Exchanges() {
		xs[x.Name] = x
	}
	if x := xs["work-x"]; x.Kind != "topic" || !x.Durable || x.Counters.PublishIn != 5 || x.Counters.PublishOut != 4 || x.Counters.Unroutable != 1 {
		t.Fatalf("work-x: %+v", x)
	}
	if x := xs["dlx"]; x.Counters.PublishIn != 1 || x.Counters.PublishOut != 1 {
		t.Fatalf("dlx: %+v", x)
	}

	found := false
	for _, b := range v.Bindings() {
		found = found || b.Source == "work-x" && b.Destination == "work" && b.DestinationType == "queue" && b.Key == "work.#"
	}
	if !found {
		t.Fatalf("no binding work-x -> work in %+v", v.Bindings())
	}

	me, _ := connByName(srv, "lister")
	cs := v.Consumers()
	want := broker.ConsumerInfo{Vhost: "/", Queue: "work", Tag: "c1", Conn: me.ID, Channel: 2, Prefetch: 10, Active: true}
	if len(cs) != 1 || cs[0] != want {
		t.Fatalf("consumers %+v\nwant %+v", cs, want)
	}
	for _, c := range srv.Channels() {
		if c.Number == 2 && (c.Unacked != 2 || c.Consumers != 1 || c.Confirm) {
			t.Fatalf("consumer's channel %+v", c)
		}
	}

	info := v.Info()
	if info.Queues != 3 || info.Consumers != 1 || info.Unacked != 2 || info.Counters.Published != 6 || info.Counters.Expired != 1 {
		t.Fatalf("vhost: %+v", info)
	}
	if tot := srv.Broker().Totals(); tot.Counters != info.Counters || tot.Exchange != info.Exchange {
		t.Fatalf("totals %+v, vhost %+v", tot, info)
	}
}
