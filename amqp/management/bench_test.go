package management_test

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"testing"

	"github.com/warrenmq/warren/amqp/broker"
)

// benchQueues is the queue count of the listing goals (issue 15: a page
// of 100 in <= 20 ms, the whole unpaged listing in <= 1 s).
const benchQueues = 10000

// declareQueues declares n queues in the default vhost through the core,
// as AMQP and the API declare them.
func declareQueues(tb testing.TB, b *broker.Broker, n int) {
	tb.Helper()
	v := b.Vhost("/")
	for i := range n {
		if _, err := v.Apply(broker.DeclareQueue{Name: fmt.Sprintf("bench-%05d", i)}); err != nil {
			tb.Fatal(err)
		}
	}
}

func benchGet(b *testing.B, path string) {
	h := startAPI(b, nil)
	declareQueues(b, h.broker, benchQueues)
	client := &http.Client{}
	get := func() int {
		req, _ := http.NewRequest("GET", h.url+path, nil)
		req.SetBasicAuth("guest", "guest")
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d", path, res.StatusCode)
		}
		return int(n)
	}
	size := get()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		get()
	}
	b.ReportMetric(float64(size), "bytes/answer")
}

// BenchmarkQueuesPage100 is GET /api/queues?page=1&page_size=100 with
// 10,000 queues (goal: <= 20 ms).
func BenchmarkQueuesPage100(b *testing.B) { benchGet(b, "/api/queues?page=1&page_size=100") }

// BenchmarkQueuesPage100SortedByRate pages after sorting every queue by
// a rate, which renders them all.
func BenchmarkQueuesPage100SortedByRate(b *testing.B) {
	benchGet(b, "/api/queues?page=1&page_size=100&sort=message_stats.publish_details.rate&sort_reverse=true")
}

// BenchmarkQueuesAll is the whole unpaged GET /api/queues with 10,000
// queues (goal: <= 1 s).
func BenchmarkQueuesAll(b *testing.B) { benchGet(b, "/api/queues") }

// BenchmarkSample is one pass of the rate sampler over 10,000 queues.
func BenchmarkSample(b *testing.B) {
	h := startAPI(b, nil)
	declareQueues(b, h.broker, benchQueues)
	b.ReportAllocs()
	for b.Loop() {
		h.api.Sample()
	}
}

// BenchmarkIdleQueueMemory reports the heap per idle queue: the core's
// own (queue.Queue, its map entries) and what the management API's
// sampler adds (its two passes' samples).
//
// The figures are measured once, before the loop (servers of earlier
// iterations would still be on the heap); the loop times a pass.
func BenchmarkIdleQueueMemory(b *testing.B) {
	h := startAPI(b, nil)
	base := heapNow()
	declareQueues(b, h.broker, benchQueues)
	core := heapNow()
	h.api.Sample()
	h.api.Sample()
	withAPI := heapNow()
	for b.Loop() {
		h.api.Sample()
	}
	b.ReportMetric(float64(core-base)/benchQueues, "core-bytes/queue")
	b.ReportMetric(float64(withAPI-core)/benchQueues, "sampler-bytes/queue")
}

func heapNow() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// consoleColumns are the columns the console's queues page asks for.
const consoleColumns = "name,vhost,type,durable,auto_delete,exclusive,arguments,policy,state,consumers,messages_ready,messages_unacknowledged,messages,message_stats.publish_details.rate,message_stats.deliver_get_details.rate,message_stats.ack_details.rate"

// BenchmarkQueuesConsoleKeystroke is the request of the console's first
// filter keystroke: 100 of the 10,000 names containing "0", the
// console's columns.
func BenchmarkQueuesConsoleKeystroke(b *testing.B) {
	benchGet(b, "/api/queues?page=1&page_size=100&name=0&use_regex=false&columns="+consoleColumns)
}
