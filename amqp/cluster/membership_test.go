package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// growing tunes a cluster that starts as node "a" alone: every other node
// starts empty with Join, knowing a's address only.
func growing(c **testCluster, extra func(*Config)) func(*Config) {
	return func(cfg *Config) {
		a := (*c).peers["a"]
		cfg.Peers = map[string]string{"a": a}
		cfg.Join = cfg.Name != "a"
		if extra != nil {
			extra(cfg)
		}
	}
}

func join(t *testing.T, c *testCluster, via, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.nodes[via].node.Join(ctx, name, c.peers[name]); err != nil {
		t.Fatalf("join %s via %s: %v", name, via, err)
	}
}

func leave(c *testCluster, via, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return c.nodes[via].node.Leave(ctx, name)
}

// waitMembers waits until node sees exactly voters (sorted) and no learner.
func waitMembers(t *testing.T, c *testCluster, node string, voters ...string) Status {
	t.Helper()
	var s Status
	eventually(t, 10*time.Second, func() error {
		s = c.nodes[node].node.Status()
		if !slices.Equal(s.Members, voters) || len(s.Learners) != 0 {
			return fmt.Errorf("node %s: voters %v learners %v, want voters %v", node, s.Members, s.Learners, voters)
		}
		return nil
	})
	return s
}

// TestJoinLeave: a node alone; two more join one at a time (the second
// through a follower), each a learner first and a voter once caught up;
// declares on every node reach every node; the leader reports every
// follower's match index and lag; one leaves, its Raft stops, and the
// two others go on with a quorum of two; restarts keep the membership
// and the address book, and the removed node stays out.
func TestJoinLeave(t *testing.T) {
	var c *testCluster
	c = newCluster(t, three, growing(&c, nil))
	c.start("a")
	c.waitLeader()
	declareQueues(t, c, "a", "alone", 3)

	c.start("b")
	if s := c.nodes["b"].node.Status(); len(s.Members) != 0 {
		t.Fatalf("a joining node starts with members %v, want none", s.Members)
	}
	join(t, c, "a", "b")
	waitMembers(t, c, "a", "a", "b")
	waitQueues(t, c, "b", "alone", 3)

	c.start("c")
	join(t, c, "b", "c") // through a follower (or the leader, whichever b is)
	for _, n := range three {
		waitMembers(t, c, n, three...)
	}
	for _, n := range three {
		declareQueues(t, c, n, "on-"+n, 2)
	}
	for _, n := range three {
		for _, m := range three {
			waitQueues(t, c, n, "on-"+m, 2)
		}
	}
	leader := c.waitLeader()
	eventually(t, 10*time.Second, func() error {
		s := c.nodes[leader].node.Status()
		if len(s.Nodes) != 3 {
			return fmt.Errorf("leader %s lists %d nodes", leader, len(s.Nodes))
		}
		for _, m := range s.Nodes {
			if !m.Voter || !m.Known || !m.Running || m.Lag != 0 || m.Match != s.Commit || m.Leader != (m.Name == leader) || m.Addr != c.peers[m.Name] {
				return fmt.Errorf("leader %s sees %+v (commit %d)", leader, m, s.Commit)
			}
		}
		return nil
	})

	// c leaves (through a, whatever leads): its Raft stops and says so.
	if err := leave(c, "a", "c"); err != nil {
		t.Fatal(err)
	}
	waitMembers(t, c, "a", "a", "b")
	waitMembers(t, c, "b", "a", "b")
	eventually(t, 10*time.Second, func() error {
		if s := c.nodes["c"].node.Status(); !s.Removed {
			return fmt.Errorf("node c: %+v, want removed", s)
		}
		return nil
	})
	ch, err := c.mustDial("c").Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("on-removed", true, false, false, false, nil); err == nil {
		t.Fatal("a declare on the removed node succeeded")
	}
	c.stop("c")
	declareQueues(t, c, "b", "two-left", 2)
	waitQueues(t, c, "a", "two-left", 2)

	// Restarts: membership and the address book come back from the log.
	c.stop("a")
	c.stop("b")
	c.start("a")
	c.start("b")
	c.waitLeader()
	waitMembers(t, c, "a", "a", "b")
	declareQueues(t, c, "a", "restarted", 1)
	waitQueues(t, c, "b", "restarted", 1)
	c.start("c")
	if s := c.nodes["c"].node.Status(); !s.Removed {
		t.Fatalf("the removed node restarted: %+v, want it to stay removed", s)
	}
}

