package main

import (
	"context"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// TestCrashStreamPublish kills the broker with SIGKILL while a publisher
// appends to a stream with confirms, then restarts it on the same data
// directory: every confirmed message is back, whole, in publish order,
// at consecutive offsets, and the stream takes new messages after the
// repaired tail.
func TestCrashStreamPublish(t *testing.T) {
	dir := t.TempDir()
	p := startBroker(t, dir)
	conn := p.dial()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("s", true, false, false, false, amqp091.Table{"x-queue-type": "stream", "x-stream-max-segment-size-bytes": int64(256 << 10)}); err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := ch.NotifyPublish(make(chan amqp091.Confirmation, 4096))

	var mu sync.Mutex
	confirmed := uint64(0) // every seq below it was confirmed (tags are in order)
	enough := make(chan struct{})
	go func() {
		var once sync.Once
		for c := range confirms {
			if !c.Ack {
				continue
			}
			mu.Lock()
			if c.DeliveryTag > confirmed {
				confirmed = c.DeliveryTag // tag n is seq n-1: seqs < n confirmed
			}
			n := confirmed
			mu.Unlock()
			if n >= 3000 {
				once.Do(func() { close(enough) })
			}
		}
	}()
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for seq := uint64(0); ; seq++ {
			ctx, cancel := context.WithTimeout(context.Background(), crashWait)
			err := ch.PublishWithContext(ctx, "", "s", false, false, amqp091.Publishing{Body: crashBody(seq)})
			cancel()
			if err != nil {
				return // the broker is gone
			}
		}
	}()
	select {
	case <-enough:
	case <-time.After(crashWait):
		t.Fatalf("3000 confirms not within %v:\n%s", crashWait, p.tail())
	}
	p.kill() // while publishing
	conn.Close()
	<-pubDone
	mu.Lock()
	mustHave := confirmed
	mu.Unlock()

	p = startBroker(t, dir)
	conn = p.dial()
	defer conn.Close()
	ch, err = conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Qos(1000, 0, false); err != nil {
		t.Fatal(err)
	}
	ds, err := ch.Consume("s", "", false, false, false, false, amqp091.Table{"x-stream-offset": "first"})
	if err != nil {
		t.Fatal(err)
	}
	next := uint64(0)
	read := func(until func(seq uint64) bool) {
		for {
			select {
			case d := <-ds:
				seq, ok := bodySeq(d.Body)
				if !ok {
					t.Fatalf("message %d: a damaged body (%d bytes)", next, len(d.Body))
				}
				if off := d.Headers["x-stream-offset"].(int64); off != int64(next) {
					t.Fatalf("message %d at offset %d", next, off)
				}
				if seq != next {
					t.Fatalf("offset %d holds message %d: lost or reordered", next, seq)
				}
				d.Ack(false)
				next++
				if until(seq) {
					return
				}
			case <-time.After(crashWait):
				t.Fatalf("read %d messages, %d confirmed", next, mustHave)
			}
		}
	}
	read(func(seq uint64) bool { return seq+1 >= mustHave })
	// Publish a marker after whatever else survived: the tail was repaired
	// and the log goes on from it.
	pub, _ := conn.Channel()
	pub.Confirm(false)
	pc := pub.NotifyPublish(make(chan amqp091.Confirmation, 1))
	marker := []byte("after the crash")
	if err := pub.Publish("", "s", false, false, amqp091.Publishing{Body: marker}); err != nil {
		t.Fatal(err)
	}
	if c := <-pc; !c.Ack {
		t.Fatal("the marker was nacked")
	}
	survived := next
	for {
		select {
		case d := <-ds:
			if string(d.Body) == string(marker) {
				t.Logf("%d confirmed before the kill, %d recovered (unconfirmed ones may survive)", mustHave, next)
				if off := d.Headers["x-stream-offset"].(int64); off != int64(next) {
					t.Fatalf("the marker at offset %d, want %d", off, next)
				}
				return
			}
			seq, ok := bodySeq(d.Body)
			if !ok || seq != next {
				t.Fatalf("after %d recovered: message %d (whole: %v), want %d", survived, seq, ok, next)
			}
			d.Ack(false)
			next++
		case <-time.After(crashWait):
			t.Fatalf("the marker did not come")
		}
	}
}
