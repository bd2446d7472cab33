package cluster

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// TestQuorumPublishOnFollowerConsumeOnLeader: publishes confirmed on a
// follower (proposed, forwarded by raft to the leader, committed,
// applied there and on the follower) are consumed, in order, on the
// leader; the acks settle them on every member.
func TestQuorumPublishOnFollowerConsumeOnLeader(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "orders", nil)
	follower := c.other(leader)
	const n = 500
	acked, nacked := publishConfirmed(t, c.mustDial(follower), "orders", 0, n)
	if acked != n || nacked != 0 {
		t.Fatalf("publishes on follower %s: %d acked, %d nacked, want %d acked", follower, acked, nacked, n)
	}
	c.groupMessages("orders", n)
	bodies, redelivered, _ := consume(t, c.mustDial(leader), "orders", 50, n, true)
	for i, b := range bodies {
		if b != strconv.Itoa(i) {
			t.Fatalf("message %d is %q, want %d (order)", i, b, i)
		}
	}
	if len(redelivered) != 0 {
		t.Fatalf("%d messages redelivered, want none", len(redelivered))
	}
	c.groupMessages("orders", 0)
}

// TestQuorumFailover: with messages confirmed and some delivered but not
// acknowledged on the leader, the leader stops; the new leader delivers
// every confirmed message, those that had been delivered marked
// redelivered, and takes new confirmed publishes.
func TestQuorumFailover(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "jobs", nil)
	follower := c.other(leader)
	const n = 200
	if acked, _ := publishConfirmed(t, c.mustDial(follower), "jobs", 0, n); acked != n {
		t.Fatalf("%d of %d confirmed", acked, n)
	}
	// 20 delivered on the old leader, not acknowledged.
	held, _, _ := consume(t, c.mustDial(leader), "jobs", 20, 20, false)
	c.stop(leader)
	newLeader := c.queueLeader("jobs", leader)
	t.Logf("leader %s stopped, %s leads", leader, newLeader)
	if acked, _ := publishConfirmed(t, c.mustDial(c.other(newLeader)), "jobs", n, 10); acked != 10 {
		t.Fatalf("after the failover %d of 10 confirmed", acked)
	}
	bodies, redelivered, _ := consume(t, c.mustDial(newLeader), "jobs", 50, n+10, true)
	seen := map[string]bool{}
	for _, b := range bodies {
		if seen[b] {
			t.Fatalf("message %s delivered twice by the new leader", b)
		}
		seen[b] = true
	}
	for i := range n + 10 {
		if !seen[strconv.Itoa(i)] {
			t.Fatalf("confirmed message %d lost in the failover", i)
		}
	}
	for _, b := range held {
		if !redelivered[b] {
			t.Fatalf("message %s, delivered by the old leader, not marked redelivered", b)
		}
	}
	c.groupMessages("jobs", 0)
}

// TestQuorumMinorityCannotConfirm: with two of three members stopped the
// last one nacks publishes after the propose timeout, never confirms
// them; once a second member is back, publishes are confirmed again and
// nothing nacked is delivered... unless it was committed after all
// (a nack means "not known to be stored", as RabbitMQ's does).
func TestQuorumMinorityCannotConfirm(t *testing.T) {
	c := newCluster(t, three, func(cfg *Config) { cfg.ProposeTimeout = time.Second }, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "minority", nil)
	if acked, _ := publishConfirmed(t, c.mustDial(leader), "minority", 0, 5); acked != 5 {
		t.Fatalf("%d of 5 confirmed", acked)
	}
	alone := c.other(leader)
	for _, n := range c.running() {
		if n != alone {
			c.stop(n)
		}
	}
	acked, nacked := publishConfirmed(t, c.mustDial(alone), "minority", 5, 5)
	if acked != 0 || nacked != 5 {
		t.Fatalf("on a minority: %d acked, %d nacked, want 0 and 5", acked, nacked)
	}
	c.start(leader)
	c.queueLeader("minority", "")
	if acked, _ := publishConfirmed(t, c.mustDial(alone), "minority", 10, 5); acked != 5 {
		t.Fatalf("with a majority again %d of 5 confirmed", acked)
	}
}

