package demo

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Chapter 3: point-to-point. One queue, several workers: each message
// goes to exactly one of them. The broker hands out at most prefetch
// unacknowledged messages per worker, so a fast worker that acks sooner
// comes back for more and takes the larger share.

func playWorkQueue(ctx context.Context, e *env) error {
	const q = "demo.ch3.invoices"
	tasks := e.pick(60, 30)
	workers := []struct {
		name     string
		delay    time.Duration
		prefetch int
	}{
		{"fast", 20 * time.Millisecond, 5},
		{"steady", 50 * time.Millisecond, 2},
		{"slow", 150 * time.Millisecond, 1},
	}
	e.deleteQueues(q)
	defer e.deleteQueues(q)
	ch, err := e.channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
		return err
	}
	rows := [][]string{{"worker", "time per invoice", "prefetch"}}
	for _, w := range workers {
		rows = append(rows, []string{w.name, e.scale(w.delay).String(), itoa(w.prefetch)})
	}
	e.out.say("A work queue %s and three invoice workers of different speeds:", q)
	e.out.table(rows)

	var done atomic.Int64
	counts := make([]atomic.Int64, len(workers))
	for i, wk := range workers {
		w, err := e.startWorker(ctx, "invoice worker "+wk.name, q, wk.prefetch, nil, func(ctx context.Context, d amqp.Delivery) outcome {
			if pause(ctx, e.scale(wk.delay)) != nil {
				return leave
			}
			counts[i].Add(1)
			e.out.progress("invoices done", int(done.Add(1)), tasks)
			return ack
		})
		if err != nil {
			return err
		}
		defer w.stop()
	}

	pub, err := confirmChannel(e.conn)
	if err != nil {
		return err
	}
	defer pub.Close()
	e.out.say("The order service publishes %d invoice tasks.", tasks)
	start := time.Now()
	for i := range tasks {
		if err := publish(ctx, pub, "", q, text(fmt.Sprintf("invoice %d", i+1))); err != nil {
			return err
		}
	}
	if err := waitFor(ctx, "every invoice to be done", func() bool { return done.Load() >= int64(tasks) }); err != nil {
		return err
	}
	elapsed := time.Since(start)
	e.out.endProgress()

	rows = [][]string{{"worker", "invoices", "share"}}
	share := map[string]int{}
	for i, w := range workers {
		n := int(counts[i].Load())
		share[w.name] = n
		rows = append(rows, []string{w.name, itoa(n), fmt.Sprintf("%.0f%%", 100*float64(n)/float64(tasks))})
	}
	e.out.table(rows)
	e.out.measured("%d invoices, each done once, in %s; the fast worker took %d, the slow one %d",
		tasks, elapsed.Round(time.Millisecond), share["fast"], share["slow"])
	e.out.say("Prefetch caps what a worker holds unacknowledged: the slow one never sits on work the others could do.")
	e.figs["tasks"] = tasks
	e.figs["delivered"] = int(done.Load())
	e.figs["share"] = share
	e.figs["elapsed_ms"] = ms(elapsed)
	return nil
}
