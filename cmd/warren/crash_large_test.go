package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// bigBody is a large message body (the store writes it to a body file,
// not to Badger): its sequence number, then bytes derived from it.
func bigBody(seq uint64) []byte {
	b := make([]byte, 128<<10+int(seq%7)*(17<<10))
	binary.BigEndian.PutUint64(b, seq)
	for i := 8; i < len(b); i++ {
		b[i] = byte(seq*31) + byte(i) + byte(i>>11)
	}
	return b
}

// TestKill9KeepsConfirmedLargeMessages: large persistent messages (body
// files) survive SIGKILL mid-stream. Each cycle publishes in confirm mode
// until some are confirmed and kills the broker while it goes on; after
// the restart every confirmed message must be back exactly once, in
// order, its body intact, and no message acked before a synced round trip
// may come back. Every other cycle runs with a tiny memory budget, so the
// queue pages them. At the end, once everything is acked, a restart finds
// no body file left.
func TestKill9KeepsConfirmedLargeMessages(t *testing.T) {
	dir := t.TempDir()
	const queue = "crash.big"
	confirmed := map[uint64]bool{} // must come back until acked
	gone := map[uint64]bool{}      // acked before a synced fence: must not
	var seqs atomic.Uint64
	for cycle := 0; cycle <= 3; cycle++ {
		var extra []string
		if cycle%2 == 1 {
			extra = []string{"--memory-budget", "262144"}
		}
		p := startBroker(t, dir, extra...)
		conn := p.dial()
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
		if cycle > 0 {
			// Read the queue whole, then ack about half of it with a synced
			// fence (a durable declare waits for the store).
			seen := drainCheck(t, p, ch, queue, confirmed, gone)
			var ackUpTo uint64
			for _, s := range seen {
				if s.seq%2 == 0 {
					ackUpTo = s.tag
				}
			}
			if ackUpTo > 0 {
				if err := ch.Ack(ackUpTo, true); err != nil {
					t.Fatal(err)
				}
				if err := ch.ExchangeDeclare(fmt.Sprintf("crash.big.fence.%d", cycle), "fanout", true, false, false, false, nil); err != nil {
					t.Fatal(err)
				}
				for _, s := range seen {
					if s.tag <= ackUpTo {
						delete(confirmed, s.seq)
						gone[s.seq] = true
					}
				}
			}
			t.Logf("after kill %d: %d large messages back, %d acked", cycle, len(seen), len(gone))
		}
		if cycle == 3 {
			// Ack the rest, stop cleanly, and start again: no body file may
			// be left behind.
			ch.Close()
			ch, err = conn.Channel()
			if err != nil {
				t.Fatal(err)
			}
			if rest := drainCheck(t, p, ch, queue, confirmed, gone); len(rest) > 0 {
				if err := ch.Ack(rest[len(rest)-1].tag, true); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := ch.QueueDelete(queue, false, false, false); err != nil {
				t.Fatal(err)
			}
			conn.Close()
			p.term()
			p = startBroker(t, dir)
			if segs, _ := filepath.Glob(filepath.Join(dir, "bodies", "*.seg")); len(segs) > 0 {
				t.Fatalf("with no message left, %d body files remain: %v", len(segs), segs)
			}
			p.term()
			return
		}
		ch.Close()

		target := int64(20 + 10*cycle)
		var confirms atomic.Int64
		var mu sync.Mutex // guards confirmed while the publisher runs
		reached := make(chan struct{})
		pconn := p.dial()
		var wg sync.WaitGroup
		wg.Go(func() {
			bigPublisher(pconn, queue, &seqs, 8, func(seq uint64) {
				mu.Lock()
				confirmed[seq] = true
				mu.Unlock()
				if confirms.Add(1) == target {
					close(reached)
				}
			})
		})
		select {
		case <-reached:
		case <-time.After(crashWait):
			t.Fatalf("cycle %d: %d of %d confirms within %v\n%s", cycle, confirms.Load(), target, crashWait, p.tail())
		}
		p.kill()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(crashWait):
			t.Fatalf("cycle %d: the publisher did not notice the kill within %v", cycle, crashWait)
		}
		conn.Close()
		t.Logf("kill %d: %d confirmed", cycle+1, confirms.Load())
	}
}

type bigSeen struct{ seq, tag uint64 }

// drainCheck consumes the whole queue without acking, checks it against
// confirmed and gone, and returns what it saw in order.
func drainCheck(t *testing.T, p *brokerProc, ch *amqp091.Channel, queue string, confirmed, gone map[uint64]bool) []bigSeen {
	t.Helper()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := ch.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []bigSeen
	seen := map[uint64]bool{}
	timeout := time.After(crashWait)
	for range q.Messages {
		var d amqp091.Delivery
		select {
		case d = <-ds:
		case <-timeout:
			t.Fatalf("%d of %d messages delivered within %v\n%s", len(out), q.Messages, crashWait, p.tail())
		}
		if len(d.Body) < 8 {
			t.Fatalf("a %d-byte body", len(d.Body))
		}
		seq := binary.BigEndian.Uint64(d.Body)
		if !bytes.Equal(d.Body, bigBody(seq)) {
			t.Fatalf("message %d: body of %d bytes is corrupt", seq, len(d.Body))
		}
		if seen[seq] {
			t.Fatalf("message %d delivered twice", seq)
		}
		if n := len(out); n > 0 && out[n-1].seq >= seq {
			t.Fatalf("message %d after %d: out of order", seq, out[n-1].seq)
		}
		if gone[seq] {
			t.Fatalf("message %d came back after its ack was synced", seq)
		}
		seen[seq] = true
		out = append(out, bigSeen{seq, d.DeliveryTag})
	}
	for seq := range confirmed {
		if !seen[seq] {
			t.Fatalf("confirmed message %d lost (%d in the queue)", seq, q.Messages)
		}
	}
	for _, s := range out {
		confirmed[s.seq] = true // on disk now
	}
	return out
}

// bigPublisher publishes bigBody messages to queue in confirm mode with
// up to window outstanding, calling onConfirm for each ack, until its
// connection dies.
func bigPublisher(conn *amqp091.Connection, queue string, seqs *atomic.Uint64, window int, onConfirm func(seq uint64)) {
	ch, err := conn.Channel()
	if err != nil || ch.Confirm(false) != nil {
		return
	}
	confirms := ch.NotifyPublish(make(chan amqp091.Confirmation, window))
	var bySeq []uint64
	outstanding := 0
	for {
		if outstanding < window {
			seq := seqs.Add(1)
			bySeq = append(bySeq, seq)
			err := ch.PublishWithContext(context.Background(), "", queue, false, false,
				amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: bigBody(seq)})
			if err != nil {
				conn.Close()
				break
			}
			outstanding++
			continue
		}
		c, ok := <-confirms
		if !ok {
			return
		}
		if c.Ack {
			onConfirm(bySeq[c.DeliveryTag-1])
		}
		outstanding--
	}
	for c := range confirms {
		if c.Ack {
			onConfirm(bySeq[c.DeliveryTag-1])
		}
	}
}
