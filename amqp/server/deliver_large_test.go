package server_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// Large bodies are written from where they lie, small ones copied (see
// outbound): deliveries of both kinds to several channels of one
// connection, and at a small frame_max, still arrive intact and in order.
func TestLargeAndSmallDeliveriesInterleave(t *testing.T) {
	t.Parallel()
	url := servertest.Start(t, server.Config{})
	for _, frameSize := range []int{0, 8192} {
		t.Run(fmt.Sprintf("frame_max %d", frameSize), func(t *testing.T) {
			pubConn, err := amqp091.Dial(url)
			must(t, err, "dial")
			defer pubConn.Close()
			conConn, err := amqp091.DialConfig(url, amqp091.Config{FrameSize: frameSize})
			must(t, err, "dial")
			defer conConn.Close()
			pub, err := pubConn.Channel()
			must(t, err, "channel")

			sizes := []int{10, 70_000, 300_000, 0, 65_536, 1 << 20, 3}
			body := func(i int) []byte {
				return bytes.Repeat([]byte{byte(i)}, sizes[i%len(sizes)])
			}
			const queues, perQueue = 3, 30
			var deliveries []<-chan amqp091.Delivery
			for q := range queues {
				name := fmt.Sprintf("large.%d.%d", frameSize, q)
				_, err := pub.QueueDeclare(name, false, true, false, false, nil)
				must(t, err, "declare")
				ch, err := conConn.Channel()
				must(t, err, "consumer channel")
				must(t, ch.Qos(5, 0, false), "qos")
				d, err := ch.Consume(name, "", true, false, false, false, nil)
				must(t, err, "consume")
				deliveries = append(deliveries, d)
			}
			for i := range queues * perQueue {
				name := fmt.Sprintf("large.%d.%d", frameSize, i%queues)
				err := pub.PublishWithContext(context.Background(), "", name, false, false, amqp091.Publishing{Body: body(i)})
				must(t, err, "publish")
			}
			timeout := time.After(time.Minute)
			for i := range queues * perQueue {
				select {
				case d := <-deliveries[i%queues]:
					if want := body(i); !bytes.Equal(d.Body, want) {
						t.Fatalf("message %d: %d bytes, want %d bytes of %d", i, len(d.Body), len(want), byte(i))
					}
				case <-timeout:
					t.Fatalf("message %d did not arrive", i)
				}
			}
		})
	}
}
