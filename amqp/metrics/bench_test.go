package metrics_test

import (
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/warrenmq/warren/amqp/broker"
)

// BenchmarkScrape10kQueues scrapes each endpoint of a broker with 10,000
// queues (one message each), 10 connections and 10 channels publishing
// and consuming, over HTTP on loopback, reading the whole body. The goal
// (issue 15): /metrics in <= 250 ms. Besides the wall time it reports
// the process's CPU time per scrape (cpu-ms/op: server and client, all
// goroutines), which a loaded machine inflates less.
func BenchmarkScrape10kQueues(b *testing.B) {
	e := start(b)
	v := e.srv.Broker().Vhost("/")
	for i := range 10000 {
		if _, err := v.Apply(broker.DeclareQueue{Name: fmt.Sprintf("q-%05d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 10 {
		ch := channel(b, e.dial(b))
		for j := range 1000 {
			ch.Publish("", fmt.Sprintf("q-%05d", i*1000+j), false, false, amqpMsg)
		}
		if _, err := ch.Consume(fmt.Sprintf("q-%05d", i), "", false, false, false, false, nil); err != nil {
			b.Fatal(err)
		}
	}
	e.waitFor(b, "/metrics", expect{"rabbitmq_queue_messages", nil, 10000})
	for _, path := range []string{"/metrics", "/metrics/per-object", "/metrics/detailed?family=queue_coarse_metrics"} {
		b.Run(path, func(b *testing.B) {
			b.ReportAllocs()
			var n int64
			cpu0 := cpuTime()
			for b.Loop() {
				resp, err := http.Get(e.httpURL + path)
				if err != nil {
					b.Fatal(err)
				}
				n, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatalf("GET %s: %s %v", path, resp.Status, err)
				}
			}
			b.ReportMetric(float64(n), "body-bytes")
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
