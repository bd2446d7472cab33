package management

import (
	"github.com/warrenmq/warren/amqp/broker"
)

// Stream queues as RabbitMQ 3.10 shows them: type "stream", messages and
// messages_ready the log's length, messages_unacknowledged 0, members,
// online and readers by node, and none of a classic queue's byte, RAM
// and paging fields. Warren adds what RabbitMQ 3.10 has no field for:
// message_bytes (the log's size on disk, as a classic queue's field
// names it) and "stream", the log's figures:
//
//	{"bytes","segments","first_offset","last_offset","first_timestamp",
//	 "last_timestamp","max_offset_lag"}
//
// (offsets as numbers, last_offset null when the log is empty;
// timestamps in Unix milliseconds, null when empty). A stream consumer
// in consumer_details and /api/consumers carries its consume arguments
// and, as RabbitMQ's stream plugin names them for its own consumers,
// "offset" (the next offset it is sent) and "offset_lag" (the committed
// messages from there to the log's end), null while not known.

// streamQueueJSON is a stream queue in /api/queues.
type streamQueueJSON struct {
	Arguments                     map[string]any `json:"arguments"`
	AutoDelete                    bool           `json:"auto_delete"`
	Consumers                     int            `json:"consumers"`
	Durable                       bool           `json:"durable"`
	EffectivePolicyDefinition     map[string]any `json:"effective_policy_definition"`
	Exclusive                     bool           `json:"exclusive"`
	Members                       []string       `json:"members"`
	MessageBytes                  int64          `json:"message_bytes"` // warren
	MessageStats                  queueStatsJSON `json:"message_stats"`
	Messages                      int64          `json:"messages"`
	MessagesDetails               rateJSON       `json:"messages_details"`
	MessagesReady                 int64          `json:"messages_ready"`
	MessagesReadyDetails          rateJSON       `json:"messages_ready_details"`
	MessagesUnacknowledged        int64          `json:"messages_unacknowledged"`
	MessagesUnacknowledgedDetails rateJSON       `json:"messages_unacknowledged_details"`
	Name                          string         `json:"name"`
	Node                          string         `json:"node"`
	Online                        []string       `json:"online"`
	OperatorPolicy                *string        `json:"operator_policy"`
	Policy                        *string        `json:"policy"`
	Readers                       map[string]int `json:"readers"`
	State                         string         `json:"state"`
	Stream                        streamLogJSON  `json:"stream"` // warren
	Type                          string         `json:"type"`
	Vhost                         string         `json:"vhost"`
}

// streamLogJSON is Warren's "stream" object of a stream queue.
type streamLogJSON struct {
	Bytes          int64   `json:"bytes"`
	Segments       int     `json:"segments"`
	FirstOffset    uint64  `json:"first_offset"`
	LastOffset     *uint64 `json:"last_offset"`
	FirstTimestamp *int64  `json:"first_timestamp"`
	LastTimestamp  *int64  `json:"last_timestamp"`
	MaxOffsetLag   uint64  `json:"max_offset_lag"`
}

// queueView renders a queue: a stream queue as a stream, any other (or a
// stream whose log is gone meanwhile) as queueJSON.
func (s *Server) queueView(q *broker.QueueInfo, smp *samples) any {
	if queueType(q) == "stream" {
		if st, ok := s.streamStats(q.Vhost, q.Name); ok {
			return s.streamQueueJSON(q, &st, smp)
		}
	}
	return s.queueJSON(q, smp)
}

func (s *Server) streamStats(vhost, name string) (broker.StreamStats, bool) {
	v := s.b.Vhost(vhost)
	if v == nil {
		return broker.StreamStats{}, false
	}
	return v.StreamStats(name)
}

func (s *Server) streamQueueJSON(q *broker.QueueInfo, st *broker.StreamStats, smp *samples) *streamQueueJSON {
	c := s.queueJSON(q, smp) // the fields both share, rendered one way
	n := st.Messages()
	log := streamLogJSON{Bytes: st.Bytes, Segments: st.Segments, FirstOffset: st.First, MaxOffsetLag: st.MaxLag()}
	if n > 0 {
		last := st.Next - 1
		first, lastTS := st.FirstTimestamp, st.LastTimestamp
		log.LastOffset, log.FirstTimestamp, log.LastTimestamp = &last, &first, &lastTS
	}
	node := s.cfg.NodeName
	return &streamQueueJSON{
		Arguments:                     c.Arguments,
		AutoDelete:                    c.AutoDelete,
		Consumers:                     c.Consumers,
		Durable:                       c.Durable,
		EffectivePolicyDefinition:     c.EffectivePolicyDefinition,
		Exclusive:                     c.Exclusive,
		Members:                       []string{node},
		MessageBytes:                  st.Bytes,
		MessageStats:                  c.MessageStats,
		Messages:                      n,
		MessagesDetails:               c.MessagesDetails,
		MessagesReady:                 n,
		MessagesReadyDetails:          c.MessagesReadyDetails,
		MessagesUnacknowledgedDetails: c.MessagesUnacknowledgedDetails,
		Name:                          c.Name,
		Node:                          node,
		Online:                        []string{node},
		OperatorPolicy:                c.OperatorPolicy,
		Policy:                        c.Policy,
		Readers:                       map[string]int{node: len(st.Consumers)},
		State:                         c.State,
		Stream:                        log,
		Type:                          "stream",
		Vhost:                         c.Vhost,
	}
}

// streamConsumers adds the stream fields to consumers' JSON objects,
// reading each stream's figures once per listing.
type streamConsumers struct {
	s     *Server
	cache map[[2]string]map[streamConsumerKey]*broker.StreamConsumerStats
}

type streamConsumerKey struct {
	conn    uint64
	channel uint16
	tag     string
}

func (s *Server) newStreamConsumers() *streamConsumers {
	return &streamConsumers{s: s, cache: map[[2]string]map[streamConsumerKey]*broker.StreamConsumerStats{}}
}

// add sets m's stream fields if c consumes from a stream.
func (sc *streamConsumers) add(m map[string]any, c *broker.ConsumerInfo) {
	key := [2]string{c.Vhost, c.Queue}
	byKey, seen := sc.cache[key]
	if !seen {
		if st, ok := sc.s.streamStats(c.Vhost, c.Queue); ok {
			byKey = make(map[streamConsumerKey]*broker.StreamConsumerStats, len(st.Consumers))
			for i := range st.Consumers {
				x := &st.Consumers[i]
				byKey[streamConsumerKey{x.Conn, x.Channel, x.Tag}] = x
			}
		}
		sc.cache[key] = byKey
	}
	x := byKey[streamConsumerKey{c.Conn, c.Channel, c.Tag}]
	if x == nil {
		return
	}
	if len(x.Args) > 0 {
		m["arguments"] = tableToJSON(x.Args)
	}
	m["offset"], m["offset_lag"] = nil, nil
	if x.Known {
		m["offset"], m["offset_lag"] = x.Offset, x.Lag
	}
}
