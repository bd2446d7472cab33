package cluster

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// TestQuorumLargeBodiesIntact: bodies from 64 KiB are read into pooled
// buffers (queue/body.go) that go back to the pool when the publish call
// returns, while a quorum queue's enqueue is proposed later, by the Raft
// loop: each published body, distinct, must come out as it went in. It
// publishes on a follower (its batches are forwarded to the leader; one
// lost on the way is proposed again: qseq.go). The propose timeout is
// long: this test is about bodies, not latency on a loaded machine.
func TestQuorumLargeBodiesIntact(t *testing.T) {
	c := newCluster(t, three, func(cfg *Config) { cfg.ProposeTimeout = 30 * time.Second }, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "big", nil)
	const n, size = 40, 200 << 10
	body := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, size) }
	ch, err := c.mustDial(c.other(leader)).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	var confs []*amqp091.DeferredConfirmation
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 0; i < n; i++ {
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", "big", false, false, amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: body(i)})
		if err != nil {
			t.Fatal(err)
		}
		confs = append(confs, dc)
	}
	for i, dc := range confs {
		if ok, err := dc.WaitContext(ctx); !ok || err != nil {
			t.Fatalf("publish %d: confirmed %v, %v", i, ok, err)
		}
	}
	// basic.get answers on the group's leader only (a follower's queue
	// delivers nothing): on a loaded machine the leadership may move
	// while the test runs, so each get goes to the leader of the moment.
	chans := map[string]*amqp091.Channel{}
	for i := 0; i < n; i++ {
		var d amqp091.Delivery
		var ok bool
		eventually(t, 30*time.Second, func() error {
			l := c.queueLeader("big", "")
			cch := chans[l]
			if cch == nil {
				var err error
				if cch, err = c.mustDial(l).Channel(); err != nil {
					return err
				}
				chans[l] = cch
			}
			var err error
			d, ok, err = cch.Get("big", true)
			if err == nil && !ok {
				return errors.New("queue empty")
			}
			return err
		})
		if !bytes.Equal(d.Body, body(i)) {
			t.Fatalf("message %d: body of %d bytes is not what was published (first byte %q, want %q)", i, len(d.Body), d.Body[:1], body(i)[:1])
		}
	}
}
