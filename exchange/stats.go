package exchange

import "sync/atomic"

// Stats are an exchange's message counters, kept by the vhost that routes
// through it (atomics: routing holds only a read lock). RabbitMQ's
// message_stats names are in the comments.
//
// They sit on cache lines of their own: every publisher writes them,
// and the exchange's other fields, which every publisher reads, would
// otherwise bounce between cores with them.
type Stats struct {
	_          [64]byte
	PublishIn  atomic.Uint64 // publish_in: messages published to the exchange
	PublishOut atomic.Uint64 // publish_out: queues the exchange's messages reached, one per queue
	Unroutable atomic.Uint64 // messages routed nowhere (returned if mandatory, else dropped)
	_          [64 - 24]byte
}

// Counters are a copy of Stats, read with Stats.Counters.
type Counters struct {
	PublishIn, PublishOut, Unroutable uint64
}

// Counters reads the counters, each on its own.
func (s *Stats) Counters() Counters {
	return Counters{PublishIn: s.PublishIn.Load(), PublishOut: s.PublishOut.Load(), Unroutable: s.Unroutable.Load()}
}

// Add adds o's counts to c, for totals taken at read time.
func (c *Counters) Add(o Counters) {
	c.PublishIn += o.PublishIn
	c.PublishOut += o.PublishOut
	c.Unroutable += o.Unroutable
}
