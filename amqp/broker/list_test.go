package broker

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
)

// detailSink takes every delivery, acknowledged later, and says where
// its consumer lives.
type detailSink struct{ got []queue.Entry }

func (s *detailSink) TryDeliver(q *queue.Queue, e queue.Entry) bool {
	s.got = append(s.got, q.Keep(e))
	return true
}

func (s *detailSink) ConsumerChannel() (uint16, int) { return 7, 10 }

// publish routes body through x and enqueues it, as a front end does.
func publish(t *testing.T, v *Vhost, x, key, body string) {
	t.Helper()
	for _, q := range v.Route(v.Exchange(x), key, func() map[string]any { return nil }, nil, &Extra{}) {
		if _, err := q.Publish(&queue.Message{Exchange: x, RoutingKey: key, Body: []byte(body)}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestListings drives the core directly and reads it back: queues with
// their figures and counters, exchanges, bindings, consumers, vhost and
// broker totals.
func TestListings(t *testing.T) {
	b := New(Config{Vhosts: []string{"/", "other"}})
	v := b.Vhost("/")
	apply(t, v, DeclareExchange{Name: "orders", Kind: exchange.Topic, Durable: true})
	apply(t, v, DeclareQueue{Name: "eu", Durable: true, Args: map[string]any{"x-max-length": int64(5)}})
	apply(t, v, DeclareQueue{Name: "all", AutoDelete: true})
	apply(t, v, Bind{Source: "orders", Destination: exchange.Destination{Name: "eu"}, Key: "eu.*"})
	apply(t, v, Bind{Source: "orders", Destination: exchange.Destination{Name: "all"}, Key: "#"})
	apply(t, v, Bind{Source: "amq.fanout", Destination: exchange.Destination{Exchange: true, Name: "orders"}})

	publish(t, v, "orders", "eu.de", "12345")
	publish(t, v, "orders", "eu.fr", "678")
	publish(t, v, "orders", "us.ny", "9")
	publish(t, v, "amq.direct", "nowhere", "lost")

	all := v.Queue("all")
	s := &detailSink{}
	if err := all.AddConsumer(&queue.Consumer{Tag: "ctag", Priority: 3, Conn: 42, Sink: s}); err != nil {
		t.Fatal(err)
	}
	all.Ack(s.got[:1])
	all.Requeue(s.got[1:2]) // redelivered to the same consumer

	qs := v.Queues()
	if len(qs) != 2 || qs[0].Name != "all" || qs[1].Name != "eu" {
		t.Fatalf("queues %+v", qs)
	}
	qa, qe := qs[0], qs[1]
	if !qa.AutoDelete || qa.Durable || qa.Consumers != 1 || qa.Ready != 0 || qa.Unacked != 2 || qa.UnackedBytes != 4 || qa.State != "running" {
		t.Fatalf("all: %+v", qa)
	}
	if want := (queue.Counters{Published: 3, Delivered: 4, Redelivered: 1, Acked: 1, Requeued: 1}); qa.Counters != want {
		t.Fatalf("all counters %+v, want %+v", qa.Counters, want)
	}
	if !qe.Durable || qe.Ready != 2 || qe.ReadyBytes != 8 || qe.Unacked != 0 || qe.Args["x-max-length"] != int64(5) || qe.EffectivePolicy != nil {
		t.Fatalf("eu: %+v", qe)
	}
	if info, ok := v.QueueInfo("eu"); !ok || info.Ready != 2 {
		t.Fatalf("QueueInfo(eu) = %+v, %v", info, ok)
	}

	xs := v.Exchanges()
	byName := map[string]ExchangeInfo{}
	for _, x := range xs {
		byName[x.Name] = x
	}
	if len(xs) != 7 || xs[0].Name != "" || byName["orders"].Kind != "topic" || !byName["orders"].Durable {
		t.Fatalf("exchanges %+v", xs)
	}
	if got, want := byName["orders"].Counters, (exchange.Counters{PublishIn: 3, PublishOut: 5}); got != want {
		t.Fatalf("orders counters %+v, want %+v", got, want)
	}
	if got, want := byName["amq.direct"].Counters, (exchange.Counters{PublishIn: 1, Unroutable: 1}); got != want {
		t.Fatalf("amq.direct counters %+v, want %+v", got, want)
	}

	var bs []string
	for _, b := range v.Bindings() {
		bs = append(bs, fmt.Sprintf("%s->%s:%s:%s", b.Source, b.DestinationType, b.Destination, b.Key))
	}
	if want := "[->queue:all:all ->queue:eu:eu amq.fanout->exchange:orders: orders->queue:all:# orders->queue:eu:eu.*]"; fmt.Sprint(bs) != want {
		t.Fatalf("bindings %v\nwant %s", bs, want)
	}

	cs := v.Consumers()
	if want := (ConsumerInfo{Vhost: "/", Queue: "all", Tag: "ctag", Priority: 3, Conn: 42, Channel: 7, Prefetch: 10, Active: true}); len(cs) != 1 || cs[0] != want {
		t.Fatalf("consumers %+v, want %+v", cs, want)
	}

	info := v.Info()
	if info.Queues != 2 || info.Exchanges != 7 || info.Consumers != 1 || info.Ready != 2 || info.Unacked != 2 ||
		info.Counters.Published != 5 || info.Exchange.PublishIn != 4 {
		t.Fatalf("vhost info %+v", info)
	}
	vs := b.VhostInfos()
	if len(vs) != 2 || vs[0].Name != "/" || vs[1].Name != "other" || vs[1].Exchanges != 6 {
		t.Fatalf("vhosts %+v", vs)
	}
	if tot := b.Totals(); tot.Exchanges != 13 || tot.Queues != 2 || tot.Counters != info.Counters {
		t.Fatalf("totals %+v", tot)
	}

	// A deleted queue leaves the listings.
	apply(t, v, DeleteQueue{Name: "eu"})
	if qs := v.Queues(); len(qs) != 1 {
		t.Fatalf("after delete: %+v", qs)
	}
}

// TestListingDoesNotStopTheWorld pauses a listing of 10,000 queues half
// way and requires that, meanwhile, a publisher keeps publishing to one of
// them and a declare completes: the listing holds no lock they wait for.
func TestListingDoesNotStopTheWorld(t *testing.T) {
	const n = 10000
	b := New(Config{})
	v := b.Vhost("/")
	for i := range n {
		apply(t, v, DeclareQueue{Name: fmt.Sprintf("q%05d", i)})
	}
	var published atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		x := v.Exchange("")
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, q := range v.Route(x, "q00042", func() map[string]any { return nil }, nil, &Extra{}) {
				q.Publish(&queue.Message{Body: []byte("m")}, nil)
			}
			published.Add(1)
		}
	}()
	defer func() { close(stop); <-done }()

	declared := make(chan error, 1)
	v.listHook = func(i int) {
		if i != n/2 {
			return
		}
		// Half way through: the publisher must make progress, and a
		// declare (the vhost's write lock) must get through.
		go func() {
			_, err := v.Apply(DeclareQueue{Name: "during"})
			declared <- err
		}()
		deadline := time.After(30 * time.Second)
		from := published.Load()
		for published.Load() < from+1000 {
			select {
			case <-deadline:
				t.Errorf("the publisher made %d publishes in 30s while a listing was paused", published.Load()-from)
				return
			default:
			}
			time.Sleep(time.Millisecond) // polling for progress, not synchronising
		}
		select {
		case err := <-declared:
			if err != nil {
				t.Error(err)
			}
		case <-deadline:
			t.Error("a declare did not complete while a listing was paused")
		}
	}
	qs := v.Queues()
	if len(qs) < n {
		t.Fatalf("listed %d queues, want at least %d", len(qs), n)
	}
	if info, _ := v.QueueInfo("q00042"); info.Counters.Published == 0 {
		t.Fatal("nothing was published")
	}
}

// TestQueueNamesFollowChanges: QueueNames is cached between changes, and
// a queue added or removed (also one removed and one added, the count
// unchanged) is in the next answer.
func TestQueueNamesFollowChanges(t *testing.T) {
	b := New(Config{Vhosts: []string{"/"}})
	v := b.Vhost("/")
	want := func(names ...string) {
		t.Helper()
		if got := v.QueueNames(); fmt.Sprint(got) != fmt.Sprint(names) {
			t.Fatalf("QueueNames() = %q, want %q", got, names)
		}
	}
	want()
	apply(t, v, DeclareQueue{Name: "b"})
	apply(t, v, DeclareQueue{Name: "a"})
	want("a", "b")
	want("a", "b")
	apply(t, v, DeclareQueue{Name: "c"})
	want("a", "b", "c")
	apply(t, v, DeleteQueue{Name: "b"})
	apply(t, v, DeclareQueue{Name: "d"})
	want("a", "c", "d")
	apply(t, v, DeclareQueue{Name: "a"}) // redeclared: no change
	want("a", "c", "d")
	apply(t, v, DeleteQueue{Name: "a"})
	want("c", "d")
}
