package cluster

import (
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

var three = []string{"a", "b", "c"}

// TestDefinitionsReplicate: an exchange, a queue and a binding declared
// over AMQP on one node, a user, permissions and a policy through the
// HTTP API on that node, are there on the other two.
func TestDefinitionsReplicate(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	ch, err := c.mustDial("a").Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare("orders.x", "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("orders", true, false, false, false, amqp091.Table{"x-max-length": int32(10)}); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind("orders", "eu.#", "orders.x", false, nil); err != nil {
		t.Fatal(err)
	}
	api := c.api("a")
	httpDo(t, "PUT", api+"/api/users/ann", `{"password":"secret","tags":""}`, 201)
	httpDo(t, "PUT", api+"/api/permissions/%2F/ann", `{"configure":".*","write":".*","read":".*"}`, 201)
	httpDo(t, "PUT", api+"/api/policies/%2F/cap", `{"pattern":"^orders$","apply-to":"queues","definition":{"max-length":5}}`, 201)

	for _, n := range []string{"b", "c"} {
		conn := c.mustDial(n)
		eventually(t, 5*time.Second, func() error {
			return passive(conn, func(ch *amqp091.Channel) error {
				if err := ch.ExchangeDeclarePassive("orders.x", "topic", true, false, false, false, nil); err != nil {
					return err
				}
				_, err := ch.QueueDeclarePassive("orders", true, false, false, false, amqp091.Table{"x-max-length": int32(10)})
				return err
			})
		})
		// The binding routes on this node: a message to eu.fr lands in
		// this node's orders queue.
		pch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		if err := pch.Publish("orders.x", "eu.fr", true, false, amqp091.Publishing{Body: []byte("hi")}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, func() error {
			return passive(conn, func(ch *amqp091.Channel) error {
				q, err := ch.QueueDeclarePassive("orders", true, false, false, false, amqp091.Table{"x-max-length": int32(10)})
				if err == nil && q.Messages != 1 {
					err = fmt.Errorf("node %s: orders holds %d messages, want 1", n, q.Messages)
				}
				return err
			})
		})
		eventually(t, 5*time.Second, func() error {
			ann, err := c.dial(n, "ann", "secret")
			if err != nil {
				return fmt.Errorf("node %s: ann cannot log in: %w", n, err)
			}
			return ann.Close()
		})
		eventually(t, 5*time.Second, func() error {
			for _, p := range c.nodes[n].srv.Broker().Vhost("/").Policies(false) {
				if p.Name == "cap" && p.Pattern == "^orders$" {
					return nil
				}
			}
			return fmt.Errorf("node %s has no policy cap", n)
		})
	}
	// A deletion goes everywhere too.
	httpDo(t, "DELETE", api+"/api/queues/%2F/"+url.PathEscape("orders"), "", 204)
	for _, n := range []string{"b", "c"} {
		eventually(t, 5*time.Second, func() error {
			if c.nodes[n].srv.Broker().Vhost("/").Queue("orders") != nil {
				return fmt.Errorf("node %s still has queue orders", n)
			}
			return nil
		})
	}
}

// TestRacingDeclares: two clients on two nodes declare the same queue
// with different arguments at once: exactly one wins, the other gets
// RabbitMQ's 406, and every node ends with the winner's arguments.
func TestRacingDeclares(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	conns := []*amqp091.Connection{c.mustDial("a"), c.mustDial("b")}
	for round := range 10 {
		name := fmt.Sprintf("race-%d", round)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for i, conn := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ch, err := conn.Channel()
				if err != nil {
					errs[i] = err
					return
				}
				defer ch.Close()
				<-start
				_, errs[i] = ch.QueueDeclare(name, true, false, false, false, amqp091.Table{"x-max-length": int32(i + 1)})
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("%s: both declares succeeded", name)
				}
				winner = i
			case amqpCode(err) != amqp091.PreconditionFailed:
				t.Fatalf("%s: the losing declare failed with %v, want 406 PRECONDITION_FAILED", name, err)
			}
		}
		if winner < 0 {
			t.Fatalf("%s: both declares failed: %v", name, errs)
		}
		for _, n := range three {
			eventually(t, 5*time.Second, func() error {
				q := c.nodes[n].srv.Broker().Vhost("/").Queue(name)
				if q == nil || q.Args["x-max-length"] != int32(winner+1) {
					return fmt.Errorf("node %s: %s is %v, want the winner's x-max-length %d", n, name, q, winner+1)
				}
				return nil
			})
		}
	}
}

// declareQueues declares n durable queues prefix-0.. on node.
func declareQueues(t *testing.T, c *testCluster, node, prefix string, n int) {
	t.Helper()
	ch, err := c.mustDial(node).Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	for i := range n {
		if _, err := ch.QueueDeclare(fmt.Sprintf("%s-%d", prefix, i), true, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func waitQueues(t *testing.T, c *testCluster, node, prefix string, n int) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		v := c.nodes[node].srv.Broker().Vhost("/")
		for i := range n {
			if v.Queue(fmt.Sprintf("%s-%d", prefix, i)) == nil {
				return fmt.Errorf("node %s lacks %s-%d", node, prefix, i)
			}
		}
		return nil
	})
}

