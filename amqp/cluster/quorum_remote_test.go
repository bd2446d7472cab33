package cluster

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	pb "go.etcd.io/raft/v3/raftpb"
)

// proxyOwed is how many messages the leader's proxies of remote
// consumers of queue have out, unsettled, and how many proxies there are.
func (c *testCluster) proxyOwed(leader, queue string) (owed, proxies int) {
	done := make(chan struct{})
	n := c.nodes[leader].node
	select {
	case n.ctlc <- func(l *loop) {
		defer close(done)
		g := l.groups[QueueGroupID("/", queue)]
		if g == nil {
			return
		}
		g.fd.fmu.Lock()
		for _, p := range g.fd.proxies {
			owed += p.owed
			proxies++
		}
		g.fd.fmu.Unlock()
	}:
		<-done
	case <-time.After(10 * time.Second):
		c.t.Fatal("the loop does not answer")
	}
	return owed, proxies
}

// TestQuorumConsumerOnFollowerFedRemotely: a consumer on a follower is
// fed by the leader over the peer link (the leadership stays where it
// is), within its prefetch: with 5 unacknowledged, the leader holds every
// other message ready; acked one by one, all 40 arrive once, in order.
func TestQuorumConsumerOnFollowerFedRemotely(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "remote", nil)
	follower := c.other(leader)
	const n, prefetch = 40, 5
	if acked, _ := publishConfirmed(t, c.mustDial(leader), "remote", 0, n); acked != n {
		t.Fatalf("%d of %d confirmed", acked, n)
	}
	ch, err := c.mustDial(follower).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Qos(prefetch, 0, false); err != nil {
		t.Fatal(err)
	}
	ds, err := ch.Consume("remote", "", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []amqp091.Delivery
	recv := func() amqp091.Delivery {
		t.Helper()
		select {
		case d := <-ds:
			return d
		case <-time.After(20 * time.Second):
			t.Fatalf("no delivery after %d", len(got))
		}
		return amqp091.Delivery{}
	}
	for range prefetch {
		got = append(got, recv())
	}
	// The window is full: the leader holds the rest ready and has
	// exactly prefetch out to the remote consumer.
	eventually(t, 10*time.Second, func() error {
		owed, proxies := c.proxyOwed(leader, "remote")
		if ready := c.msgCount(leader, "remote"); ready != n-prefetch || owed != prefetch || proxies != 1 {
			return fmt.Errorf("leader: %d ready, %d out to %d proxies; want %d, %d, 1", ready, owed, proxies, n-prefetch, prefetch)
		}
		return nil
	})
	select {
	case d := <-ds:
		t.Fatalf("a delivery past the prefetch window: %q", d.Body)
	default:
	}
	for len(got) < n {
		if err := got[len(got)-prefetch].Ack(false); err != nil {
			t.Fatal(err)
		}
		got = append(got, recv())
	}
	for _, d := range got[n-prefetch:] {
		if err := d.Ack(false); err != nil {
			t.Fatal(err)
		}
	}
	for i, d := range got {
		if string(d.Body) != strconv.Itoa(i) || d.Redelivered {
			t.Fatalf("delivery %d: %q (redelivered %v)", i, d.Body, d.Redelivered)
		}
	}
	c.groupMessages("remote", 0)
	// The deliveries and their acks are counted where the consumer is:
	// neither node shows any unacknowledged (the leader showed every
	// message it fed unacknowledged forever).
	eventually(t, 10*time.Second, func() error {
		for _, node := range []string{leader, follower} {
			if s := c.nodes[node].srv.Broker().Vhost("/").Queue("remote").Snapshot(); s.Unacked != 0 {
				return fmt.Errorf("%s: %d unacknowledged after every ack", node, s.Unacked)
			}
		}
		return nil
	})
	if now := c.queueLeader("remote", ""); now != leader {
		t.Fatalf("the leadership moved from %s to %s", leader, now)
	}
}

// TestQuorumRemoteConsumerCancelAndLoss: messages out to a remote
// consumer come back when it is cancelled without acking (its channel
// requeues them), and when its node is lost (the leader returns them);
// a consumer on the leader then gets them all, redelivered.
func TestQuorumRemoteConsumerCancelAndLoss(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "rc", nil)
	follower := c.other(leader)
	const n = 10
	if acked, _ := publishConfirmed(t, c.mustDial(leader), "rc", 0, n); acked != n {
		t.Fatalf("%d of %d confirmed", acked, n)
	}
	// Cancelled: the channel closes with 3 unacknowledged.
	_, _, ch := consume(t, c.mustDial(follower), "rc", 3, 3, false)
	if err := ch.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if owed, proxies := c.proxyOwed(leader, "rc"); proxies != 0 || owed != 0 || c.msgCount(leader, "rc") != n {
			return fmt.Errorf("leader: %d ready, %d out to %d proxies", c.msgCount(leader, "rc"), owed, proxies)
		}
		return nil
	})
	// Lost: the consumer's node goes silent on the peer link with 4
	// unacknowledged; its AMQP connection stays open (nothing requeued
	// by the channel): the leader returns them.
	out, _, _ := consume(t, c.mustDial(follower), "rc", 4, 4, false)
	c.lose(follower)
	bodies, redelivered, _ := consume(t, c.mustDial(leader), "rc", 0, n, true)
	seen := map[string]bool{}
	for _, b := range bodies {
		seen[b] = true
	}
	if len(seen) != n {
		t.Fatalf("after the loss: %v", bodies)
	}
	for _, b := range out {
		if !redelivered[b] {
			t.Fatalf("%q, out to the lost consumer, came back not redelivered: %v", b, redelivered)
		}
	}
}

