package server_test

import (
	"fmt"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
	"github.com/warrenmq/warren/storage"
)

// BenchmarkPublishConsumeStore is BenchmarkPublishConsume on a broker
// with a store, so with the memory budget (128 MiB, never spent here):
// transient messages, one producer and one consumer connection, manual
// acks with multiple every 100, prefetch 1000. An op is one message
// published and received.
func BenchmarkPublishConsumeStore(b *testing.B) {
	for _, size := range []int{16, 1024} {
		b.Run(fmt.Sprintf("body=%d", size), func(b *testing.B) {
			st, err := storage.Open(storage.Options{Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			url := servertest.Start(b, server.Config{Store: st})
			pc, err := amqp091.Dial(url)
			must(b, err, "dial")
			defer pc.Close()
			cc, err := amqp091.Dial(url)
			must(b, err, "dial")
			defer cc.Close()
			pch, err := pc.Channel()
			must(b, err, "channel")
			cch, err := cc.Channel()
			must(b, err, "channel")
			q, err := cch.QueueDeclare("", false, true, true, false, nil)
			must(b, err, "declare")
			must(b, cch.Qos(1000, 0, false), "qos")
			ds, err := cch.Consume(q.Name, "", false, false, false, false, nil)
			must(b, err, "consume")
			body := make([]byte, size)
			done := make(chan struct{})
			b.ReportAllocs()
			b.ResetTimer()
			go func() {
				defer close(done)
				n := 0
				for d := range ds {
					if n++; n%100 == 0 || n == b.N {
						d.Ack(true)
					}
					if n == b.N {
						return
					}
				}
			}()
			for i := 0; i < b.N; i++ {
				must(b, pch.Publish("", q.Name, false, false, amqp091.Publishing{Body: body}), "publish")
			}
			select {
			case <-done:
			case <-time.After(2 * time.Minute):
				b.Fatal("the consumer did not receive every message")
			}
		})
	}
}
