package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// crashWait bounds every wait of the crash test: a broker start under
// -race, a drain, the end of the clients after a kill.
const crashWait = 30 * time.Second

// brokerProc is a Warren broker in a child process (this test binary
// running run(), see TestMain), listening on a port it chose itself: its
// address comes from the "Warren listening" line of its JSON log.
type brokerProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	exited chan struct{} // closed once the process is reaped

	mu struct {
		sync.Mutex
		tail      []string       // the last log lines, for failure reports
		recovered map[string]any // the "recovered durable state" line
		storage   map[string]any // the store's "recovered" line
		stopped   bool           // the "stopped" line
		stream    string         // the stream protocol's address
	}
}

func startBroker(t *testing.T, dir string, extra ...string) *brokerProc {
	t.Helper()
	args, err := json.Marshal(append([]string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--log-format", "json", "--log-level", "info"}, extra...))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), brokerArgsEnv+"="+string(args))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &brokerProc{t: t, cmd: cmd, exited: make(chan struct{})}
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.kill()
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			p.logLine(sc.Text(), addr)
		}
		cmd.Wait() // only once the pipe is drained
		close(p.exited)
	}()
	select {
	case a := <-addr:
		p.url = "amqp://guest:guest@" + a + "/"
	case <-p.exited:
		t.Fatalf("the broker exited at start-up (%v):\n%s", cmd.ProcessState, p.tail())
	case <-time.After(crashWait):
		p.kill()
		t.Fatalf("the broker did not listen within %v:\n%s", crashWait, p.tail())
	}
	return p
}

func (p *brokerProc) logLine(line string, addr chan<- string) {
	var e map[string]any
	json.Unmarshal([]byte(line), &e) // a line that is not JSON (a panic) is kept as it is
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.tail = append(p.mu.tail, line)
	if len(p.mu.tail) > 40 {
		p.mu.tail = p.mu.tail[1:]
	}
	switch e["msg"] {
	case "Warren listening":
		if a, ok := e["addr"].(string); ok {
			addr <- a
		}
	case "recovered durable state":
		p.mu.recovered = e
	case "recovered":
		if e["logger"] == "storage" {
			p.mu.storage = e
		}
	case "stopped":
		p.mu.stopped = true
	case "stream protocol listening":
		p.mu.stream, _ = e["addr"].(string)
	}
}

func (p *brokerProc) tail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.mu.tail, "\n")
}

// recovery returns a field of the "recovered durable state" line, or of
// the store's "recovered" line with storage set.
func (p *brokerProc) recovery(field string, storage bool) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.mu.recovered
	if storage {
		m = p.mu.storage
	}
	v, _ := m[field].(float64)
	return v
}

// kill sends SIGKILL and reaps the process.
func (p *brokerProc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// term sends SIGTERM and requires a clean exit.
func (p *brokerProc) term() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(crashWait):
		p.kill()
		p.t.Fatalf("the broker did not stop within %v after SIGTERM:\n%s", crashWait, p.tail())
	}
	p.mu.Lock()
	stopped := p.mu.stopped
	p.mu.Unlock()
	if code := p.cmd.ProcessState.ExitCode(); code != 0 || !stopped {
		p.t.Fatalf("after SIGTERM the broker exited with %d (stopped line: %v):\n%s", code, stopped, p.tail())
	}
}

func (p *brokerProc) dial() *amqp091.Connection {
	p.t.Helper()
	c, err := amqp091.DialConfig(p.url, amqp091.Config{Dial: amqp091.DefaultDial(crashWait)})
	if err != nil {
		p.t.Fatalf("dial the broker: %v\n%s", err, p.tail())
	}
	return c
}

// Each published message's body is its sequence number followed by
// bytes derived from it, so a recovered body can be checked whole.
func crashBody(seq uint64) []byte {
	b := make([]byte, 8+int(seq*7919%2048))
	binary.BigEndian.PutUint64(b, seq)
	for i := 8; i < len(b); i++ {
		b[i] = byte(seq) + byte(i)
	}
	return b
}

func bodySeq(b []byte) (uint64, bool) {
	if len(b) < 8 {
		return 0, false
	}
	seq := binary.BigEndian.Uint64(b)
	return seq, bytes.Equal(b, crashBody(seq))
}

// What the clients know of a message in one queue.
type msgState uint8

const (
	stSent        msgState = iota + 1 // published, not confirmed: may be lost
	stNacked                          // nacked: may be lost
	stConfirmed                       // confirmed, or recovered after a restart: must come back
	stAcked                           // acked: may come back (an ack has no reply)
	stAckedRound                      // acked, then a round trip on the channel returned: may still come back
	stAckedSynced                     // acked, then a durable declare on the channel returned: must not come back
)

