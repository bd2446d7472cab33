package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// errTimeUp is returned by waitFor when the deadline passes first.
var errTimeUp = errors.New("time limit reached")

// waitFor polls cond every 10 ms until it holds, printing a progress line
// every second, until the deadline, ctx or a worker failure.
func (r *run) waitFor(ctx context.Context, deadline time.Time, phase string, cond func() bool) error {
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.NewTimer(time.Until(deadline))
	defer end.Stop()
	start := time.Now()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.stopCh:
			return r.err()
		case <-end.C:
			return errTimeUp
		case <-poll.C:
		case now := <-tick.C:
			if r.cfg.Progress != nil {
				sent, recv := r.totals()
				fmt.Fprintf(r.cfg.Progress, "%6.1fs  %s: sent %s  recv %s\n", now.Sub(start).Seconds(), phase, num(float64(sent)), num(float64(recv)))
			}
		}
	}
	return nil
}

// backlog fills the queues with Count messages per producer while no one
// consumes, waits until the broker holds them all, then drains them.
func (r *run) backlog(ctx context.Context) (Result, error) {
	cfg := &r.cfg
	if err := r.declare(); err != nil {
		return Result{}, err
	}
	if err := r.startProducers(); err != nil {
		return Result{}, err
	}
	smp, err := startSampler(cfg.BrokerPID)
	if err != nil {
		return Result{}, err
	}
	cpu0 := selfCPU()
	start := time.Now()
	deadline := start.Add(cfg.timeCap())
	want := int64(cfg.Count) * int64(cfg.Producers) * int64(r.copies)
	res := Result{Expected: want}
	finish := func(err error) (Result, error) {
		stopAt := time.Now()
		b, serr := smp.stop()
		res.Seconds = stopAt.Sub(start).Seconds()
		res.Sent, res.Received = r.totals()
		res.setBroker(b, cfg.BrokerPID != 0)
		res.ClientCPUSeconds = (selfCPU() - cpu0).Seconds()
		res.ClientCPUFraction = res.ClientCPUSeconds / max(res.Seconds, 1e-9)
		if err != nil && (errors.Is(err, errTimeUp) || errors.Is(err, context.Canceled)) {
			res.Incomplete, err = err.Error(), nil
		}
		return res, errors.Join(err, serr)
	}

	// Fill: publish, then poll the queue depths until every message is in.
	done := r.launch(deadline, cfg.Count, deadline)
	var depthErr error
	err = r.waitFor(ctx, deadline, "fill", func() bool {
		select {
		case <-done:
		default:
			return false
		}
		if cfg.QueueType == "stream" && cfg.Confirm > 0 {
			return true // every message confirmed (a stream's depth reads 0 over AMQP)
		}
		var n int64
		for _, q := range r.queues {
			st, err := r.setupCh.QueueDeclarePassive(q, cfg.Durable, cfg.AutoDelete, cfg.Exclusive, false, nil)
			if err != nil {
				depthErr = err
				return true
			}
			n += int64(st.Messages)
		}
		return n >= want
	})
	if err = errors.Join(err, depthErr); err != nil {
		r.halt(done)
		return finish(err)
	}
	fillEnd := time.Now()
	res.FillSeconds = fillEnd.Sub(start).Seconds()
	res.FillRate = rate(float64(want), fillEnd.Sub(start))

	// Drain.
	drain0 := smp.markPhase()
	if err := r.startConsumers(); err != nil {
		return finish(err)
	}
	drainWant := want
	if cfg.StreamSpread {
		drainWant = cfg.spreadDeliveries()
		res.Expected = drainWant
	}
	err = r.waitFor(ctx, deadline, "drain", func() bool {
		_, recv := r.totals()
		return recv >= drainWant
	})
	drainEnd := time.Now()
	drain1, drainPeak := smp.phaseEnd()
	r.halt(done)
	res.DrainSeconds = drainEnd.Sub(fillEnd).Seconds()
	_, recv := r.totals()
	res.DrainRate = rate(float64(recv), drainEnd.Sub(fillEnd))
	if smp != nil {
		res.DrainBrokerCPU = (drain1.CPU - drain0.CPU).Seconds()
		res.DrainMsgPerBrokerCPU = float64(recv) / max(res.DrainBrokerCPU, 1e-9)
		res.DrainStartRSS, res.DrainPeakRSS, res.DrainEndRSS = drain0.RSS, drainPeak, drain1.RSS
	}
	return finish(err)
}

