package demo

import (
	"context"
	"fmt"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Chapter 5: acknowledgements. A worker takes a task and dies before it
// acknowledges it: the broker still holds the message and, when the
// worker's connection drops, delivers it again, marked redelivered, to
// another worker.

func playAcks(ctx context.Context, e *env) error {
	const q = "demo.ch5.shipments"
	tasks := 5
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
	pub, err := confirmChannel(e.conn)
	if err != nil {
		return err
	}
	defer pub.Close()
	for i := range tasks {
		if err := publish(ctx, pub, "", q, text(fmt.Sprintf("shipment %d", i+1))); err != nil {
			return err
		}
	}
	e.out.say("%d shipment tasks wait in %s. Worker A takes one (prefetch 1, manual acks).", tasks, q)

	var mu sync.Mutex
	deliveries := 0
	took := make(chan string, 1)
	a, err := e.startWorker(ctx, "shipping worker A", q, 1, nil, func(_ context.Context, d amqp.Delivery) outcome {
		mu.Lock()
		deliveries++
		mu.Unlock()
		select {
		case took <- string(d.Body):
		default:
		}
		return leave // mid-task: no ack, no nack
	})
	if err != nil {
		return err
	}
	var inFlight string
	select {
	case inFlight = <-took:
	case <-ctx.Done():
		a.kill()
		return fmt.Errorf("timed out waiting for worker A's delivery")
	}
	e.out.say("Worker A is working on %q and crashes before it acknowledges: its TCP connection drops.", inFlight)
	a.kill()

	completed := map[string]bool{}
	var redelivered []string
	b, err := e.startWorker(ctx, "shipping worker B", q, 1, nil, func(_ context.Context, d amqp.Delivery) outcome {
		mu.Lock()
		defer mu.Unlock()
		deliveries++
		completed[string(d.Body)] = true
		if d.Redelivered {
			redelivered = append(redelivered, string(d.Body))
		}
		return ack
	})
	if err != nil {
		return err
	}
	defer b.stop()
	e.out.say("Worker B consumes the same queue.")
	if err := waitFor(ctx, "worker B to complete every shipment", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(completed) == tasks
	}); err != nil {
		return err
	}
	left, err := e.depth(q)
	if err != nil {
		return err
	}
	b.stop() // B's work is done (before worker C below)
	mu.Lock()
	defer mu.Unlock() // the workers are done: nothing else takes mu
	e.out.measured("%d deliveries for %d tasks; redelivered: %v (the one A held); all %d completed by B; %d left, none lost",
		deliveries, tasks, redelivered, len(completed), left)
	e.out.say("(So a task may run twice: make the work idempotent, keyed by the message id.)")

	lostAuto, err := e.autoAckCrash(ctx, q)
	if err != nil {
		return err
	}
	e.out.measured("with auto-ack, %d of 1 shipment lost: the broker forgot it when it sent it", lostAuto)
	e.out.say("Acknowledge after the work, not before: a crash then means a second try, never a lost shipment.")
	e.figs["lost_with_auto_ack"] = lostAuto
	e.figs["tasks"] = tasks
	e.figs["delivered"] = deliveries
	e.figs["redelivered"] = len(redelivered)
	e.figs["redelivered_task"] = inFlight
	e.figs["completed"] = len(completed)
	e.figs["lost"] = tasks - len(completed)
	e.figs["redelivered_is_the_crashed_one"] = len(redelivered) == 1 && redelivered[0] == inFlight
	return nil
}

// autoAckCrash shows the other way: a worker that consumes with auto-ack
// (basic.consume no-ack) takes a shipment and exits before doing it.
// It returns how many shipments were lost (1 of 1 on RabbitMQ and
// Warren: an auto-acked delivery is done as far as the broker knows).
func (e *env) autoAckCrash(ctx context.Context, q string) (int, error) {
	e.out.say("Now the other way: worker C consumes with auto-ack, takes one more shipment and exits before doing it.")
	pub, err := confirmChannel(e.conn)
	if err != nil {
		return 0, err
	}
	defer pub.Close()
	if err := publish(ctx, pub, "", q, text("shipment 6")); err != nil {
		return 0, err
	}
	c, err := e.connect("warren demo: shipping worker C (auto-ack)")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	ch, err := c.Channel()
	if err != nil {
		return 0, err
	}
	ds, err := ch.Consume(q, "", true, false, false, false, nil)
	if err != nil {
		return 0, err
	}
	select {
	case <-ds:
	case <-ctx.Done():
		return 0, fmt.Errorf("timed out waiting for worker C's delivery")
	}
	c.Close() // C exits with the shipment undone
	left, err := e.depth(q)
	if err != nil {
		return 0, err
	}
	return 1 - left, nil
}
