package main

import (
	"context"
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
