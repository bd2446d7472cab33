package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// metric is one number compare reports for a scenario.
type metric struct {
	Better int // +1 higher is better, -1 lower is better, 0 neither
	Value  func(Result) float64
}

// nan is a missing value (no broker PID given, say).
var nan = math.NaN()

func brokerOnly(f func(Result) float64) func(Result) float64 {
	return func(r Result) float64 {
		if !r.BrokerPIDGiven {
			return nan
		}
		return f(r)
	}
}

var metrics = map[string]metric{
	"send msg/s":           {+1, func(r Result) float64 { return r.SendRate }},
	"recv msg/s":           {+1, func(r Result) float64 { return r.RecvRate }},
	"send MiB/s":           {+1, func(r Result) float64 { return r.SendMiBps }},
	"recv MiB/s":           {+1, func(r Result) float64 { return r.RecvMiBps }},
	"latency p50 ms":       {-1, func(r Result) float64 { return r.Latency.P50 }},
	"latency p95 ms":       {-1, func(r Result) float64 { return r.Latency.P95 }},
	"latency p99 ms":       {-1, func(r Result) float64 { return r.Latency.P99 }},
	"latency max ms":       {-1, func(r Result) float64 { return r.Latency.Max }},
	"confirm p50 ms":       {-1, func(r Result) float64 { return r.ConfirmLatency.P50 }},
	"confirm p99 ms":       {-1, func(r Result) float64 { return r.ConfirmLatency.P99 }},
	"broker CPU s":         {0, brokerOnly(func(r Result) float64 { return r.BrokerCPUSeconds })},
	"msg per broker CPU-s": {+1, brokerOnly(func(r Result) float64 { return r.MsgPerBrokerCPU })},
	"broker peak RSS MiB":  {-1, brokerOnly(func(r Result) float64 { return float64(r.BrokerPeakRSS) / (1 << 20) })},
	"broker RSS growth MiB": {-1, brokerOnly(func(r Result) float64 {
		return float64(r.BrokerPeakRSS-r.BrokerStartRSS) / (1 << 20)
	})},
	"client CPU cores":           {0, func(r Result) float64 { return r.ClientCPUFraction }},
	"fill msg/s":                 {+1, func(r Result) float64 { return r.FillRate }},
	"drain msg/s":                {+1, func(r Result) float64 { return r.DrainRate }},
	"drain msg per broker CPU-s": {+1, brokerOnly(func(r Result) float64 { return r.DrainMsgPerBrokerCPU })},
	"drain broker CPU s":         {0, brokerOnly(func(r Result) float64 { return r.DrainBrokerCPU })},
	"drain RSS growth MiB": {-1, brokerOnly(func(r Result) float64 {
		return float64(r.DrainPeakRSS-r.DrainStartRSS) / (1 << 20)
	})},
	"queues/s":                 {+1, func(r Result) float64 { return r.QueuesPerSec }},
	"queue deletes/s":          {+1, func(r Result) float64 { return r.DeletesPerSec }},
	"connections/s":            {+1, func(r Result) float64 { return r.ConnsPerSec }},
	"broker RSS per queue KiB": {-1, brokerOnly(func(r Result) float64 { return r.RSSPerQueue / 1024 })},
	"broker RSS per connection KiB": {-1, brokerOnly(func(r Result) float64 {
		return r.RSSPerConn / 1024
	})},
}

// median of the values that are not NaN; NaN if there are none.
func median(vs []float64) float64 {
	s := slices.DeleteFunc(slices.Clone(vs), math.IsNaN)
	if len(s) == 0 {
		return nan
	}
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// spread is half the range of the values relative to their median, the
// "±" of a cell; NaN with fewer than two values.
func spread(vs []float64) float64 {
	s := slices.DeleteFunc(slices.Clone(vs), math.IsNaN)
	med := median(s)
	if len(s) < 2 || med == 0 {
		return nan
	}
	return (slices.Max(s) - slices.Min(s)) / 2 / math.Abs(med)
}

// ratio is a/b, NaN when it means nothing.
func ratio(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return nan
	}
	return a / b
}

// better names the side that wins on a metric, "≈" within 5%, "" when the
// metric has no better side or a value is missing.
func better(m metric, a, b float64, nameA, nameB string) string {
	r := ratio(a, b)
	if m.Better == 0 || math.IsNaN(r) {
		return ""
	}
	if r > 0.95 && r < 1/0.95 {
		return "≈"
	}
	if (r > 1) == (m.Better > 0) {
		return nameA
	}
	return nameB
}

