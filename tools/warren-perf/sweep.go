package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// A rate sweep (issue 14) runs one flow at a fixed publish rate per step,
// rate after rate, then flat out, and reports per-message costs of the
// broker for each step: CPU, read/write syscalls and context switches
// (proccount.go), with the end-to-end latency and the client's own CPU.
// Each step is a fresh run (declare, publish, delete); the first --warmup
// of a step is left out of every figure. sweep runs each step against
// each broker in turn (A B A B ...), so both see the same machine load.

// sweepShape is the topology of a sweep scenario.
type sweepShape struct {
	Name                         string
	Producers, Queues, Consumers int
}

var sweepShapes = []sweepShape{
	{"rate-sweep", 1, 1, 1},
	{"rate-sweep-10", 10, 10, 10},
}

func findShape(name string) (sweepShape, error) {
	for _, s := range sweepShapes {
		if s.Name == name {
			return s, nil
		}
	}
	return sweepShape{}, fmt.Errorf("unknown sweep scenario %q (have rate-sweep, rate-sweep-10)", name)
}

// defaultSweepRates are the steps; 0 is flat out.
var defaultSweepRates = []float64{100, 1000, 10000, 50000, 100000, 0}

// stepResult is what one step measured on one broker. Per-message figures
// divide by the deliveries received in the window (or the messages sent,
// if none were received); NaN when there is no broker PID.
type stepResult struct {
	Scenario string
	AckEvery int
	Rate     float64 // the target aggregate msg/s; 0 flat out
	Name     string  // the broker's

	Seconds         float64
	Sent, Received  int64
	SendRate        float64
	RecvRate        float64
	Counters        procCounters // the broker's, over the window
	CPUPerMsg       float64      // broker µs
	SyscallsPerMsg  float64      // syscr + syscw
	CtxSwitchPerMsg float64      // voluntary + nonvoluntary, all threads
	Latency         Latency
	ClientCPUCores  float64
	ClientCPUPerMsg float64 // µs
	Err             error
}

// stepConfig is the Config of one step: the shape, 16 B, prefetch 1000,
// manual acks with multiple=true every ackEvery (1 = each message), and
// the aggregate rate split over the producers.
func stepConfig(shape sweepShape, url string, rate float64, ackEvery int, d time.Duration, coalesce bool) (Config, error) {
	c := defaultConfig()
	c.URL, c.Scenario, c.Coalesce = url, shape.Name, coalesce
	c.Producers, c.Queues, c.Consumers = shape.Producers, shape.Queues, shape.Consumers
	c.Size, c.AutoAck, c.Prefetch, c.MultipleAckEvery = 16, false, 1000, ackEvery
	c.Rate = rate / float64(shape.Producers)
	c.Time = d
	return c, c.finish()
}

// snapshot is the counters at one instant of a step.
type snapshot struct {
	at             time.Time
	sent, received int64
	broker         procCounters
	client         time.Duration
}

func (r *run) snapshot(pid int) (snapshot, error) {
	s := snapshot{at: time.Now(), client: selfCPU()}
	s.sent, s.received = r.totals()
	if pid == 0 {
		return s, nil
	}
	var err error
	s.broker, err = readCounters("/proc", pid)
	return s, err
}

// runStep runs one step of warmup + d against the broker of cfg.URL.
func runStep(ctx context.Context, cfg Config, pid int, warmup, d time.Duration) (stepResult, error) {
	r := newRun(cfg)
	res, err := r.step(ctx, pid, warmup, d)
	r.stop()
	return res, errors.Join(err, r.err(), r.cleanup())
}

func (r *run) step(ctx context.Context, pid int, warmup, d time.Duration) (stepResult, error) {
	var res stepResult
	if err := r.declare(); err != nil {
		return res, err
	}
	if err := r.startConsumers(); err != nil {
		return res, err
	}
	if err := r.startProducers(); err != nil {
		return res, err
	}
	start := time.Now()
	// The producers run until halted: the window is d from the first
	// snapshot, which a loaded machine may take late.
	producersDone := r.launch(start.Add(warmup+2*d+time.Minute), 0, start)
	defer r.halt(producersDone)
	wait := func(until time.Time) error {
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.stopCh:
			return errors.New("a worker failed")
		case <-t.C:
			return nil
		}
	}
	var discard, e2e, confirm Histogram
	if err := wait(start.Add(warmup)); err != nil {
		return res, err
	}
	r.drainLatency(&discard, &confirm) // the warm-up's latencies
	s0, err := r.snapshot(pid)
	if err != nil {
		return res, err
	}
	if err := wait(s0.at.Add(d)); err != nil {
		return res, err
	}
	s1, err := r.snapshot(pid)
	if err != nil {
		return res, err
	}
	r.drainLatency(&e2e, &confirm)
	res = measureStep(s0, s1, pid != 0)
	res.Latency = latencyOf(&e2e)
	return res, nil
}

