package cluster

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	pb "go.etcd.io/raft/v3/raftpb"
)

var quorumArgs = amqp091.Table{"x-queue-type": "quorum"}

// isFeed reports whether m, of group, is a feed message of kind
// (qremote.go feedMsg).
func isFeed(group uint64, m *pb.Message, kind byte) bool {
	ctx := m.GetContext()
	return group == controlGroup && len(ctx) > len(feedMagic) && string(ctx[:len(feedMagic)]) == feedMagic && ctx[len(feedMagic)] == kind
}

// declareQuorum declares quorum queue name on node (with extra
// arguments) and waits until every running member node sees one leader
// for its group; it returns the leader.
func (c *testCluster) declareQuorum(node, name string, extra amqp091.Table) string {
	c.t.Helper()
	args := amqp091.Table{"x-queue-type": "quorum"}
	for k, v := range extra {
		args[k] = v
	}
	ch, err := c.mustDial(node).Channel()
	if err != nil {
		c.t.Fatal(err)
	}
	defer ch.Close()
	if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
		c.t.Fatal(err)
	}
	return c.queueLeader(name, "")
}

// queueLeader waits until every running node that is a member of name's
// group sees the same leader, other than not (a node stopped), and
// returns it.
func (c *testCluster) queueLeader(name, not string) string {
	c.t.Helper()
	var leader string
	eventually(c.t, 10*time.Second, func() error {
		leader = ""
		for _, tn := range c.nodes {
			s, ok := tn.node.QueueStatus("/", name)
			if !ok {
				return fmt.Errorf("node %s has no group for %s", tn.name, name)
			}
			if !s.Member {
				continue
			}
			if s.Leader == "" || s.Leader == not || (leader != "" && s.Leader != leader) {
				return fmt.Errorf("node %s sees leader %q of %s", tn.name, s.Leader, name)
			}
			leader = s.Leader
		}
		if c.nodes[leader] == nil || !c.nodes[leader].srv.Broker().Vhost("/").Queue(name).QuorumLeads() {
			return fmt.Errorf("leader %s's queue does not deliver yet", leader)
		}
		return nil
	})
	return leader
}

// other returns a running node that is not any of these.
func (c *testCluster) other(not ...string) string {
	for _, n := range c.running() {
		skip := false
		for _, x := range not {
			skip = skip || n == x
		}
		if !skip {
			return n
		}
	}
	c.t.Fatalf("no running node but %v", not)
	return ""
}

// publishConfirmed publishes n persistent messages "first".."first+n-1"
// on node with confirms and returns how many were acked and nacked.
func publishConfirmed(t testing.TB, conn *amqp091.Connection, queue string, first, n int) (acked, nacked int) {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := ch.NotifyPublish(make(chan amqp091.Confirmation, n))
	for i := first; i < first+n; i++ {
		if err := ch.Publish("", queue, false, false, amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: []byte(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	timeout := time.After(30 * time.Second)
	for range n {
		select {
		case cf := <-confirms:
			if cf.Ack {
				acked++
			} else {
				nacked++
			}
		case <-timeout:
			t.Fatalf("%d confirms of %d after 30 s", acked+nacked, n)
		}
	}
	return acked, nacked
}

// consume takes want messages from queue on conn with prefetch and
// returns them by body; ack settles each.
func consume(t testing.TB, conn *amqp091.Connection, queue string, prefetch, want int, ack bool) (bodies []string, redelivered map[string]bool, ch *amqp091.Channel) {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Qos(prefetch, 0, false); err != nil {
		t.Fatal(err)
	}
	ds, err := ch.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	redelivered = map[string]bool{}
	timeout := time.After(30 * time.Second)
	for len(bodies) < want {
		select {
		case d, ok := <-ds:
			if !ok {
				t.Fatalf("deliveries closed after %d of %d", len(bodies), want)
			}
			bodies = append(bodies, string(d.Body))
			if d.Redelivered {
				redelivered[string(d.Body)] = true
			}
			if ack {
				if err := d.Ack(false); err != nil {
					t.Fatal(err)
				}
			}
		case <-timeout:
			t.Fatalf("%d messages of %d after 30 s", len(bodies), want)
		}
	}
	return bodies, redelivered, ch
}

// groupMessages waits until every running member of name's group holds
// want messages (ready and unacknowledged), as applied.
func (c *testCluster) groupMessages(name string, want int) {
	c.t.Helper()
	eventually(c.t, 10*time.Second, func() error {
		for _, tn := range c.nodes {
			s, _ := tn.node.QueueStatus("/", name)
			if s.Member && s.Messages != want {
				return fmt.Errorf("node %s: %s holds %d messages, want %d", tn.name, name, s.Messages, want)
			}
		}
		return nil
	})
}
