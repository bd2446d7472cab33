package cluster

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestQuorumMembersMoveOnLeave: four nodes, four quorum queues of three
// members, their logs compacted. A node leaves the cluster: each group
// it was a member of gets the fourth node as a learner, promotes it once
// it has caught up (from a snapshot) and drops the departed one; every
// group keeps three members, all agreeing, and every confirmed message
// is on each of them and is consumed.
func TestQuorumMembersMoveOnLeave(t *testing.T) {
	names := []string{"a", "b", "c", "d"}
	c := newCluster(t, names, func(cfg *Config) { cfg.QueueSnapshotEntries, cfg.CatchUpEntries = 8, 2 }, names...)
	c.waitLeader()
	queues := []string{"mv0", "mv1", "mv2", "mv3"}
	const n = 30
	count := map[string]int{}
	before := map[string][]string{} // the members chosen at declaration
	for _, q := range queues {
		leader := c.declareQuorum("a", q, nil)
		if acked, _ := publishConfirmed(t, c.mustDial(leader), q, 0, n); acked != n {
			t.Fatalf("%s: %d of %d confirmed", q, acked, n)
		}
		s, _ := c.nodes[leader].node.QueueStatus("/", q)
		before[q] = s.Members
		for _, m := range s.Members {
			count[m]++
		}
	}
	leaving := "a"
	for _, m := range names {
		if count[m] > count[leaving] {
			leaving = m
		}
	}
	t.Logf("members per node %v; %s leaves", count, leaving)
	via := c.other(leaving)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.nodes[via].node.Leave(ctx, leaving); err != nil {
		t.Fatal(err)
	}
	c.stop(leaving)
	restarted := false
	for _, q := range queues {
		eventually(t, 20*time.Second, func() error {
			var members []string
			for _, tn := range c.nodes {
				s, ok := tn.node.QueueStatus("/", q)
				if !ok || !s.Member {
					continue
				}
				if len(s.Members) != 3 || slices.Contains(s.Members, leaving) {
					return fmt.Errorf("%s on %s: members %v", q, tn.name, s.Members)
				}
				if members != nil && !slices.Equal(members, s.Members) {
					return fmt.Errorf("%s: members %v on one node, %v on %s", q, members, s.Members, tn.name)
				}
				members = s.Members
			}
			if len(members) != 3 {
				return fmt.Errorf("%s: no member sees 3 members", q)
			}
			for _, m := range members {
				if s, _ := c.nodes[m].node.QueueStatus("/", q); !s.Member {
					return fmt.Errorf("%s: %s is named a member but runs no group", q, m)
				}
			}
			return nil
		})
		c.groupMessages(q, n) // on every member, the new one included
		if s, _ := c.nodes[c.other(leaving)].node.QueueStatus("/", q); !restarted && !slices.Equal(s.Members, before[q]) {
			// The node added keeps the group across a restart (its log
			// says it is a member; the declaration did not choose it).
			for _, m := range s.Members {
				if !slices.Contains(before[q], m) {
					t.Logf("%s: %s joined its group; restarting it", q, m)
					c.stop(m)
					c.start(m)
					restarted = true
				}
			}
			c.queueLeader(q, leaving)
			c.groupMessages(q, n)
		}
		leader := c.queueLeader(q, leaving)
		bodies, _, _ := consume(t, c.mustDial(leader), q, 50, n, true)
		seen := map[string]bool{}
		for _, b := range bodies {
			seen[b] = true
		}
		for i := range n {
			if !seen[strconv.Itoa(i)] {
				t.Fatalf("%s: confirmed message %d lost in the move", q, i)
			}
		}
		c.groupMessages(q, 0)
	}
	// New queues are placed on the nodes still in the cluster only.
	for i := range 4 {
		q := fmt.Sprintf("mv-new-%d", i)
		leader := c.declareQuorum(via, q, nil)
		if s, _ := c.nodes[leader].node.QueueStatus("/", q); len(s.Members) != 3 || slices.Contains(s.Members, leaving) {
			t.Fatalf("%s declared after %s left: members %v", q, leaving, s.Members)
		}
	}
}