// sig formats v with about three significant digits, thousands separated.
func sig(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "n/a"
	case a >= 1000:
		return num(v)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case a == 0:
		return "0"
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

// row is one line of the comparison: a metric of a scenario and the
// per-round values for each side.
type row struct {
	Scenario, Metric string
	A, B             []float64
}

// formatTable renders rows as a Markdown table: the medians, their spread,
// the ratio A/B and which side is better.
func formatTable(rows []row, nameA, nameB string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| scenario | metric | %s (median ±half-range) | %s (median ±half-range) | ratio %s/%s | better |\n", nameA, nameB, nameA, nameB)
	b.WriteString("|---|---|--:|--:|--:|---|\n")
	cell := func(vs []float64) string {
		s := sig(median(vs))
		if sp := spread(vs); !math.IsNaN(sp) {
			s += fmt.Sprintf(" ±%.0f%%", 100*sp)
		}
		return s
	}
	for _, r := range rows {
		m := metrics[r.Metric]
		a, bv := median(r.A), median(r.B)
		arrow := map[int]string{+1: " ↑", -1: " ↓", 0: ""}[m.Better]
		rs := "n/a"
		if q := ratio(a, bv); !math.IsNaN(q) {
			rs = fmt.Sprintf("%.2f", q)
		}
		fmt.Fprintf(&b, "| %s | %s%s | %s | %s | %s | %s |\n", r.Scenario, r.Metric, arrow, cell(r.A), cell(r.B), rs, better(m, a, bv, nameA, nameB))
	}
	return b.String()
}

// compareOptions are the flags of the compare subcommand.
type compareOptions struct {
	URLs      []string
	Names     []string
	PIDs      []int
	Rounds    int
	Scenarios []string
	Time      time.Duration
	Pause     time.Duration
	Wait      time.Duration
	Coalesce  bool
	// RawConsumer runs every scenario's consumers with the raw client.
	RawConsumer bool
}

func parseCompareFlags(args []string, errOut io.Writer) (compareOptions, error) {
	o := compareOptions{Rounds: 3, Pause: time.Second, Coalesce: true}
	var one, list []string
	fs := pflag.NewFlagSet("warren-perf compare", pflag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringArrayVar(&o.URLs, "url", nil, "broker URL; give it twice, A then B (loopback hosts only)")
	fs.StringArrayVar(&o.Names, "name", nil, "a short name for each URL (default host:port)")
	fs.IntSliceVar(&o.PIDs, "pid", nil, "broker PID for each URL, in the same order")
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "rounds; each runs every scenario against A then B")
	fs.StringArrayVar(&one, "scenario", nil, "scenario to run (repeatable)")
	fs.StringSliceVar(&list, "scenarios", nil, "comma-separated scenarios (default "+strings.Join(defaultCompareScenarios, ",")+")")
	fs.DurationVar(&o.Time, "time", 0, "override the duration of the timed scenarios")
	fs.DurationVar(&o.Pause, "pause", o.Pause, "pause between runs, for the previous run's deletions to settle")
	fs.DurationVar(&o.Wait, "wait", 0, "wait up to this long for every URL to accept TCP connections first")
	fs.BoolVar(&o.Coalesce, "coalesce-writes", o.Coalesce, "coalesce the client's socket writes")
	fs.BoolVar(&o.RawConsumer, "raw-consumer", false, "consumers use the minimal frame-level client, not amqp091-go (see rawconsumer.go)")
	fs.Usage = func() {
		fmt.Fprintf(errOut, "Usage: warren-perf compare --url A --url B [--pid A_PID --pid B_PID] [flags]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.Scenarios = append(one, list...)
	if len(o.Scenarios) == 0 {
		o.Scenarios = defaultCompareScenarios
	}
	var errs []error
	if len(o.URLs) != 2 {
		errs = append(errs, fmt.Errorf("compare needs exactly two --url, got %d", len(o.URLs)))
	}
	var berrs []error
	o.Names, berrs = checkBrokers(o.URLs, o.PIDs, o.Names)
	errs = append(errs, berrs...)
	if o.Rounds < 1 || o.Rounds > 100 {
		errs = append(errs, fmt.Errorf("--rounds must be between 1 and 100"))
	}
	for _, s := range o.Scenarios {
		if _, err := findScenario(s); err != nil {
			errs = append(errs, err)
		}
	}
	return o, errors.Join(errs...)
}

// scenarioConfig is the Config compare runs for one scenario and side.
func scenarioConfig(name, url string, pid int, o compareOptions) (Config, error) {
	c := defaultConfig()
	if err := applyScenario(&c, name); err != nil {
		return c, err
	}
	c.URL, c.BrokerPID, c.Coalesce = url, pid, o.Coalesce
	c.RawConsumer = o.RawConsumer && !c.Exclusive
	if o.Time > 0 && c.Count == 0 && c.Mode == ModeFlow {
		c.Time = o.Time
	}
	return c, c.finish()
}

// compare runs every scenario against A and B in turn, Rounds times
// (A B A B ...), and returns the table rows and the raw results.
func compare(ctx context.Context, o compareOptions, log io.Writer) ([]row, []Result, error) {
	var rows []row
	var all []Result
	var errs []error
	if o.Wait > 0 {
		for i, u := range o.URLs {
			pid := 0
			if len(o.PIDs) == len(o.URLs) {
				pid = o.PIDs[i]
			}
			if err := waitListening(ctx, u, pid, o.Wait); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", o.Names[i], err)
			}
		}
	}
	for _, name := range o.Scenarios {
		s, _ := findScenario(name)
		vals := make([][][]float64, len(s.Metrics)) // [metric][side][round]
		for i := range vals {
			vals[i] = make([][]float64, 2)
		}
		for round := 1; round <= o.Rounds; round++ {
			for side := range 2 {
				if ctx.Err() != nil {
					return rows, all, ctx.Err()
				}
				pid := 0
				if len(o.PIDs) == 2 {
					pid = o.PIDs[side]
				}
				cfg, err := scenarioConfig(name, o.URLs[side], pid, o)
				if err != nil {
					return nil, nil, err
				}
				res, err := Run(ctx, cfg)
				if err != nil {
					err = fmt.Errorf("%s round %d on %s: %w", name, round, o.Names[side], err)
					errs = append(errs, err)
					fmt.Fprintf(log, "  error: %v\n", err)
				}
				all = append(all, res)
				for i, mn := range s.Metrics {
					v := metrics[mn].Value(res)
					if err != nil || res.Incomplete != "" {
						v = nan
					}
					vals[i][side] = append(vals[i][side], v)
				}
				fmt.Fprintf(log, "%s round %d/%d %-10s %s\n", name, round, o.Rounds, o.Names[side], briefLine(s, res))
				if o.Pause > 0 {
					t := time.NewTimer(o.Pause) // let deletions settle
					select {
					case <-t.C:
					case <-ctx.Done():
						t.Stop()
					}
				}
			}
		}
		for i, mn := range s.Metrics {
			rows = append(rows, row{Scenario: name, Metric: mn, A: vals[i][0], B: vals[i][1]})
		}
	}
	return rows, all, errors.Join(errs...)
}

// waitListening waits, for at most d, until the URL's port accepts TCP
// connections; with a pid, until that process is the one listening on it,
// so a broker that failed to start (its port taken by another) is not
// measured in its stead.
func waitListening(ctx context.Context, raw string, pid int, d time.Duration) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(u.Port())
	if u.Port() == "" {
		port, err = 5672, nil
	}
	if err != nil {
		return fmt.Errorf("url %q: %w", raw, err)
	}
	addr := net.JoinHostPort(u.Hostname(), strconv.Itoa(port))
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var dialer net.Dialer
	for {
		if pid != 0 {
			if _, err := readProc(pid); err != nil {
				return fmt.Errorf("broker pid %d is not running (did it fail to listen on %s?): %w", pid, addr, err)
			}
			if ok, err := listensOn(pid, port); err != nil || ok {
				return err
			}
		} else if c, err := dialer.DialContext(ctx, "tcp", addr); err == nil {
			return c.Close()
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s not listening after %v", addr, d)
		case <-t.C:
		}
	}
}

// briefLine is the first three metrics of a run, for the log.
func briefLine(s scenario, res Result) string {
	var parts []string
	for _, mn := range s.Metrics[:min(3, len(s.Metrics))] {
		parts = append(parts, mn+" "+sig(metrics[mn].Value(res)))
	}
	if res.Incomplete != "" {
		parts = append(parts, "INCOMPLETE: "+res.Incomplete)
	}
	return strings.Join(parts, ", ")
}

// checkBrokers checks the --url, --pid and --name flags of compare and
// sweep: loopback URLs, one PID and one name per URL or none. It returns
// the names, host:port of each URL when none were given.
func checkBrokers(urls []string, pids []int, names []string) ([]string, []error) {
	var errs []error
	for _, u := range urls {
		errs = append(errs, checkLoopback(u))
	}
	if len(pids) != 0 && len(pids) != len(urls) {
		errs = append(errs, errors.New("give one --pid per --url or none"))
	}
	if len(names) == 0 {
		for _, u := range urls {
			if pu, err := url.Parse(u); err == nil {
				names = append(names, pu.Host)
			}
		}
	} else if len(names) != len(urls) {
		errs = append(errs, errors.New("give one --name per --url or none"))
	}
	return names, errs
}
