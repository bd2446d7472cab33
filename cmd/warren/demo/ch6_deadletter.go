package demo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Chapter 6: the dead-letter queue. A poison message fails every time;
// the quorum queue's delivery limit (x-delivery-limit) stops the retries
// after three deliveries and dead-letters it, with its x-death history,
// to a DLQ. After the fix, the message-move API replays it to where it
// came from.

func playDeadLetter(ctx context.Context, e *env) error {
	const (
		x     = "demo.ch6.payments"
		q     = "demo.ch6.payments"
		key   = "payment"
		dlx   = "demo.ch6.dlx"
		dlq   = "demo.ch6.payments.dlq"
		limit = 2 // returns allowed: three deliveries in all
	)
	e.deleteQueues(q, dlq)
	e.deleteExchanges(x, dlx)
	defer e.deleteExchanges(x, dlx)
	defer e.deleteQueues(q, dlq)
	ch, err := e.channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	steps := []func() error{
		func() error { return ch.ExchangeDeclare(x, "direct", true, false, false, false, nil) },
		func() error { return ch.ExchangeDeclare(dlx, "fanout", true, false, false, false, nil) },
		func() error {
			_, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{
				"x-queue-type": "quorum", "x-delivery-limit": int32(limit), "x-dead-letter-exchange": dlx,
			})
			return err
		},
		func() error { _, err := ch.QueueDeclare(dlq, true, false, false, false, nil); return err },
		func() error { return ch.QueueBind(q, key, x, false, nil) },
		func() error { return ch.QueueBind(dlq, "", dlx, false, nil) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	e.out.say("Payments go to the quorum queue %s (x-delivery-limit %d: at most %d deliveries),", q, limit, limit+1)
	e.out.say("dead-lettered to %s, which routes to the DLQ %s.", dlx, dlq)

	var fixed atomic.Bool
	var mu sync.Mutex
	attempts := map[string]int{}
	completed := map[string]bool{}
	poisonAfterFix := 0
	w, err := e.startWorker(ctx, "payment service", q, 1, nil, func(_ context.Context, d amqp.Delivery) outcome {
		body := string(d.Body)
		mu.Lock()
		defer mu.Unlock()
		attempts[body]++
		if strings.Contains(body, "XYZ") {
			if !fixed.Load() {
				e.out.note("payment service: cannot parse %q (attempt %d): nack, requeue", body, attempts[body])
				return requeue
			}
			poisonAfterFix++
		}
		completed[body] = true
		return ack
	})
	if err != nil {
		return err
	}
	defer w.stop()

	pub, err := confirmChannel(e.conn)
	if err != nil {
		return err
	}
	defer pub.Close()
	payments := []string{"payment 1: 10.00 EUR", "payment 2: 25.50 USD", "payment 3: 99.00 XYZ", "payment 4: 12.00 GBP", "payment 5: 7.25 EUR"}
	const poison = "payment 3: 99.00 XYZ"
	e.out.say("%d payments are published; one has a currency the service cannot parse: %q.", len(payments), poison)
	for _, p := range payments {
		if err := publish(ctx, pub, x, key, text(p)); err != nil {
			return err
		}
	}
	if err := waitFor(ctx, "the poison message to reach the DLQ", func() bool {
		n, err := e.depth(dlq)
		mu.Lock()
		defer mu.Unlock()
		return err == nil && n == 1 && len(completed) == len(payments)-1
	}); err != nil {
		return err
	}
	mu.Lock()
	tries := attempts[poison]
	mu.Unlock()
	e.out.measured("%d payments completed; the poison one was delivered %d times and is now in the DLQ", len(payments)-1, tries)

	// Look at it without taking it: get, read x-death, put it back.
	d, ok, err := ch.Get(dlq, false)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("the DLQ is empty after all")
	}
	death, err := firstDeath(d)
	d.Nack(false, true)
	if err != nil {
		return err
	}
	e.out.say("In the DLQ, %q carries its history in the x-death header:", string(d.Body))
	e.out.table([][]string{
		{"reason", "queue", "exchange", "routing keys", "count"},
		{death.reason, death.queue, death.exchange, strings.Join(death.keys, ","), itoa(death.count)},
	})

	e.out.say("The fix: the payment service learns the XYZ currency and is redeployed.")
	fixed.Store(true)
	var moved struct {
		Moved      int `json:"moved"`
		Unroutable int `json:"unroutable"`
		NoOrigin   int `json:"no_origin"`
	}
	path := "/api/queues/" + vhostOf(e.amqpURL) + "/" + dlq + "/actions/move"
	e.out.say("The replay: POST %s {\"destination\":\"origin\"}", path)
	e.out.note("(the same as: warren ctl move %s --to-origin)", dlq)
	start := time.Now()
	if err := e.apiPost(ctx, path, map[string]any{"destination": "origin"}, &moved); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && (ae.status == 404 || ae.status == 405) {
			// rabbitmq: no such endpoint (its shovel plugin moves messages).
			return fmt.Errorf("the broker has no message-move endpoint (HTTP %d): the replay needs Warren's management API", ae.status)
		}
		return fmt.Errorf("replaying the DLQ: %w", err)
	}
	if err := waitFor(ctx, "the replayed payment to complete", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return completed[poison]
	}); err != nil {
		return err
	}
	left, err := e.depth(dlq)
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	e.out.measured("moved %d back to %s with key %s; completed %s after the request; the DLQ holds %d; %d of %d payments completed",
		moved.Moved, death.exchange, strings.Join(death.keys, ","), time.Since(start).Round(100*time.Microsecond), left, len(completed), len(payments))
	e.figs["payments"] = len(payments)
	e.figs["completed"] = len(completed)
	e.figs["poison_deliveries"] = tries
	e.figs["dead_lettered"] = death.count
	e.figs["x_death_reason"] = death.reason
	e.figs["x_death_queue"] = death.queue
	e.figs["replayed"] = moved.Moved
	e.figs["completed_after_replay"] = poisonAfterFix
	e.figs["dlq_left"] = left
	return nil
}

// xDeath is the newest entry of a message's x-death header.
type xDeath struct {
	reason, queue, exchange string
	keys                    []string
	count                   int
}

func firstDeath(d amqp.Delivery) (xDeath, error) {
	list, _ := d.Headers["x-death"].([]any)
	if len(list) == 0 {
		return xDeath{}, fmt.Errorf("the dead-lettered message has no x-death header: %v", d.Headers)
	}
	t, ok := list[0].(amqp.Table)
	if !ok {
		return xDeath{}, fmt.Errorf("x-death[0] is a %T, not a table", list[0])
	}
	var x xDeath
	x.reason, _ = t["reason"].(string)
	x.queue, _ = t["queue"].(string)
	x.exchange, _ = t["exchange"].(string)
	if c, ok := t["count"].(int64); ok {
		x.count = int(c)
	}
	keys, _ := t["routing-keys"].([]any)
	for _, k := range keys {
		if s, ok := k.(string); ok {
			x.keys = append(x.keys, s)
		}
	}
	return x, nil
}
