package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/spf13/pflag"

	"github.com/warrenmq/warren/amqp/cluster/chaos"
)

// benchOptions are bench's flags.
type benchOptions struct {
	publish, consume      []string
	declare               string
	queue, queueType      string
	size, window          int
	prefetch              int
	dur, drain            time.Duration
	faultAfter, healAfter time.Duration
	faultCmd, healCmd     string
	// A Warren cluster of its own instead of URLs: nodes named in
	// publishNodes and consumeNodes, killNode killed -9 as the fault.
	warren                     int
	binary                     string
	publishNodes, consumeNodes []string
	killNode                   string
	leaderAPI                  string
	warrenArgs                 []string // more flags for every node
	dumpDir                    string
}

func parseBench(args []string, stderr io.Writer) (benchOptions, error) {
	var o benchOptions
	fs := pflag.NewFlagSet("warren-chaos bench", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringSliceVar(&o.publish, "publish-url", []string{"amqp://guest:guest@127.0.0.1:5672/"}, "brokers the publisher uses, in turn after a failure")
	fs.StringSliceVar(&o.consume, "consume-url", nil, "brokers the consumer uses (default as --publish-url)")
	fs.StringVar(&o.declare, "declare-url", "", "the broker the queue is deleted and declared on (default: the first --publish-url; RabbitMQ puts a quorum queue's leader there)")
	fs.StringVar(&o.queue, "queue", "chaos-bench", "the queue (deleted first and at the end)")
	fs.StringVar(&o.queueType, "queue-type", envString("CHAOS_QUEUE_TYPE", "quorum"), "classic or quorum (env CHAOS_QUEUE_TYPE)")
	fs.IntVar(&o.size, "size", 1024, "body bytes (persistent messages)")
	fs.IntVar(&o.window, "window", 32, "unconfirmed messages the publisher may have")
	fs.IntVar(&o.prefetch, "prefetch", 64, "the consumer's prefetch")
	fs.DurationVar(&o.dur, "time", 10*time.Second, "how long the publisher publishes")
	fs.DurationVar(&o.drain, "drain", 30*time.Second, "how long the consumer may take to catch up after")
	fs.DurationVar(&o.faultAfter, "fault-after", 3*time.Second, "when --fault-cmd runs, from the start")
	fs.StringVar(&o.faultCmd, "fault-cmd", "", "a shell command run at --fault-after (e.g. rabbitmqctl -n NODE stop_app)")
	fs.DurationVar(&o.healAfter, "heal-after", 3*time.Second, "when --heal-cmd runs, after --fault-cmd returned")
	fs.StringVar(&o.healCmd, "heal-cmd", "", "a shell command run at --heal-after (e.g. rabbitmqctl -n NODE start_app)")
	fs.IntVar(&o.warren, "warren", 0, "start a Warren cluster of this many nodes (n1, n2, ...) instead of using --publish-url")
	fs.StringVar(&o.binary, "binary", "", "with --warren: the warren binary (default: built from ./cmd/warren)")
	fs.StringSliceVar(&o.publishNodes, "publish-node", []string{"n1"}, "with --warren: the nodes the publisher uses")
	fs.StringSliceVar(&o.consumeNodes, "consume-node", nil, "with --warren: the nodes the consumer uses (default as --publish-node)")
	fs.StringVar(&o.killNode, "kill-node", "", "with --warren: the fault is kill -9 of this node (or \"leader\": the queue's leader, from the API) at --fault-after, restarted at --heal-after")
	fs.StringVar(&o.dumpDir, "dump-dir", "", "with --warren: nodes run with --pprof and --log-level debug, their logs are copied here at the end, and when messages are still missing after the drain, each node's goroutines and the client's too")
	fs.StringVar(&o.leaderAPI, "leader-api", "", "a management API (http://guest:guest@127.0.0.1:15672) polled every 100 ms for the queue's leader: its changes go on the timeline (with --warren: the first --publish-node's)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if len(o.consume) == 0 {
		o.consume = o.publish
	}
	if len(o.consumeNodes) == 0 {
		o.consumeNodes = o.publishNodes
	}
	if o.killNode != "" && o.warren == 0 {
		return o, fmt.Errorf("--kill-node needs --warren")
	}
	if o.declare == "" {
		o.declare = o.publish[0]
	}
	for _, u := range append(append([]string{o.declare}, o.publish...), o.consume...) {
		if err := loopback(u); err != nil {
			return o, err
		}
	}
	if o.queueType != "classic" && o.queueType != "quorum" {
		return o, fmt.Errorf("--queue-type %q: want classic or quorum", o.queueType)
	}
	if o.dumpDir != "" {
		if err := os.MkdirAll(o.dumpDir, 0o755); err != nil {
			return o, err
		}
		o.warrenArgs = append(o.warrenArgs, "--pprof", "127.0.0.1:0", "--log-level", "debug")
	}
	return o, nil
}

// loopback refuses a URL whose host is not on this machine: the bench
// loads brokers here only.
func loopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s: not a loopback address", raw)
}

