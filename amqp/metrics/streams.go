package metrics

import (
	"github.com/warrenmq/warren/amqp/broker"
)

// Stream queues. RabbitMQ 3.10 reports a stream as a queue whose ready
// messages are its log's length, with nothing unacknowledged and no
// byte, RAM or paging series; Warren does the same, and adds its log's
// figures per object under warren_stream_* (RabbitMQ 3.10 has none over
// AMQP 0-9-1): bytes, segments, first and last offset, first and last
// timestamp, and the largest offset lag of its consumers.

var (
	wStreamBytes       = metric{"stream_bytes", gauge, "Size in bytes of a stream queue's log on disk"}
	wStreamSegments    = metric{"stream_segments", gauge, "Segment files of a stream queue's log"}
	wStreamFirstOffset = metric{"stream_first_offset", gauge, "First offset a stream queue's log keeps"}
	wStreamLastOffset  = metric{"stream_last_offset", gauge, "Last committed offset of a stream queue's log, -1 when empty"}
	wStreamFirstTime   = metric{"stream_first_timestamp_seconds", gauge, "Timestamp of a stream queue's oldest chunk, 0 when empty"}
	wStreamLastTime    = metric{"stream_last_timestamp_seconds", gauge, "Timestamp of a stream queue's newest chunk, 0 when empty"}
	wStreamMaxLag      = metric{"stream_consumer_max_offset_lag", gauge, "Largest offset lag of a stream queue's consumers"}
)

// asStream reads q's log if q is a stream queue, and sets q's figures
// as RabbitMQ shows a stream's: the log's length ready, nothing
// unacknowledged, no bytes in memory.
func asStream(v *broker.Vhost, q *broker.QueueInfo) (broker.StreamStats, bool) {
	if t, _ := q.Args["x-queue-type"].(string); t != "stream" {
		return broker.StreamStats{}, false
	}
	st, ok := v.StreamStats(q.Name)
	if !ok {
		return st, false
	}
	q.Ready, q.Paged, q.ReadyBytes, q.Unacked, q.UnackedBytes = int(st.Messages()), 0, 0, 0, 0
	return st, true
}

// emitStream sends a stream queue's warren_stream_* series.
func emitStream(e *emitter, q *broker.QueueInfo, st *broker.StreamStats) {
	ps := pairs(lQueue, q.Vhost, q.Name)
	w := func(m metric, v float64) { e.send("warren_"+m.name, m, lQueue, v, ps) }
	last := float64(-1)
	if st.Messages() > 0 {
		last = float64(st.Next - 1)
	}
	w(wStreamBytes, float64(st.Bytes))
	w(wStreamSegments, float64(st.Segments))
	w(wStreamFirstOffset, float64(st.First))
	w(wStreamLastOffset, last)
	w(wStreamFirstTime, float64(st.FirstTimestamp)/1000)
	w(wStreamLastTime, float64(st.LastTimestamp)/1000)
	w(wStreamMaxLag, float64(st.MaxLag()))
}