// manyQueues declares cfg.Queues queues, each bound to a direct exchange
// with its own name, one synchronous call after another; then deletes
// them. It reports both rates and the broker's RSS growth per queue.
func (r *run) manyQueues(ctx context.Context) (Result, error) {
	cfg := &r.cfg
	var err error
	if r.setup, err = dial(cfg.URL, cfg.Coalesce); err != nil {
		return Result{}, err
	}
	if r.setupCh, err = r.setup.Channel(); err != nil {
		return Result{}, err
	}
	ch := r.setupCh
	r.exchange = cfg.Exchange
	if r.exchange == "" {
		r.exchange = "warren-perf-queues-" + r.id
	}
	if err := ch.ExchangeDeclare(r.exchange, "direct", cfg.Durable, false, false, false, nil); err != nil {
		return Result{}, fmt.Errorf("exchange.declare: %w", err)
	}
	r.ownsExch = true
	smp, err := startSampler(cfg.BrokerPID)
	if err != nil {
		return Result{}, err
	}
	before := smp.now()
	cpu0 := selfCPU()
	start := time.Now()
	deadline := start.Add(cfg.timeCap())
	res := Result{}
	for i := range cfg.Queues {
		if ctx.Err() != nil || time.Now().After(deadline) {
			res.Incomplete = fmt.Sprintf("stopped after %d queues", i)
			break
		}
		name := fmt.Sprintf("%s-%s-%d", cfg.QueuePrefix, r.id, i)
		if _, err := ch.QueueDeclare(name, cfg.Durable, cfg.AutoDelete, false, false, nil); err != nil {
			return res, fmt.Errorf("queue.declare %q: %w", name, err)
		}
		r.queues = append(r.queues, name)
		if err := ch.QueueBind(name, name, r.exchange, false, nil); err != nil {
			return res, fmt.Errorf("queue.bind %q: %w", name, err)
		}
	}
	declared := time.Now()
	after := smp.now()
	n := len(r.queues)
	res.Objects = n
	res.QueuesPerSec = rate(float64(n), declared.Sub(start))
	if n > 0 {
		res.RSSPerQueue = float64(after.RSS-before.RSS) / float64(n)
	}
	for len(r.queues) > 0 {
		if _, err := ch.QueueDelete(r.queues[0], false, false, false); err != nil {
			return res, fmt.Errorf("queue.delete: %w", err)
		}
		r.queues = r.queues[1:]
	}
	deleted := time.Now()
	res.DeletesPerSec = rate(float64(n), deleted.Sub(declared))
	b, err := smp.stop()
	res.setBroker(b, cfg.BrokerPID != 0)
	res.BrokerStartRSS, res.BrokerEndRSS = before.RSS, after.RSS
	res.Seconds = deleted.Sub(start).Seconds()
	res.ClientCPUSeconds = (selfCPU() - cpu0).Seconds()
	res.ClientCPUFraction = res.ClientCPUSeconds / max(res.Seconds, 1e-9)
	return res, err
}

// idleConnections opens cfg.Connections connections, each with one channel,
// one after another, and leaves them idle; it reports the rate and the
// broker's RSS growth per connection. They are closed by cleanup.
func (r *run) idleConnections(ctx context.Context) (Result, error) {
	cfg := &r.cfg
	smp, err := startSampler(cfg.BrokerPID)
	if err != nil {
		return Result{}, err
	}
	before := smp.now()
	cpu0 := selfCPU()
	start := time.Now()
	deadline := start.Add(cfg.timeCap())
	res := Result{}
	for i := range cfg.Connections {
		if ctx.Err() != nil || time.Now().After(deadline) {
			res.Incomplete = fmt.Sprintf("stopped after %d connections", i)
			break
		}
		c, err := dial(cfg.URL, false)
		if err != nil {
			return res, fmt.Errorf("connection %d: %w", i, err)
		}
		r.conns = append(r.conns, c)
		if _, err := c.Channel(); err != nil {
			return res, fmt.Errorf("connection %d: channel.open: %w", i, err)
		}
	}
	opened := time.Now()
	after := smp.now()
	n := len(r.conns)
	res.Objects = n
	res.ConnsPerSec = rate(float64(n), opened.Sub(start))
	if n > 0 {
		res.RSSPerConn = float64(after.RSS-before.RSS) / float64(n)
	}
	b, err := smp.stop()
	res.setBroker(b, cfg.BrokerPID != 0)
	res.BrokerStartRSS, res.BrokerEndRSS = before.RSS, after.RSS
	res.Seconds = opened.Sub(start).Seconds()
	res.ClientCPUSeconds = (selfCPU() - cpu0).Seconds()
	res.ClientCPUFraction = res.ClientCPUSeconds / max(res.Seconds, 1e-9)
	return res, err
}
