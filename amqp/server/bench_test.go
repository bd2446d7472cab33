package server_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// benchURL is the broker under benchmark: AMQP_URL when set (RabbitMQ, to
// compare in the same run), otherwise an in-process Warren.
func benchURL(b *testing.B) string {
	if u := os.Getenv("AMQP_URL"); u != "" {
		return u
	}
	return servertest.Start(b, server.Config{})
}

// BenchmarkPublishConsume measures end-to-end transient throughput: one
// producer and one consumer connection, 16-byte bodies, manual acks with
// multiple every 100, prefetch 1000. An op is one message published and
// received. 1 MiB bodies are pooled in the broker (queue/body.go): the
// client still allocates its copy of each.
func BenchmarkPublishConsume(b *testing.B) {
	for _, size := range []int{16, 1024, 1 << 20} {
		b.Run(fmt.Sprintf("body=%d", size), func(b *testing.B) {
			url := benchURL(b)
			pc, err := amqp091.Dial(url)
			if err != nil {
				b.Fatal(err)
			}
			defer pc.Close()
			cc, err := amqp091.Dial(url)
			if err != nil {
				b.Fatal(err)
			}
			defer cc.Close()
			pch, _ := pc.Channel()
			cch, _ := cc.Channel()
			q, err := cch.QueueDeclare("", false, true, true, false, nil)
			if err != nil {
				b.Fatal(err)
			}
			cch.Qos(1000, 0, false)
			deliveries, err := cch.Consume(q.Name, "", false, false, false, false, nil)
			if err != nil {
				b.Fatal(err)
			}
			body := make([]byte, size)
			done := make(chan int)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			go func() {
				n := 0
				for d := range deliveries {
					n++
					if n%100 == 0 {
						d.Ack(true)
					}
					if n == b.N {
						d.Ack(true)
						break
					}
				}
				done <- n
			}()
			for i := 0; i < b.N; i++ {
				if err := pch.Publish("", q.Name, false, false, amqp091.Publishing{Body: body}); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-done:
			case <-time.After(2 * time.Minute):
				b.Fatal("consumer did not receive every message")
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
		})
	}
}