// ledger is the test's model of one durable queue.
type ledger struct {
	queue string
	mu    sync.Mutex
	m     map[uint64]msgState
}

func newLedger(queue string) *ledger { return &ledger{queue: queue, m: map[uint64]msgState{}} }

func (l *ledger) sent(seq uint64) {
	l.mu.Lock()
	l.m[seq] = stSent
	l.mu.Unlock()
}

// confirm records the broker's answer; a message the consumer already
// acked stays acked.
func (l *ledger) confirm(seq uint64, ack bool) {
	l.mu.Lock()
	if l.m[seq] == stSent {
		l.m[seq] = stNacked
		if ack {
			l.m[seq] = stConfirmed
		}
	}
	l.mu.Unlock()
}

func (l *ledger) acked(seqs []uint64) {
	l.mu.Lock()
	for _, s := range seqs {
		l.m[s] = stAcked
	}
	l.mu.Unlock()
}

// fenced records that a round trip (synced: one that waits for the
// store) returned after the acks of seqs were sent on the same channel.
func (l *ledger) fenced(seqs []uint64, synced bool) {
	l.mu.Lock()
	for _, s := range seqs {
		if l.m[s] == stAcked || l.m[s] == stAckedRound {
			l.m[s] = stAckedRound
			if synced {
				l.m[s] = stAckedSynced
			}
		}
	}
	l.mu.Unlock()
}

type verdict struct {
	recovered                       int // messages in the queue after the restart
	duplicates, lost, resurrected   int // must be 0
	disorder, unknown, corrupt      int // must be 0
	notRedelivered                  int // must be 0
	ackedBack, roundBack            int // acks without a synced fence that came back (allowed)
	unconfirmedKept, unconfirmedGon int // unconfirmed publishes kept / lost (allowed)
}

func (v verdict) bad() int {
	return v.duplicates + v.lost + v.resurrected + v.disorder + v.unknown + v.corrupt + v.notRedelivered
}

func (v *verdict) add(o verdict) {
	v.recovered += o.recovered
	v.duplicates += o.duplicates
	v.lost += o.lost
	v.resurrected += o.resurrected
	v.disorder += o.disorder
	v.unknown += o.unknown
	v.corrupt += o.corrupt
	v.notRedelivered += o.notRedelivered
	v.ackedBack += o.ackedBack
	v.roundBack += o.roundBack
	v.unconfirmedKept += o.unconfirmedKept
	v.unconfirmedGon += o.unconfirmedGon
}

// verify reads the whole queue right after a restart (consuming without
// acks, then closing the channel, which requeues everything), checks it
// against the ledger, and makes the ledger what the queue now holds.
func (l *ledger) verify(t *testing.T, conn *amqp091.Connection) verdict {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclarePassive(l.queue, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("queue %s after the restart: %v", l.queue, err)
	}
	ds, err := ch.Consume(l.queue, "verify", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var v verdict
	seen := map[uint64]bool{}
	var prev uint64
	timeout := time.After(crashWait)
	for range q.Messages {
		var d amqp091.Delivery
		select {
		case d = <-ds:
		case <-timeout:
			t.Fatalf("queue %s: %d of %d messages delivered within %v", l.queue, v.recovered, q.Messages, crashWait)
		}
		v.recovered++
		seq, ok := bodySeq(d.Body)
		if !ok {
			v.corrupt++
			continue
		}
		if seen[seq] {
			v.duplicates++
		}
		seen[seq] = true
		if seq <= prev {
			v.disorder++
		}
		prev = seq
		if !d.Redelivered {
			v.notRedelivered++
		}
	}
	if err := ch.Close(); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for seq := range seen {
		switch l.m[seq] {
		case 0:
			v.unknown++ // never published, or gone after an earlier restart
		case stAckedSynced:
			v.resurrected++
		case stAcked:
			v.ackedBack++
		case stAckedRound:
			v.roundBack++
		case stSent, stNacked:
			v.unconfirmedKept++
		}
		l.m[seq] = stConfirmed // on disk now
	}
	for seq, s := range l.m {
		if seen[seq] {
			continue
		}
		switch s {
		case stConfirmed:
			v.lost++
		case stSent, stNacked:
			v.unconfirmedGon++
		}
		delete(l.m, seq)
	}
	return v
}

// publisher streams persistent messages to the fanout exchange in
// confirm mode with up to window outstanding, until its connection dies
// or it has published limit (0: no limit). It signals trigger once
// confirmed reaches target (0: never).
func publisher(conn *amqp091.Connection, seqs *atomic.Uint64, ledgers []*ledger, window int, published, confirmed *atomic.Int64, limit, target int64, trigger chan<- struct{}) {
	ch, err := conn.Channel()
	if err != nil {
		return
	}
	if ch.Confirm(false) != nil {
		return
	}
	confirms := ch.NotifyPublish(make(chan amqp091.Confirmation, window))
	var bySeq []uint64 // the sequence number of delivery tag i+1
	record := func(c amqp091.Confirmation) {
		seq := bySeq[c.DeliveryTag-1]
		for _, l := range ledgers {
			l.confirm(seq, c.Ack)
		}
		if c.Ack && confirmed.Add(1) == target {
			trigger <- struct{}{}
		}
	}
	outstanding := 0
	for {
		if outstanding < window && (limit == 0 || published.Load() < limit) {
			seq := seqs.Add(1)
			for _, l := range ledgers {
				l.sent(seq)
			}
			bySeq = append(bySeq, seq)
			published.Add(1)
			err := ch.PublishWithContext(context.Background(), "crash.fan", "", false, false,
				amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: crashBody(seq)})
			if err != nil {
				conn.Close() // closes confirms, if the error did not already
				break
			}
			outstanding++
			continue
		}
		if outstanding == 0 {
			return // the limit is reached and everything confirmed
		}
		c, ok := <-confirms
		if !ok {
			return
		}
		record(c)
		outstanding--
	}
	for c := range confirms { // those that arrived before the end
		record(c)
	}
}

