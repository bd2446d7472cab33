package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/warrenmq/warren/amqp/cluster/chaos"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = runCmd(ctx, args, os.Stdout, os.Stderr)
	case "bench":
		err = benchCmd(ctx, args, os.Stdout, os.Stderr)
	case "restart-time":
		err = restartCmd(ctx, args, os.Stdout, os.Stderr)
	default:
		err = fmt.Errorf("unknown command %q: want run, bench or restart-time", cmd)
	}
	if errors.Is(err, pflag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "warren-chaos:", err)
		os.Exit(1)
	}
}

// envInt is the integer in the environment variable name, or def.
func envInt(name string, def uint64) (uint64, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: %w", name, v, err)
	}
	return n, nil
}

func envString(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// runOptions are run's flags.
type runOptions struct {
	faults, seed          uint64
	nodes                 int
	queueType             string
	publish, consume      []string
	publishers, consumers int
	kinds                 []string
	minHold, maxHold, gap time.Duration
	drain                 time.Duration
	binary, dir           string
	keep, noDefs          bool
}

func parseRun(args []string, stderr io.Writer) (runOptions, error) {
	var o runOptions
	faults, err := envInt("CHAOS_FAULTS", 100)
	if err != nil {
		return o, err
	}
	seed, err := envInt("CHAOS_SEED", 0)
	if err != nil {
		return o, err
	}
	fs := pflag.NewFlagSet("warren-chaos run", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Uint64Var(&o.faults, "faults", faults, "faults in the random schedule (env CHAOS_FAULTS)")
	fs.Uint64Var(&o.seed, "seed", seed, "the schedule's seed (env CHAOS_SEED); 0: from the clock, printed")
	fs.IntVar(&o.nodes, "nodes", 3, "warren processes")
	fs.StringVar(&o.queueType, "queue-type", envString("CHAOS_QUEUE_TYPE", "classic"), "the message workload's queue: classic (on n1, not replicated) or quorum (env CHAOS_QUEUE_TYPE)")
	fs.StringSliceVar(&o.publish, "publish", nil, "nodes the publishers use (default n1 for classic, every node for quorum)")
	fs.StringSliceVar(&o.consume, "consume", nil, "nodes the consumers use (default as --publish)")
	fs.IntVar(&o.publishers, "publishers", 2, "publishers (each with its own id and sequence)")
	fs.IntVar(&o.consumers, "consumers", 1, "consumers (order is checked with one)")
	fs.StringSliceVar(&o.kinds, "kinds", nil, "fault kinds drawn from (default all: kill,pause,stop,partition,cut,cut-one-way,delay,drop)")
	fs.DurationVar(&o.minHold, "min-hold", 300*time.Millisecond, "shortest fault")
	fs.DurationVar(&o.maxHold, "max-hold", 2*time.Second, "longest fault")
	fs.DurationVar(&o.gap, "gap", 300*time.Millisecond, "healthy time between faults")
	fs.DurationVar(&o.drain, "drain", 60*time.Second, "how long the consumers may take to catch up at the end")
	fs.StringVar(&o.binary, "binary", "", "the warren binary (default: built from ./cmd/warren)")
	fs.StringVar(&o.dir, "dir", "", "where the nodes' data and logs go (default: a temporary directory)")
	fs.BoolVar(&o.keep, "keep", false, "keep --dir's contents (the nodes' logs) after a clean run")
	fs.BoolVar(&o.noDefs, "no-defs", false, "no definitions workload")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.queueType != "classic" && o.queueType != "quorum" {
		return o, fmt.Errorf("--queue-type %q: want classic or quorum", o.queueType)
	}
	if o.nodes < 2 {
		return o, fmt.Errorf("--nodes %d: want at least 2", o.nodes)
	}
	for _, k := range o.kinds {
		if !knownKind(k) {
			return o, fmt.Errorf("--kinds: unknown kind %q", k)
		}
	}
	return o, nil
}

func knownKind(k string) bool {
	for _, c := range chaos.AllKinds() {
		if string(c) == k {
			return true
		}
	}
	return false
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseRun(args, stderr)
	if err != nil {
		return err
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	fmt.Fprintf(stdout, "warren-chaos: seed %d (again: CHAOS_SEED=%d), %d faults, %s queue\n", o.seed, o.seed, o.faults, o.queueType)
	dir, cleanDir := o.dir, false
	if dir == "" {
		if dir, err = os.MkdirTemp("", "warren-chaos-"); err != nil {
			return err
		}
		cleanDir = !o.keep
	}
	bin := o.binary
	if bin == "" {
		fmt.Fprintln(stderr, "building warren ...")
		if bin, err = chaos.BuildWarren(dir); err != nil {
			return err
		}
	}
	c, err := chaos.Start(chaos.Config{Binary: bin, Nodes: o.nodes, Dir: dir, Seed: o.seed})
	if err != nil {
		return err
	}
	defer c.Close()
	names := c.Names()
	target := chaos.DefaultTarget("chaos", o.queueType, names)
	if len(o.publish) > 0 {
		target.Publish, target.Consume = o.publish, o.publish
	}
	if len(o.consume) > 0 {
		target.Consume = o.consume
	}
	for _, n := range append(append([]string(nil), target.Publish...), target.Consume...) {
		if !slices.Contains(names, n) {
			return fmt.Errorf("--publish/--consume: no node %q (the nodes are %v)", n, names)
		}
	}
	var kinds []chaos.Kind
	for _, k := range o.kinds {
		kinds = append(kinds, chaos.Kind(k))
	}
	schedule := chaos.RandomSchedule(chaos.ScheduleConfig{Seed: o.seed, Faults: int(o.faults), Nodes: names, Kinds: kinds,
		MinHold: o.minHold, MaxHold: o.maxHold})
	w := &chaos.Workload{Target: target, Publishers: o.publishers, Consumers: o.consumers}
	s := chaos.Run(ctx, chaos.RunConfig{Cluster: c, Workload: w, Defs: !o.noDefs, Seed: o.seed, Schedule: schedule,
		Gap: o.gap, Drain: o.drain, Order: o.consumers == 1,
		Logf: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }})
	c.Close()
	fmt.Fprint(stdout, s.String())
	for _, fo := range s.Failovers {
		fmt.Fprintf(stdout, "failover timeline, kill -9 of %s at +%.1f s:\n%s", fo.Fault.Node, fo.At.Sub(c.Timeline.Start()).Seconds(), fo.Timeline)
	}
	if err := s.Err(); err != nil {
		fmt.Fprintf(stdout, "the nodes' logs: %s/n*/warren.log\n", dir)
		return err
	}
	if cleanDir {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintf(stdout, "the nodes' logs: %s/n*/warren.log\n", dir)
	}
	return nil
}
