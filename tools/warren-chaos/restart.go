package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/spf13/pflag"

	"github.com/warrenmq/warren/amqp/cluster/chaos"
)

// restartOptions are restart-time's flags.
type restartOptions struct {
	binary       string
	messages     int
	size, window int
	queue        string
	restart      string // a node name, or "all"
	kill         bool
	timeout      time.Duration
	profile      string        // a CPU profile of the restarted node goes here
	profileFor   time.Duration // that long from its start
}

func parseRestart(args []string, stderr io.Writer) (restartOptions, error) {
	var o restartOptions
	fs := pflag.NewFlagSet("warren-chaos restart-time", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.binary, "binary", "", "the warren binary (default: built from ./cmd/warren)")
	fs.IntVar(&o.messages, "messages", 1_000_000, "persistent messages published (confirmed) into the quorum queue")
	fs.IntVar(&o.size, "size", 1024, "body bytes")
	fs.IntVar(&o.window, "window", 1000, "unconfirmed messages the filling publisher may have")
	fs.StringVar(&o.queue, "queue", "restart-q", "the quorum queue (declared on n1)")
	fs.StringVar(&o.restart, "restart", "n2", "the node stopped and started again, or \"all\" (all three stopped, then started together)")
	fs.BoolVar(&o.kill, "kill", false, "kill -9 instead of SIGTERM")
	fs.DurationVar(&o.timeout, "timeout", 120*time.Second, "how long the restarted node(s) may take to serve")
	fs.StringVar(&o.profile, "profile", "", "write a CPU profile of the restarted node (one node) to this file (nodes run with --pprof 127.0.0.1:0)")
	fs.DurationVar(&o.profileFor, "profile-for", 10*time.Second, "how long --profile profiles, from the node listening")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.profile != "" && o.restart == "all" {
		return o, errors.New("--profile profiles one restarted node, not all")
	}
	if o.messages <= 0 || o.size < 0 || o.window <= 0 {
		return o, errors.New("--messages and --window must be positive, --size not negative")
	}
	return o, nil
}

// restartCmd measures goal 5 of issue 20: a 3-node Warren cluster, a
// quorum queue filled with --messages confirmed messages, then one node
// (or all) stopped and started again: the time from the process start to
// the node listening, to a passive declare on it showing every message,
// and (restarting all, or the leader) to the first delivery.
func restartCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseRestart(args, stderr)
	if err != nil {
		return err
	}
	tl := chaos.NewTimeline()
	bo := benchOptions{binary: o.binary, warren: 3}
	if o.profile != "" {
		bo.warrenArgs = []string{"--pprof", "127.0.0.1:0"}
	}
	c, err := startBenchCluster(bo, tl, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	names := c.Names()
	if o.restart != "all" && !slices.Contains(names, o.restart) {
		return fmt.Errorf("--restart %q: want one of %v or all", o.restart, names)
	}
	if err := (&chaos.Workload{Target: chaos.Target{Queue: o.queue, Type: "quorum", Publish: []string{c.AMQPURL("n1")}},
		URL: func(u string) string { return u }}).Declare(ctx, 30*time.Second); err != nil {
		return err
	}
	start := time.Now()
	gap, err := fill(ctx, c.AMQPURL("n1"), o)
	if err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Fprintf(stdout, "restart-time: %d x %d B confirmed into quorum queue %s on n1 in %.1f s (%.0f msg/s); longest wait for a confirm %d ms at %.1f s\n",
		o.messages, o.size, o.queue, took.Seconds(), float64(o.messages)/took.Seconds(), gap.longest.Milliseconds(), gap.at.Sub(start).Seconds())
	for _, n := range names {
		if _, err := waitCount(ctx, c.Cluster, n, o.queue, o.messages, o.timeout); err != nil {
			return fmt.Errorf("before the restart: %w", err)
		}
	}
	for _, n := range names {
		fmt.Fprintf(stdout, "  %s data dir %.1f MB (raft %.1f MB)\n", n, float64(dirSize(c.dataDir(n)))/1e6, float64(dirSize(c.dataDir(n)+"/raft"))/1e6)
	}
	victims := []string{o.restart}
	if o.restart == "all" {
		victims = names
	}
	for _, n := range victims {
		if o.kill {
			c.Kill(n)
		} else if err := c.Stop(n); err != nil {
			return err
		}
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	up := make([]time.Duration, len(victims))
	errs := make([]error, len(victims))
	for i, n := range victims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Restart(n)
			up[i] = time.Since(t0)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	profiled := make(chan error, 1)
	if o.profile != "" {
		go func() { profiled <- cpuProfile(ctx, c.LogPath(victims[0]), o.profile, o.profileFor) }()
	} else {
		profiled <- nil
	}
	defer func() {
		if err := <-profiled; err != nil {
			fmt.Fprintln(stderr, "warren-chaos: profile:", err)
		}
	}()
	how := "stopped (SIGTERM)"
	if o.kill {
		how = "killed -9"
	}
	fmt.Fprintf(stdout, "  %v %s, then started at t0\n", victims, how)
	for i, n := range victims {
		fmt.Fprintf(stdout, "  %s listening (AMQP, API) at t0 + %.2f s\n", n, up[i].Seconds())
	}
	for _, n := range victims {
		d, err := waitCount(ctx, c.Cluster, n, o.queue, o.messages, o.timeout)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  %s: passive declare shows %d messages at t0 + %.2f s\n", n, o.messages, d.Sub(t0).Seconds())
	}
	d, leader, err := firstDelivery(ctx, c, o.queue, o.timeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  first delivery (basic.get on the leader, %s) at t0 + %.2f s\n", leader, d.Sub(t0).Seconds())
	return nil
}

func (c *benchCluster) dataDir(n string) string { return c.dir + "/" + n + "/data" }

// confirmGap is the longest a fill waited for a confirm with messages
// outstanding (a stalled leader shows here), and when it ended.
type confirmGap struct {
	longest time.Duration
	at      time.Time
}

// fill publishes o.messages persistent messages to o.queue at u with
// confirms, o.window outstanding; a nack fails it.
func fill(ctx context.Context, u string, o restartOptions) (gap confirmGap, _ error) {
	conn, err := amqp091.Dial(u)
	if err != nil {
		return gap, err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return gap, err
	}
	if err := ch.Confirm(false); err != nil {
		return gap, err
	}
	confirms := ch.NotifyPublish(make(chan amqp091.Confirmation, o.window))
	closed := ch.NotifyClose(make(chan *amqp091.Error, 1))
	body := make([]byte, o.size)
	acked, sent := 0, 0
	last := time.Now()
	for acked < o.messages {
		for sent < o.messages && sent-acked < o.window {
			if err := ch.PublishWithContext(ctx, "", o.queue, false, false,
				amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: body}); err != nil {
				return gap, err
			}
			sent++
		}
		select {
		case cf, ok := <-confirms:
			if !ok {
				return gap, fmt.Errorf("the channel closed while filling, after %d confirms: %v", acked, <-closed)
			}
			if !cf.Ack {
				return gap, fmt.Errorf("message %d nacked", cf.DeliveryTag)
			}
			acked++
			now := time.Now()
			if d := now.Sub(last); d > gap.longest {
				gap = confirmGap{d, now}
			}
			last = now
		case <-ctx.Done():
			return gap, ctx.Err()
		}
	}
	return gap, nil
}

// waitCount polls a passive declare of queue on node n until it shows
// want messages; it returns when.
func waitCount(ctx context.Context, c *chaos.Cluster, n, queue string, want int, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	last := -1
	for {
		if got, err := passiveCount(c.AMQPURL(n), queue); err == nil {
			if got == want {
				return time.Now(), nil
			}
			last = got
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%s: queue %s shows %d messages after %v, want %d", n, queue, last, timeout, want)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(20 * time.Millisecond): // poll
		}
	}
}

func passiveCount(u, queue string) (int, error) {
	conn, err := amqp091.DialConfig(u, amqp091.Config{Dial: amqp091.DefaultDial(time.Second)})
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return 0, err
	}
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	return q.Messages, err
}

