package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// idleStop ends a count run whose deliveries stopped coming short of the
// expected number (a broker that dropped messages, say).
const idleStop = 5 * time.Second

// stopGrace is how long workers get to return after the stop before their
// connections are closed under them.
const stopGrace = 5 * time.Second

// Run executes cfg: it declares the topology, runs the load, and deletes
// what it declared. ctx cancels the run early (its result is still
// reported).
func Run(ctx context.Context, cfg Config) (Result, error) {
	return newRun(cfg).execute(ctx)
}

func (r *run) execute(ctx context.Context) (Result, error) {
	var res Result
	var err error
	switch r.cfg.Mode {
	case ModeBacklog:
		res, err = r.backlog(ctx)
	case ModeQueues:
		res, err = r.manyQueues(ctx)
	case ModeIdleConns:
		res, err = r.idleConnections(ctx)
	default:
		res, err = r.flow(ctx)
	}
	r.stop()
	err = errors.Join(err, r.err(), r.cleanup())
	res.Scenario, res.URL, res.Mode = r.cfg.Scenario, redact(r.cfg.URL), string(r.cfg.Mode)
	return res, err
}

// startProducers opens the producers' connections.
func (r *run) startProducers() error {
	for i := range r.cfg.Producers {
		p, err := r.newProducer(i)
		if err != nil {
			return err
		}
		r.producers = append(r.producers, p)
	}
	return nil
}

// launch starts every producer publishing; the channel closes when all are
// done (confirms included, within confirmsUntil).
func (r *run) launch(deadline time.Time, count int, confirmsUntil time.Time) <-chan struct{} {
	var wg sync.WaitGroup
	for _, p := range r.producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.publish(deadline, count)
			p.awaitConfirms(confirmsUntil)
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	return done
}

// halt stops the workers and waits for them; workers stuck in a write to
// a broker that stopped reading get their connections closed after
// stopGrace.
func (r *run) halt(producersDone <-chan struct{}) {
	r.stop()
	all := make(chan struct{})
	go func() {
		if producersDone != nil {
			<-producersDone
		}
		for _, cs := range r.consumers {
			cs.done.Wait()
		}
		close(all)
	}()
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-all:
	case <-t.C:
		for _, c := range r.conns {
			c.raw.Close()
		}
		<-all
	}
}

// flow runs producers and consumers at the same time, printing a progress
// line every second.
func (r *run) flow(ctx context.Context) (Result, error) {
	cfg := &r.cfg
	if err := r.declare(); err != nil {
		return Result{}, err
	}
	if err := r.startConsumers(); err != nil {
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
	confirmsUntil := deadline
	if cfg.Count == 0 {
		confirmsUntil = start // a timed run does not wait for stragglers
	}
	producersDone := r.launch(deadline, cfg.Count, confirmsUntil)

	end := time.NewTimer(time.Until(deadline))
	defer end.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var e2e, confirm, secE2E, secConf Histogram
	var lastSent, lastRecv int64
	lastTick := start
	var poll <-chan time.Time
	var expected int64
	var pollRecv int64
	var lastRecvChange time.Time
	incomplete := ""
	pdone := producersDone
loop:
	for {
		select {
		case <-ctx.Done():
			incomplete = "interrupted"
			break loop
		case <-r.stopCh:
			break loop // a worker failed
		case <-end.C:
			if cfg.Count > 0 {
				incomplete = fmt.Sprintf("stopped by the time limit %v before --count was done", cfg.timeCap())
			}
			break loop
		case <-pdone:
			pdone = nil
			if cfg.Count == 0 {
				continue // a timed run ends at the deadline
			}
			sent, _ := r.totals()
			expected = sent * int64(r.copies)
			if len(r.consumers) == 0 {
				break loop
			}
			pt := time.NewTicker(10 * time.Millisecond)
			defer pt.Stop()
			poll, lastRecvChange = pt.C, time.Now()
		case now := <-poll:
			_, recv := r.totals()
			if recv >= expected {
				break loop
			}
			if recv != pollRecv {
				pollRecv, lastRecvChange = recv, now
			} else if now.Sub(lastRecvChange) > idleStop {
				incomplete = fmt.Sprintf("received %d of %d: no delivery for %v", recv, expected, idleStop)
				break loop
			}
		case now := <-tick.C:
			sent, recv := r.totals()
			r.drainLatency(&secE2E, &secConf)
			dt := now.Sub(lastTick)
			if cfg.Progress != nil {
				fmt.Fprintln(cfg.Progress, progressLine(now.Sub(start), sent, recv,
					rate(float64(sent-lastSent), dt), rate(float64(recv-lastRecv), dt), &secE2E, &secConf))
			}
			e2e.Merge(&secE2E)
			confirm.Merge(&secConf)
			secE2E.Reset()
			secConf.Reset()
			lastSent, lastRecv, lastTick = sent, recv, now
		}
	}
	stopAt := time.Now()
	bstats, serr := smp.stop()
	cpu1 := selfCPU()
	r.halt(producersDone)
	r.drainLatency(&e2e, &confirm)

	res := Result{Incomplete: incomplete, Expected: expected}
	res.Sent, res.Received = r.totals()
	sendEnd, recvEnd := stopAt, stopAt
	if cfg.Count > 0 {
		sendEnd, recvEnd = start, start
		for _, p := range r.producers {
			if p.finished.After(sendEnd) {
				sendEnd = p.finished
			}
		}
		for _, cs := range r.consumers {
			if t := time.Unix(0, cs.last.Load()); t.After(recvEnd) {
				recvEnd = t
			}
		}
	}
	res.Seconds = stopAt.Sub(start).Seconds()
	res.SendRate = rate(float64(res.Sent), sendEnd.Sub(start))
	res.RecvRate = rate(float64(res.Received), recvEnd.Sub(start))
	res.SendMiBps = res.SendRate * float64(cfg.Size) / (1 << 20)
	res.RecvMiBps = res.RecvRate * float64(cfg.Size) / (1 << 20)
	for _, p := range r.producers {
		res.Confirmed += p.confirmed.Load()
		res.Nacked += p.nacked.Load()
	}
	res.Latency, res.ConfirmLatency = latencyOf(&e2e), latencyOf(&confirm)
	res.setBroker(bstats, cfg.BrokerPID != 0)
	res.ClientCPUSeconds = (cpu1 - cpu0).Seconds()
	res.ClientCPUFraction = res.ClientCPUSeconds / max(res.Seconds, 1e-9)
	return res, serr
}
