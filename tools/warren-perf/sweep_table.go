package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// sweepOptions are the flags of the sweep subcommand.
type sweepOptions struct {
	URLs      []string
	Names     []string
	PIDs      []int
	Scenarios []string
	Rates     []float64 // aggregate msg/s per step; 0 flat out
	AckEvery  []int     // one sweep per value: 1 acks each message, 100 acks multiple every 100
	Step      time.Duration
	Warmup    time.Duration
	Pause     time.Duration
	Wait      time.Duration
	Coalesce  bool
}

// pid is the broker PID of side i, 0 if none was given.
func (o sweepOptions) pid(i int) int {
	if len(o.PIDs) == len(o.URLs) {
		return o.PIDs[i]
	}
	return 0
}

func parseSweepFlags(args []string, errOut io.Writer) (sweepOptions, error) {
	o := sweepOptions{Step: 5 * time.Second, Warmup: time.Second, Pause: 500 * time.Millisecond, Coalesce: true}
	fs := pflag.NewFlagSet("warren-perf sweep", pflag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringArrayVar(&o.URLs, "url", nil, "broker URL; once, or twice to compare A and B (loopback hosts only)")
	fs.StringArrayVar(&o.Names, "name", nil, "a short name for each URL (default host:port)")
	fs.IntSliceVar(&o.PIDs, "pid", nil, "broker PID for each URL, in the same order: CPU, syscalls and context switches from /proc")
	fs.StringSliceVar(&o.Scenarios, "scenario", []string{"rate-sweep"}, "rate-sweep (1 producer, 1 queue, 1 consumer) and/or rate-sweep-10 (10, 10, 10)")
	fs.Float64SliceVar(&o.Rates, "rates", defaultSweepRates, "aggregate msg/s of each step, over all producers; 0 = flat out")
	fs.IntSliceVar(&o.AckEvery, "multiple-ack-every", []int{1}, "manual ack: 1 acks each message; N acks multiple every N; a list runs one sweep per value")
	fs.DurationVar(&o.Step, "step", o.Step, "measured time of each step")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "time at the start of each step left out of the figures")
	fs.DurationVar(&o.Pause, "pause", o.Pause, "pause between steps")
	fs.DurationVar(&o.Wait, "wait", 0, "wait up to this long for every URL to be listened on (by --pid) first")
	fs.BoolVar(&o.Coalesce, "coalesce-writes", o.Coalesce, "coalesce the client's socket writes")
	fs.Usage = func() {
		fmt.Fprintf(errOut, "Usage: warren-perf sweep --url A [--name a] [--pid P] [--url B --name b --pid Q] [flags]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if len(o.URLs) < 1 || len(o.URLs) > 2 {
		errs = append(errs, fmt.Errorf("sweep needs one or two --url, got %d", len(o.URLs)))
	}
	var berrs []error
	o.Names, berrs = checkBrokers(o.URLs, o.PIDs, o.Names)
	errs = append(errs, berrs...)
	for _, s := range o.Scenarios {
		if _, err := findShape(s); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range o.Rates {
		if r < 0 {
			errs = append(errs, errors.New("--rates must not be negative"))
		}
	}
	for _, a := range o.AckEvery {
		if a < 1 || a > 1000 {
			errs = append(errs, errors.New("--multiple-ack-every must be between 1 and the prefetch, 1000"))
		}
	}
	if o.Step <= 0 || o.Warmup < 0 {
		errs = append(errs, errors.New("--step must be positive and --warmup not negative"))
	}
	return o, errors.Join(errs...)
}

func sweepMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseSweepFlags(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "warren-perf sweep:", err)
		return 2
	}
	loadBefore := loadAverage()
	results, err := sweep(ctx, o, stderr)
	if len(results) == 0 && err != nil {
		fmt.Fprintln(stderr, "warren-perf sweep:", err)
		return 1
	}
	fmt.Fprint(stdout, formatSweep(results, o.Names))
	fmt.Fprintf(stdout, "\neach step: %v measured after %v of warm-up; 16 B, prefetch 1000; rates are aggregate over the producers.\n", o.Step, o.Warmup)
	fmt.Fprintf(stdout, "per msg = per delivery received in the window. syscalls = syscr+syscw from /proc/PID/io (read/write-class only:\n"+
		"not recvfrom/sendmsg, epoll_wait, futex); ctx sw = voluntary+nonvoluntary context switches summed over /proc/PID/task/*/status.\n")
	fmt.Fprintf(stdout, "machine load average (1, 5, 15 min) before: %s; after: %s\n", loadBefore, loadAverage())
	if err != nil {
		fmt.Fprintf(stdout, "\nerrors (their rows are marked ERR):\n")
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stdout, "- %s\n", line)
		}
		return 1
	}
	return 0
}

