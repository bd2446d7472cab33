package chaos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// The headers that carry a message's identity.
const (
	HeaderPublisher = "x-chaos-publisher"
	HeaderSeq       = "x-chaos-seq"
)

// Target is where the message workload goes: one queue, its type, and the
// nodes its publishers and consumers use. A classic queue (messages not
// replicated) is published to and consumed from the node that holds it;
// a quorum queue from any node.
type Target struct {
	Queue   string
	Type    string   // "classic" (default) or "quorum": the declare's x-queue-type
	Publish []string // nodes publishers connect to, in turn after a failure
	Consume []string // nodes consumers connect to, likewise
}

// DefaultTarget is the target of a run over nodes: a classic queue (not
// replicated) on the first node, used there; a quorum queue (typ
// "quorum") used through every node.
func DefaultTarget(queue, typ string, nodes []string) Target {
	if typ == "quorum" {
		return Target{Queue: queue, Type: typ, Publish: nodes, Consume: nodes}
	}
	return Target{Queue: queue, Type: "classic", Publish: nodes[:1], Consume: nodes[:1]}
}

// Args are the queue's declare arguments.
func (t Target) Args() amqp091.Table {
	if t.Type == "" || t.Type == "classic" {
		return nil
	}
	return amqp091.Table{"x-queue-type": t.Type}
}

// Workload is the message workload: publishers with confirms, consumers
// that ack, all reconnecting, recording into a History.
type Workload struct {
	Target     Target
	Publishers int // 0: 1
	Consumers  int // 0: 1
	Window     int // unconfirmed messages per publisher (0: 16)
	Size       int // body bytes (0: 64)
	Prefetch   int // 0: 64
	Transient  bool
	// URL is a node's AMQP URL ("" while it is down).
	URL      func(node string) string
	History  *History
	Timeline *Timeline

	pubOnce sync.Once
	pubDone chan struct{} // closed once every publisher has returned
}

// publishersDone is closed once Run's publishers have all returned: no
// confirm is recorded after it.
func (w *Workload) publishersDone() chan struct{} {
	w.pubOnce.Do(func() { w.pubDone = make(chan struct{}) })
	return w.pubDone
}

func (w *Workload) defaults() {
	if w.Publishers == 0 {
		w.Publishers = 1
	}
	if w.Consumers == 0 {
		w.Consumers = 1
	}
	if w.Window == 0 {
		w.Window = 16
	}
	if w.Size == 0 {
		w.Size = 64
	}
	if w.Prefetch == 0 {
		w.Prefetch = 64
	}
	if w.History == nil {
		w.History = NewHistory()
	}
	if w.Timeline == nil {
		w.Timeline = NewTimeline()
	}
}

// dial connects to the first node of nodes (from start, in turn) that
// answers; it waits between rounds and gives up when ctx ends.
func (w *Workload) dial(ctx context.Context, nodes []string, start int) (*amqp091.Connection, string, error) {
	wait := time.NewTimer(0)
	defer wait.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, "", ctx.Err()
		case <-wait.C:
		}
		for i := range nodes {
			n := nodes[(start+i)%len(nodes)]
			url := w.URL(n)
			if url == "" {
				continue
			}
			conn, err := amqp091.DialConfig(url, amqp091.Config{Heartbeat: 5 * time.Second, Dial: amqp091.DefaultDial(2 * time.Second)})
			if err == nil {
				return conn, n, nil
			}
		}
		wait.Reset(50 * time.Millisecond) // a backoff, not a synchronisation
	}
}

// Declare declares the target queue (durable) through the first node of
// its publishers that answers within, retrying (a node without a quorum
// refuses until it has one).
func (w *Workload) Declare(ctx context.Context, within time.Duration) error {
	w.defaults()
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		conn, _, err := w.dial(ctx, w.Target.Publish, 0)
		if err != nil {
			break
		}
		last = func() error {
			defer conn.Close()
			ch, err := conn.Channel()
			if err != nil {
				return err
			}
			_, err = ch.QueueDeclare(w.Target.Queue, true, false, false, false, w.Target.Args())
			return err
		}()
		if last == nil {
			return nil
		}
	}
	return fmt.Errorf("declare %s: %v (last error %v)", w.Target.Queue, ctx.Err(), last)
}

// Run runs the publishers until pubCtx ends and the consumers until
// conCtx ends, then returns.
func (w *Workload) Run(pubCtx, conCtx context.Context) {
	w.defaults()
	var wg, pubs sync.WaitGroup
	for i := range w.Publishers {
		wg.Add(1)
		pubs.Add(1)
		go func() { defer wg.Done(); defer pubs.Done(); w.publisher(pubCtx, i+1) }()
	}
	go func() { pubs.Wait(); close(w.publishersDone()) }()
	for i := range w.Consumers {
		wg.Add(1)
		go func() { defer wg.Done(); w.consumer(conCtx, i) }()
	}
	wg.Wait()
}

