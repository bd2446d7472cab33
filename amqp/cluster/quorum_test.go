package cluster

import (
	"strconv"
	"testing"
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
