package demo

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Chapter 4: a service down. The SMS service stops; its queue keeps the
// events for it while the email service goes on; when SMS comes back it
// drains the backlog, and nothing was lost.

func playServiceDown(ctx context.Context, e *env) error {
	const x = "demo.ch4.order-placed"
	const emailQ, smsQ = "demo.ch4.email", "demo.ch4.sms"
	before, during := e.pick(10, 5), e.pick(40, 20)
	delay := e.scale(20 * time.Millisecond)
	ch, done, err := e.stage(x, "fanout", emailQ, smsQ)
	if err != nil {
		return err
	}
	defer done()
	for _, q := range []string{emailQ, smsQ} {
		if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
			return err
		}
		if err := ch.QueueBind(q, "", x, false, nil); err != nil {
			return err
		}
	}
	var emailDone, smsDone atomic.Int64
	handler := func(n *atomic.Int64) func(context.Context, amqp.Delivery) outcome {
		return func(ctx context.Context, _ amqp.Delivery) outcome {
			if pause(ctx, delay) != nil {
				return leave
			}
			n.Add(1)
			return ack
		}
	}
	email, err := e.startWorker(ctx, "email service", emailQ, 5, nil, handler(&emailDone))
	if err != nil {
		return err
	}
	defer email.stop()
	sms, err := e.startWorker(ctx, "sms service", smsQ, 5, nil, handler(&smsDone))
	if err != nil {
		return err
	}
	defer sms.stop() // on an early return; stopped below for the outage
	pub, err := confirmChannel(e.conn)
	if err != nil {
		return err
	}
	defer pub.Close()
	placed := 0
	place := func(n int) error {
		for range n {
			placed++
			if err := publish(ctx, pub, x, "", text(fmt.Sprintf("order %d", placed))); err != nil {
				return err
			}
		}
		return nil
	}

	e.out.say("Email and SMS each consume their own queue, bound to %s. %d orders come in.", x, before)
	if err := place(before); err != nil {
		return err
	}
	if err := waitFor(ctx, "both services to handle the first orders", func() bool {
		return emailDone.Load() == int64(before) && smsDone.Load() == int64(before)
	}); err != nil {
		return err
	}
	e.out.measured("email handled %d, sms handled %d", emailDone.Load(), smsDone.Load())

	e.out.say("The SMS provider goes down: the SMS service stops. %d more orders come in.", during)
	sms.stop()
	var depths []string
	for i := 0; i < during; i += 10 {
		if err := place(min(10, during-i)); err != nil {
			return err
		}
		d, err := e.depth(smsQ)
		if err != nil {
			return err
		}
		depths = append(depths, itoa(d))
		e.out.progress("sms queue growing", i+min(10, during-i), during)
	}
	e.out.endProgress()
	if err := waitFor(ctx, "the email service to keep up", func() bool { return emailDone.Load() == int64(before+during) }); err != nil {
		return err
	}
	backlog, err := e.depth(smsQ)
	if err != nil {
		return err
	}
	e.out.measured("the sms queue grew %s while email went on and handled all %d", strings.Join(depths, " -> "), emailDone.Load())
	e.out.say("Orders were still confirmed at once: the order service never noticed the outage.")

	e.out.say("SMS is back: a new SMS service consumes the queue.")
	start := time.Now()
	sms2, err := e.startWorker(ctx, "sms service (restarted)", smsQ, 5, nil, handler(&smsDone))
	if err != nil {
		return err
	}
	defer sms2.stop()
	if err := waitFor(ctx, "the sms backlog to drain", func() bool {
		e.out.progress("sms backlog draining", int(smsDone.Load())-before, backlog)
		return smsDone.Load() == int64(before+during)
	}); err != nil {
		return err
	}
	drain := time.Since(start)
	e.out.endProgress()
	left, err := e.depth(smsQ)
	if err != nil {
		return err
	}
	e.out.measured("the backlog of %d drained in %s; %d left; sms handled %d of %d orders: none lost",
		backlog, drain.Round(time.Millisecond), left, smsDone.Load(), placed)
	e.figs["orders"] = placed
	e.figs["email_handled"] = int(emailDone.Load())
	e.figs["sms_backlog"] = backlog
	e.figs["sms_handled"] = int(smsDone.Load())
	e.figs["left"] = left
	e.figs["lost"] = placed - int(smsDone.Load())
	e.figs["drain_ms"] = ms(drain)
	return nil
}
