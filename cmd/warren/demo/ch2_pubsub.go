package demo

import (
	"context"
	"strings"
)

// Chapter 2: publish/subscribe through a topic exchange. Each service
// binds its own queue with a pattern over the routing key
// order.<event>.<region> ('*' one word, '#' any number of words) and gets
// a copy of every event that matches.

func playPubSub(ctx context.Context, e *env) error {
	const x = "demo.ch2.orders"
	subs := []struct{ queue, pattern, why string }{
		{"demo.ch2.email", "order.#", "every order event"},
		{"demo.ch2.eu-warehouse", "order.*.eu", "every event in the EU"},
		{"demo.ch2.us-warehouse", "order.*.us", "every event in the US"},
		{"demo.ch2.fraud", "order.placed.*", "new orders anywhere"},
		{"demo.ch2.audit", "#", "everything published here"},
	}
	keys := []string{"order.placed.eu", "order.placed.us", "order.cancelled.eu", "order.shipped.us", "order.refunded.eu", "order.placed.eu.express"}

	var queues []string
	for _, s := range subs {
		queues = append(queues, s.queue)
	}
	ch, done, err := e.stage(x, "topic", queues...)
	if err != nil {
		return err
	}
	defer done()
	rows := [][]string{{"queue", "bound with", "meaning"}}
	for _, s := range subs {
		if _, err := ch.QueueDeclare(s.queue, true, false, false, false, nil); err != nil {
			return err
		}
		if err := ch.QueueBind(s.queue, s.pattern, x, false, nil); err != nil {
			return err
		}
		rows = append(rows, []string{s.queue, s.pattern, s.why})
	}
	e.out.say("A topic exchange %s; each service binds its queue with a pattern:", x)
	e.out.table(rows)

	pub, err := confirmChannel(e.conn)
	if err != nil {
		return err
	}
	defer pub.Close()
	e.out.say("The order service publishes %d events, one per routing key: %s.", len(keys), strings.Join(keys, ", "))
	for _, k := range keys {
		if err := publish(ctx, pub, x, k, text(`{"event":"`+k+`"}`)); err != nil {
			return err
		}
	}

	// Each queue now holds its copies (routing is done by the confirm):
	// read them back to see who received what.
	rows = [][]string{{"queue", "pattern", "received", "routing keys"}}
	received := map[string]int{}
	total := 0
	for _, s := range subs {
		var got []string
		for {
			d, ok, err := ch.Get(s.queue, true)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			got = append(got, d.RoutingKey)
		}
		name := strings.TrimPrefix(s.queue, "demo.ch2.")
		received[name] = len(got)
		total += len(got)
		rows = append(rows, []string{s.queue, s.pattern, itoa(len(got)), strings.Join(got, " ")})
	}
	e.out.table(rows)
	e.out.measured("%d events published, %d copies delivered: one per matching binding, none for the others", len(keys), total)
	e.out.say("order.placed.eu.express has four words: order.*.eu and order.placed.* want exactly three, so only # patterns took it.")
	e.figs["published"] = len(keys)
	e.figs["delivered"] = total
	e.figs["received"] = received
	return nil
}