// TestQuorumDeliveryLimitAcrossLeaders: x-delivery-limit 2 counts the
// returns through the log: one on the first leader, two more on the next
// after it stopped; the third return dead-letters the message (to a
// quorum queue) with its x-delivery-count and x-death.
func TestQuorumDeliveryLimitAcrossLeaders(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	c.declareQuorum("a", "dead", nil)
	leader := c.declareQuorum("a", "retry", amqp091.Table{"x-delivery-limit": int32(2), "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dead"})
	if acked, _ := publishConfirmed(t, c.mustDial(leader), "retry", 0, 1); acked != 1 {
		t.Fatal("not confirmed")
	}
	nackOnce := func(node string, wantCount int64) {
		t.Helper()
		ch, err := c.mustDial(node).Channel()
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		ds, err := ch.Consume("retry", "", false, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case d := <-ds:
			got, _ := d.Headers["x-delivery-count"].(int64)
			if got != wantCount {
				t.Fatalf("x-delivery-count %v (%T), want %d", d.Headers["x-delivery-count"], d.Headers["x-delivery-count"], wantCount)
			}
			if err := d.Nack(false, true); err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no delivery")
		}
	}
	nackOnce(leader, 0)
	c.groupMessages("retry", 1)
	eventually(t, 5*time.Second, func() error {
		if s, _ := c.nodes[c.other(leader)].node.QueueStatus("/", "retry"); s.Applied == 0 {
			return fmt.Errorf("no progress")
		}
		return nil
	})
	c.stop(leader)
	next := c.queueLeader("retry", leader)
	nackOnce(next, 1)
	nackOnce(next, 2) // the third return: over the limit of 2
	c.groupMessages("retry", 0)
	c.groupMessages("dead", 1)
	deadLeader := c.queueLeader("dead", "")
	ch, err := c.mustDial(deadLeader).Channel()
	if err != nil {
		t.Fatal(err)
	}
	ds, err := ch.Consume("dead", "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-ds:
		deaths, _ := d.Headers["x-death"].([]any)
		if string(d.Body) != "0" || len(deaths) != 1 || deaths[0].(amqp091.Table)["reason"] != "delivery_limit" {
			t.Fatalf("dead-lettered %q with x-death %v", d.Body, d.Headers["x-death"])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing dead-lettered")
	}
}

// TestQuorumDeleteAndRedeclare: deleting a quorum queue drops its group
// and its log on every member; declared again it starts empty, with a
// new log, and works.
func TestQuorumDeleteAndRedeclare(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "tmp", nil)
	if acked, _ := publishConfirmed(t, c.mustDial(leader), "tmp", 0, 10); acked != 10 {
		t.Fatal("not confirmed")
	}
	c.groupMessages("tmp", 10)
	ch, err := c.mustDial("b").Channel()
	if err != nil {
		t.Fatal(err)
	}
	n, err := ch.QueueDelete("tmp", false, false, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("deleted with %d messages", n)
	id := QueueGroupID("/", "tmp")
	eventually(t, 5*time.Second, func() error {
		for _, tn := range c.nodes {
			if _, ok := tn.node.QueueStatus("/", "tmp"); ok {
				return fmt.Errorf("node %s still has the group", tn.name)
			}
			g, err := tn.node.store.Group(id)
			if err != nil {
				return err
			}
			if last, _ := g.LastIndex(); last != 0 {
				return fmt.Errorf("node %s: the group's log still ends at %d", tn.name, last)
			}
		}
		return nil
	})
	leader = c.declareQuorum("c", "tmp", nil)
	c.groupMessages("tmp", 0)
	if acked, _ := publishConfirmed(t, c.mustDial(c.other(leader)), "tmp", 100, 3); acked != 3 {
		t.Fatal("not confirmed after the redeclare")
	}
	bodies, _, _ := consume(t, c.mustDial(leader), "tmp", 10, 3, true)
	if bodies[0] != "100" {
		t.Fatalf("after the redeclare got %v", bodies)
	}
}

// TestQuorumPublisherBackpressure: on a node cut off from the other
// members, publishes are neither confirmed nor buffered without bound:
// past QueuePendingBytes the publisher's connection waits, until the
// propose timeout nacks what is pending and frees room.
func TestQuorumPublisherBackpressure(t *testing.T) {
	const limit = 16 << 10
	c := newCluster(t, three, func(cfg *Config) { cfg.ProposeTimeout, cfg.QueuePendingBytes = time.Second, limit }, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "bp", nil)
	alone := c.other(leader)
	for _, n := range c.running() {
		if n != alone {
			c.stop(n)
		}
	}
	ch, err := c.mustDial(alone).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	const n = 64
	confirms := ch.NotifyPublish(make(chan amqp091.Confirmation, n))
	body := make([]byte, 1024)
	for range n {
		if err := ch.Publish("", "bp", false, false, amqp091.Publishing{DeliveryMode: 2, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	nacked := 0
	for range n {
		select {
		case cf := <-confirms:
			if cf.Ack {
				t.Fatal("a publish confirmed without a quorum")
			}
			nacked++
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of %d nacked after 30 s", nacked, n)
		}
	}
	var s QueueStatus
	eventually(t, 5*time.Second, func() error {
		s, _ = c.nodes[alone].node.QueueStatus("/", "bp")
		if s.PendingBytes != 0 {
			return fmt.Errorf("%d bytes still pending after every nack", s.PendingBytes)
		}
		return nil
	})
	t.Logf("pending high-water mark %d bytes (limit %d)", s.MaxPendingBytes, limit)
	if s.MaxPendingBytes > limit+2048 {
		t.Fatalf("pending bytes peaked at %d (limit %d)", s.MaxPendingBytes, limit)
	}
}
