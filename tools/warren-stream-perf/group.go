package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/amqp"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/stream"
)

// The super-procs scenario: the members of one single active consumer
// group each in a process of their own (this program with --group-member),
// reading a 6-partition super stream. The driver publishes a backlog,
// starts 1, 2 and 3 members and times how long the group takes to read
// it all (aggregate msg/s); then, with 3 members reading a live publisher,
// it kills (SIGKILL) a member that owns partitions and times the
// rebalance: from the kill to the first delivery of each lost partition
// to its new owner, which resumes from the group's stored offset.
//
// A member reports on stdout, one JSON event a line:
//
//	{"ev":"ready"}                                 subscribed
//	{"ev":"active","p":j,"on":true,"t":ns}         a consumer update for partition j
//	{"ev":"first","p":j,"off":o,"t":ns}            the first delivery after activation
//	{"ev":"progress","n":[6],"last":[6],"t":ns}    every 50 ms: messages and last offset
//	                                               per partition (last -1: none)
//
// and stores its offset on a partition every 1,000 messages. With
// --member-rate, each member handles at most that many messages a second
// (pacer).

// memberEvent is one line of a member's report.
type memberEvent struct {
	Ev   string  `json:"ev"`
	P    int     `json:"p"`
	On   bool    `json:"on"`
	Off  int64   `json:"off"`
	T    int64   `json:"t"`
	N    []int64 `json:"n,omitempty"`
	Last []int64 `json:"last,omitempty"`
}

// runMember is --group-member: one member of group on super stream
// super, until SIGTERM, SIGINT or stdin's end.
func runMember(url, super, group string, rate int) error {
	e, err := env(url)
	if err != nil {
		return err
	}
	defer e.Close()
	var outMu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	emit := func(ev memberEvent) {
		ev.T = time.Now().UnixNano()
		outMu.Lock()
		enc.Encode(ev)
		outMu.Unlock()
	}
	pace := newPacer(rate)
	var n, last [6]atomic.Int64
	var fresh [6]atomic.Bool // activated, no delivery yet
	for j := range last {
		last[j].Store(-1)
	}
	sac := stream.NewSingleActiveConsumer(func(partition string, active bool) stream.OffsetSpecification {
		j := partitionIndex(partition)
		if j >= 0 {
			fresh[j].Store(active)
			emit(memberEvent{Ev: "active", P: j, On: active})
		}
		// Resume from the group's stored offset (the next message after it).
		if off, err := e.QueryOffset(group, partition); err == nil {
			return stream.OffsetSpecification{}.Offset(off + 1)
		}
		return stream.OffsetSpecification{}.First()
	})
	c, err := e.NewSuperStreamConsumer(super, func(ctx stream.ConsumerContext, _ *amqp.Message) {
		j := partitionIndex(ctx.Consumer.GetStreamName())
		if j < 0 {
			return
		}
		off := ctx.Consumer.GetOffset()
		if fresh[j].CompareAndSwap(true, false) {
			emit(memberEvent{Ev: "first", P: j, Off: off})
		}
		last[j].Store(off)
		if n[j].Add(1)%1000 == 0 {
			ctx.Consumer.StoreOffset()
		}
		pace.take()
	}, stream.NewSuperStreamConsumerOptions().SetConsumerName(group).SetSingleActiveConsumer(sac).SetManualCommit())
	if err != nil {
		return err
	}
	emit(memberEvent{Ev: "ready"})
	stop := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stop) }()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			ev := memberEvent{Ev: "progress", N: make([]int64, 6), Last: make([]int64, 6)}
			for j := range 6 {
				ev.N[j], ev.Last[j] = n[j].Load(), last[j].Load()
			}
			emit(ev)
		case <-stop:
			return c.Close()
		case <-sigs:
			return c.Close()
		}
	}
}

// pacer holds a member to a rate: a consumer whose work on each message
// waits on something else (a database write, a call to a service) and
// costs little CPU, the load a consumer group scales out. On a machine of
// 2 cores, 3 members that read as fast as they can share the 2 cores
// (the Go client decodes every message), so only paced members show
// what a third member adds.
type pacer struct {
	rate float64 // messages a second
	mu   struct {
		sync.Mutex
		start time.Time
		n     int64
	}
}

// newPacer is a pacer at rate messages a second; nil (no pacing) for 0.
func newPacer(rate int) *pacer {
	if rate <= 0 {
		return nil
	}
	return &pacer{rate: float64(rate)}
}