// benchCmd runs one publisher with confirms and one consumer against a
// broker (a cluster's nodes), optionally with a fault command in the
// middle, and prints msg/s, confirm latencies, the longest gap without a
// confirm and the checker's verdict.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseBench(args, stderr)
	if err != nil {
		return err
	}
	tl := chaos.NewTimeline()
	w := &chaos.Workload{Target: chaos.Target{Queue: o.queue, Type: o.queueType, Publish: o.publish, Consume: o.consume},
		Window: o.window, Size: o.size, Prefetch: o.prefetch, URL: func(u string) string { return u }, Timeline: tl}
	fault := func() (string, error) {
		out, err := exec.Command("sh", "-c", o.faultCmd).CombinedOutput()
		return string(out), err
	}
	heal := func() (string, error) {
		out, err := exec.Command("sh", "-c", o.healCmd).CombinedOutput()
		return string(out), err
	}
	var c0 *benchCluster
	if o.warren > 0 {
		c, err := startBenchCluster(o, tl, stderr)
		if err != nil {
			return err
		}
		defer c.Close()
		c0 = c
		w.Target.Publish, w.Target.Consume, w.URL = o.publishNodes, o.consumeNodes, c.AMQPURL
		o.publish, o.consume = o.publishNodes, o.consumeNodes
		if o.killNode != "" {
			o.faultCmd, o.healCmd = "kill -9 "+o.killNode, "restart "+o.killNode
			var victim string
			fault = func() (string, error) {
				victim = o.killNode
				if victim == "leader" { // the queue's leader (a quorum queue) or home node, as the API says
					var err error
					if victim, err = queueLeader(ctx, c.APIURL(o.publishNodes[0]), o.queue); err != nil {
						return "", err
					}
				}
				if !slices.Contains(c.Names(), victim) {
					return "", fmt.Errorf("the API names node %q, not one of %v", victim, c.Names())
				}
				c.Kill(victim)
				return "killed " + victim, nil
			}
			heal = func() (string, error) { return "", c.Restart(victim) }
		}
	}
	declare := func() string { return o.declare }
	if o.warren > 0 {
		declare = func() string { return w.URL(w.Target.Publish[0]) }
	}
	if err := deleteQueue(declare(), o.queue); err != nil {
		return err
	}
	// Declared through the declare broker alone: its node leads the queue.
	if err := (&chaos.Workload{Target: chaos.Target{Queue: o.queue, Type: o.queueType, Publish: []string{declare()}},
		URL: func(u string) string { return u }}).Declare(ctx, 30*time.Second); err != nil {
		return err
	}
	defer func() { deleteQueue(declare(), o.queue) }()
	leaderAPI := func() string { return o.leaderAPI }
	if o.warren > 0 {
		leaderAPI = func() string { return c0.APIURL(o.publishNodes[0]) }
	}
	pubCtx, stopPub := context.WithTimeout(ctx, o.dur)
	defer stopPub()
	conCtx, stopCon := context.WithCancel(ctx)
	defer stopCon()
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.Run(pubCtx, conCtx) }()
	if o.leaderAPI != "" || o.warren > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); watchLeader(pubCtx, leaderAPI, o.queue, tl) }()
	}
	var faultAt, faultDone time.Time
	faulted := make(chan struct{})
	if o.faultCmd != "" {
		go func() {
			defer close(faulted)
			if !wait(pubCtx, o.faultAfter) {
				return
			}
			faultAt = time.Now()
			tl.Add("fault command: %s", o.faultCmd)
			out, err := fault()
			faultDone = time.Now()
			tl.Add("fault command returned (%v): %.200s", err, out)
			if o.healCmd == "" || !wait(ctx, o.healAfter) {
				return
			}
			tl.Add("heal command: %s", o.healCmd)
			out, err = heal()
			tl.Add("heal command returned (%v): %.200s", err, out)
		}()
	} else {
		close(faulted)
	}
	<-pubCtx.Done()
	elapsed := time.Since(start)
	_, confirmed, consumed := w.History.Counts()
	<-faulted // a heal command must run before the drain
	missing := w.Drain(ctx, o.drain)
	if missing > 0 && o.dumpDir != "" {
		if f, err := os.Create(filepath.Join(o.dumpDir, "client-goroutines.txt")); err == nil {
			pprof.Lookup("goroutine").WriteTo(f, 2)
			f.Close()
		}
	}
	if missing > 0 && o.warren > 0 {
		// Where the missing messages are, as each node sees the queue.
		for _, n := range c0.Names() {
			fmt.Fprintf(stdout, "  %s sees %s\n", n, queueView(ctx, c0.APIURL(n), o.queue))
			if o.dumpDir != "" {
				if err := fetchPprof(ctx, c0.LogPath(n), "goroutine?debug=2", filepath.Join(o.dumpDir, n+"-goroutines.txt")); err != nil {
					fmt.Fprintf(stderr, "warren-chaos: %s's goroutines: %v\n", n, err)
				}
			}
		}
	}
	if o.dumpDir != "" && o.warren > 0 {
		for _, n := range c0.Names() { // the logs always: the run's events by time
			if data, err := os.ReadFile(c0.LogPath(n)); err == nil {
				os.WriteFile(filepath.Join(o.dumpDir, n+".log"), data, 0o644)
			}
		}
	}
	stopCon()
	wg.Wait()
	r := chaos.Check(w.History, chaos.CheckOptions{Order: true, Faults: []time.Time{faultAt, faultDone}})
	lat := w.History.Latencies()
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	fmt.Fprintf(stdout, "bench: %s queue %s, %d B persistent, window %d, prefetch %d, publish %v, consume %v\n",
		o.queueType, o.queue, o.size, o.window, o.prefetch, o.publish, o.consume)
	fmt.Fprintf(stdout, "  %.1f s: confirmed %d (%.0f msg/s), consumed %d (%.0f msg/s)\n",
		elapsed.Seconds(), confirmed, float64(confirmed)/elapsed.Seconds(), consumed, float64(consumed)/elapsed.Seconds())
	fmt.Fprintf(stdout, "  confirm latency ms: p50 %.2f, p99 %.2f, p99.9 %.2f, max %.2f\n", pct(0.5), pct(0.99), pct(0.999), pct(1))
	fmt.Fprintf(stdout, "  longest times without a confirm:")
	for _, g := range w.History.Gaps(3) {
		fmt.Fprintf(stdout, " %.0f ms from +%.3f s;", float64(g.Len.Microseconds())/1000, g.From.Sub(start).Seconds())
	}
	fmt.Fprintln(stdout)
	if !faultAt.IsZero() {
		fmt.Fprintf(stdout, "  fault command at +%.3f s, returned after %.0f ms; the timeline from the start:\n%s",
			faultAt.Sub(start).Seconds(), float64(faultDone.Sub(faultAt).Microseconds())/1000, tl.Between(start, time.Now()))
		if d, ok := w.History.ResumedAfter(faultDone); ok {
			fmt.Fprintf(stdout, "  first confirm of a message published after the fault command returned: +%.0f ms after it returned\n", float64(d.Microseconds())/1000)
		}
	}
	if c0 != nil {
		fmt.Fprint(stdout, "  data dirs after the drain:")
		for _, n := range c0.Names() {
			d := filepath.Join(c0.dir, n, "data")
			fmt.Fprintf(stdout, " %s %.1f MB (raft %.1f MB);", n, float64(dirSize(d))/1e6, float64(dirSize(filepath.Join(d, "raft")))/1e6)
		}
		fmt.Fprintln(stdout)
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(stdout, "  load average: %s", la)
	}
	fmt.Fprintf(stdout, "  checker: lost %d, duplicated %d (unexplained %d), invented %d, out of order %d, unconfirmed %d, still missing at the end %d\n",
		r.Lost, r.Duplicated, r.Unexplained, r.Invented, r.Disordered, r.Unknown+r.Nacked, missing)
	return r.Err()
}