// consumer acks what it receives from l's queue, in batches of 10 (one by
// one, or with one multiple ack, alternately), signals trigger once acks
// reaches target (0: never), and every 50 acks makes a
// round trip on its channel: alternately a passive queue.declare, which
// proves only that the broker handled the acks, and the declaration of a
// new durable exchange, whose declare-ok waits for the store's sync of
// everything the channel submitted before, the acks included.
func consumer(conn *amqp091.Connection, l *ledger, acks *atomic.Int64, target int64, trigger chan<- struct{}) {
	ch, err := conn.Channel()
	if err != nil {
		return
	}
	if ch.Qos(200, 0, false) != nil {
		return
	}
	ds, err := ch.Consume(l.queue, "crash-consumer", false, false, false, false, nil)
	if err != nil {
		return
	}
	var batch []amqp091.Delivery
	var unfenced []uint64
	batches, fences := 0, 0
	for d := range ds {
		batch = append(batch, d)
		if len(batch) < 10 {
			continue
		}
		seqs := make([]uint64, len(batch))
		for i, d := range batch {
			seqs[i], _ = bodySeq(d.Body)
		}
		l.acked(seqs) // before sending: once sent, an ack may take effect
		batches++
		if batches%2 == 0 {
			err = batch[len(batch)-1].Ack(true)
		} else {
			for _, d := range batch {
				if err = d.Ack(false); err != nil {
					break
				}
			}
		}
		if err != nil {
			return
		}
		batch = batch[:0]
		unfenced = append(unfenced, seqs...)
		if n := acks.Add(int64(len(seqs))); target > 0 && n >= target && n-int64(len(seqs)) < target {
			trigger <- struct{}{}
		}
		if len(unfenced) < 50 {
			continue
		}
		fences++
		synced := fences%2 == 0
		if synced {
			name := fmt.Sprintf("crash.fence.%d", fences)
			if ch.ExchangeDeclare(name, "fanout", true, false, false, false, nil) != nil {
				return
			}
			l.fenced(unfenced, true)
			if ch.ExchangeDelete(name, false, false) != nil {
				return
			}
		} else {
			if _, err := ch.QueueDeclarePassive(l.queue, true, false, false, false, nil); err != nil {
				return
			}
			l.fenced(unfenced, false)
		}
		unfenced = unfenced[:0]
	}
}

// delState is what the deleter knows of one of its queues.
type delState struct {
	declared, deleteSent, deleted bool
	published, confirmed          int
}

type delLedger struct {
	mu    sync.Mutex
	names []string
	m     map[string]*delState
}

func (d *delLedger) update(name string, fn func(*delState)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.m[name]
	if s == nil {
		s = &delState{}
		d.m[name] = s
		d.names = append(d.names, name)
	}
	fn(s)
}