// take counts a message and waits until the rate allows it, from the
// first message on (in whole milliseconds: shorter waits are let run
// ahead and made up by the next).
func (p *pacer) take() {
	if p == nil {
		return
	}
	p.mu.Lock()
	if p.mu.n == 0 {
		p.mu.start = time.Now()
	}
	p.mu.n++
	due := p.mu.start.Add(time.Duration(float64(p.mu.n) / p.rate * float64(time.Second)))
	p.mu.Unlock()
	if d := time.Until(due); d >= time.Millisecond {
		time.Sleep(d) // the simulated work's wait
	}
}

// member is a running member process, as the driver sees it.
type member struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan memberEvent
	exited chan struct{}

	mu struct {
		sync.Mutex
		n, last [6]int64
		active  [6]bool
	}
}

// startMember starts this program as a member of group.
func startMember(url, super, group string, rate int) (*member, error) {
	cmd := exec.Command(os.Args[0], "--group-member", "--url", url, "--super", super, "--group", group, "--member-rate", strconv.Itoa(rate))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	m := &member{cmd: cmd, stdin: stdin, events: make(chan memberEvent, 1024), exited: make(chan struct{})}
	for j := range m.mu.last {
		m.mu.last[j] = -1
	}
	go func() {
		defer close(m.exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev memberEvent
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			m.mu.Lock()
			switch ev.Ev {
			case "progress":
				copy(m.mu.n[:], ev.N)
				copy(m.mu.last[:], ev.Last)
			case "active":
				m.mu.active[ev.P] = ev.On
			}
			m.mu.Unlock()
			if ev.Ev != "progress" {
				select {
				case m.events <- ev:
				default:
				}
			}
		}
		cmd.Wait()
	}()
	return m, nil
}

// stop ends the member gracefully (stdin closed) and waits.
func (m *member) stop() {
	m.stdin.Close()
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		m.cmd.Process.Kill()
		<-m.exited
	}
}

// snapshot is the member's last progress report.
func (m *member) snapshot() (n, last [6]int64, active [6]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.n, m.mu.last, m.mu.active
}

// waitEvent waits for m's next event ev.
func (m *member) waitEvent(ev string, timeout time.Duration) (memberEvent, error) {
	deadline := time.After(timeout)
	for {
		select {
		case e := <-m.events:
			if e.Ev == ev {
				return e, nil
			}
		case <-m.exited:
			return memberEvent{}, errors.New("the member exited")
		case <-deadline:
			return memberEvent{}, fmt.Errorf("no %q event within %v", ev, timeout)
		}
	}
}

// loadAvg is /proc/loadavg's 1-minute figure.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// superProcs is the super-procs scenario against t (see above).
func superProcs(e *stream.Environment, t target, name string, o options) ([]result, error) {
	if err := e.DeclareSuperStream(name, stream.NewPartitionsOptions(6)); err != nil {
		return nil, err
	}
	defer e.DeleteSuperStream(name)
	pub, err := measure(t, "super-procs-publish", func() (int, string, error) { return publishSuper(e, name, o, 0, o.messages) })
	out := []result{pub}
	if err != nil {
		return out, err
	}
	// Partition j holds messages j, j+6, ...: the last offset of each.
	var want [6]int64
	for j := range 6 {
		want[j] = int64((o.messages-j+5)/6) - 1
	}
	var keep []*member // the 3 members, kept for the rebalance
	for k := 1; k <= 3; k++ {
		group := fmt.Sprintf("pg%d-%d", k, rand.Uint32())
		var ms []*member
		r, err := measure(t, fmt.Sprintf("super-procs-%d", k), func() (int, string, error) {
			for range k {
				m, err := startMember(t.url, name, group, o.memberRate)
				if err != nil {
					return 0, "", err
				}
				ms = append(ms, m)
				// The next member starts once this one has subscribed to
				// every partition: a partition's active member is the
				// (j mod n)th to join it, so members whose subscriptions
				// interleave can own 3, 2 and 1 partitions instead of 2
				// each (in RabbitMQ too).
				if _, err := m.waitEvent("ready", 30*time.Second); err != nil {
					return 0, "", err
				}
			}
			deadline := time.Now().Add(o.timeout)
			for {
				var reached [6]bool
				for _, m := range ms {
					_, last, _ := m.snapshot()
					for j := range 6 {
						reached[j] = reached[j] || last[j] >= want[j]
					}
				}
				if reached == [6]bool{true, true, true, true, true, true} {
					var cpu time.Duration
					for _, m := range ms {
						cpu += cpuTime(m.cmd.Process.Pid)
					}
					paced := ""
					if o.memberRate > 0 {
						paced = fmt.Sprintf(", each paced to %d msg/s", o.memberRate)
					}
					return o.messages, fmt.Sprintf("%d member process(es), one group%s; members' CPU %.2f s (from their start); load avg %s",
						k, paced, cpu.Seconds(), loadAvg()), nil
				}
				if time.Now().After(deadline) {
					return 0, "", errors.New("the group did not read the backlog in time")
				}
				time.Sleep(10 * time.Millisecond) // polling the members' reports
			}
		})
		out = append(out, r)
		if k == 3 && err == nil {
			keep = ms
		} else {
			for _, m := range ms {
				m.stop()
			}
		}
		if err != nil {
			return out, err
		}
	}
	r, err := rebalance(e, t, name, o, keep)
	for _, m := range keep {
		m.stop()
	}
	return append(out, r), err
}

