package cluster

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// TestQuorumRemoteConsumerUnderLoad: a publisher with 1,000 unconfirmed
// and a consumer with prefetch 1,000 acking each, both on a follower (the
// consumer fed by the leader over the peer link): every message arrives,
// the last ones too.
func TestQuorumRemoteConsumerUnderLoad(t *testing.T) {
	// A long propose timeout: this test is about deliveries, not latency
	// on a loaded machine (a nack at 10 s under -race in CI).
	c := newCluster(t, three, func(cfg *Config) { cfg.ProposeTimeout = 30 * time.Second }, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "load", nil)
	follower := c.other(leader)
	const n, window = 20000, 1000
	body := make([]byte, 1024)
	cch, err := c.mustDial(follower).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := cch.Qos(window, 0, false); err != nil {
		t.Fatal(err)
	}
	ds, err := cch.Consume("load", "", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan int, 1)
	go func() {
		seen := map[string]bool{}
		for d := range ds {
			seen[string(d.Headers["i"].(string))] = true
			d.Ack(false)
			if len(seen) == n {
				break
			}
		}
		got <- len(seen)
	}()
	pch, err := c.mustDial(follower).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := pch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := pch.NotifyPublish(make(chan amqp091.Confirmation, window))
	acked := 0
	confirm := func() {
		t.Helper()
		select {
		case cf := <-confirms:
			if !cf.Ack {
				t.Fatalf("publish %d was nacked", cf.DeliveryTag)
			}
			acked++
		case <-time.After(60 * time.Second):
			t.Fatalf("%d of %d confirmed, then none for 60 s", acked, n)
		}
	}
	for i := 0; i < n; i++ {
		if i >= window {
			confirm()
		}
		if err := pch.Publish("", "load", false, false, amqp091.Publishing{DeliveryMode: amqp091.Persistent, Headers: amqp091.Table{"i": strconv.Itoa(i)}, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	for acked < n {
		confirm()
	}
	select {
	case k := <-got:
		if k != n {
			t.Fatalf("%d of %d", k, n)
		}
	case <-time.After(30 * time.Second):
		owed, proxies := c.proxyOwed(leader, "load")
		ls := c.nodes[leader].srv.Broker().Vhost("/").Queue("load").Snapshot()
		fs := c.nodes[follower].srv.Broker().Vhost("/").Queue("load").Snapshot()
		t.Fatal(fmt.Sprintf("stuck: leader %s ready %d, %d out to %d proxies; follower %s ready %d unacked %d", leader, ls.Ready, owed, proxies, follower, fs.Ready, fs.Unacked))
	}
}
