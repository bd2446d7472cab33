package demo

import (
	"context"
	"fmt"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Chapter 9: the choice. The exercise's events, each run through the broker
// as a stream (many independent readers, replay) or a queue (work done
// once, acknowledged, retried, dead-lettered), with the reason.

type choice struct {
	event  string
	stream bool
	args   amqp.Table // queue arguments beyond the type
	reason string
}

func choices() []choice {
	return []choice{
		{"like", true, nil, "high volume, read by many (counters, ranking, analytics); replayable"},
		{"comment", false, nil, "notify the post's author once: a task, acked, retried, dead-lettered"},
		{"follow", true, nil, "the social graph: feed, notifications, recommendations read it; a new service rebuilds from the start"},
		{"story-mention", false, amqp.Table{"x-message-ttl": int32(24 * 3600 * 1000)}, "notify once, worthless after 24 h: a queue with x-message-ttl"},
		{"weekly-summary", false, nil, "one heavy job per user, spread over workers (prefetch 1), acked"},
	}
}

func playChoice(ctx context.Context, e *env) error {
	per := e.pick(20, 10)
	readers := 2
	e.out.say("Each event of the exercise, %d of each, through the broker with %d consumers:", per, readers)
	rows := [][]string{{"event", "as", "consumers", "deliveries", "why"}}
	res := map[string]any{}
	for _, c := range choices() {
		q := "demo.ch9." + c.event
		e.deleteQueues(q)
		delivered, err := e.runChoice(ctx, c, q, per, readers)
		e.deleteQueues(q)
		if err != nil {
			return fmt.Errorf("%s: %w", c.event, err)
		}
		kind := "queue"
		if c.stream {
			kind = "stream"
		}
		rows = append(rows, []string{c.event, kind, itoa(readers), itoa(delivered), c.reason})
		res[c.event] = map[string]any{"kind": kind, "published": per, "consumers": readers, "delivered": delivered}
	}
	e.out.table(rows)
	e.out.measured("a stream delivered every event to each reader (%d x %d); a queue delivered each event once, to one of the workers (%d)", per, readers, per)
	e.out.say("Rule of thumb: many readers or replay -> a stream; a task to do once -> a queue.")
	e.figs["published_each"] = per
	e.figs["events"] = res
	return nil
}

// runChoice publishes per events to a new q of c's kind and consumes
// them with n consumers; it returns the deliveries counted.
func (e *env) runChoice(ctx context.Context, c choice, q string, per, n int) (int, error) {
	ch, err := e.channel()
	if err != nil {
		return 0, err
	}
	defer ch.Close()
	args := amqp.Table{}
	for k, v := range c.args {
		args[k] = v
	}
	if c.stream {
		args["x-queue-type"] = "stream"
	}
	if _, err := ch.QueueDeclare(q, true, false, false, false, args); err != nil {
		return 0, err
	}
	pub, err := confirmChannel(e.conn)
	if err != nil {
		return 0, err
	}
	defer pub.Close()
	for i := range per {
		if err := publish(ctx, pub, "", q, text(fmt.Sprintf("%s %d", c.event, i+1))); err != nil {
			return 0, err
		}
	}
	last := fmt.Sprintf("%s %d", c.event, per)
	if c.stream {
		total := 0
		for range n {
			r, err := e.readStream(ctx, q, "first", last)
			if err != nil {
				return 0, err
			}
			total += r.count
		}
		return total, nil
	}
	var done atomic.Int64
	for i := range n {
		w, err := e.startWorker(ctx, fmt.Sprintf("%s worker %d", c.event, i+1), q, 1, nil, func(context.Context, amqp.Delivery) outcome {
			done.Add(1)
			return ack
		})
		if err != nil {
			return 0, err
		}
		defer w.stop()
	}
	if err := waitFor(ctx, "the workers to take every "+c.event, func() bool { return done.Load() >= int64(per) }); err != nil {
		return 0, err
	}
	left, err := e.depth(q)
	if err != nil {
		return 0, err
	}
	if left != 0 {
		return 0, fmt.Errorf("%d %s events still in the queue", left, c.event)
	}
	return int(done.Load()), nil
}
