package broker

import (
	"fmt"
	"runtime"
	"testing"
	"unsafe"

	"github.com/warrenmq/warren/queue"
)

// BenchmarkIdleQueueMemory reports the heap an idle queue takes (declared,
// empty, no consumer), and queue.Queue's own size.
func BenchmarkIdleQueueMemory(b *testing.B) {
	const n = 10000
	var perQueue float64
	for b.Loop() {
		br := New(Config{})
		v := br.Vhost("/")
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range n {
			if _, err := v.Apply(DeclareQueue{Name: fmt.Sprintf("q%05d", i), Durable: true}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perQueue = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(br)
	}
	b.ReportMetric(perQueue, "heap-bytes/queue")
	b.ReportMetric(float64(unsafe.Sizeof(queue.Queue{})), "sizeof-bytes/queue")
}
