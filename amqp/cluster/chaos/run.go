package chaos

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// RunConfig is one chaos run over a started Cluster.
type RunConfig struct {
	Cluster  *Cluster
	Workload *Workload // its URL and Timeline are the cluster's
	Defs     bool      // run a DefsWorkload beside it
	Seed     uint64    // the DefsWorkload's
	Schedule []Fault
	Warmup   time.Duration // healthy time before the first fault (0: 500 ms)
	Gap      time.Duration // healthy time between faults (0: 300 ms)
	Drain    time.Duration // how long the consumers may take to catch up at the end (0: 60 s)
	Converge time.Duration // how long the definitions may take to agree at the end (0: 30 s)
	Order    bool          // check per-publisher order (one consumer)
	Logf     func(format string, args ...any)
}

// Failover is a kill of a node the publishers use, and how long until a
// message published after it was confirmed.
type Failover struct {
	Fault    Fault
	At       time.Time
	Resumed  time.Duration
	OK       bool   // confirms came again
	Timeline string // the events from the kill to the first confirm
}

// Summary is what a run shows.
type Summary struct {
	Seed     uint64
	Nodes    int
	Target   Target
	Faults   map[Kind]int
	Duration time.Duration
	Result
	DefsOK, DefsFailed  int
	Disagreements       int
	DisagreementSamples []string
	Failovers           []Failover
	Errors              []string // faults that could not be injected or healed; crashes
}

// Err is nil when the run kept every guarantee: nothing lost or
// invented, duplicates explained, order kept, definitions agreed, no
// crash.
func (s Summary) Err() error {
	var bad []string
	if err := s.Result.Err(); err != nil {
		bad = append(bad, err.Error())
	}
	if s.Disagreements > 0 {
		bad = append(bad, fmt.Sprintf("definitions: %d disagreements\n  %s", s.Disagreements, strings.Join(s.DisagreementSamples, "\n  ")))
	}
	if len(s.Errors) > 0 {
		bad = append(bad, "errors:\n  "+strings.Join(s.Errors, "\n  "))
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(bad, "\n"))
}