// measureStep turns the snapshots at the start and end of a step's window
// into its figures.
func measureStep(s0, s1 snapshot, broker bool) stepResult {
	dt := s1.at.Sub(s0.at)
	res := stepResult{Seconds: dt.Seconds(), Sent: s1.sent - s0.sent, Received: s1.received - s0.received}
	res.SendRate, res.RecvRate = rate(float64(res.Sent), dt), rate(float64(res.Received), dt)
	msgs := float64(res.Received)
	if msgs == 0 {
		msgs = float64(res.Sent)
	}
	per := func(v float64) float64 {
		if msgs == 0 {
			return math.NaN()
		}
		return v / msgs
	}
	client := s1.client - s0.client
	res.ClientCPUCores = client.Seconds() / max(dt.Seconds(), 1e-9)
	res.ClientCPUPerMsg = per(float64(client.Microseconds()))
	res.CPUPerMsg, res.SyscallsPerMsg, res.CtxSwitchPerMsg = math.NaN(), math.NaN(), math.NaN()
	if broker {
		res.Counters = s1.broker.sub(s0.broker)
		res.CPUPerMsg = per(float64(res.Counters.CPU.Microseconds()))
		res.SyscallsPerMsg = per(float64(res.Counters.SysR + res.Counters.SysW))
		res.CtxSwitchPerMsg = per(float64(res.Counters.CtxSwitch))
	}
	return res
}

// sweep runs every scenario, ack mode and rate against each broker in
// turn and returns the results in that order; a failed step is kept with
// its error and the sweep goes on.
func sweep(ctx context.Context, o sweepOptions, log io.Writer) ([]stepResult, error) {
	if o.Wait > 0 {
		for i, u := range o.URLs {
			if err := waitListening(ctx, u, o.pid(i), o.Wait); err != nil {
				return nil, fmt.Errorf("%s: %w", o.Names[i], err)
			}
		}
	}
	var all []stepResult
	var errs []error
	for _, name := range o.Scenarios {
		shape, _ := findShape(name)
		for _, ack := range o.AckEvery {
			for _, rt := range o.Rates {
				for side, u := range o.URLs {
					if ctx.Err() != nil {
						return all, ctx.Err()
					}
					cfg, err := stepConfig(shape, u, rt, ack, o.Warmup+o.Step, o.Coalesce)
					if err != nil {
						return all, err
					}
					res, err := runStep(ctx, cfg, o.pid(side), o.Warmup, o.Step)
					res.Scenario, res.AckEvery, res.Rate, res.Name, res.Err = name, ack, rt, o.Names[side], err
					if err != nil {
						errs = append(errs, fmt.Errorf("%s ack-every %d rate %s on %s: %w", name, ack, rateName(rt), o.Names[side], err))
					}
					all = append(all, res)
					fmt.Fprintf(log, "%s ack-every %d %-9s %-10s sent %s/s recv %s/s CPU %s µs/msg p99 %s ms client %.2f cores\n",
						name, ack, rateName(rt), o.Names[side], num(res.SendRate), num(res.RecvRate), sig(res.CPUPerMsg),
						msf(res.Latency.P99), res.ClientCPUCores)
					if o.Pause > 0 {
						t := time.NewTimer(o.Pause)
						select {
						case <-t.C:
						case <-ctx.Done():
							t.Stop()
						}
					}
				}
			}
		}
	}
	return all, errors.Join(errs...)
}

// rateName is a step's target rate for a table: "1,000" or "flat out".
func rateName(r float64) string {
	if r == 0 {
		return "flat out"
	}
	return num(r)
}
