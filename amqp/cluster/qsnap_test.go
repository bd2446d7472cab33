package cluster

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestQuorumSnapshotOffTheLoop: while a quorum queue's snapshot is held
// before its write (on every node), the loops go on: publishes to that
// queue and to another are confirmed, and the held queue keeps no
// snapshot. Released, the snapshots are recorded and the logs compacted;
// after a restart of every node the messages come back from them, all
// and in order.
func TestQuorumSnapshotOffTheLoop(t *testing.T) {
	c := newCluster(t, three, func(cfg *Config) { cfg.QueueSnapshotEntries, cfg.CatchUpEntries = 16, 4 }, three...)
	started := make(chan string, 16)
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before the nodes stop, should the test fail holding it
	hook := func(queue string) {
		if queue != "held" {
			return
		}
		select {
		case started <- queue:
		default:
		}
		<-release
	}
	for _, n := range three {
		c.nodes[n].node.snapHook.Store(&hook)
	}
	c.waitLeader()
	conn := c.mustDial(c.declareQuorum("a", "held", nil))
	c.declareQuorum("a", "other", nil)
	sent := 0
	for len(started) == 0 {
		if sent == 200 {
			t.Fatal("no snapshot of held started after 200 entries")
		}
		if acked, _ := publishConfirmed(t, conn, "held", sent, 1); acked != 1 {
			t.Fatalf("message %d not confirmed", sent)
		}
		sent++
	}
	// Held: every node's loop must still commit, publish after publish.
	for range 40 {
		if acked, _ := publishConfirmed(t, conn, "held", sent, 1); acked != 1 {
			t.Fatalf("message %d not confirmed while a snapshot is held", sent)
		}
		sent++
	}
	if acked, _ := publishConfirmed(t, conn, "other", 0, 20); acked != 20 {
		t.Fatalf("%d of 20 confirmed on another queue while a snapshot is held", acked)
	}
	for _, n := range three {
		if s, _ := c.nodes[n].node.QueueStatus("/", "held"); s.SnapshotIndex != 0 {
			t.Fatalf("node %s recorded a snapshot at %d while it was held", n, s.SnapshotIndex)
		}
	}
	free()
	eventually(t, 20*time.Second, func() error {
		for _, n := range three {
			s, _ := c.nodes[n].node.QueueStatus("/", "held")
			if s.SnapshotIndex == 0 || s.FirstIndex <= 4 {
				return fmt.Errorf("node %s: snapshot %d, first index %d", n, s.SnapshotIndex, s.FirstIndex)
			}
		}
		return nil
	})
	conn.Close()
	c.restartAll(three...)
	conn = c.mustDial("a")
	bodies, _, _ := consume(t, conn, "held", 100, sent, true)
	for i, b := range bodies {
		if b != strconv.Itoa(i) {
			t.Fatalf("message %d is %q after the restart", i, b)
		}
	}
	conn.Close()
}
