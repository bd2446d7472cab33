package main

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/broker"
)

// TestCtlMoveCrash kills a spawned warren (kill -9) in the middle of a
// `warren ctl move` of persistent messages between durable queues, starts
// it again over the same data directory, and counts every message on
// both queues: none may be lost; duplicates (moved, not yet acked on the
// source) are allowed, and reported.
func TestCtlMoveCrash(t *testing.T) {
	const n = 20000
	dir := t.TempDir()
	b := startCtlBroker(t, dir)
	ctlOK(t, b.apiURL, "declare", "queue", "src")
	ctlOK(t, b.apiURL, "declare", "queue", "dst")

	conn, ch := dialCtl(t, b.amqpURL)
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := ch.NotifyPublish(make(chan amqp091.Confirmation, n))
	for i := range n {
		if err := ch.Publish("", "src", false, false, amqp091.Publishing{
			DeliveryMode: 2, MessageId: strconv.Itoa(i), Body: []byte("payload")}); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		select {
		case c := <-confirms:
			if !c.Ack {
				t.Fatalf("publish %d nacked", c.DeliveryTag)
			}
		case <-time.After(startWait):
			t.Fatal("publisher confirms did not come")
		}
	}
	conn.Close()

	_, watch := dialCtl(t, b.amqpURL)
	mv, mvOut, mvErr := startCtl(t, b.apiURL, "", "move", "src", "--to-queue", "dst")
	deadline := time.Now().Add(startWait)
	// Three batches in dst: the first two were on disk before the third
	// began (a batch waits for its store writes before the next).
	for queueDepth(t, watch, "dst") < 3*broker.MoveBatch {
		if time.Now().After(deadline) {
			t.Fatal("the move moved nothing")
		}
		time.Sleep(time.Millisecond) // poll with a deadline
	}
	b.p.cmd.Process.Signal(syscall.SIGKILL)
	<-b.p.done
	mv.Wait()
	code := mv.ProcessState.ExitCode()
	if code == 0 {
		t.Fatalf("the move finished before the kill (%s): nothing was tested", strings.TrimSpace(mvOut.String()))
	}
	if code != exitUnreachable {
		t.Errorf("the interrupted move exited %d (%s), want %d: the API went away", code, mvErr, exitUnreachable)
	}

	b = startCtlBroker(t, dir)
	_, ch = dialCtl(t, b.amqpURL)
	seen := make(map[string]int, n)
	total := 0
	if d := queueDepth(t, ch, "dst"); d < 2*broker.MoveBatch {
		t.Errorf("dst holds %d messages after the restart, want at least the %d of two batches on disk", d, 2*broker.MoveBatch)
	}
	for _, q := range []string{"src", "dst"} {
		depth := queueDepth(t, ch, q)
		if err := ch.Qos(1000, 0, false); err != nil {
			t.Fatal(err)
		}
		dels, err := ch.Consume(q, "count-"+q, true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		for range depth {
			select {
			case d := <-dels:
				seen[d.MessageId]++
			case <-time.After(startWait):
				t.Fatalf("%s: consumed fewer than its %d messages", q, depth)
			}
		}
		total += depth
		if err := ch.Cancel("count-"+q, false); err != nil {
			t.Fatal(err)
		}
		t.Logf("after the restart %s holds %d messages", q, depth)
	}
	lost := 0
	for i := range n {
		if seen[strconv.Itoa(i)] == 0 {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d messages lost by the interrupted move", lost, n)
	}
	t.Logf("none of %d messages lost; %d duplicates (moved, their source acks not yet on disk)", n, total-n)
}
