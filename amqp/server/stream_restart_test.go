package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// Warren-only: a stream keeps its messages and offsets across a restart,
// and deleting it removes its log.

// streamRead consumes q from "first" with a prefetch and returns the
// first n deliveries' bodies and offsets, acking each.
func streamRead(t *testing.T, ch *amqp091.Channel, q string, n int) ([]string, []int64) {
	t.Helper()
	must(t, ch.Qos(50, 0, false), "basic.qos")
	ds, err := ch.Consume(q, "", false, false, false, false, amqp091.Table{"x-stream-offset": "first"})
	must(t, err, "basic.consume")
	var bs []string
	var offs []int64
	for len(bs) < n {
		select {
		case d := <-ds:
			bs = append(bs, string(d.Body))
			offs = append(offs, d.Headers["x-stream-offset"].(int64))
			must(t, d.Ack(false), "ack")
		case <-time.After(durWait):
			t.Fatalf("'%s': %d of %d messages within %v", q, len(bs), n, durWait)
		}
	}
	return bs, offs
}

func TestStreamKeptAcrossRestart(t *testing.T) {
	t.Parallel()
	b := startDurable(t)
	ch := b.channel()
	declareDurableQueue(t, ch, "s", amqp091.Table{"x-queue-type": "stream"})
	pub := b.confirmChannel()
	var msgs []amqp091.Publishing
	for i := range 50 {
		msgs = append(msgs, transient(fmt.Sprintf("m-%d", i))) // a stream keeps transient messages too
	}
	publishConfirmed(t, pub, "", "s", msgs...)

	b.restart()
	ch = b.channel()
	publishConfirmed(t, b.confirmChannel(), "", "s", transient("m-50"))
	got, offs := streamRead(t, ch, "s", 51)
	if fmt.Sprint(got) != fmt.Sprint(seqBodies("m", 0, 50)) {
		t.Fatalf("after restart: %q", got)
	}
	for i, o := range offs {
		if o != int64(i) {
			t.Fatalf("offset of m%d is %d", i, o)
		}
	}

	// Deleting the stream removes its log.
	dirs, _ := os.ReadDir(filepath.Join(b.dir, "streams"))
	if len(dirs) != 1 {
		t.Fatalf("streams/ holds %d logs, want 1", len(dirs))
	}
	_, err := b.channel().QueueDelete("s", false, false, false)
	must(t, err, "queue.delete")
	dirs, _ = os.ReadDir(filepath.Join(b.dir, "streams"))
	if len(dirs) != 0 {
		t.Fatalf("streams/ holds %d logs after the delete", len(dirs))
	}
	b.restart()
	b.expectNoQueue("s")
}
