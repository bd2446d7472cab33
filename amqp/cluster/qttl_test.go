package cluster

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// TestQuorumMessageTTLReplicated: messages in a quorum queue with
// x-message-ttl, and messages with an expiration, expire on every member
// (the leader's expiry goes through the log), and the leader
// dead-letters them once (reason expired) into another quorum queue.
func TestQuorumMessageTTLReplicated(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	c.declareQuorum("a", "ttl-dead", nil)
	leader := c.declareQuorum("a", "ttl", amqp091.Table{"x-message-ttl": int32(300),
		"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "ttl-dead"})
	c.declareQuorum("a", "ttl-each", nil)
	follower := c.other(leader)
	if acked, _ := publishConfirmed(t, c.mustDial(follower), "ttl", 0, 5); acked != 5 {
		t.Fatalf("%d of 5 confirmed", acked)
	}
	ch, err := c.mustDial(follower).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := ch.NotifyPublish(make(chan amqp091.Confirmation, 4))
	for i, exp := range []string{"200", "", "200"} {
		if err := ch.Publish("", "ttl-each", false, false, amqp091.Publishing{DeliveryMode: amqp091.Persistent, Expiration: exp, Body: []byte(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if cf := <-confirms; !cf.Ack {
			t.Fatal("nacked")
		}
	}
	c.groupMessages("ttl", 0)      // expired on every member
	c.groupMessages("ttl-dead", 5) // dead-lettered once
	c.groupMessages("ttl-each", 1) // the one without an expiration stays
	bodies, _, _ := consume(t, c.mustDial(c.queueLeader("ttl-each", "")), "ttl-each", 10, 1, true)
	if bodies[0] != "1" {
		t.Fatalf("the message left in ttl-each is %q, want the one without an expiration (1)", bodies[0])
	}
}

// TestQuorumTTLAfterFailover: a message that was not expired when its
// leader stopped expires under the new leader, on every member.
func TestQuorumTTLAfterFailover(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "ttl-fo", amqp091.Table{"x-message-ttl": int32(1500)})
	if acked, _ := publishConfirmed(t, c.mustDial(c.other(leader)), "ttl-fo", 0, 3); acked != 3 {
		t.Fatalf("%d of 3 confirmed", acked)
	}
	c.stop(leader)
	c.queueLeader("ttl-fo", leader)
	c.groupMessages("ttl-fo", 0)
}

// TestQuorumExpiresOnLeaderOnly: x-expires counts on the leader: a
// consumer there keeps the queue on every node past x-expires (a
// follower's own timer deletes nothing); once it is gone, the leader
// deletes the queue on every node through the metadata log.
func TestQuorumExpiresOnLeaderOnly(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "exp", amqp091.Table{"x-expires": int32(400)})
	ch, err := c.mustDial(leader).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Consume("exp", "keeper", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	// Well past x-expires: the queue is on every node.
	watch := time.NewTicker(50 * time.Millisecond)
	defer watch.Stop()
	for end := time.Now().Add(1200 * time.Millisecond); time.Now().Before(end); <-watch.C {
		for _, tn := range c.nodes {
			if tn.srv.Broker().Vhost("/").Queue("exp") == nil {
				t.Fatalf("node %s deleted quorum queue exp while its leader %s has a consumer", tn.name, leader)
			}
		}
	}
	if err := ch.Cancel("keeper", false); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		for _, tn := range c.nodes {
			if tn.srv.Broker().Vhost("/").Queue("exp") != nil {
				return fmt.Errorf("node %s still has exp", tn.name)
			}
			if _, ok := tn.node.QueueStatus("/", "exp"); ok {
				return fmt.Errorf("node %s still runs exp's group", tn.name)
			}
		}
		return nil
	})
}