// TestMembershipRefusals: a name already a member, an unknown name, the
// last voter, a bad address: each a clear error, and nothing changes.
func TestMembershipRefusals(t *testing.T) {
	var c *testCluster
	c = newCluster(t, three, growing(&c, nil))
	c.start("a")
	c.waitLeader()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"join a member", c.nodes["a"].node.Join(ctx, "a", c.peers["a"]), ErrMemberExists},
		{"join without address", c.nodes["a"].node.Join(ctx, "b", "nowhere"), ErrInvalid},
		{"join without name", c.nodes["a"].node.Join(ctx, "", "127.0.0.1:1"), ErrInvalid},
		{"leave an unknown node", c.nodes["a"].node.Leave(ctx, "zed"), ErrNotMember},
		{"leave the last voter", c.nodes["a"].node.Leave(ctx, "a"), ErrLastVoter},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		} else {
			t.Logf("%s: %v", tc.name, tc.err)
		}
	}
	waitMembers(t, c, "a", "a")
}

// TestJoinFromSnapshot: the log of a node alone is compacted behind a
// snapshot; a joining node catches up from the snapshot (with the address
// book in it), becomes a voter, and then follows the log.
func TestJoinFromSnapshot(t *testing.T) {
	var c *testCluster
	c = newCluster(t, three, growing(&c, func(cfg *Config) { cfg.SnapshotEntries, cfg.CatchUpEntries = 16, -1 }))
	c.start("a")
	c.waitLeader()
	declareQueues(t, c, "a", "q", 40)
	eventually(t, 10*time.Second, func() error {
		if s := c.nodes["a"].node.Status(); s.FirstIndex <= 1 {
			return fmt.Errorf("node a: first index %d: not compacted", s.FirstIndex)
		}
		return nil
	})
	c.start("b")
	join(t, c, "a", "b")
	waitQueues(t, c, "b", "q", 40)
	eventually(t, 10*time.Second, func() error {
		if s := c.nodes["b"].node.Status(); s.SnapshotIndex == 0 {
			return fmt.Errorf("node b caught up without a snapshot: %+v", s)
		}
		return nil
	})
	declareQueues(t, c, "b", "later", 3)
	waitQueues(t, c, "a", "later", 3)
	// A third learns b's address from a's snapshot or log, not from its flags.
	c.start("c")
	join(t, c, "b", "c")
	waitMembers(t, c, "c", three...)
	c.stop("a")
	declareQueues(t, c, "c", "without-a", 2)
	waitQueues(t, c, "b", "without-a", 2)
}

// TestLeaderLeaves: the leader is asked to leave; it hands leadership to
// another voter first, then is removed; the two others elect among
// themselves and go on.
func TestLeaderLeaves(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	leader := c.waitLeader()
	var other string
	for _, n := range three {
		if n != leader {
			other = n
			break
		}
	}
	if err := leave(c, other, leader); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if s := c.nodes[leader].node.Status(); !s.Removed {
			return fmt.Errorf("old leader %s: %+v, want removed", leader, s)
		}
		return nil
	})
	c.stop(leader)
	newLeader := c.waitLeader()
	if newLeader == leader {
		t.Fatalf("the removed node %s still leads", leader)
	}
	declareQueues(t, c, other, "after", 2)
	for _, n := range c.running() {
		waitQueues(t, c, n, "after", 2)
		if s := c.nodes[n].node.Status(); slices.Contains(s.Members, leader) {
			t.Fatalf("node %s still lists %s: %v", n, leader, s.Members)
		}
	}
}

// TestStatusShowsDownAndLag: a stopped member shows as not running on the
// others, and its lag on the leader grows with the commits it misses.
func TestStatusShowsDownAndLag(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	leader := c.waitLeader()
	var down string
	for _, n := range three {
		if n != leader {
			down = n
		}
	}
	c.stop(down)
	declareQueues(t, c, leader, "missed", 5)
	eventually(t, 10*time.Second, func() error {
		for _, n := range c.running() {
			s := c.nodes[n].node.Status()
			for _, m := range s.Nodes {
				if m.Running != (m.Name != down) {
					return fmt.Errorf("node %s sees %s running=%v", n, m.Name, m.Running)
				}
				if n == leader && m.Name == down && m.Lag < 5 {
					return fmt.Errorf("leader sees %s lag %d, want at least 5", down, m.Lag)
				}
			}
		}
		return nil
	})
	c.start(down)
	eventually(t, 10*time.Second, func() error {
		for _, m := range c.nodes[leader].node.Status().Nodes {
			if !m.Running || m.Lag != 0 {
				return fmt.Errorf("leader sees %+v", m)
			}
		}
		return nil
	})
}