// Run runs the workloads under the schedule, heals everything, lets the
// consumers drain and the definitions converge, and checks.
func Run(ctx context.Context, cfg RunConfig) Summary {
	c, w := cfg.Cluster, cfg.Workload
	if cfg.Warmup == 0 {
		cfg.Warmup = 500 * time.Millisecond
	}
	if cfg.Gap == 0 {
		cfg.Gap = 300 * time.Millisecond
	}
	if cfg.Drain == 0 {
		cfg.Drain = 60 * time.Second
	}
	if cfg.Converge == 0 {
		cfg.Converge = 30 * time.Second
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	w.URL, w.Timeline = c.AMQPURL, c.Timeline
	w.defaults()
	start := time.Now()
	s := Summary{Seed: cfg.Seed, Nodes: len(c.names), Target: w.Target, Faults: map[Kind]int{}}
	if err := w.Declare(ctx, 30*time.Second); err != nil {
		s.Errors = append(s.Errors, err.Error())
		return s
	}
	pubCtx, stopPub := context.WithCancel(ctx)
	conCtx, stopCon := context.WithCancel(ctx)
	defsCtx, stopDefs := context.WithCancel(ctx)
	defer stopPub()
	defer stopCon()
	defer stopDefs()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.Run(pubCtx, conCtx) }()
	defs := &DefsWorkload{Nodes: c.Names(), URL: c.AMQPURL, Seed: cfg.Seed, Timeline: c.Timeline}
	defsDone := make(chan struct{})
	if cfg.Defs {
		go func() { defer close(defsDone); defs.Run(defsCtx) }()
	} else {
		close(defsDone)
	}

	hold := func(d time.Duration) {
		t := time.NewTimer(d) // schedule time: the workload runs meanwhile
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	hold(cfg.Warmup)
	var faultTimes, kills []time.Time
	var killed []Fault
	for i, f := range cfg.Schedule {
		if ctx.Err() != nil {
			break
		}
		at := time.Now()
		logf("fault %d/%d: %s", i+1, len(cfg.Schedule), f)
		if err := c.Run(ctx, f); err != nil {
			s.Errors = append(s.Errors, fmt.Sprintf("fault %d (%s): %v", i+1, f, err))
			if herr := c.HealAll(); herr != nil {
				s.Errors = append(s.Errors, fmt.Sprintf("healing after fault %d: %v", i+1, herr))
			}
		}
		s.Faults[f.Kind]++
		faultTimes = append(faultTimes, at, time.Now())
		if f.Kind == Kill && contains(w.Target.Publish, f.Node) {
			kills, killed = append(kills, at), append(killed, f)
		}
		for _, n := range c.Exited() {
			s.Errors = append(s.Errors, fmt.Sprintf("after fault %d (%s): node %s exited by itself; log %s", i+1, f, n, c.LogPath(strings.Fields(n)[0])))
		}
		hold(cfg.Gap)
	}
	if err := c.HealAll(); err != nil {
		s.Errors = append(s.Errors, "final heal: "+err.Error())
	}
	hold(cfg.Gap) // confirms flowing again after the last heal, for its failover figure
	stopDefs()
	<-defsDone
	stopPub()
	if missing := w.Drain(ctx, cfg.Drain); missing > 0 {
		logf("drain: %d confirmed messages still not consumed after %v", missing, cfg.Drain)
	}
	stopCon()
	wg.Wait()

	s.Result = Check(w.History, CheckOptions{Order: cfg.Order, Faults: faultTimes})
	s.DefsOK, s.DefsFailed = defs.Counts()
	s.Disagreements, s.DisagreementSamples = Converge(ctx, c.Names(), c.APIURL, defs.committed(), cfg.Converge)
	for i, at := range kills {
		fo := Failover{Fault: killed[i], At: at}
		fo.Resumed, fo.OK = w.History.ResumedAfter(at)
		end := at.Add(fo.Resumed)
		if !fo.OK {
			end = time.Now()
		}
		from := at
		if last, ok := w.History.LastConfirmBefore(at); ok {
			from = last
		}
		fo.Timeline = fmt.Sprintf("  (last confirm before the kill: %.1f ms before it)\n", float64(at.Sub(from).Microseconds())/1000) +
			c.Timeline.Between(at, end) +
			fmt.Sprintf("  +%8.1f ms  first confirm of a message published after the kill\n", float64(fo.Resumed.Microseconds())/1000)
		s.Failovers = append(s.Failovers, fo)
	}
	s.Duration = time.Since(start)
	return s
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// String is the checker's summary, for a person.
func (s Summary) String() string {
	var b strings.Builder
	typ := s.Target.Type
	if typ == "" {
		typ = "classic"
	}
	fmt.Fprintf(&b, "chaos summary: seed %d, %d nodes, %s queue %s (publish %v, consume %v), %.1f s\n",
		s.Seed, s.Nodes, typ, s.Target.Queue, s.Target.Publish, s.Target.Consume, s.Duration.Seconds())
	var kinds []string
	total := 0
	for k, n := range s.Faults {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	sort.Strings(kinds)
	fmt.Fprintf(&b, "  faults        %d: %s\n", total, strings.Join(kinds, ", "))
	fmt.Fprintf(&b, "  published     %d (confirmed %d, nacked %d, unknown %d)\n", s.Sent, s.Confirmed, s.Nacked, s.Unknown)
	fmt.Fprintf(&b, "  consumed      %d distinct, %d deliveries\n", s.Consumed, s.Deliveries)
	fmt.Fprintf(&b, "  lost          %d\n", s.Lost)
	fmt.Fprintf(&b, "  duplicated    %d (unexplained %d)\n", s.Duplicated, s.Unexplained)
	fmt.Fprintf(&b, "  invented      %d\n", s.Invented)
	fmt.Fprintf(&b, "  out of order  %d (and %d requeued: first delivered late, marked redelivered)\n", s.Disordered, s.Requeued)
	fmt.Fprintf(&b, "  definitions   %d operations ok, %d failed; disagreements %d\n", s.DefsOK, s.DefsFailed, s.Disagreements)
	for _, fo := range s.Failovers {
		if fo.OK {
			fmt.Fprintf(&b, "  failover      %s: confirms again %.0f ms after the kill (held down %.0f ms by the schedule, then restarted)\n",
				fo.Fault.Node, float64(fo.Resumed.Microseconds())/1000, float64(fo.Fault.Hold.Microseconds())/1000)
		} else {
			fmt.Fprintf(&b, "  failover      %s: no confirm after the kill\n", fo.Fault.Node)
		}
	}
	for _, e := range s.Errors {
		fmt.Fprintf(&b, "  error         %s\n", e)
	}
	return b.String()
}
