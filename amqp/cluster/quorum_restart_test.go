package cluster

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/warrenmq/warren/storage/raftlog"
)

// TestQuorumVotersSurviveCompactionAndRestart: a quorum queue's group
// applies its bootstrap configuration from its first log entries; once
// snapshots have compacted those away on every member, a member that
// restarts must still know the group's voters (from its saved
// configuration), or it can never stand for election. Issue 20: the
// configuration was never saved, so after a full restart no member had
// voters, none stood, and the group stayed without a leader for good
// (in a chaos run: two restarted members with the longest logs and no
// voters, the third unable to win).
func TestQuorumVotersSurviveCompactionAndRestart(t *testing.T) {
	c := compactedQuorumCluster(t, "voters")

	for _, n := range three {
		c.stop(n)
	}
	for _, n := range three {
		c.start(n)
	}
	c.waitLeader()
	eventually(t, 10*time.Second, func() error {
		for _, n := range three {
			s, ok := c.nodes[n].node.QueueStatus("/", "voters")
			if !ok || len(s.Members) != 3 {
				return fmt.Errorf("node %s after the restart: the group's voters are %v (want 3)", n, s.Members)
			}
		}
		return nil
	})
	newLeader := c.queueLeader("voters", "")
	if acked, _ := publishConfirmed(t, c.mustDial(c.other(newLeader)), "voters", 100, 1); acked != 1 {
		t.Fatal("a publish after the restart was not confirmed")
	}
	c.groupMessages("voters", 41)
}

// TestQuorumConfRepairedFromSnapshot: a log written before the fix (its
// group's configuration never saved, the bootstrap entries compacted
// away) gets its voters back from its snapshot at start, so the member
// can stand again. The old state is made by wiping the saved conf state
// of every member while the cluster is down.
func TestQuorumConfRepairedFromSnapshot(t *testing.T) {
	c := compactedQuorumCluster(t, "repair")
	for _, n := range three {
		c.stop(n)
	}
	for _, n := range three {
		st, err := raftlog.Open(raftlog.Options{Dir: filepath.Join(c.dirs[n], "raft")})
		if err != nil {
			t.Fatal(err)
		}
		g, err := st.Group(QueueGroupID("/", "repair"))
		if err != nil {
			t.Fatal(err)
		}
		b := st.NewBatch()
		b.SetConfState(g, &pb.ConfState{})
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range three {
		c.start(n)
	}
	c.waitLeader()
	newLeader := c.queueLeader("repair", "")
	if acked, _ := publishConfirmed(t, c.mustDial(newLeader), "repair", 100, 1); acked != 1 {
		t.Fatal("a publish after the restart was not confirmed")
	}
	c.groupMessages("repair", 41)
}

// compactedQuorumCluster starts three nodes with a quorum queue name that
// has had 40 confirmed publishes, one at a time: many rounds, many
// entries, so that every member has snapshotted and compacted its log
// past the bootstrap's entries (1..3).
func compactedQuorumCluster(t *testing.T, name string) *testCluster {
	t.Helper()
	c := newCluster(t, three, func(cfg *Config) { cfg.QueueSnapshotEntries, cfg.CatchUpEntries = 16, 4 }, three...)
	c.waitLeader()
	conn := c.mustDial(c.declareQuorum("a", name, nil))
	for r := range 40 {
		if acked, _ := publishConfirmed(t, conn, name, r, 1); acked != 1 {
			t.Fatalf("round %d: not confirmed", r)
		}
	}
	eventually(t, 10*time.Second, func() error {
		for _, n := range three {
			s, _ := c.nodes[n].node.QueueStatus("/", name)
			if s.FirstIndex <= 4 || s.SnapshotIndex == 0 {
				return fmt.Errorf("node %s: first index %d, snapshot %d", n, s.FirstIndex, s.SnapshotIndex)
			}
		}
		return nil
	})
	conn.Close()
	return c
}

// TestQuorumRestartServesFromSnapshot: members restarted on a snapshot
// serve its messages from its buffer (decodeQState borrows it, issue 20),
// intact and in order; once most are consumed, every member re-homes
// the rest (SnapshotBorrowed falls to 0), which are still intact.
func TestQuorumRestartServesFromSnapshot(t *testing.T) {
	const name, n = "snapq", 40
	c := newCluster(t, three, func(cfg *Config) { cfg.QueueSnapshotEntries, cfg.CatchUpEntries = 16, 4 }, three...)
	c.waitLeader()
	conn := c.mustDial(c.declareQuorum("a", name, nil))
	body := func(i int) string { return fmt.Sprintf("%04d-%s", i, strings.Repeat("x", 1000)) }
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := ch.NotifyPublish(make(chan amqp091.Confirmation, 1))
	for i := range n { // one at a time: an entry each, so that snapshots come
		if err := ch.Publish("", name, false, false, amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: []byte(body(i))}); err != nil {
			t.Fatal(err)
		}
		select {
		case cf := <-confirms:
			if !cf.Ack {
				t.Fatalf("message %d nacked", i)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("message %d: no confirm in 30 s", i)
		}
	}
	conn.Close()
	c.restartAll(three...)
	borrowed := func(want bool) func() error {
		return func() error {
			for _, nd := range three {
				s, _ := c.nodes[nd].node.QueueStatus("/", name)
				if s.Messages == 0 || (s.SnapshotBorrowed > 0) != want {
					return fmt.Errorf("node %s: %d messages, %d bytes of snapshot borrowed", nd, s.Messages, s.SnapshotBorrowed)
				}
			}
			return nil
		}
	}
	eventually(t, 10*time.Second, borrowed(true))
	leader := c.queueLeader(name, "")
	cc := c.mustDial(leader)
	got, _, ch2 := consume(t, cc, name, 1, 30, true)
	eventually(t, 10*time.Second, borrowed(false)) // 10 of 40 left
	ch2.Close()
	rest, _, _ := consume(t, cc, name, 10, 10, true)
	slices.Sort(rest) // the one ch2 had is requeued: maybe after others
	got = append(got, rest...)
	for i, b := range got {
		if b != body(i) {
			t.Fatalf("message %d: %.10q..., want %.10q...", i, b, body(i))
		}
	}
	c.groupMessages(name, 0)
}
