package cluster

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	pb "go.etcd.io/raft/v3/raftpb"
)

// TestQuorumGetOnFollower: basic.get on a node that does not lead the
// queue is served by the leader, as RabbitMQ serves it on any node: in
// order, with the count left; an acked get settles, a requeued one comes
// back redelivered at the next get of the same channel (its requeue
// applied first), a no-ack get is settled at once, and an empty queue
// answers get-empty. Before, a follower answered get-empty with 4
// messages in the queue.
func TestQuorumGetOnFollower(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "got", nil)
	follower := c.other(leader)
	const n = 4
	if acked, _ := publishConfirmed(t, c.mustDial(leader), "got", 0, n); acked != n {
		t.Fatalf("%d of %d confirmed", acked, n)
	}
	ch, err := c.mustDial(follower).Channel()
	if err != nil {
		t.Fatal(err)
	}
	get := func(noAck bool, want string, left int) {
		t.Helper()
		d, ok, err := ch.Get("got", noAck)
		if err != nil || !ok {
			t.Fatalf("get on %s (leader %s): ok %v, %v", follower, leader, ok, err)
		}
		if string(d.Body) != want || int(d.MessageCount) != left {
			t.Fatalf("get: %q with %d left, want %q with %d", d.Body, d.MessageCount, want, left)
		}
		if !noAck {
			if err := d.Ack(false); err != nil {
				t.Fatal(err)
			}
		}
	}
	get(false, "0", 3)
	get(true, "1", 2)
	d, ok, err := ch.Get("got", false)
	if err != nil || !ok || string(d.Body) != "2" {
		t.Fatalf("third get: %q %v %v", d.Body, ok, err)
	}
	if err := d.Nack(false, true); err != nil {
		t.Fatal(err)
	}
	// The requeue, sent before the next get on the same channel, is
	// applied before the leader serves that get.
	d, ok, err = ch.Get("got", false)
	if err != nil || !ok || string(d.Body) != "2" || !d.Redelivered {
		t.Fatalf("the get after the requeue: %q redelivered %v (ok %v, %v), want \"2\" redelivered", d.Body, d.Redelivered, ok, err)
	}
	if err := d.Ack(false); err != nil {
		t.Fatal(err)
	}
	get(false, "3", 0)
	c.groupMessages("got", 0)
	if _, ok, err := ch.Get("got", false); err != nil || ok {
		t.Fatalf("get on an empty queue: ok %v, %v", ok, err)
	}
	if now := c.queueLeader("got", ""); now != leader {
		t.Fatalf("the leadership moved from %s to %s", leader, now)
	}
}

// TestQuorumGetOutsideTheGroup: a get on a node outside the group (group
// size 2 of 3), which has never heard who leads it, asks every member;
// the leader answers.
func TestQuorumGetOutsideTheGroup(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "outget", amqp091.Table{"x-quorum-initial-group-size": 2})
	out := c.outsider("outget")
	if acked, _ := publishConfirmed(t, c.mustDial(leader), "outget", 0, 2); acked != 2 {
		t.Fatalf("%d of 2 confirmed", acked)
	}
	ch, err := c.mustDial(out).Channel()
	if err != nil {
		t.Fatal(err)
	}
	for i, noAck := range []bool{false, true} {
		d, ok, err := ch.Get("outget", noAck)
		if err != nil || !ok || string(d.Body) != strconv.Itoa(i) {
			t.Fatalf("get %d on %s: %q, ok %v, %v", i, out, d.Body, ok, err)
		}
		if !noAck {
			d.Ack(false)
		}
	}
	c.groupMessages("outget", 0)
}

// TestQuorumGetOfALostNodeReturned: what an acked get on a follower took
// stays out to that node until settled; the node lost, the leader
// returns it, redelivered.
func TestQuorumGetOfALostNodeReturned(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "getlost", nil)
	follower := c.other(leader)
	if acked, _ := publishConfirmed(t, c.mustDial(leader), "getlost", 0, 2); acked != 2 {
		t.Fatalf("%d of 2 confirmed", acked)
	}
	ch, err := c.mustDial(follower).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if d, ok, err := ch.Get("getlost", false); err != nil || !ok || string(d.Body) != "0" {
		t.Fatalf("get on %s: %q, ok %v, %v", follower, d.Body, ok, err)
	}
	if owed, _ := c.proxyOwed(leader, "getlost"); owed != 1 {
		t.Fatalf("the leader has %d out to %s's gets, want 1", owed, follower)
	}
	c.lose(follower)
	// "1" was ready all along; "0" comes back, redelivered, once the
	// leader gives up on the node: at its place, the head, if that is
	// before the consumer took "1", else after it.
	bodies, redelivered, _ := consume(t, c.mustDial(leader), "getlost", 0, 2, true)
	if slices.Sort(bodies); len(bodies) != 2 || bodies[0] != "0" || bodies[1] != "1" || !redelivered["0"] || redelivered["1"] {
		t.Fatalf("after the loss: %v (redelivered %v), want 0 redelivered and 1", bodies, redelivered)
	}
}

// TestQuorumNoAckGetCommittedFirst: a no-ack basic.get on the leader is
// answered once its settle is committed, as RabbitMQ answers once the
// dequeue is in its log. Here the leader's appends to the others are
// lost, so nothing commits; the leader is then lost, and the new leader
// still has the message: it must come out once, from the new leader.
// Before, the first get answered at once with it, and the new leader
// gave it again.
func TestQuorumNoAckGetCommittedFirst(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "nag", nil)
	if acked, _ := publishConfirmed(t, c.mustDial(leader), "nag", 0, 2); acked != 2 {
		t.Fatalf("%d of 2 confirmed", acked)
	}
	st, _ := c.nodes[leader].node.QueueStatus("/", "nag")
	c.nodes[leader].node.tr.setDrop(func(group uint64, m *pb.Message) bool {
		return group == st.Group && m.GetType() == pb.MessageType_MsgApp
	})
	ch, err := c.mustDial(leader).Channel()
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		body string
		ok   bool
	}
	first := make(chan got, 1)
	go func() {
		d, ok, _ := ch.Get("nag", true)
		first <- got{string(d.Body), ok}
	}()
	// The get has taken the head message on the leader.
	eventually(t, 10*time.Second, func() error {
		if info, _ := c.nodes[leader].srv.Broker().Vhost("/").QueueInfo("nag"); info.Ready != 1 {
			return fmt.Errorf("%d ready on the leader", info.Ready)
		}
		return nil
	})
	c.lose(leader)
	next := c.queueLeader("nag", leader)
	bodies := map[string]int{}
	if g := <-first; g.ok {
		bodies[g.body]++
	}
	ch2, err := c.mustDial(next).Channel()
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, ok, err := ch2.Get("nag", true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		bodies[string(d.Body)]++
	}
	if bodies["0"] != 1 || bodies["1"] != 1 || len(bodies) != 2 {
		t.Fatalf("bodies got: %v, want 0 and 1 once each", bodies)
	}
}
