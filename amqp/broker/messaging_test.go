package broker

import (
	"sync"
	"testing"
	"time"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
)

// testConfirm is a front end's publisher confirms reduced to a map: each
// publish is held open by the publisher (1) plus the store writes the
// core adds; confirmed hears each seq once nothing holds it.
type testConfirm struct {
	mu        sync.Mutex
	waiting   map[uint64]int
	writes    map[uint64]int // store writes waited for, per seq
	failed    map[uint64]bool
	confirmed chan uint64
}

func newTestConfirm() *testConfirm {
	return &testConfirm{waiting: map[uint64]int{}, writes: map[uint64]int{}, failed: map[uint64]bool{}, confirmed: make(chan uint64, 64)}
}

func (c *testConfirm) begin(seq uint64) {
	c.mu.Lock()
	c.waiting[seq] = 1
	c.mu.Unlock()
}

func (c *testConfirm) Wait(seq uint64) {
	c.mu.Lock()
	c.waiting[seq]++
	c.writes[seq]++
	c.mu.Unlock()
}

func (c *testConfirm) Done(seq uint64, err error, flush bool) {
	c.mu.Lock()
	c.waiting[seq]--
	if err != nil {
		c.failed[seq] = true
	}
	done := c.waiting[seq] == 0
	c.mu.Unlock()
	if done {
		c.confirmed <- seq
	}
}

// testSink is a consumer with a prefetch: it keeps what it is given.
type testSink struct {
	mu       sync.Mutex
	prefetch int
	got      []queue.Entry // q.Keep of each delivery, for Ack and Reject
}

func (s *testSink) TryDeliver(q *queue.Queue, e queue.Entry) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got) >= s.prefetch {
		return false
	}
	s.got = append(s.got, q.Keep(e))
	return true
}

func (s *testSink) deliveries() []queue.Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]queue.Entry(nil), s.got...)
}

func persistentProps(t *testing.T) []byte {
	t.Helper()
	raw, err := amqp.AppendProperties(nil, &amqp.Properties{DeliveryMode: 2})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestCoreMessaging drives messaging through the core with no AMQP
// connection: declare an exchange and queues (one dead-lettering), bind,
// publish persistent messages with confirms, consume through a
// queue.Sink, ack one, reject one (it is dead-lettered with x-death), and
// restart from the store: the unacked and ready messages come back.
func TestCoreMessaging(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	b := started(t, st)
	v := b.Vhost("/")
	apply(t, v, DeclareExchange{Name: "jobs", Kind: exchange.Direct, Durable: true})
	apply(t, v, DeclareExchange{Name: "dlx", Kind: exchange.Fanout, Durable: true})
	work := apply(t, v, DeclareQueue{Name: "work", Durable: true, Args: map[string]any{"x-dead-letter-exchange": "dlx"}}).Queue
	apply(t, v, DeclareQueue{Name: "dead", Durable: true})
	apply(t, v, Bind{Source: "jobs", Destination: exchange.Destination{Name: "work"}, Key: "run"})
	apply(t, v, Bind{Source: "dlx", Destination: exchange.Destination{Name: "dead"}})

	conf := newTestConfirm()
	props := persistentProps(t)
	x := v.Exchange("jobs")
	for i, body := range []string{"ack me", "reject me", "leave me unacked", "leave me ready"} {
		seq := uint64(i + 1)
		msg := &queue.Message{Exchange: "jobs", RoutingKey: "run", Props: props, Body: []byte(body), Persistent: true}
		var ext Extra
		qs := v.Route(x, "run", func() map[string]any { return nil }, nil, &ext)
		conf.begin(seq)
		routed, rejected, err := v.Publish(&Publish{Msg: msg, Queues: qs, Extra: ext, Confirm: conf, Seq: seq})
		if err != nil || !routed || rejected {
			t.Fatalf("publish %q: routed %t, rejected %t, %v", body, routed, rejected, err)
		}
		conf.Done(seq, nil, false) // the publisher lets go
	}
	for range 4 {
		select {
		case <-conf.confirmed:
		case <-time.After(10 * time.Second):
			t.Fatal("publishes not confirmed")
		}
	}
	for seq := uint64(1); seq <= 4; seq++ {
		if conf.writes[seq] == 0 || conf.failed[seq] {
			t.Fatalf("publish %d: confirmed after %d store writes, failed %t; want after its writes", seq, conf.writes[seq], conf.failed[seq])
		}
	}

	sink := &testSink{prefetch: 3}
	if err := work.AddConsumer(&queue.Consumer{Tag: "c1", Sink: sink}); err != nil {
		t.Fatal(err)
	}
	got := sink.deliveries()
	if len(got) != 3 || string(got[0].Msg.Body) != "ack me" || string(got[1].Msg.Body) != "reject me" {
		t.Fatalf("delivered %d messages, first %q", len(got), got[0].Msg.Body)
	}
	work.Ack(got[:1])
	work.Reject(got[1:2]) // no requeue: to the dead-letter exchange
	if err := b.Fence(); err != nil {
		t.Fatal(err)
	}
	checkDead := func(v *Vhost) {
		t.Helper()
		e, _, _, ok := v.Queue("dead").Get(true)
		if !ok || string(e.Msg.Body) != "reject me" {
			t.Fatalf("dead-letter queue: %v %v", ok, e.Msg)
		}
		p, err := amqp.DecodeProperties(e.Msg.Props)
		if err != nil {
			t.Fatal(err)
		}
		xd, _ := p.Headers["x-death"].([]any)
		d, _ := xd[0].(amqp.Table)
		if len(xd) != 1 || d["queue"] != "work" || d["reason"] != "rejected" || d["count"] != int64(1) || d["exchange"] != "jobs" {
			t.Fatalf("x-death %v", p.Headers["x-death"])
		}
	}
	if n, _ := v.Queue("dead").Counts(); n != 1 {
		t.Fatalf("dead-letter queue holds %d messages, want 1", n)
	}
	if n, _ := work.Counts(); n != 1 {
		t.Fatalf("work holds %d ready messages, want 1 (and 1 unacked)", n)
	}

	// Restart: the store closes with one message unacked and one ready.
	b.Stop()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, dir)
	defer st.Close()
	b = New(Config{Store: st})
	defer b.Stop()
	r, err := b.Recover()
	if err != nil {
		t.Fatal(err)
	}
	if r.Queues != 2 || r.MessagesInQueues != 3 {
		t.Fatalf("recovered %+v, want 2 queues and 3 messages", r)
	}
	v = b.Vhost("/")
	work = v.Queue("work")
	for _, want := range []string{"leave me unacked", "leave me ready"} {
		e, kept, _, ok := work.Get(false)
		if !ok || string(e.Msg.Body) != want || !e.Redelivered {
			t.Fatalf("after restart got %v %q redelivered %t, want %q", ok, e.Msg.Body, e.Redelivered, want)
		}
		work.Ack([]queue.Entry{kept})
	}
	checkDead(v)
	if n, err := v.Purge(work); n != 0 || err != nil {
		t.Fatalf("purge of the empty queue: %d, %v", n, err)
	}
}