// firstDelivery polls basic.get on the queue's leader (as the API names
// it) until a message comes, which it requeues; it returns when.
func firstDelivery(ctx context.Context, c *benchCluster, queue string, timeout time.Duration) (time.Time, string, error) {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if leader, err := queueLeader(ctx, c.APIURL("n1"), queue); err != nil {
			last = err
		} else if slices.Contains(c.Names(), leader) {
			if ok, err := getOne(c.AMQPURL(leader), queue); ok {
				return time.Now(), leader, nil
			} else if err != nil {
				last = err
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, "", ctx.Err()
		case <-time.After(20 * time.Millisecond): // poll
		}
	}
	return time.Time{}, "", fmt.Errorf("no delivery from queue %s's leader in %v (last: %v)", queue, timeout, last)
}

func getOne(u, queue string) (bool, error) {
	conn, err := amqp091.DialConfig(u, amqp091.Config{Dial: amqp091.DefaultDial(time.Second)})
	if err != nil {
		return false, err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return false, err
	}
	d, ok, err := ch.Get(queue, false)
	if err != nil || !ok {
		return false, err
	}
	return true, d.Nack(false, true)
}

// cpuProfile fetches a CPU profile of d from the node whose log is at
// logPath into file.
func cpuProfile(ctx context.Context, logPath, file string, d time.Duration) error {
	return fetchPprof(ctx, logPath, fmt.Sprintf("profile?seconds=%d", int(d.Seconds())), file)
}

// fetchPprof fetches /debug/pprof/<what> from the node whose log is at
// logPath (the address of its last "pprof listening" line) into file.
func fetchPprof(ctx context.Context, logPath, what, file string) error {
	data, err := os.ReadFile(logPath)
	if err != nil {
		return err
	}
	addr := ""
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, "pprof listening") {
			var rec struct {
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil {
				addr = rec.Addr
			}
		}
	}
	if addr == "" {
		return fmt.Errorf("no pprof address in %s", logPath)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s/debug/pprof/%s", addr, what), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: %s", resp.Status)
	}
	out, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
