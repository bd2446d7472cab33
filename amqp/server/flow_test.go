package server_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// A publisher that outruns its queue's consumer is held back (flow
// control, queue/flow.go) and then let go: every message arrives, once
// and in order, whether the consumer is on another connection or on the
// publisher's own.
func TestFlowControlLosesNothing(t *testing.T) {
	t.Parallel()
	for _, same := range []bool{false, true} {
		t.Run(fmt.Sprintf("same connection %v", same), func(t *testing.T) {
			t.Parallel()
			b := startDurableBudget(t, 0)
			pubConn := b.dial()
			conConn := pubConn
			if !same {
				conConn = b.dial()
			}
			qname := fmt.Sprintf("flow.%v", same)
			pub, err := pubConn.Channel()
			must(t, err, "publisher channel")
			_, err = pub.QueueDeclare(qname, false, false, false, false, nil)
			must(t, err, "declare")
			con, err := conConn.Channel()
			must(t, err, "consumer channel")
			must(t, con.Qos(200, 0, false), "qos")
			deliveries, err := con.Consume(qname, "", false, false, false, false, nil)
			must(t, err, "consume")

			const n = 3 * 8192 // three times the flow high mark
			pubErr := make(chan error, 1)
			go func() {
				for i := range n {
					err := pub.PublishWithContext(context.Background(), "", qname, false, false,
						amqp091.Publishing{Body: []byte(strconv.Itoa(i))})
					if err != nil {
						pubErr <- err
						return
					}
				}
				pubErr <- nil
			}()
			timeout := time.After(2 * time.Minute)
			for i := range n {
				select {
				case d := <-deliveries:
					if string(d.Body) != strconv.Itoa(i) {
						t.Fatalf("delivery %d is %q", i, d.Body)
					}
					if i%50 == 49 {
						must(t, d.Ack(true), "ack")
					}
				case <-timeout:
					t.Fatalf("only %d of %d messages arrived", i, n)
				}
			}
			if err := <-pubErr; err != nil {
				t.Fatalf("publish: %v", err)
			}
			if m := queueCount(t, pub, qname); m != 0 {
				t.Fatalf("%d messages left in the queue", m)
			}
		})
	}
}
