package server

import (
	"fmt"
	"testing"

	"github.com/warrenmq/warren/queue"
)

// BenchmarkOutboundDelivery queues one delivery on a connection's outbound
// and takes the batch, as TryDeliver and the writer do: small bodies are
// copied, large ones (from refBody) referenced, and the copy is what the
// reference saves.
func BenchmarkOutboundDelivery(b *testing.B) {
	for _, size := range []int{16, 64 << 10, 1 << 20} {
		e := queue.Entry{Msg: &queue.Message{RoutingKey: "k", Body: make([]byte, size)}, Seq: 1}
		run := func(b *testing.B, ref bool) {
			o := newOutbound(4 << 20)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				o.mu.Lock()
				if ref {
					o.mu.buf = appendDeliveryHead(o.mu.buf, 1, "ctag", 1, e)
					o.appendBodyLocked(1, e.Msg, 131072)
				} else {
					o.mu.buf = appendDelivery(o.mu.buf, 1, 131072, "ctag", 1, e)
				}
				o.mu.Unlock()
				batch, segs, _, _ := o.take()
				o.done(batch, segs, false)
			}
		}
		b.Run(fmt.Sprintf("copy/%d", size), func(b *testing.B) { run(b, false) })
		if size >= refBody {
			b.Run(fmt.Sprintf("ref/%d", size), func(b *testing.B) { run(b, true) })
		}
	}
}
