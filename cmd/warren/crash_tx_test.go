package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// TestKill9KeepsCommittedTransactions: a persistent message published in
// a transaction whose tx.commit-ok arrived must survive a kill -9, as with
// RabbitMQ, where commit-ok waits for the queues to have the messages on disk.
// (Failed before tx.commit-ok waited for the store.)
func TestKill9KeepsCommittedTransactions(t *testing.T) {
	dir := t.TempDir()
	led := newLedger("tx.q")
	var seqs atomic.Uint64
	for cycle := 0; cycle <= 5; cycle++ {
		p := startBroker(t, dir)
		conn := p.dial()
		if cycle > 0 {
			v := led.verify(t, conn)
			t.Logf("after kill %d: recovered=%d committed-but-lost=%d duplicates=%d uncommitted kept=%d gone=%d",
				cycle, v.recovered, v.lost, v.duplicates, v.unconfirmedKept, v.unconfirmedGon)
			if v.bad() > 0 {
				t.Errorf("after kill %d: %d committed messages lost, %d duplicates", cycle, v.lost, v.duplicates)
			}
		}
		if cycle == 5 {
			conn.Close()
			p.kill()
			break
		}
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ch.QueueDeclare("tx.q", true, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
		if err := ch.Tx(); err != nil {
			t.Fatal(err)
		}
		trigger := make(chan struct{}, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for committed := 1; ; committed++ {
				seq := seqs.Add(1)
				led.sent(seq)
				m := amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: crashBody(seq)}
				if ch.PublishWithContext(context.Background(), "", "tx.q", false, false, m) != nil || ch.TxCommit() != nil {
					return
				}
				led.confirm(seq, true) // commit-ok received
				if committed == 500 {
					trigger <- struct{}{}
				}
			}
		}()
		select {
		case <-trigger:
		case <-time.After(crashWait):
			t.Fatalf("500 commits not reached within %v", crashWait)
		}
		p.kill()
		<-done
		conn.Close()
	}
}
