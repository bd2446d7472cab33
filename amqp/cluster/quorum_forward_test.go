package cluster

import (
	"strconv"
	"sync/atomic"
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"
	pb "go.etcd.io/raft/v3/raftpb"
)

// outsider returns a running node outside quorum queue name's group.
func (c *testCluster) outsider(name string) string {
	for _, tn := range c.nodes {
		if s, ok := tn.node.QueueStatus("/", name); ok && !s.Member {
			return tn.name
		}
	}
	c.t.Fatalf("every node is a member of %s's group", name)
	return ""
}

// TestQuorumPublishAndConsumeOutsideTheGroup: with a group of 2 on 3
// nodes, the third node's publishes are forwarded to the group and
// confirmed once committed (the link loses every third forwarded batch:
// each is sent again), and its consumer is fed by the leader, its acks
// forwarded: every message arrives once, in order, and the group ends
// empty.
func TestQuorumPublishAndConsumeOutsideTheGroup(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	c.declareQuorum("a", "outq", amqp091.Table{"x-quorum-initial-group-size": 2})
	out := c.outsider("outq")
	var fwd, lost atomic.Int64
	c.nodes[out].node.tr.setDrop(func(group uint64, m *pb.Message) bool {
		if !isFeed(group, m, feedPropose) {
			return false
		}
		if fwd.Add(1)%3 == 0 {
			lost.Add(1)
			return true
		}
		return false
	})
	const n = 30
	conn := c.mustDial(out)
	for k := range 6 {
		if acked, nacked := publishConfirmed(t, conn, "outq", k*5, 5); acked != 5 {
			t.Fatalf("round %d: %d confirmed, %d nacked", k, acked, nacked)
		}
	}
	if lost.Load() == 0 {
		t.Fatalf("no forwarded batch was lost (%d forwarded)", fwd.Load())
	}
	c.groupMessages("outq", n)
	bodies, redelivered, _ := consume(t, conn, "outq", 5, n, true)
	for i, b := range bodies {
		if b != strconv.Itoa(i) || redelivered[b] {
			t.Fatalf("message %d: %q (redelivered %v): %v", i, b, redelivered[b], bodies)
		}
	}
	c.groupMessages("outq", 0)
	nd := c.nodes[out].node
	nd.qmu.Lock()
	g := nd.qmu.groups[QueueGroupID("/", "outq")]
	nd.qmu.Unlock()
	if p := g.pending.Load(); p != 0 {
		t.Fatalf("%d bytes still pending on the outside node", p)
	}
}
