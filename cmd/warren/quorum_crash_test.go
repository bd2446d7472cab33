package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// TestQuorumQueueKill9: three warren processes; a quorum queue; 300
// messages confirmed; the node whose consumer gets deliveries (the
// group's leader, the only one that delivers) is killed with SIGKILL,
// holding one delivery unacknowledged. The survivors elect a leader that
// delivers every confirmed message, the held one redelivered, and
// confirms publishes again; the time from the kill to the first new
// confirm is logged (the failover).
func TestQuorumQueueKill9(t *testing.T) {
	names := []string{"n1", "n2", "n3"}
	var peers []string
	addrs := map[string]string{}
	for _, n := range names {
		addrs[n] = freeAddr(t)
		peers = append(peers, n+"="+addrs[n])
	}
	procs := map[string]*brokerProc{}
	for _, n := range names {
		procs[n] = startBroker(t, t.TempDir(), "--node-name", n, "--cluster-listen", addrs[n], "--cluster-peers", strings.Join(peers, ","), "--prometheus-listen", "off")
	}
	conn := procs["n1"].dial()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("qq", true, false, false, false, amqp091.Table{"x-queue-type": "quorum"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		waitQueue(t, procs[n], "qq")
	}
	const total = 300
	confirmed := map[string]bool{}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	acks := ch.NotifyPublish(make(chan amqp091.Confirmation, total))
	for i := range total {
		if err := ch.Publish("", "qq", false, false, amqp091.Publishing{DeliveryMode: 2, Body: []byte(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	for range total {
		select {
		case c := <-acks:
			if c.Ack {
				confirmed[strconv.Itoa(int(c.DeliveryTag-1))] = true
			}
		case <-time.After(crashWait):
			t.Fatalf("%d confirms after %v", len(confirmed), crashWait)
		}
	}
	if len(confirmed) != total {
		t.Fatalf("%d of %d confirmed", len(confirmed), total)
	}
	conn.Close()

	// The leader is the node whose consumer gets a delivery.
	type got struct {
		node string
		body string
	}
	first := make(chan got, len(names))
	var conns []*amqp091.Connection
	for _, n := range names {
		c := procs[n].dial()
		conns = append(conns, c)
		ch, err := c.Channel()
		if err != nil {
			t.Fatal(err)
		}
		ch.Qos(1, 0, false)
		ds, err := ch.Consume("qq", "", false, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			if d, ok := <-ds; ok {
				first <- got{n, string(d.Body)}
			}
		}()
	}
	var held got
	select {
	case held = <-first:
	case <-time.After(crashWait):
		t.Fatal("no node delivers")
	}
	killed := time.Now()
	procs[held.node].kill()
	for _, c := range conns {
		c.Close()
	}
	survivor := procs[names[0]]
	if held.node == names[0] {
		survivor = procs[names[1]]
	}

	// Publish until a confirm comes back: the failover.
	pconn := survivor.dial()
	defer pconn.Close()
	pch, err := pconn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	pch.Confirm(false)
	packs := pch.NotifyPublish(make(chan amqp091.Confirmation, 1))
	var resumed time.Duration
	for time.Since(killed) < crashWait {
		if err := pch.Publish("", "qq", false, false, amqp091.Publishing{DeliveryMode: 2, Body: []byte("after")}); err != nil {
			t.Fatal(err)
		}
		if c := <-packs; c.Ack {
			resumed = time.Since(killed)
			break
		}
	}
	if resumed == 0 {
		t.Fatalf("no confirm within %v of the kill", crashWait)
	}
	t.Logf("leader %s killed with SIGKILL: publishes confirmed again after %v", held.node, resumed.Round(time.Millisecond))

	// Every confirmed message comes out of the new leader; the one held
	// by the killed node's consumer is redelivered.
	seen, redelivered := map[string]bool{}, map[string]bool{}
	out := make(chan amqp091.Delivery, 1024)
	for _, n := range names {
		if n == held.node {
			continue
		}
		c := procs[n].dial()
		defer c.Close()
		ch, err := c.Channel()
		if err != nil {
			t.Fatal(err)
		}
		ds, err := ch.Consume("qq", "", true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for d := range ds {
				out <- d
			}
		}()
	}
	deadline := time.After(crashWait)
	for missing := total; missing > 0; {
		select {
		case d := <-out:
			b := string(d.Body)
			if confirmed[b] && !seen[b] {
				missing--
			}
			seen[b] = true
			if d.Redelivered {
				redelivered[b] = true
			}
		case <-deadline:
			var lost []string
			for b := range confirmed {
				if !seen[b] {
					lost = append(lost, b)
				}
			}
			t.Fatalf("confirmed messages lost: %d (%v...)", len(lost), lost[:min(len(lost), 10)])
		}
	}
	if !redelivered[held.body] {
		t.Fatalf("message %s, held by the killed leader's consumer, not redelivered", held.body)
	}
	for _, n := range names {
		if n != held.node {
			procs[n].term()
		}
	}
}
