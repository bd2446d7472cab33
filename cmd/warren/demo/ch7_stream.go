package demo

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Chapter 7: the log. A stream keeps every event after it was read;
// each reader chooses where to start (x-stream-offset): the first event,
// a position, or a time. A service added later replays the whole history.

func playStream(ctx context.Context, e *env) error {
	const q = "demo.ch7.activity"
	morning, afternoon, evening := 10, 10, 5
	e.deleteQueues(q)
	defer e.deleteQueues(q)
	ch, err := e.channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	if _, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": "stream"}); err != nil {
		return err
	}
	pub, err := confirmChannel(e.conn)
	if err != nil {
		return err
	}
	defer pub.Close()
	n := 0
	publishN := func(count int, when string) error {
		for range count {
			n++
			if err := publish(ctx, pub, "", q, text(fmt.Sprintf("event %d (%s)", n, when))); err != nil {
				return err
			}
		}
		return nil
	}
	e.out.say("A stream %s (x-queue-type stream). %d events are published in the morning...", q, morning)
	if err := publishN(morning, "morning"); err != nil {
		return err
	}
	// AMQP timestamps have whole seconds: the afternoon starts at the next
	// second, so that a reader from that time gets the afternoon only.
	noon := time.Now().Truncate(time.Second).Add(time.Second)
	if err := pause(ctx, time.Until(noon)+5*time.Millisecond); err != nil {
		return err
	}
	e.out.say("...and %d in the afternoon, from %s.", afternoon, noon.Format("15:04:05"))
	if err := publishN(afternoon, "afternoon"); err != nil {
		return err
	}
	total := morning + afternoon
	last := fmt.Sprintf("event %d (afternoon)", total)

	first, err := e.readStream(ctx, q, "first", last)
	if err != nil {
		return err
	}
	base := first.firstOffset
	position := base + int64(total-5)
	fromPos, err := e.readStream(ctx, q, position, last)
	if err != nil {
		return err
	}
	fromTime, err := e.readStream(ctx, q, noon, last)
	if err != nil {
		return err
	}
	e.out.table([][]string{
		{"reader", "x-stream-offset", "read", "from", "to"},
		{"audit", "first", itoa(first.count), first.firstBody, first.lastBody},
		{"recommendations", fmt.Sprintf("%d (a position)", position), itoa(fromPos.count), fromPos.firstBody, fromPos.lastBody},
		{"afternoon report", noon.Format("15:04:05") + " (a time)", itoa(fromTime.count), fromTime.firstBody, fromTime.lastBody},
	})
	e.out.measured("three readers, three starting points, over the same %d events: %d, %d and %d read", total, first.count, fromPos.count, fromTime.count)

	e.out.say("Reading removed nothing. %d more events arrive in the evening; then an analytics service is added.", evening)
	if err := publishN(evening, "evening"); err != nil {
		return err
	}
	all := total + evening
	replay, err := e.readStream(ctx, q, "first", fmt.Sprintf("event %d (evening)", all))
	if err != nil {
		return err
	}
	e.out.measured("the analytics service replayed all %d events from the first (%s .. %s)", replay.count, replay.firstBody, replay.lastBody)
	e.out.say("A queue forgets a message once it is acknowledged; a stream keeps it until retention (x-max-age, x-max-length-bytes).")
	e.figs["published"] = all
	e.figs["from_first"] = first.count
	e.figs["from_offset"] = fromPos.count
	e.figs["from_time"] = fromTime.count
	e.figs["replayed"] = replay.count
	e.figs["first_offset"] = base
	return nil
}

// streamRead is what one reader saw.
type streamRead struct {
	count               int
	firstOffset         int64
	firstBody, lastBody string
}

// readStream consumes q from offset (an x-stream-offset value) until the
// message whose body is until, and cancels.
func (e *env) readStream(ctx context.Context, q string, offset any, until string) (streamRead, error) {
	var r streamRead
	ch, err := e.channel()
	if err != nil {
		return r, err
	}
	defer ch.Close()
	if err := ch.Qos(100, 0, false); err != nil { // rabbitmq: a stream consumer needs a prefetch
		return r, err
	}
	ds, err := ch.Consume(q, "", false, false, false, false, amqp.Table{"x-stream-offset": offset})
	if err != nil {
		return r, err
	}
	for {
		select {
		case d, ok := <-ds:
			if !ok {
				return r, fmt.Errorf("the stream consumer from %v was cancelled", offset)
			}
			d.Ack(false)
			if r.count == 0 {
				r.firstBody = string(d.Body)
				r.firstOffset, _ = d.Headers["x-stream-offset"].(int64)
			}
			r.count++
			r.lastBody = string(d.Body)
			if r.lastBody == until {
				return r, nil
			}
		case <-ctx.Done():
			return r, fmt.Errorf("timed out reading the stream from %v: %d read, the last %q", offset, r.count, r.lastBody)
		}
	}
}
