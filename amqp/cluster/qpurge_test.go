package cluster

import (
	"slices"
	"strconv"
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// TestQuorumPurgeOnFollower: a purge on a follower goes through the log:
// every member drops the ready messages, the two the leader delivered
// and that are not acknowledged stay (and come back when requeued), and
// messages published after the purge survive on every member.
func TestQuorumPurgeOnFollower(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "pg", nil)
	follower := c.other(leader)
	if acked, _ := publishConfirmed(t, c.mustDial(follower), "pg", 0, 10); acked != 10 {
		t.Fatalf("%d of 10 confirmed", acked)
	}
	held, _, hch := consume(t, c.mustDial(leader), "pg", 2, 2, false)
	ch, err := c.mustDial(follower).Channel()
	if err != nil {
		t.Fatal(err)
	}
	n, err := ch.QueuePurge("pg", false)
	if err != nil {
		t.Fatal(err)
	}
	if n != 10 {
		// A follower counts what the group held up to the purge.
		t.Errorf("purge-ok on the follower: %d messages, want 10", n)
	}
	c.groupMessages("pg", 2) // the two unacknowledged
	if acked, _ := publishConfirmed(t, c.mustDial(follower), "pg", 10, 3); acked != 3 {
		t.Fatalf("%d of 3 confirmed after the purge", acked)
	}
	c.groupMessages("pg", 5)
	if err := hch.Close(); err != nil { // the two held come back
		t.Fatal(err)
	}
	bodies, _, _ := consume(t, c.mustDial(leader), "pg", 10, 5, true)
	want := append(slices.Clone(held), "10", "11", "12")
	slices.Sort(bodies)
	slices.Sort(want)
	if !slices.Equal(bodies, want) {
		t.Fatalf("after the purge: %v, want %v", bodies, want)
	}
	c.groupMessages("pg", 0)
}

// TestQuorumPurgeOnLeader: the leader's purge-ok counts the ready
// messages it removed, and every member drops them.
func TestQuorumPurgeOnLeader(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "pgl", nil)
	if acked, _ := publishConfirmed(t, c.mustDial(c.other(leader)), "pgl", 0, 7); acked != 7 {
		t.Fatalf("%d of 7 confirmed", acked)
	}
	c.groupMessages("pgl", 7)
	ch, err := c.mustDial(leader).Channel()
	if err != nil {
		t.Fatal(err)
	}
	n, err := ch.QueuePurge("pgl", false)
	if err != nil || n != 7 {
		t.Fatalf("purge on the leader: %d, %v; want 7", n, err)
	}
	c.groupMessages("pgl", 0)
	if acked, _ := publishConfirmed(t, c.mustDial(leader), "pgl", 7, 1); acked != 1 {
		t.Fatal("not confirmed after the purge")
	}
	bodies, _, _ := consume(t, c.mustDial(leader), "pgl", 10, 1, true)
	if bodies[0] != strconv.Itoa(7) {
		t.Fatalf("after the purge: %v", bodies)
	}
}

// TestQuorumPurgeOutsideTheGroup: a purge on a node outside the group
// (size 2 of 3) goes in its forwarded batch; the leader purges and
// answers it the count. Before, it was refused with 541.
func TestQuorumPurgeOutsideTheGroup(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "outpg", amqp091.Table{"x-quorum-initial-group-size": 2})
	out := c.outsider("outpg")
	if acked, _ := publishConfirmed(t, c.mustDial(leader), "outpg", 0, 5); acked != 5 {
		t.Fatalf("%d of 5 confirmed", acked)
	}
	ch, err := c.mustDial(out).Channel()
	if err != nil {
		t.Fatal(err)
	}
	n, err := ch.QueuePurge("outpg", false)
	if err != nil || n != 5 {
		t.Fatalf("purge on %s: %d, %v; want 5", out, n, err)
	}
	c.groupMessages("outpg", 0)
}