// TestQuorumRemoteBacklogKeptWhileLeaderUnknown: a follower that loses
// sight of its leader for a moment (a pre-candidate under load has no
// leader, its term unchanged) and then sees the same one again keeps the
// deliveries waiting for its consumer: the leader still counts them out.
// Dropping them left them owed on the leader for good: 'got 2 of 10'.
func TestQuorumRemoteBacklogKeptWhileLeaderUnknown(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "flicker", nil)
	follower := c.other(leader)
	const n = 10
	if acked, _ := publishConfirmed(t, c.mustDial(leader), "flicker", 0, n); acked != n {
		t.Fatalf("%d of %d confirmed", acked, n)
	}
	ch, err := c.mustDial(follower).Channel()
	if err != nil {
		t.Fatal(err)
	}
	// A channel-wide limit of 2 and no consumer limit: the leader sends
	// all 10 (its window is the consumer's own prefetch), 8 wait here.
	if err := ch.Qos(2, 0, true); err != nil {
		t.Fatal(err)
	}
	ds, err := ch.Consume("flicker", "", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	recv := func(got int) amqp091.Delivery {
		t.Helper()
		select {
		case d := <-ds:
			return d
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d of %d", got, n)
		}
		return amqp091.Delivery{}
	}
	first := []amqp091.Delivery{recv(0), recv(1)}
	eventually(t, 10*time.Second, func() error {
		if owed, _ := c.proxyOwed(leader, "flicker"); owed != n {
			return fmt.Errorf("the leader has %d out, want %d", owed, n)
		}
		return nil
	})
	// The leader unknown for a tick, then the same one again.
	done := make(chan struct{})
	c.nodes[follower].node.ctlc <- func(l *loop) {
		defer close(done)
		g := l.groups[QueueGroupID("/", "flicker")]
		lead := g.lead
		g.lead = 0
		l.feedTick(g)
		g.lead = lead
		l.feedTick(g)
	}
	<-done
	got := len(first)
	for _, d := range first {
		d.Ack(false)
	}
	for got < n {
		d := recv(got)
		got++
		d.Ack(false)
	}
}

// TestQuorumRemoteDeliveryLostOnFailedLink: the leader's write carrying
// deliveries to a remote consumer fails (the link broke under it): the
// leader returns what that consumer's proxy had out, the consumer's node
// registers again, and every message arrives. Without, the lost
// deliveries stayed out to the proxy for good ('0 messages of 10 after 30 s').
func TestQuorumRemoteDeliveryLostOnFailedLink(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "lostlink", nil)
	follower := c.other(leader)
	const n = 10
	if acked, _ := publishConfirmed(t, c.mustDial(leader), "lostlink", 0, n); acked != n {
		t.Fatalf("%d of %d confirmed", acked, n)
	}
	var failed atomic.Bool
	c.nodes[leader].node.tr.setFail(func(group uint64, m *pb.Message) bool {
		return isFeed(group, m, feedDeliver) && failed.CompareAndSwap(false, true)
	})
	bodies, _, _ := consume(t, c.mustDial(follower), "lostlink", 5, n, true)
	if !failed.Load() {
		t.Fatal("no delivery went through the failing link")
	}
	seen := map[string]bool{}
	for _, b := range bodies {
		seen[b] = true
	}
	if len(seen) != n {
		t.Fatalf("got %v", bodies)
	}
}

// TestQuorumRemoteDeliveryLostBeforeAPing: a delivery to a remote
// consumer's node is taken by the kernel, then the connection breaks and
// the first write to notice it is a ping (the link carries nothing else:
// the group, of one, is led by a node that leads no other group and the
// consumer's node follows no group of it). The leader returns what that
// node's proxies had out at the ping's failure, so the lost delivery
// comes again; before, a failed ping was not reported, the next frame
// went on a new connection, and the consumer waited forever.
func TestQuorumRemoteDeliveryLostBeforeAPing(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	meta := c.waitLeader()
	var q, leader string
	for i := 0; leader == "" || leader == meta; i++ {
		if i == 12 {
			t.Fatalf("12 groups of one, all on the metadata leader %s", meta)
		}
		q = "ping" + strconv.Itoa(i)
		leader = c.declareQuorum(meta, q, amqp091.Table{"x-quorum-initial-group-size": 1})
	}
	consumer := c.other(leader, meta)
	const n = 10
	if acked, _ := publishConfirmed(t, c.mustDial(leader), q, 0, n); acked != n {
		t.Fatalf("%d of %d confirmed", acked, n)
	}
	tr := c.nodes[leader].node.tr
	to := c.nodes[consumer].node.id
	var dropped, broken atomic.Bool
	tr.setDrop(func(group uint64, m *pb.Message) bool {
		return m.GetTo() == to && isFeed(group, m, feedDeliver) && dropped.CompareAndSwap(false, true)
	})
	tr.setBreak(func(peer uint64, batch []groupMsg) bool {
		return peer == to && len(batch) == 0 && dropped.Load() && broken.CompareAndSwap(false, true)
	})
	bodies, _, _ := consume(t, c.mustDial(consumer), q, 5, n, true)
	if !dropped.Load() || !broken.Load() {
		t.Fatalf("dropped a delivery %v, broke a ping %v", dropped.Load(), broken.Load())
	}
	seen := map[string]bool{}
	for _, b := range bodies {
		seen[b] = true
	}
	if len(seen) != n {
		t.Fatalf("got %v", bodies)
	}
}
