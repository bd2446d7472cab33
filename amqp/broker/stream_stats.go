package broker

import (
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/stream"
)

// The read side of stream queues, for the management API and metrics:
// the log's figures and each consumer's position. Nothing here takes a
// lock but the queue's (its consumer list, for a moment) and the log's
// (Info); a consumer's position is an atomic its front end keeps.

// StreamPositioner is implemented by a queue.Sink that reads a stream
// queue: where its reader is.
type StreamPositioner interface {
	// StreamPosition returns the next offset the consumer will be sent
	// (one past the last delivered); ok is false while it is not known
	// (no delivery yet from a start that names no offset).
	StreamPosition() (next uint64, ok bool)
	// StreamArgs are the consumer's stream arguments (x-stream-offset,
	// x-stream-filter...), as given; shared, read only.
	StreamArgs() map[string]any
}

// StreamStats is a stream queue's log and its consumers.
type StreamStats struct {
	stream.Info
	Consumers []StreamConsumerStats
}

// Messages is the number of messages the log keeps.
func (s *StreamStats) Messages() int64 { return int64(s.Next - s.First) }

// MaxLag is the largest OffsetLag of a consumer whose position is known.
func (s *StreamStats) MaxLag() uint64 {
	var m uint64
	for _, c := range s.Consumers {
		if c.Known {
			m = max(m, c.Lag)
		}
	}
	return m
}

// StreamConsumerStats is one consumer's position in a stream.
type StreamConsumerStats struct {
	Tag     string
	Conn    uint64
	Channel uint16
	// Offset is the next offset the consumer will be sent and Lag the
	// committed messages from there to the log's end (Known false: not
	// known yet, both zero). A position before the log's first offset
	// (retention removed it) counts from the first.
	Offset, Lag uint64
	Known       bool
	Args        map[string]any
}

// StreamStats returns the figures of the stream queue name (ok false:
// no such queue, or not a stream).
func (v *Vhost) StreamStats(name string) (StreamStats, bool) {
	q := v.Queue(name)
	if q == nil {
		return StreamStats{}, false
	}
	return streamStats(q)
}

func streamStats(q *queue.Queue) (StreamStats, bool) {
	s, ok := q.Stream.(*stream.Stream)
	if !ok {
		return StreamStats{}, false
	}
	st := StreamStats{Info: s.Info()}
	for _, c := range q.ConsumerList(nil) {
		cs := StreamConsumerStats{Tag: c.Tag, Conn: c.Conn}
		if d, ok := c.Sink.(ConsumerDetails); ok {
			cs.Channel, _ = d.ConsumerChannel()
		}
		if p, ok := c.Sink.(StreamPositioner); ok {
			cs.Args = p.StreamArgs()
			if next, known := p.StreamPosition(); known {
				next = max(next, st.First)
				cs.Offset, cs.Known = next, true
				if st.Next > next {
					cs.Lag = st.Next - next
				}
			}
		}
		st.Consumers = append(st.Consumers, cs)
	}
	return st, true
}
