package demo

import (
	"context"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Chapter 1: an order service that calls six services one after another
// makes its user wait for all of them; one that publishes an event waits
// only for the broker's confirm, and the services work in the background.

// service is a simulated downstream service and its latency.
type service struct {
	name  string
	delay time.Duration
}

// orderServices are the classic example's six, about 790 ms in all.
func orderServices() []service {
	return []service{
		{"email", 150 * time.Millisecond},
		{"sms", 200 * time.Millisecond},
		{"warehouse", 180 * time.Millisecond},
		{"inventory", 90 * time.Millisecond},
		{"loyalty", 70 * time.Millisecond},
		{"analytics", 100 * time.Millisecond},
	}
}

func playSync(ctx context.Context, e *env) error {
	svcs := orderServices()
	orders := 3
	e.out.say("An order service must tell six services about each order:")
	rows := [][]string{{"service", "simulated latency"}}
	var total time.Duration
	for _, s := range svcs {
		rows = append(rows, []string{s.name, e.scale(s.delay).String()})
		total += e.scale(s.delay)
	}
	e.out.table(rows)

	// The synchronous way: call each in turn, the user waits for the sum.
	e.out.say("The synchronous way: it calls them one after another while the user waits (%d orders).", orders)
	var syncTotal time.Duration
	for range orders {
		start := time.Now()
		for _, s := range svcs {
			if err := pause(ctx, e.scale(s.delay)); err != nil {
				return err
			}
		}
		syncTotal += time.Since(start)
	}
	syncAvg := syncTotal / time.Duration(orders)
	e.out.measured("the user waited %s per order (the six latencies add up to %s)", syncAvg.Round(100*time.Microsecond), total)
	e.out.say("And when one of them is down, say SMS, the synchronous order fails with it.")

	// The queued way: one event to a fanout exchange, a queue per service.
	const x = "demo.ch1.order-placed"
	queues := make([]string, len(svcs))
	for i, s := range svcs {
		queues[i] = "demo.ch1." + s.name
	}
	ch, done, err := e.stage(x, "fanout", queues...)
	if err != nil {
		return err
	}
	defer done()
	for _, q := range queues {
		if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
			return err
		}
		if err := ch.QueueBind(q, "", x, false, nil); err != nil {
			return err
		}
	}

	var mu sync.Mutex
	published := map[string]time.Time{} // order id -> publish time
	finished := map[string]time.Time{}  // order id -> the last service's finish
	handledBy := map[string]int{}       // order id -> services done
	for i, s := range svcs {
		w, err := e.startWorker(ctx, s.name+" service", queues[i], 1, nil, func(ctx context.Context, d amqp.Delivery) outcome {
			if pause(ctx, e.scale(s.delay)) != nil {
				return leave
			}
			mu.Lock()
			handledBy[d.MessageId]++
			finished[d.MessageId] = time.Now()
			mu.Unlock()
			return ack
		})
		if err != nil {
			return err
		}
		defer w.stop()
	}

	e.out.say("The queued way: it publishes one event, \"order placed\", and answers the user on the broker's confirm.")
	pub, err := confirmChannel(e.conn)
	if err != nil {
		return err
	}
	defer pub.Close()
	var queuedTotal time.Duration
	for i := range orders {
		id := fmt.Sprintf("order-%d", i+1)
		msg := text(fmt.Sprintf(`{"order":%q,"total":"42.00"}`, id))
		msg.MessageId = id
		start := time.Now()
		mu.Lock()
		published[id] = start
		mu.Unlock()
		if err := publish(ctx, pub, x, "", msg); err != nil {
			return err
		}
		queuedTotal += time.Since(start)
	}
	queuedAvg := queuedTotal / time.Duration(orders)
	e.out.measured("the user waited %s per order (publish to confirm, persistent, fsynced)", queuedAvg.Round(10*time.Microsecond))

	if err := waitFor(ctx, "the six services to handle every order", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, c := range handledBy {
			n += c
		}
		return n == orders*len(svcs)
	}); err != nil {
		return err
	}
	var background time.Duration
	mu.Lock()
	delivered := 0
	for id, t := range published {
		background = max(background, finished[id].Sub(t))
		delivered += handledBy[id]
	}
	mu.Unlock()
	e.out.measured("all six services had handled every order %s after it was placed, in the background (%d deliveries)",
		background.Round(100*time.Microsecond), delivered)
	e.out.say("The user no longer waits for the slowest path; a service that is down only delays its own work (chapter 4).")
	e.figs["orders"] = orders
	e.figs["services"] = len(svcs)
	e.figs["sync_ms"] = ms(syncAvg)
	e.figs["queued_ms"] = ms(queuedAvg)
	e.figs["background_ms"] = ms(background)
	e.figs["delivered"] = delivered
	if syncAvg > 0 && queuedAvg > 0 {
		e.figs["speedup"] = float64(int64(float64(syncAvg)/float64(queuedAvg)*10)) / 10
		e.out.measured("the queued order answered %.1f times sooner", e.figs["speedup"])
	}
	return nil
}
