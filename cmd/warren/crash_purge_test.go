package main

import (
	"context"
	"fmt"
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// TestKill9AfterPurgeOk: messages purged (queue.purge-ok received) just
// before a kill -9. Not a spec guarantee; it shows that purge-ok, unlike
// queue.delete-ok, is sent before the deletes reach the store.
func TestKill9AfterPurgeOk(t *testing.T) {
	dir := t.TempDir()
	back := 0
	for cycle := 0; cycle <= 3; cycle++ {
		p := startBroker(t, dir)
		conn := p.dial()
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		q, err := ch.QueueDeclare("pq", true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cycle > 0 {
			t.Logf("after kill %d: %d of the 2000 purged messages are back", cycle, q.Messages)
			back += q.Messages
			if _, err := ch.QueuePurge("pq", false); err != nil {
				t.Fatal(err)
			}
		}
		if cycle == 3 {
			conn.Close()
			p.kill()
			break
		}
		if err := ch.Confirm(false); err != nil {
			t.Fatal(err)
		}
		var dcs []*amqp091.DeferredConfirmation
		for i := range 2000 {
			dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "", "pq", false, false,
				amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: crashBody(uint64(i + 1))})
			if err != nil {
				t.Fatal(err)
			}
			dcs = append(dcs, dc)
		}
		for _, dc := range dcs {
			if !dc.Wait() {
				t.Fatal("nacked")
			}
		}
		if n, err := ch.QueuePurge("pq", false); err != nil || n != 2000 {
			t.Fatalf("purge-ok %d, %v", n, err)
		}
		p.kill()
		conn.Close()
	}
	if back > 0 {
		t.Errorf("%d purged messages came back after kill -9 right after purge-ok", back)
	}
}

// TestKill9AfterPurgeOfPagedQueueKeepsUnacked: a purge of a queue with
// messages paged out past the memory budget takes the ready ones, in
// memory and on disk, but not the deliveries awaiting an ack: after a
// kill -9 those come back.
func TestKill9AfterPurgeOfPagedQueueKeepsUnacked(t *testing.T) {
	dir := t.TempDir()
	p := startBroker(t, dir, "--memory-budget", "65536")
	conn := p.dial()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("pq", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("fence", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	publish := func(q string, seq uint64) *amqp091.DeferredConfirmation {
		dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "", q, false, false,
			amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: crashBody(seq)})
		if err != nil {
			t.Fatal(err)
		}
		return dc
	}
	var dcs []*amqp091.DeferredConfirmation
	for i := range 2000 { // more than a queue keeps in memory before it pages (512)
		dcs = append(dcs, publish("pq", uint64(i+1)))
	}
	for _, dc := range dcs {
		if !dc.Wait() {
			t.Fatal("nacked")
		}
	}
	cch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := cch.Qos(5, 0, false); err != nil {
		t.Fatal(err)
	}
	ds, err := cch.Consume("pq", "c", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var unacked []uint64
	for len(unacked) < 5 {
		d := <-ds
		seq, ok := bodySeq(d.Body)
		if !ok {
			t.Fatalf("a delivery with a damaged body")
		}
		unacked = append(unacked, seq)
	}
	if n, err := ch.QueuePurge("pq", false); err != nil || n != 1995 {
		t.Fatalf("purge-ok %d, %v; want 1995", n, err)
	}
	// A confirmed publish after the purge: the store writes in order, so
	// the purge's deletes are on disk too.
	if !publish("fence", 1).Wait() {
		t.Fatal("nacked")
	}
	p.kill()
	conn.Close()

	p = startBroker(t, dir)
	conn = p.dial()
	defer conn.Close()
	ch, err = conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	var back []uint64
	for {
		d, ok, err := ch.Get("pq", true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		seq, _ := bodySeq(d.Body)
		back = append(back, seq)
	}
	if fmt.Sprint(back) != fmt.Sprint(unacked) {
		t.Fatalf("after the purge and a kill -9 the queue holds %v, want the 5 unacked deliveries %v", back, unacked)
	}
	p.kill()
}
