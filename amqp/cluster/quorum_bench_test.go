package cluster

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// BenchmarkQuorumConfirms: a quorum queue on three in-process nodes, 1
// KiB persistent messages published with confirms (1000 outstanding) by
// one publisher and taken by one consumer (prefetch 1000, a multiple ack
// every 100), both on the queue's leader. Reports msg/s (confirmed and
// consumed) and the p99 confirm latency. The goal compares it
// with a 3-node RabbitMQ 3.10 cluster: tools/warren-perf --scenario
// quorum-confirms runs the same against any --url.
func BenchmarkQuorumConfirms(b *testing.B) {
	c := newCluster(b, three, func(cfg *Config) { cfg.Tick = 50 * time.Millisecond }, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "bench", nil)
	conn := c.mustDial(leader)

	const window = 1000
	body := make([]byte, 1024)
	cch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	cch.Qos(1000, 0, false)
	ds, err := cch.Consume("bench", "", false, false, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	pconn := c.mustDial(leader)
	pch, err := pconn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	if err := pch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	confirms := pch.NotifyPublish(make(chan amqp091.Confirmation, window))
	tokens := make(chan struct{}, window)
	var mu sync.Mutex
	var sent []time.Time // by delivery tag - 1
	var lat []time.Duration
	nacked := 0
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for cf := range confirms {
			mu.Lock()
			lat = append(lat, time.Since(sent[cf.DeliveryTag-1]))
			if !cf.Ack {
				nacked++
			}
			mu.Unlock()
			<-tokens
		}
	}()
	var consumed atomic.Int64
	start := time.Now()
	n := 0
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	go func() {
		for d := range ds {
			if consumed.Add(1)%100 == 0 {
				d.Ack(true)
			}
		}
	}()
	for b.Loop() {
		tokens <- struct{}{}
		mu.Lock()
		sent = append(sent, time.Now())
		mu.Unlock()
		if err := pch.Publish("", "bench", false, false, amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: body}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	for range window {
		tokens <- struct{}{} // every confirm back
	}
	deadline := time.Now().Add(30 * time.Second)
	for consumed.Load() < int64(n) {
		if time.Now().After(deadline) {
			b.Fatalf("consumed %d of %d", consumed.Load(), n)
		}
		time.Sleep(time.Millisecond) // poll
	}
	elapsed := time.Since(start)
	pch.Close()
	wg.Wait()
	if nacked > 0 {
		b.Fatalf("%d nacks", nacked)
	}
	slices.Sort(lat)
	if s, ok := c.nodes[leader].node.QueueStatus("/", "bench"); ok {
		b.ReportMetric(float64(n)/float64(s.Applied), "msg/entry")
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "msg/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-confirm-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-confirm-ms")
}
