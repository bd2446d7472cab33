package cluster

import (
	"fmt"
	"testing"
	"time"
)

// TestQuorumCompactionWithStuckMessage: one message stays unacknowledged
// on the leader while many enqueue/settle rounds go by; snapshots hold
// it, so the log is still compacted (its first index moves on). A
// follower stopped before the rounds catches up from a snapshot when it
// comes back; a full restart of the cluster keeps every message not
// settled; the stuck message, returned, is redelivered.
func TestQuorumCompactionWithStuckMessage(t *testing.T) {
	c := newCluster(t, three, func(cfg *Config) { cfg.QueueSnapshotEntries, cfg.CatchUpEntries = 32, 8 }, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "stuck", nil)
	lconn := c.mustDial(leader)
	if acked, _ := publishConfirmed(t, lconn, "stuck", -1, 1); acked != 1 {
		t.Fatal("not confirmed")
	}
	stuck, _, stuckCh := consume(t, lconn, "stuck", 1, 1, false)
	if stuck[0] != "-1" {
		t.Fatalf("got %q first", stuck[0])
	}
	behind := c.other(leader)
	c.stop(behind)
	s0, _ := c.nodes[leader].node.QueueStatus("/", "stuck")

	pch, err := lconn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer pch.Close()
	cch, err := lconn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := cch.Qos(10, 0, false); err != nil {
		t.Fatal(err)
	}
	ds, err := cch.Consume("stuck", "worker", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	const rounds, per = 60, 5
	for r := range rounds {
		if acked, _ := publishConfirmed(t, lconn, "stuck", r*per, per); acked != per {
			t.Fatalf("round %d: %d of %d confirmed", r, acked, per)
		}
		for range per {
			select {
			case d := <-ds:
				d.Ack(false)
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: a delivery missing", r)
			}
		}
	}
	c.groupMessages("stuck", 1)
	s1, _ := c.nodes[leader].node.QueueStatus("/", "stuck")
	t.Logf("leader %s: first index %d -> %d, snapshot %d, applied %d", leader, s0.FirstIndex, s1.FirstIndex, s1.SnapshotIndex, s1.Applied)
	if s1.FirstIndex < s0.FirstIndex+50 || s1.SnapshotIndex == 0 {
		t.Fatalf("the log was not compacted past the stuck message: first index %d -> %d, snapshot %d", s0.FirstIndex, s1.FirstIndex, s1.SnapshotIndex)
	}

	// The follower that missed it all catches up from a snapshot.
	c.start(behind)
	eventually(t, 10*time.Second, func() error {
		s, _ := c.nodes[behind].node.QueueStatus("/", "stuck")
		if s.Messages != 1 || s.Applied < s1.Applied || s.SnapshotIndex < s0.Applied {
			return fmt.Errorf("node %s: %d messages, applied %d (leader %d), snapshot %d", behind, s.Messages, s.Applied, s1.Applied, s.SnapshotIndex)
		}
		return nil
	})

	// A full restart keeps the stuck message and 3 more confirmed ones.
	if acked, _ := publishConfirmed(t, lconn, "stuck", 1000, 3); acked != 3 {
		t.Fatal("not confirmed")
	}
	cch.Cancel("worker", false)
	stuckCh.Close()
	for _, n := range c.running() {
		c.stop(n)
	}
	for _, n := range three {
		c.start(n)
	}
	c.waitLeader()
	c.groupMessages("stuck", 4)
	newLeader := c.queueLeader("stuck", "")
	bodies, redelivered, _ := consume(t, c.mustDial(newLeader), "stuck", 10, 4, true)
	want := map[string]bool{"-1": true, "1000": true, "1001": true, "1002": true}
	for _, b := range bodies {
		if !want[b] {
			t.Fatalf("after the restart got %q, want one of %v", b, want)
		}
		delete(want, b)
	}
	if !redelivered["-1"] {
		t.Fatal("the stuck message is not marked redelivered")
	}
	c.groupMessages("stuck", 0)
}
