package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// target is one broker under test.
type target struct {
	url  string
	name string
	pid  int
}

// options are the run's settings.
type options struct {
	messages int
	replay   int
	replays  int
	size     int
	batch    int
	inflight int
	timeout  time.Duration
	// memberRate holds each super-procs member to this many messages a
	// second (0: as fast as it reads); group.go's pacer.
	memberRate int
}

// result is one scenario's figures against one broker.
type result struct {
	scenario, broker string
	messages         int
	elapsed          time.Duration
	brokerCPU        time.Duration
	clientCPU        time.Duration
	rssBefore        int64
	rssMax           int64
	rssAfter         int64
	note             string
}

func (r result) rate() float64 { return float64(r.messages) / r.elapsed.Seconds() }

func (r result) perCPU() string {
	if r.brokerCPU <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", float64(r.messages)/r.brokerCPU.Seconds())
}

func main() {
	var urls, names []string
	var pids []int
	var scenarios []string
	var o options
	fs := pflag.NewFlagSet("warren-stream-perf", pflag.ExitOnError)
	fs.StringArrayVar(&urls, "url", nil, "stream URL of a broker (repeat for each)")
	fs.StringArrayVar(&names, "name", nil, "its name in the table (repeat, in --url order)")
	fs.IntSliceVar(&pids, "pid", nil, "its PID, for CPU and RSS (repeat, in --url order; 0: none)")
	fs.StringSliceVar(&scenarios, "scenario", []string{"publish", "replay", "e2e", "super"}, "scenarios: publish, replay, e2e, super, super-procs")
	fs.IntVar(&o.messages, "messages", 1_000_000, "messages per publish, e2e and super run")
	fs.IntVar(&o.replay, "replay", 0, "messages to replay from first (0: what publish wrote)")
	fs.IntVar(&o.replays, "replays", 1, "times the replay scenario reads the stream from first, one consumer after another, measured as one (more broker CPU to measure: /proc counts 10 ms ticks)")
	fs.IntVar(&o.size, "size", 16, "message body size in bytes")
	fs.IntVar(&o.batch, "batch", 1000, "messages per publish batch")
	fs.IntVar(&o.inflight, "inflight", 50_000, "unconfirmed messages at most")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up a scenario after")
	var wait time.Duration
	fs.DurationVar(&wait, "wait", 0, "first wait up to this long until each --url's port takes connections (a broker just started)")
	fs.IntVar(&o.memberRate, "member-rate", 0, "super-procs: each member handles at most this many messages a second, as a consumer whose work waits on something else (0: as fast as it can)")
	var groupMember bool
	var super, group string
	fs.BoolVar(&groupMember, "group-member", false, "run as one member of --group on --super (the super-procs scenario starts these)")
	fs.StringVar(&super, "super", "", "with --group-member: the super stream")
	fs.StringVar(&group, "group", "", "with --group-member: the consumer group's name")
	fs.Parse(os.Args[1:])
	if groupMember {
		if len(urls) != 1 || super == "" || group == "" {
			fmt.Fprintln(os.Stderr, "warren-stream-perf: --group-member needs one --url, --super and --group")
			os.Exit(2)
		}
		if err := runMember(urls[0], super, group, o.memberRate); err != nil { // group.go
			fmt.Fprintln(os.Stderr, "warren-stream-perf member:", err)
			os.Exit(1)
		}
		return
	}
	if len(urls) == 0 {
		fmt.Fprintln(os.Stderr, "warren-stream-perf: at least one --url")
		os.Exit(2)
	}
	var ts []target
	for i, u := range urls {
		t := target{url: u, name: fmt.Sprintf("broker%d", i+1)}
		if i < len(names) {
			t.name = names[i]
		}
		if i < len(pids) {
			t.pid = pids[i]
		}
		ts = append(ts, t)
	}
	for _, t := range ts {
		if err := waitListening(t.url, wait); err != nil {
			fmt.Fprintln(os.Stderr, "warren-stream-perf:", err)
			os.Exit(1)
		}
	}
	var results []result
	for _, sc := range scenarios {
		for _, t := range ts {
			rs, err := run(sc, t, o)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s on %s: %v\n", sc, t.name, err)
				continue
			}
			for _, r := range rs {
				fmt.Fprintf(os.Stderr, "%-10s %-9s %10d msg %8.2fs %10.0f msg/s\n", r.scenario, r.broker, r.messages, r.elapsed.Seconds(), r.rate())
			}
			results = append(results, rs...)
		}
	}
	printTable(results)
}

func printTable(rs []result) {
	fmt.Println("| scenario | broker | messages | msg/s | broker CPU s | msg per broker CPU-s | client CPU s | broker RSS MiB before / max / after | note |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---|---|")
	mib := func(b int64) string { return fmt.Sprintf("%.0f", float64(b)/(1<<20)) }
	for _, r := range rs {
		fmt.Printf("| %s | %s | %d | %.0f | %.2f | %s | %.2f | %s / %s / %s | %s |\n", r.scenario, r.broker, r.messages, r.rate(),
			r.brokerCPU.Seconds(), r.perCPU(), r.clientCPU.Seconds(), mib(r.rssBefore), mib(r.rssMax), mib(r.rssAfter), strings.TrimSpace(r.note))
	}
}

// waitListening waits up to d until u's host and port take a TCP
// connection (at once for d 0).
func waitListening(u string, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	pu, err := url.Parse(u)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", pu.Host, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not listening after %v: %w", pu.Host, d, err)
		}
		time.Sleep(50 * time.Millisecond) // polling a port
	}
}
