package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// procMemory is a process's memory as the alarm counts it (resident, not
// file-backed) and its whole resident set, in bytes.
func procMemory(pid int) (anon, rss int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		return 0, 0
	}
	f := bytes.Fields(b)
	if len(f) < 3 {
		return 0, 0
	}
	res, _ := strconv.ParseInt(string(f[1]), 10, 64)
	shared, _ := strconv.ParseInt(string(f[2]), 10, 64)
	page := int64(os.Getpagesize())
	return (res - shared) * page, res * page
}

// A publisher floods a queue that has no consumer, with confirms, past a
// memory high watermark (absolute: 64 MiB and 256 MiB). The broker sends
// connection.blocked "low on memory" and stops reading the publisher; a
// consumer then drains the queue, memory falls, connection.unblocked
// arrives and the publisher finishes by itself. Every confirmed message
// reaches the consumer, and memory stays within 10% above the watermark.
// The log holds the timeline: watermark, blocked, unblocked, memory
// samples.
func TestMemoryAlarmFlood(t *testing.T) {
	// The broker is built without the race detector: its shadow memory
	// stays resident once touched, so a -race broker's memory never
	// falls back under the watermark, and the figures would be its.
	bin := filepath.Join(t.TempDir(), "warren")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Baseline: an idle broker's memory, from a first run.
	p0 := startWarrenBin(t, bin, nil, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--prometheus-listen", "off")
	conn0, err := amqp091.Dial("amqp://guest:guest@" + listeningAddr(t, p0) + "/")
	if err != nil {
		t.Fatal(err)
	}
	conn0.Close()
	base, _ := procMemory(p0.cmd.Process.Pid)
	p0.cmd.Process.Signal(syscall.SIGTERM)
	p0.exitCode()
	for _, mib := range []int64{64, 256} {
		t.Run(fmt.Sprintf("%dMiB", mib), func(t *testing.T) { memoryFlood(t, bin, base, mib<<20) })
	}
}

func memoryFlood(t *testing.T, bin string, base, watermark int64) {
	const size = 8 << 10 // message body
	// One and a half times the watermark in bodies: well past it.
	total := int(3 * watermark / 2 / size)
	// --memory-budget -1: transient messages stay in memory (no paging
	// to disk), so that the flood reaches the watermark.
	p := startWarrenBin(t, bin, nil, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--prometheus-listen", "off",
		"--memory-budget", "-1", "--memory-high-watermark", strconv.FormatInt(watermark, 10), "--log-format", "json")
	addr := listeningAddr(t, p)
	pid := p.cmd.Process.Pid
	start := time.Now()
	var tl struct {
		sync.Mutex
		lines   []string
		maxAnon int64
		maxRSS  int64
	}
	mark := func(format string, args ...any) {
		tl.Lock()
		tl.lines = append(tl.lines, fmt.Sprintf("%7.3fs  ", time.Since(start).Seconds())+fmt.Sprintf(format, args...))
		if testing.Verbose() {
			fmt.Fprintln(os.Stderr, tl.lines[len(tl.lines)-1]) // as it happens
		}
		tl.Unlock()
	}
	defer func() {
		tl.Lock()
		t.Logf("timeline (memory = resident non-file pages, the alarm's measure; watermark %d MiB, idle broker %d MiB):\n%s",
			watermark>>20, base>>20, strings.Join(tl.lines, "\n"))
		t.Logf("peak memory %d MiB (%.1f%% of the watermark), peak RSS %d MiB", tl.maxAnon>>20,
			100*float64(tl.maxAnon)/float64(watermark), tl.maxRSS>>20)
		tl.Unlock()
	}()
	mark("watermark %d MiB", watermark>>20)
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		n := 0
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
			anon, rss := procMemory(pid)
			tl.Lock()
			tl.maxAnon, tl.maxRSS = max(tl.maxAnon, anon), max(tl.maxRSS, rss)
			tl.Unlock()
			if n++; n%5 == 0 {
				mark("memory %4d MiB  rss %4d MiB", anon>>20, rss>>20)
			}
		}
	}()
	defer func() { close(stopSampling); <-sampled }()

	pubConn, err := amqp091.Dial("amqp://guest:guest@" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer pubConn.Close()
	// Before the clients close (deferred calls run last first): a client
	// whose writes are held would wait on its socket.
	defer func() {
		if t.Failed() {
			out := p.output()
			fmt.Fprintf(os.Stderr, "broker output (tail):\n%s\n", out[max(0, len(out)-6000):])
			p.cmd.Process.Signal(syscall.SIGKILL)
		}
	}()
	blocked := pubConn.NotifyBlocked(make(chan amqp091.Blocking, 16))
	pub, err := pubConn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.QueueDeclare("flood", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := pub.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := pub.NotifyPublish(make(chan amqp091.Confirmation, total))
	var acked, nacked atomic.Int64
	confirmed := make(chan struct{})
	go func() {
		defer close(confirmed)
		for c := range confirms {
			if c.Ack {
				acked.Add(1)
			} else {
				nacked.Add(1)
			}
			if acked.Load()+nacked.Load() == int64(total) {
				return
			}
		}
	}()
	body := bytes.Repeat([]byte("w"), size)
	pubDone := make(chan error, 1)
	go func() {
		for i := range total {
			if err := pub.PublishWithContext(context.Background(), "", "flood", false, false,
				amqp091.Publishing{Body: body, MessageId: strconv.Itoa(i)}); err != nil {
				pubDone <- err
				return
			}
		}
		pubDone <- nil
	}()

	select {
	case b := <-blocked:
		anon, _ := procMemory(pid)
		mark("connection.blocked active=%v reason=%q (memory %d MiB; %d confirmed so far)", b.Active, b.Reason, anon>>20, acked.Load())
		if !b.Active || b.Reason != "low on memory" {
			t.Fatalf("got %+v, want connection.blocked \"low on memory\"", b)
		}
	case err := <-pubDone:
		t.Fatalf("the publisher finished (%v) without being blocked; watermark %d MiB", err, watermark>>20)
	case <-time.After(time.Minute):
		anon, _ := procMemory(pid)
		t.Fatalf("no connection.blocked within a minute; memory %d MiB, %d confirmed", anon>>20, acked.Load())
	}

	// A consumer on another connection drains everything.
	conConn, err := amqp091.Dial("amqp://guest:guest@" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer conConn.Close()
	con, err := conConn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := con.Qos(500, 0, false); err != nil {
		t.Fatal(err)
	}
	deliveries, err := con.Consume("flood", "", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	mark("consumer started")
	seen := make([]bool, total)
	received, unblockedAt := 0, time.Duration(0)
	timeout := time.After(5 * time.Minute)
	for received < total {
		select {
		case d := <-deliveries:
			i, err := strconv.Atoi(d.MessageId)
			if err != nil || i < 0 || i >= total || seen[i] {
				t.Fatalf("delivery with message id %q (duplicate or unknown)", d.MessageId)
			}
			seen[i] = true
			received++
			if received%100 == 0 {
				d.Ack(true)
			}
		case b := <-blocked:
			anon, _ := procMemory(pid)
			mark("connection.blocked active=%v reason=%q (memory %d MiB, %d consumed)", b.Active, b.Reason, anon>>20, received)
			if !b.Active && unblockedAt == 0 {
				unblockedAt = time.Since(start)
			}
		case <-timeout:
			t.Fatalf("consumed %d of %d in 5 minutes; %d confirmed", received, total, acked.Load())
		}
	}
	mark("consumed all %d", received)
	if err := <-pubDone; err != nil {
		t.Fatalf("publisher: %v", err)
	}
	select {
	case <-confirmed:
	case <-time.After(time.Minute):
		t.Fatalf("only %d acks and %d nacks of %d within a minute", acked.Load(), nacked.Load(), total)
	}
	mark("confirmed: %d acks, %d nacks", acked.Load(), nacked.Load())
	if unblockedAt == 0 {
		t.Fatal("no connection.unblocked while the consumer drained")
	}
	if nacked.Load() != 0 || acked.Load() != int64(total) {
		t.Fatalf("%d acks, %d nacks; want %d acks", acked.Load(), nacked.Load(), total)
	}
	tl.Lock()
	peak := tl.maxAnon
	tl.Unlock()
	// The goal: memory stays within 10% above the watermark.
	if float64(peak) > 1.10*float64(watermark) {
		t.Errorf("peak memory %d MiB is more than 10%% above the watermark %d MiB", peak>>20, watermark>>20)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.exitCode(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