// TestRestartCatchesUp: a node stopped while definitions change catches
// up from the log when it comes back, and what it had survives.
func TestRestartCatchesUp(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	declareQueues(t, c, "a", "before", 5)
	waitQueues(t, c, "c", "before", 5)
	c.stop("c")
	declareQueues(t, c, "a", "while", 20)
	if _, err := c.mustDial("b").Channel(); err != nil {
		t.Fatal(err)
	}
	c.start("c")
	waitQueues(t, c, "c", "while", 20)
	waitQueues(t, c, "c", "before", 5)
	// And it takes part again: a declare on it reaches the others.
	declareQueues(t, c, "c", "after", 1)
	waitQueues(t, c, "a", "after", 1)
}

// TestSnapshotCatchUp: the log is compacted behind a snapshot, and a node
// that was never started catches up from the snapshot.
func TestSnapshotCatchUp(t *testing.T) {
	c := newCluster(t, three, func(cfg *Config) { cfg.SnapshotEntries, cfg.CatchUpEntries = 16, -1 }, "a", "b")
	c.waitLeader()
	declareQueues(t, c, "a", "q", 40)
	eventually(t, 10*time.Second, func() error {
		for _, n := range []string{"a", "b"} {
			if s := c.nodes[n].node.Status(); s.SnapshotIndex == 0 || s.FirstIndex <= 1 {
				return fmt.Errorf("node %s: snapshot at %d, first index %d: not compacted", n, s.SnapshotIndex, s.FirstIndex)
			}
		}
		return nil
	})
	c.start("c")
	waitQueues(t, c, "c", "q", 40)
	if s := c.nodes["c"].node.Status(); s.SnapshotIndex == 0 {
		t.Fatalf("node c caught up without a snapshot: %+v", s)
	}
	// Then from the log, as usual.
	declareQueues(t, c, "b", "later", 3)
	waitQueues(t, c, "c", "later", 3)
}

// TestNoQuorum: a node alone of three commits nothing: a declare fails
// (541) instead of succeeding on one node.
func TestNoQuorum(t *testing.T) {
	c := newCluster(t, three, func(cfg *Config) { cfg.ProposeTimeout = time.Second }, three...)
	c.waitLeader()
	c.stop("b")
	c.stop("c")
	ch, err := c.mustDial("a").Channel()
	if err != nil {
		t.Fatal(err)
	}
	_, err = ch.QueueDeclare("lonely", true, false, false, false, nil)
	if amqpCode(err) != amqp091.InternalError {
		t.Fatalf("a declare without quorum: %v, want 541 INTERNAL_ERROR", err)
	}
	if c.nodes["a"].srv.Broker().Vhost("/").Queue("lonely") != nil {
		t.Fatal("the queue exists on the node without quorum")
	}
}

// TestWholeClusterRestart: every node stopped and started again keeps
// the definitions (its store), finds its Raft state (term, log, applied
// index) and goes on committing, with snapshots taken along the way.
func TestWholeClusterRestart(t *testing.T) {
	c := newCluster(t, three, func(cfg *Config) { cfg.SnapshotEntries, cfg.CatchUpEntries = 8, 2 }, three...)
	c.waitLeader()
	declareQueues(t, c, "b", "one", 12)
	for _, n := range three {
		waitQueues(t, c, n, "one", 12)
	}
	for _, n := range three {
		c.stop(n)
	}
	for _, n := range three {
		c.start(n)
	}
	c.waitLeader()
	for _, n := range three {
		waitQueues(t, c, n, "one", 12)
	}
	declareQueues(t, c, "c", "two", 12)
	for _, n := range three {
		waitQueues(t, c, n, "two", 12)
		if s := c.nodes[n].node.Status(); s.SnapshotIndex == 0 || s.Applied < s.SnapshotIndex {
			t.Fatalf("node %s: %+v, want a snapshot at or behind the applied index", n, s)
		}
	}
}

// TestLeaderStopsUnderAProposal: the leader stops, and a follower at once
// declares; raft drops a proposal forwarded to a leader that is gone, so
// the follower proposes again once a new leader is elected, and the
// declare succeeds (before: a 541 after ProposeTimeout), applied once.
func TestLeaderStopsUnderAProposal(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	for round := range 3 {
		leader := c.waitLeader()
		var follower string
		for _, n := range c.running() {
			if n != leader {
				follower = n
				break
			}
		}
		ch, err := c.mustDial(follower).Channel()
		if err != nil {
			t.Fatal(err)
		}
		c.stop(leader)
		q := fmt.Sprintf("after-leader-%d", round)
		if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
			t.Fatalf("round %d: declare on %s with leader %s stopped: %v", round, follower, leader, err)
		}
		c.start(leader)
		waitQueues(t, c, leader, "after-leader", round+1)
	}
}
