package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/queue"
)

// poolBody is message i's body: from 64 KiB (pooled) to some 330 KiB, its
// index up front and a pattern of its own after, so a body overwritten by
// another (a buffer handed out again too soon) or by the pool's poison is
// told apart.
func poolBody(i int) []byte {
	b := make([]byte, 64<<10+(i*37%5)*(64<<10)+i)
	binary.BigEndian.PutUint64(b, uint64(i))
	for j := 8; j < len(b); j++ {
		b[j] = byte(i*131 + j*7 + j>>9)
	}
	return b
}

// Pooled bodies (queue/body.go) must never go back to the pool while
// anything still reads them. With a pool that poisons every buffer it
// takes back, fanout publishes go to three queues and, through reject,
// to a dead-letter queue: a consumer acking in batches (requeueing or
// rejecting some first); a no-ack consumer on a second connection whose
// client reads nothing until the first consumer is through, so its
// deliveries wait in the server's output and writev while every other
// reference goes; and a queue with no consumer in the first round, whose
// backlog pages out past a small memory budget, then read by basic.get
// and a no-ack consumer on the lagging connection. A second round
// publishes while every queue has its consumer, so buffers the first
// returned are handed out again. Every body must arrive intact, and the
// pool must have handed buffers out again (else the test proves
// nothing). Without the output's reference (appendBodyLocked) it fails:
// "later: the body of message -2604246222170760229 (65541 bytes) is
// corrupt" (the poison, 0xDB..., where the index was).
func TestPooledBodiesSurviveFanoutAckAndPaging(t *testing.T) {
	t.Parallel()
	pool := queue.NewBodyPool(true)
	b := &durableBroker{t: t, dir: t.TempDir(), budget: 8 << 20, bodies: pool}
	b.start()
	t.Cleanup(b.stop)

	setup := b.channel()
	must(t, setup.ExchangeDeclare("fan", "fanout", false, true, false, false, nil), "declare fan")
	must(t, setup.ExchangeDeclare("dlx", "fanout", false, true, false, false, nil), "declare dlx")
	declare := func(name, ex string, args amqp091.Table) {
		_, err := setup.QueueDeclare(name, false, false, false, false, args)
		must(t, err, "declare "+name)
		must(t, setup.QueueBind(name, "", ex, false, nil), "bind "+name)
	}
	declare("slow", "fan", amqp091.Table{"x-dead-letter-exchange": "dlx"})
	declare("noack", "fan", nil)
	declare("later", "fan", nil)
	declare("dead", "dlx", nil)

	const n = 100 // per round
	conConn, err := amqp091.Dial(b.url)
	must(t, err, "dial consumers")
	defer conConn.Close()
	lagConn, err := amqp091.Dial(b.url)
	must(t, err, "dial the lagging consumers")
	defer lagConn.Close()
	consume := func(q string, prefetch int, autoAck bool) (*amqp091.Channel, <-chan amqp091.Delivery) {
		c := conConn
		if autoAck {
			c = lagConn
		}
		ch, err := c.Channel()
		must(t, err, "channel "+q)
		must(t, ch.Qos(prefetch, 0, false), "qos "+q)
		d, err := ch.Consume(q, "", autoAck, false, false, false, nil)
		must(t, err, "consume "+q)
		return ch, d
	}
	pc, err := amqp091.Dial(b.url)
	must(t, err, "dial publisher")
	defer pc.Close()
	pub, err := pc.Channel()
	must(t, err, "publisher channel")
	publish := func(from, to int) <-chan error {
		done := make(chan error, 1)
		go func() {
			for i := from; i < to; i++ {
				if err := pub.PublishWithContext(context.Background(), "fan", "", false, false, amqp091.Publishing{Body: poolBody(i)}); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		return done
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var failures []string
	fail := func(f string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(f, args...))
		mu.Unlock()
		cancel()
	}
	// read takes deliveries of q, once gate is closed (if set), until
	// settle has counted want of them as done, checking every body.
	read := func(q string, ds <-chan amqp091.Delivery, gate <-chan struct{}, want int, settle func(i int, d amqp091.Delivery) bool) *sync.WaitGroup {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			if gate != nil {
				select {
				case <-gate:
				case <-ctx.Done():
					return
				}
			}
			for got := 0; got < want; {
				select {
				case d := <-ds:
					i := -1
					if len(d.Body) >= 8 {
						i = int(binary.BigEndian.Uint64(d.Body))
					}
					if i < 0 || i >= 2*n || !bytes.Equal(d.Body, poolBody(i)) {
						fail("%s: the body of message %d (%d bytes) is corrupt: a pooled buffer went back while in use", q, i, len(d.Body))
						return
					}
					if settle == nil || settle(i, d) {
						got++
					}
				case <-ctx.Done():
					fail("%s: %d of %d arrived", q, got, want)
					return
				}
			}
		}()
		return &wg
	}
	// The slow consumer: every 7th delivery is requeued once, every 11th
	// rejected to the dead-letter queue, the rest acked three at a time.
	slowCh, slow := consume("slow", 3, false)
	unacked, rejected := 0, 0
	// The lagging connection starts reading once the slow consumer has
	// settled openAt messages of the round: by then the deliveries in its
	// output (4 MiB, some 20 bodies) have no reference but the output's.
	const openAt = 30
	var gate chan struct{}
	settled := 0
	slowSettle := func(i int, d amqp091.Delivery) bool {
		defer func() {
			if settled++; settled == openAt {
				close(gate)
			}
		}()
		var err error
		switch {
		case i%7 == 0 && !d.Redelivered:
			err = d.Nack(false, true)
			if err == nil {
				return false
			}
		case i%11 == 0:
			rejected++
			err = d.Reject(false)
		default:
			if unacked++; unacked == 3 {
				err, unacked = slowCh.Ack(d.DeliveryTag, true), 0
			}
		}
		if err != nil {
			fail("slow: settle: %v", err)
		}
		return true
	}
	_, noack := consume("noack", 0, true)

	// Round 1: "later" has no consumer; its backlog pages out.
	gate = make(chan struct{})
	pubDone := publish(0, n)
	noackRead := read("noack", noack, gate, n, nil)
	read("slow", slow, nil, n, slowSettle).Wait()
	noackRead.Wait()
	must(t, <-pubDone, "publish round 1")
	if unacked > 0 {
		must(t, slowCh.Ack(0, true), "ack the rest")
		unacked = 0
	}
	if len(failures) > 0 {
		t.Fatal(failures)
	}
	getCh := b.channel()
	for k := range 5 {
		d, ok, err := getCh.Get("later", k%2 == 0)
		must(t, err, "get")
		if !ok {
			t.Fatal("later: basic.get found the queue empty")
		}
		if i := int(binary.BigEndian.Uint64(d.Body)); !bytes.Equal(d.Body, poolBody(i)) {
			t.Fatalf("later (get): the body of message %d is corrupt", i)
		}
		if k%2 != 0 {
			must(t, d.Ack(false), "ack get")
		}
	}

	// Round 2: every queue has its consumer.
	_, later := consume("later", 10, true)
	_, dead := consume("dead", 10, true)
	gate, settled = make(chan struct{}), 0
	pubDone = publish(n, 2*n)
	lagging := []*sync.WaitGroup{
		read("noack", noack, gate, n, nil),
		read("later", later, gate, 2*n-5, nil),
	}
	read("slow", slow, nil, n, slowSettle).Wait()
	for _, wg := range lagging {
		wg.Wait()
	}
	must(t, <-pubDone, "publish round 2")
	read("dead", dead, nil, rejected, nil).Wait()
	if len(failures) > 0 {
		t.Fatal(failures)
	}
	st := pool.Stats()
	t.Logf("pool: %+v", st)
	if st.Gets != 2*n || st.Puts == 0 || st.Reused == 0 {
		t.Fatalf("pool %+v: want %d buffers handed out, some returned and handed out again", st, 2*n)
	}
}