// deleter declares a durable queue, publishes 3 persistent messages to it
// with confirms, deletes it, and goes on with the next, until its
// connection dies. Before the delete of queue number target it signals
// trigger, so the kill lands around that delete.
func deleter(conn *amqp091.Connection, cycle int, dl *delLedger, deletes *atomic.Int64, target int, trigger chan<- struct{}) {
	ch, err := conn.Channel()
	if err != nil || ch.Confirm(false) != nil {
		return
	}
	for i := 1; ; i++ {
		name := fmt.Sprintf("crash.del.%d.%d", cycle, i)
		dl.update(name, func(*delState) {})
		if _, err := ch.QueueDeclare(name, true, false, false, false, nil); err != nil {
			return
		}
		dl.update(name, func(s *delState) { s.declared = true })
		var dcs []*amqp091.DeferredConfirmation
		for range 3 {
			dl.update(name, func(s *delState) { s.published++ })
			dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "", name, false, false,
				amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: []byte(name)})
			if err != nil {
				return
			}
			dcs = append(dcs, dc)
		}
		for _, dc := range dcs {
			<-dc.Done() // resolved, as not acked, if the connection dies
			if dc.Acked() {
				dl.update(name, func(s *delState) { s.confirmed++ })
			}
		}
		dl.update(name, func(s *delState) { s.deleteSent = true })
		if i == target {
			trigger <- struct{}{}
		}
		if _, err := ch.QueueDelete(name, false, false, false); err != nil {
			return
		}
		dl.update(name, func(s *delState) { s.deleted = true })
		deletes.Add(1)
	}
}

// verifyDeletes checks the deleter's queues after a restart, then deletes
// the ones that are left. It returns the counts of queues found deleted
// and found present, and of violations.
func (d *delLedger) verify(t *testing.T, conn *amqp091.Connection) (gone, present, bad int) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, name := range d.names {
		s := d.m[name]
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		q, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
		var ae *amqp091.Error
		switch {
		case errors.As(err, &ae) && ae.Code == amqp091.NotFound:
			gone++
			if s.declared && !s.deleteSent {
				t.Errorf("queue %s was declared and not deleted, but is gone after the restart", name)
				bad++
			}
			continue
		case err != nil:
			t.Fatalf("passive declare of %s: %v", name, err)
		}
		present++
		if s.deleted {
			t.Errorf("queue %s: delete-ok was received before the kill, but it is back (%d messages)", name, q.Messages)
			bad++
		}
		if q.Messages < s.confirmed || q.Messages > s.published {
			t.Errorf("queue %s holds %d messages; %d were confirmed of %d published", name, q.Messages, s.confirmed, s.published)
			bad++
		}
		if _, err := ch.QueueDelete(name, false, false, false); err != nil {
			t.Fatalf("delete %s: %v", name, err)
		}
		ch.Close()
	}
	d.names, d.m = nil, map[string]*delState{}
	return gone, present, bad
}