type inflight struct {
	key Key
	dc  *amqp091.DeferredConfirmation
}

// publisher publishes id's messages, seq 1, 2, ..., at most Window
// unconfirmed, reconnecting after a failure; the messages unconfirmed
// when a connection fails stay unknown.
func (w *Workload) publisher(ctx context.Context, id int) {
	body := []byte(strings.Repeat("w", w.Size))
	var seq uint64
	for ctx.Err() == nil {
		conn, node, err := w.dial(ctx, w.Target.Publish, id-1)
		if err != nil {
			return
		}
		w.Timeline.Add("publisher %d connected to %s", id, node)
		err = w.publishOn(ctx, conn, id, &seq, body)
		conn.CloseDeadline(time.Now().Add(time.Second))
		if err != nil && ctx.Err() == nil {
			w.Timeline.Add("publisher %d lost %s: %v", id, node, err)
		}
	}
}

func (w *Workload) publishOn(ctx context.Context, conn *amqp091.Connection, id int, seq *uint64, body []byte) error {
	closed := conn.NotifyClose(make(chan *amqp091.Error, 1))
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	if err := ch.Confirm(false); err != nil {
		return err
	}
	chClosed := ch.NotifyClose(make(chan *amqp091.Error, 1))
	mode := amqp091.Persistent
	if w.Transient {
		mode = amqp091.Transient
	}
	var pending []inflight
	await := func(f inflight) error {
		select {
		case <-f.dc.Done():
			w.History.Confirmed(f.key, f.dc.Acked(), time.Now())
			return nil
		case e := <-closed:
			return fmt.Errorf("connection closed: %v", e)
		case e := <-chClosed:
			return fmt.Errorf("channel closed: %v", e)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for ctx.Err() == nil {
		for len(pending) >= w.Window {
			if err := await(pending[0]); err != nil {
				return err
			}
			pending = pending[1:]
		}
		*seq++
		k := Key{id, *seq}
		w.History.Sent(k, time.Now())
		dc, err := ch.PublishWithDeferredConfirm("", w.Target.Queue, false, false, amqp091.Publishing{
			Headers:      amqp091.Table{HeaderPublisher: int32(id), HeaderSeq: int64(*seq)},
			DeliveryMode: mode, Body: body,
		})
		if err != nil {
			return err
		}
		pending = append(pending, inflight{k, dc})
	}
	return nil
}

// consumer consumes and acks, reconnecting after a failure; each
// connection is a session of the History.
func (w *Workload) consumer(ctx context.Context, i int) {
	for ctx.Err() == nil {
		conn, node, err := w.dial(ctx, w.Target.Consume, i)
		if err != nil {
			return
		}
		s := w.History.Session()
		w.Timeline.Add("consumer %d connected to %s (session %d)", i, node, s)
		err = w.consumeOn(ctx, conn, s)
		conn.CloseDeadline(time.Now().Add(time.Second))
		if ctx.Err() == nil {
			w.History.Broken(s)
			w.Timeline.Add("consumer %d lost %s: %v", i, node, err)
		}
	}
}

func (w *Workload) consumeOn(ctx context.Context, conn *amqp091.Connection, s int) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	if err := ch.Qos(w.Prefetch, 0, false); err != nil {
		return err
	}
	dels, err := ch.Consume(w.Target.Queue, "", false, false, false, false, nil)
	if err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case d, ok := <-dels:
			if !ok {
				return errors.New("deliveries closed")
			}
			w.History.Delivered(parse(d, s))
			if err := d.Ack(false); err != nil {
				return err
			}
		}
	}
}

// parse reads a delivery's identity from its headers.
func parse(d amqp091.Delivery, s int) Delivery {
	out := Delivery{Redelivered: d.Redelivered, Session: s, At: time.Now()}
	pub, ok1 := d.Headers[HeaderPublisher].(int32)
	seq, ok2 := d.Headers[HeaderSeq].(int64)
	if !ok1 || !ok2 || pub <= 0 || seq <= 0 {
		out.Raw = fmt.Sprintf("headers %v body %.32q", d.Headers, d.Body)
		return out
	}
	out.Valid, out.Key = true, Key{int(pub), uint64(seq)}
	return out
}

// Drain waits until every confirmed message has been consumed or within
// has passed; it returns how many are still missing.
func (w *Workload) Drain(ctx context.Context, within time.Duration) int {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	// A confirm that comes as the publishers stop is recorded before
	// they return: counting before that could find nothing missing and
	// then the checker a message 'lost' (Run's confirms recorded last).
	select {
	case <-w.publishersDone():
	case <-deadline.C:
		return w.History.Missing()
	case <-ctx.Done():
		return w.History.Missing()
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		missing := w.History.Missing()
		if missing == 0 {
			return 0
		}
		select {
		case <-deadline.C:
			return missing
		case <-ctx.Done():
			return missing
		case <-tick.C:
		}
	}
}
