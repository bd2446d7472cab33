package server_test

// Regression tests for durability bugs found by the crash and restart tests.

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// TestPagedTransientMessagesDoNotSurvive: a durable queue whose backlog
// pages out holds transient messages too (their bodies paged out for
// memory, not journalled). After a restart only the persistent ones may
// come back, each once, in order. A race, so five tries: the first
// basic.get right after the restart starts a read-ahead that can beat
// recovery's asynchronous drop of the transient entries.
func TestPagedTransientMessagesDoNotSurvive(t *testing.T) {
	const n = 3000
	pad := string(bytes.Repeat([]byte{'p'}, 1000))
	var msgs []amqp091.Publishing
	var want []string
	for i := 1; i <= n; i++ {
		body := fmt.Sprintf("p-%d|%s", i, pad)
		if i%4 == 0 {
			msgs = append(msgs, transient(body))
			continue
		}
		msgs = append(msgs, persistent(body))
		want = append(want, body)
	}
	for try := 1; try <= 5; try++ {
		b := startDurableBudget(t, 64<<10)
		declareDurableQueue(t, b.channel(), "paged", nil)
		publishConfirmed(t, b.confirmChannel(), "", "paged", msgs...)
		b.restart()
		got := bodies(getAll(t, b.channel(), "paged", false))
		if !reflect.DeepEqual(got, want) {
			var transientBack int
			for _, g := range got {
				var i int
				fmt.Sscanf(g, "p-%d|", &i)
				if i%4 == 0 {
					transientBack++
				}
			}
			t.Fatalf("try %d, after the restart: %d messages, %d of them transient (want %d, none transient); first difference: %s",
				try, len(got), transientBack, len(want), firstDiff(got, want))
		}
		b.stop()
	}
}

// TestNoAckDeliveriesLeaveTheStore: persistent messages delivered to an
// auto-ack consumer, or taken by basic.get with no-ack, are settled when
// sent, so they do not come back after a restart.
func TestNoAckDeliveriesLeaveTheStore(t *testing.T) {
	b := startDurable(t)
	declareDurableQueue(t, b.channel(), "noack", nil)
	publishConfirmed(t, b.confirmChannel(), "", "noack", persistent("a"), persistent("b"), persistent("c"))
	ch := b.channel()
	ds, err := ch.Consume("noack", "auto", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a", "b", "c"} {
		select {
		case d := <-ds:
			if string(d.Body) != want {
				t.Fatalf("got %q, want %q", d.Body, want)
			}
		case <-time.After(durWait):
			t.Fatalf("no delivery of %q", want)
		}
	}
	if err := ch.Cancel("auto", false); err != nil {
		t.Fatal(err)
	}
	publishConfirmed(t, b.confirmChannel(), "", "noack", persistent("d"))
	if _, ok, err := b.channel().Get("noack", true); err != nil || !ok {
		t.Fatalf("basic.get no-ack: ok=%v err=%v", ok, err)
	}
	b.restart()
	if got := bodies(getAll(t, b.channel(), "noack", false)); len(got) != 0 {
		t.Fatalf("after the restart: %v came back, want none", got)
	}
}
