package cluster

import (
	"errors"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
)

// TestQueueDeleteOnStaleFollower: queue.delete on a follower that has not
// yet applied the queue's declaration goes through the log like any other
// definition change, so it deletes the queue everywhere instead of
// answering delete-ok from its stale view (the chaos runs' definitions
// checker: 'queue chaos.q.6 committed present=false, on n1 present=true').
func TestQueueDeleteOnStaleFollower(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	leader := c.waitLeader()
	f := c.other(leader)
	fid := c.nodes[f].node.id
	// The follower hears nothing of the metadata group for a while.
	c.nodes[leader].node.tr.setDrop(func(group uint64, m *pb.Message) bool {
		return group == metaGroup && m.GetTo() == fid
	})
	ch, err := c.mustDial(leader).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("stale", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if c.nodes[f].srv.Broker().Vhost("/").Queue("stale") != nil {
		t.Fatal("the follower knows the queue: not stale")
	}
	done := make(chan error, 1)
	go func() {
		fch, err := c.mustDial(f).Channel()
		if err == nil {
			_, err = fch.QueueDelete("stale", false, false, false)
		}
		done <- err
	}()
	eventually(t, 10*time.Second, func() error {
		if c.nodes[leader].srv.Broker().Vhost("/").Queue("stale") != nil {
			return errors.New("the leader still has the queue the follower deleted")
		}
		return nil
	})
	c.nodes[leader].node.tr.setDrop(nil)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no delete-ok in 20 s")
	}
	for n, tn := range c.nodes {
		if tn.srv.Broker().Vhost("/").Queue("stale") != nil {
			t.Fatalf("node %s still has the queue", n)
		}
	}
}