// TestKill9KeepsConfirmedMessages runs the broker as a child process on
// one data directory and kills it with SIGKILL mid-stream, over and over:
// while a publisher streams persistent messages in confirm mode to a
// fanout exchange bound to two durable queues; while a consumer acks one
// of them; while queues are declared, filled and deleted. After each
// restart both queues are read whole: every confirmed message must be
// back exactly once, in order, marked redelivered, with its body intact;
// no message acked before a synced round trip may come back; every queue
// whose delete-ok arrived must stay deleted. A kill -9 loses the process,
// not the page cache: this proves the order of writes, confirms and
// replies, not that fsync reaches the platter.
func TestKill9KeepsConfirmedMessages(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d (rerun with CRASH_SEED=%d)", seed, seed)

	dir := t.TempDir()
	q1, q2 := newLedger("crash.q"), newLedger("crash.q2")
	dl := &delLedger{m: map[string]*delState{}}
	var seqs atomic.Uint64
	kinds := []string{"publish", "consume", "delete", "publish", "consume", "delete"}
	var total verdict
	for cycle := 0; cycle <= len(kinds); cycle++ {
		// Every other start keeps at most 256 KiB of bodies in memory: its
		// queues page the backlog out, and recover only that much.
		var budget []string
		if cycle%2 == 1 {
			budget = []string{"--memory-budget", "262144"}
		}
		p := startBroker(t, dir, budget...)
		conn := p.dial()
		var v verdict
		gone, present, badDeletes := 0, 0, 0
		if cycle > 0 {
			v = q1.verify(t, conn)
			v.add(q2.verify(t, conn))
			gone, present, badDeletes = dl.verify(t, conn)
			total.add(v)
			if d := p.recovery("dangling_entries", true); d != 0 {
				t.Errorf("after kill %d: the store found %v entries whose message is missing", cycle, d)
			}
			t.Logf("after kill %d (%s), memory budget %v: recovered %v entries, %v messages in %.3fs; queues: recovered=%d duplicates=%d lost=%d resurrected=%d out-of-order=%d unknown=%d corrupt=%d not-redelivered=%d; acked-unsynced back=%d (after a plain round trip: %d); unconfirmed kept=%d gone=%d; deleted queues gone=%d present=%d violations=%d",
				cycle, kinds[cycle-1], budget, p.recovery("entries", false), p.recovery("messages", false), p.recovery("took", false),
				v.recovered, v.duplicates, v.lost, v.resurrected, v.disorder, v.unknown, v.corrupt, v.notRedelivered,
				v.ackedBack, v.roundBack, v.unconfirmedKept, v.unconfirmedGon, gone, present, badDeletes)
			if v.bad()+badDeletes > 0 {
				t.Fatalf("after kill %d: durability violated (seed %d)", cycle, seed)
			}
		}
		if cycle == len(kinds) {
			conn.Close()
			p.term()
			p = startBroker(t, dir) // and once more after a clean stop
			conn = p.dial()
			v = q1.verify(t, conn)
			v.add(q2.verify(t, conn))
			if v.bad()+v.ackedBack+v.roundBack+v.unconfirmedKept+v.unconfirmedGon > 0 {
				t.Fatalf("after a clean stop: %+v", v)
			}
			t.Logf("after SIGTERM: recovered=%d, exactly the %d messages of the ledgers", v.recovered, len(q1.m)+len(q2.m))
			conn.Close()
			p.term()
			break
		}

		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.ExchangeDeclare("crash.fan", "fanout", true, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"crash.q", "crash.q2"} {
			if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
				t.Fatal(err)
			}
			if err := ch.QueueBind(q, "", "crash.fan", false, nil); err != nil {
				t.Fatal(err)
			}
		}

		kind := kinds[cycle]
		trigger := make(chan struct{}, 1)
		var published, confirmed, acks, acks2, deletes atomic.Int64
		var wg sync.WaitGroup
		// The publisher runs throughout, bounded outside the publish
		// cycles so the backlog stays small.
		pubLimit, pubTarget := int64(1500), int64(0)
		switch kind {
		case "publish":
			pubLimit, pubTarget = 0, 500+rng.Int64N(1500)
		case "consume":
			pubLimit = 4000
		}
		pconn := p.dial()
		wg.Go(func() {
			publisher(pconn, &seqs, []*ledger{q1, q2}, 256, &published, &confirmed, pubLimit, pubTarget, trigger)
		})
		var target string
		switch kind {
		case "publish":
			target = fmt.Sprintf("%d confirms", pubTarget)
		case "consume":
			n := 300 + rng.Int64N(1000)
			target = fmt.Sprintf("%d acks", n)
			cconn := p.dial()
			wg.Go(func() { consumer(cconn, q1, &acks, n, trigger) })
			wg.Go(func() { consumer(cconn, q2, &acks2, 0, nil) }) // keeps crash.q2 from growing
		case "delete":
			n := 5 + rng.IntN(20)
			target = fmt.Sprintf("the delete of queue %d", n)
			dconn := p.dial()
			wg.Go(func() { deleter(dconn, cycle, dl, &deletes, n, trigger) })
		}
		select {
		case <-trigger:
		case <-time.After(crashWait):
			t.Fatalf("cycle %d (%s): %s not reached within %v; published=%d confirmed=%d acks=%d deletes=%d\n%s",
				cycle, kind, target, crashWait, published.Load(), confirmed.Load(), acks.Load(), deletes.Load(), p.tail())
		}
		p.kill()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(crashWait):
			t.Fatalf("cycle %d: the clients did not notice the kill within %v", cycle, crashWait)
		}
		conn.Close()
		t.Logf("kill %d (%s, at %s): published=%d confirmed=%d acked=%d+%d deleted-queues=%d",
			cycle+1, kind, target, published.Load(), confirmed.Load(), acks.Load(), acks2.Load(), deletes.Load())
	}
	t.Logf("total over %d kills: recovered=%d duplicates=%d lost=%d resurrected=%d acked-unsynced back=%d (plain round trip: %d) unconfirmed kept=%d gone=%d",
		len(kinds), total.recovered, total.duplicates, total.lost, total.resurrected, total.ackedBack, total.roundBack, total.unconfirmedKept, total.unconfirmedGon)
}