// rebalance kills the member owning the most partitions of the 3 while a
// publisher runs, and times the hand-over of its partitions.
func rebalance(e *stream.Environment, t target, name string, o options, ms []*member) (result, error) {
	r := result{scenario: "super-procs-rebalance", broker: t.name}
	stopPub := make(chan struct{})
	pubDone := make(chan error, 1)
	go func() { pubDone <- publishLive(e, name, o, stopPub) }()
	defer func() {
		close(stopPub)
		<-pubDone
	}()
	// Wait until every partition has an active owner delivering live
	// messages (after the backlog).
	backlogEnd := int64((o.messages+5)/6) - 1
	deadline := time.Now().Add(30 * time.Second)
	for {
		owners, live := 0, true
		for j := range 6 {
			for _, m := range ms {
				_, last, active := m.snapshot()
				if active[j] {
					owners++
					live = live && last[j] > backlogEnd
				}
			}
		}
		if owners == 6 && live {
			break
		}
		if time.Now().After(deadline) {
			return r, errors.New("the group did not settle with live messages")
		}
		time.Sleep(10 * time.Millisecond) // polling the members' reports
	}
	victim, lost := 0, []int(nil)
	for i, m := range ms {
		_, _, active := m.snapshot()
		var ps []int
		for j := range 6 {
			if active[j] {
				ps = append(ps, j)
			}
		}
		if len(ps) > len(lost) {
			victim, lost = i, ps
		}
	}
	_, lastSeen, _ := ms[victim].snapshot()
	t0 := time.Now()
	ms[victim].cmd.Process.Signal(syscall.SIGKILL)
	<-ms[victim].exited
	// The survivors' first deliveries of the lost partitions.
	firsts := map[int]memberEvent{}
	evs := make(chan memberEvent, 64)
	for i, m := range ms {
		if i == victim {
			continue
		}
		go func() {
			for {
				ev, err := m.waitEvent("first", 10*time.Second)
				if err != nil {
					return
				}
				evs <- ev
			}
		}()
	}
	timeout := time.After(30 * time.Second)
	for len(firsts) < len(lost) {
		select {
		case ev := <-evs:
			for _, j := range lost {
				if ev.P == j && ev.T > t0.UnixNano() {
					firsts[j] = ev
				}
			}
		case <-timeout:
			return r, fmt.Errorf("partitions %v not handed over within 30 s (got %v)", lost, firsts)
		}
	}
	var worst time.Duration
	var notes []string
	for _, j := range lost {
		ev := firsts[j]
		d := time.Duration(ev.T - t0.UnixNano())
		worst = max(worst, d)
		skipped := ""
		if ev.Off > lastSeen[j]+1 {
			skipped = " SKIPPED"
		}
		notes = append(notes, fmt.Sprintf("p%d: %.0f ms, resumed at %d after %d last seen by the killed member%s",
			j, float64(d)/float64(time.Millisecond), ev.Off, lastSeen[j], skipped))
	}
	r.elapsed = worst
	r.note = fmt.Sprintf("SIGKILL of the member owning %v: rebalance %.0f ms (%s); load avg %s",
		lost, float64(worst)/float64(time.Millisecond), strings.Join(notes, "; "), loadAvg())
	return r, nil
}

// publishLive publishes to the super stream, 60 messages every 10 ms,
// until stop.
func publishLive(e *stream.Environment, name string, o options, stop chan struct{}) error {
	p, err := e.NewSuperStreamProducer(name, stream.NewSuperStreamProducerOptions(roundRobin{}))
	if err != nil {
		return err
	}
	defer p.Close()
	body := make([]byte, o.size)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for i := o.messages; ; {
		select {
		case <-stop:
			return nil
		case <-t.C:
			for range 60 {
				m := amqp.NewMessage(body)
				m.Properties = &amqp.MessageProperties{MessageID: strconv.Itoa(i)}
				if err := p.Send(m); err != nil {
					return err
				}
				i++
			}
		}
	}
}
