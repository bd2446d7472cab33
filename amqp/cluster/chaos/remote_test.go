package chaos

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// queueInfo reads GET /api/queues/%2F/<name> on node n.
func queueInfo(c *Cluster, n, name string) (map[string]any, error) {
	var q map[string]any
	return q, GetQueue(context.Background(), c.APIURL(n), name, &q)
}

// poll calls cond every 50 ms until it returns nil or within has passed.
func poll(t *testing.T, within time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		<-tick.C
	}
}

// TestRemoteConsumerProcesses: three warren processes; a consumer of a
// quorum queue on a node that is not its leader is fed over the peer
// link within its prefetch (3 out, the leader's API shows the rest
// ready), gets every message once in order as it acks, and the leader
// stays where it was.
func TestRemoteConsumerProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs warren processes")
	}
	bin, err := BuildWarren(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, bin, 7)
	conn, err := amqp091.Dial(c.AMQPURL("n1"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("rq", true, false, false, false, amqp091.Table{"x-queue-type": "quorum"}); err != nil {
		t.Fatal(err)
	}
	var leader string
	poll(t, 20*time.Second, func() error {
		q, err := queueInfo(c, "n1", "rq")
		if err != nil {
			return err
		}
		if leader, _ = q["leader"].(string); leader == "" {
			return errors.New("no leader yet")
		}
		return nil
	})
	consumerNode := "n1"
	for _, n := range c.Names() {
		if n != leader {
			consumerNode = n
			break
		}
	}
	const total, prefetch = 30, 3
	pconn, err := amqp091.Dial(c.AMQPURL(leader))
	if err != nil {
		t.Fatal(err)
	}
	defer pconn.Close()
	pch, err := pconn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := pch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := pch.NotifyPublish(make(chan amqp091.Confirmation, total))
	for i := range total {
		if err := pch.Publish("", "rq", false, false, amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: []byte(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	for range total {
		select {
		case cf := <-confirms:
			if !cf.Ack {
				t.Fatal("a publish was nacked")
			}
		case <-time.After(20 * time.Second):
			t.Fatal("confirms missing")
		}
	}
	cconn, err := amqp091.Dial(c.AMQPURL(consumerNode))
	if err != nil {
		t.Fatal(err)
	}
	defer cconn.Close()
	cch, err := cconn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := cch.Qos(prefetch, 0, false); err != nil {
		t.Fatal(err)
	}
	ds, err := cch.Consume("rq", "", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	recv := func() amqp091.Delivery {
		t.Helper()
		select {
		case d := <-ds:
			return d
		case <-time.After(20 * time.Second):
			t.Fatal("no delivery in 20 s")
		}
		return amqp091.Delivery{}
	}
	var got []amqp091.Delivery
	for range prefetch {
		got = append(got, recv())
	}
	poll(t, 20*time.Second, func() error {
		q, err := queueInfo(c, leader, "rq")
		if err != nil {
			return err
		}
		if r, _ := q["messages_ready"].(float64); int(r) != total-prefetch {
			return fmt.Errorf("leader %s: %v ready, want %d", leader, q["messages_ready"], total-prefetch)
		}
		return nil
	})
	select {
	case d := <-ds:
		t.Fatalf("a delivery past the prefetch of %d: %q", prefetch, d.Body)
	default:
	}
	for len(got) < total {
		if err := got[len(got)-prefetch].Ack(false); err != nil {
			t.Fatal(err)
		}
		got = append(got, recv())
	}
	for i, d := range got {
		if string(d.Body) != strconv.Itoa(i) {
			t.Fatalf("delivery %d is %q", i, d.Body)
		}
	}
	q, err := queueInfo(c, consumerNode, "rq")
	if err != nil {
		t.Fatal(err)
	}
	if now, _ := q["leader"].(string); now != leader {
		t.Fatalf("the leader moved from %s to %s (the consumer is on %s)", leader, now, consumerNode)
	}
	t.Logf("leader %s, consumer on %s: %d messages with prefetch %d", leader, consumerNode, total, prefetch)
}
