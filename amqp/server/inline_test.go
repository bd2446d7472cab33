package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// gatedConn is a client socket whose reads can be held: while the gate is
// shut the client reads nothing, so the broker's writes to it fill the
// socket buffers and come up short.
type gatedConn struct {
	net.Conn
	mu   sync.Mutex
	shut bool
	open *sync.Cond
}

func (g *gatedConn) Read(p []byte) (int, error) {
	g.mu.Lock()
	for g.shut {
		g.open.Wait()
	}
	g.mu.Unlock()
	return g.Conn.Read(p)
}

func (g *gatedConn) set(shut bool) {
	g.mu.Lock()
	g.shut = shut
	g.mu.Unlock()
	g.open.Broadcast()
}

// A publishing connection's reader writes its deliveries to an idle
// consumer connection itself (inline.go). When the consumer stops reading,
// those writes come up short and the writer goroutine takes the rest:
// every message still arrives, once, whole and in order, and the short
// writes did happen.
func TestInlineWritesKeepOrderWhenShort(t *testing.T) {
	t.Parallel()
	b := startDurableBudget(t, 0)
	var gate *gatedConn
	dial := amqp091.DefaultDial(durWait)
	conConn, err := amqp091.DialConfig(b.url, amqp091.Config{Dial: func(network, addr string) (net.Conn, error) {
		nc, err := dial(network, addr)
		if err != nil {
			return nil, err
		}
		gate = &gatedConn{Conn: nc}
		gate.open = sync.NewCond(&gate.mu)
		return gate, nil
	}})
	must(t, err, "dial the consumer")
	defer conConn.Close()
	con, err := conConn.Channel()
	must(t, err, "consumer channel")
	const qname = "inline.short"
	_, err = con.QueueDeclare(qname, false, false, false, false, nil)
	must(t, err, "declare")
	deliveries, err := con.Consume(qname, "", true, false, false, false, nil)
	must(t, err, "consume")

	pub, err := b.dial().Channel()
	must(t, err, "publisher channel")
	must(t, pub.Confirm(false), "confirm.select")
	gate.set(true)
	// One publish at a time, each confirmed before the next, so that the
	// publisher's reader goes idle after each and flushes inline; on until
	// the socket takes a write only in part, then as many again.
	const size = 1 << 10
	body := func(i int) []byte {
		p := bytes.Repeat([]byte{byte(i)}, size)
		binary.BigEndian.PutUint32(p, uint32(i))
		return p
	}
	n, more := 0, -1
	for ; more != 0; n++ {
		conf, err := pub.PublishWithDeferredConfirmWithContext(context.Background(), "", qname, false, false,
			amqp091.Publishing{Body: body(n)})
		must(t, err, "publish")
		if !conf.Wait() {
			t.Fatalf("publish %d was nacked", n)
		}
		if more > 0 {
			more--
			continue
		}
		if whole, short := b.srv.InlineWrites(); short > 0 {
			t.Logf("after %d publishes: %d inline writes, %d short", n+1, whole, short)
			more = 100
		} else if n == 1<<16 {
			t.Fatalf("64 MiB published to a consumer not reading: %d inline writes, none short", whole)
		}
	}
	gate.set(false)
	timeout := time.After(time.Minute)
	for i := range n {
		select {
		case d := <-deliveries:
			if !bytes.Equal(d.Body, body(i)) {
				t.Fatalf("delivery %d: got message %d (%d bytes)", i, binary.BigEndian.Uint32(d.Body), len(d.Body))
			}
		case <-timeout:
			t.Fatalf("only %d of %d deliveries arrived", i, n)
		}
	}
}