// sweepColumns are the figures of a sweep table, in order.
var sweepColumns = []struct {
	Head  string
	Value func(stepResult) float64
}{
	{"send msg/s", func(r stepResult) float64 { return r.SendRate }},
	{"recv msg/s", func(r stepResult) float64 { return r.RecvRate }},
	{"broker CPU µs/msg", func(r stepResult) float64 { return r.CPUPerMsg }},
	{"syscalls/msg", func(r stepResult) float64 { return r.SyscallsPerMsg }},
	{"ctx sw/msg", func(r stepResult) float64 { return r.CtxSwitchPerMsg }},
	{"p50 ms", func(r stepResult) float64 { return r.Latency.P50 }},
	{"p99 ms", func(r stepResult) float64 { return r.Latency.P99 }},
	{"max ms", func(r stepResult) float64 { return r.Latency.Max }},
	{"client CPU cores", func(r stepResult) float64 { return r.ClientCPUCores }},
	{"client CPU µs/msg", func(r stepResult) float64 { return r.ClientCPUPerMsg }},
}

// formatSweep renders the results as one Markdown table per scenario and
// ack mode: a row per step and broker and, with two brokers, a row of the
// ratios A/B.
func formatSweep(results []stepResult, names []string) string {
	var b strings.Builder
	type group struct {
		scenario string
		ack      int
	}
	var order []group
	byGroup := map[group][]stepResult{}
	for _, r := range results {
		g := group{r.Scenario, r.AckEvery}
		if _, ok := byGroup[g]; !ok {
			order = append(order, g)
		}
		byGroup[g] = append(byGroup[g], r)
	}
	for _, g := range order {
		ack := "each message acked"
		if g.ack > 1 {
			ack = fmt.Sprintf("ack multiple every %d", g.ack)
		}
		fmt.Fprintf(&b, "\n### %s, %s\n\n| rate msg/s | broker |", g.scenario, ack)
		align := "|--:|---|"
		for _, c := range sweepColumns {
			b.WriteString(" " + c.Head + " |")
			align += "--:|"
		}
		b.WriteString("\n" + align + "\n")
		rs := byGroup[g]
		for i := 0; i < len(rs); {
			j := i
			for j < len(rs) && rs[j].Rate == rs[i].Rate {
				j++
			}
			for _, r := range rs[i:j] {
				fmt.Fprintf(&b, "| %s | %s |", rateName(r.Rate), r.Name)
				for _, c := range sweepColumns {
					v := sig(c.Value(r))
					if r.Err != nil {
						v = "ERR"
					}
					b.WriteString(" " + v + " |")
				}
				b.WriteString("\n")
			}
			if len(names) == 2 && j-i == 2 && rs[i].Err == nil && rs[i+1].Err == nil {
				fmt.Fprintf(&b, "| %s | %s/%s |", rateName(rs[i].Rate), names[0], names[1])
				for _, c := range sweepColumns {
					b.WriteString(" " + sig(ratio(c.Value(rs[i]), c.Value(rs[i+1]))) + " |")
				}
				b.WriteString("\n")
			}
			i = j
		}
	}
	return b.String()
}