// wait waits d unless ctx ends first; it tells whether d passed.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// deleteQueue deletes queue on the broker at u (nothing when it is not
// there).
func deleteQueue(u, queue string) error {
	conn, err := amqp091.DialConfig(u, amqp091.Config{Dial: amqp091.DefaultDial(5 * time.Second)})
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	_, err = ch.QueueDelete(queue, false, false, false)
	return err
}

// startBenchCluster starts bench's own Warren cluster in a temporary
// directory, which its Close removes.
func startBenchCluster(o benchOptions, tl *chaos.Timeline, stderr io.Writer) (*benchCluster, error) {
	dir, err := os.MkdirTemp("", "warren-chaos-bench-")
	if err != nil {
		return nil, err
	}
	bin := o.binary
	if bin == "" {
		fmt.Fprintln(stderr, "building warren ...")
		if bin, err = chaos.BuildWarren(dir); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	c, err := chaos.Start(chaos.Config{Binary: bin, Nodes: o.warren, Dir: dir, Timeline: tl, Args: o.warrenArgs})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &benchCluster{Cluster: c, dir: dir}, nil
}

// benchCluster is a Cluster whose Close also removes its directory.
type benchCluster struct {
	*chaos.Cluster
	dir string
}

func (c *benchCluster) Close() {
	c.Cluster.Close()
	os.RemoveAll(c.dir)
}

// queueLeader is the node named by GET /api/queues/%2F/NAME: its leader
// (RabbitMQ's field for a quorum queue), else its node.
func queueLeader(ctx context.Context, apiURL, queue string) (string, error) {
	var q struct {
		Leader string `json:"leader"`
		Node   string `json:"node"`
	}
	if err := chaos.GetQueue(ctx, apiURL, queue, &q); err != nil {
		return "", err
	}
	if q.Leader != "" {
		return q.Leader, nil
	}
	if q.Node == "" {
		return "", fmt.Errorf("queue %s: the API names no leader or node", queue)
	}
	return q.Node, nil
}

// watchLeader puts the queue's leader on the timeline, and every change
// of it, polling every 100 ms until ctx ends.
func watchLeader(ctx context.Context, api func() string, queue string, tl *chaos.Timeline) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		u := api()
		if u != "" {
			rctx, cancel := context.WithTimeout(ctx, time.Second)
			l, err := queueLeader(rctx, u, queue)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				l = "(unknown: " + err.Error() + ")"
			}
			if l != last {
				tl.Add("leader: %s", l)
				last = l
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// dirSize is the bytes of the files under dir (0 if it is not there).
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// queueView is a node's view of queue (GET /api/queues/%2F/queue) on one
// line: leader, ready, unacknowledged, consumers.
func queueView(ctx context.Context, apiURL, queue string) string {
	var q struct {
		Leader    string `json:"leader"`
		Ready     int    `json:"messages_ready"`
		Unacked   int    `json:"messages_unacknowledged"`
		Consumers int    `json:"consumers"`
	}
	if err := chaos.GetQueue(ctx, apiURL, queue, &q); err != nil {
		return err.Error()
	}
	return fmt.Sprintf("leader %s, ready %d, unacknowledged %d, consumers %d", q.Leader, q.Ready, q.Unacked, q.Consumers)
}
