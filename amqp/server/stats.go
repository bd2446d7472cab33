package server

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/warrenmq/warren/queue"
)

// Channel and server counters for operations (RabbitMQ's channel,
// channel_exchange and channel_queue metrics, and its global
// connection and channel totals). They are kept where the events happen,
// never with a lock or an atomic of their own per message:
//
//   - publish side (published, unroutable returned and dropped), per
//     channel and exchange: plain fields owned by the connection's reader,
//     copied into atomics once per read batch (conn.flushStats, when the
//     reader is about to block on the socket) and when the channel closes;
//   - confirmed: under confirmTracker.mu, which the confirm holds anyway;
//   - delivery side (delivered, redelivered, get, get-empty, acked), per
//     channel and queue: plain fields under channel.dmu, which deliveries,
//     gets and acks hold anyway;
//   - connections and channels opened and closed, queues declared: server
//     atomics, once per connection, channel or declare.
//
// A closed channel's counts are folded into Server.stats.closed and its
// channel unregistered in one step under Server.stats.mu, and Totals reads
// both under that lock, so the totals never go down.

// ChannelCounters are a channel's message counts since it opened, with
// RabbitMQ's metric names in the comments.
type ChannelCounters struct {
	Published          uint64 // channel_messages_published_total
	Confirmed          uint64 // channel_messages_confirmed_total
	UnroutableReturned uint64 // channel_messages_unroutable_returned_total: mandatory
	UnroutableDropped  uint64 // channel_messages_unroutable_dropped_total: not mandatory
	DeliveredAck       uint64 // channel_messages_delivered_ack_total: to be acknowledged
	DeliveredNoAck     uint64 // channel_messages_delivered_total: automatic acknowledgement
	Redelivered        uint64 // channel_messages_redelivered_total
	Acked              uint64 // channel_messages_acked_total
	GetAck             uint64 // channel_get_ack_total: basic.get, to be acknowledged
	GetNoAck           uint64 // channel_get_total: basic.get with no-ack
	GetEmpty           uint64 // channel_get_empty_total
}

// Add adds o's counts to c.
func (c *ChannelCounters) Add(o ChannelCounters) {
	c.Published += o.Published
	c.Confirmed += o.Confirmed
	c.UnroutableReturned += o.UnroutableReturned
	c.UnroutableDropped += o.UnroutableDropped
	c.DeliveredAck += o.DeliveredAck
	c.DeliveredNoAck += o.DeliveredNoAck
	c.Redelivered += o.Redelivered
	c.Acked += o.Acked
	c.GetAck += o.GetAck
	c.GetNoAck += o.GetNoAck
	c.GetEmpty += o.GetEmpty
}

// ChannelExchangeCounters are a channel's publishes to one exchange
// (RabbitMQ's channel_exchange_metrics). Exchange "" is the default
// exchange.
type ChannelExchangeCounters struct {
	Exchange           string
	Published          uint64
	Confirmed          uint64
	UnroutableReturned uint64
	UnroutableDropped  uint64
}

// ChannelQueueCounters are a channel's deliveries from one queue
// (RabbitMQ's channel_queue_metrics).
type ChannelQueueCounters struct {
	Queue          string
	DeliveredAck   uint64
	DeliveredNoAck uint64
	Redelivered    uint64
	Acked          uint64
	GetAck         uint64
	GetNoAck       uint64
	GetEmpty       uint64
}

// Totals are the server's totals since it started, closed connections
// and channels included.
type Totals struct {
	ConnectionsOpened uint64 // connections through the handshake
	ConnectionsClosed uint64 // of those, closed
	ChannelsOpened    uint64
	ChannelsClosed    uint64
	QueuesDeclared    uint64 // queue.declare methods answered with declare-ok
	// Bytes read from and written to client sockets, closed connections
	// included.
	BytesIn, BytesOut uint64
	// Channel sums every channel's counters, closed channels included:
	// it never goes down.
	Channel ChannelCounters
}

// serverStats is the server's part: totals and closed channels' counts.
type serverStats struct {
	connsOpened, connsClosed atomic.Uint64
	chansOpened, chansClosed atomic.Uint64
	queuesDeclared           atomic.Uint64

	mu sync.Mutex // a leaf but for Totals (see its lock order)
	// Guarded by mu: closed channels' counts and closed connections'
	// bytes.
	closed            ChannelCounters
	bytesIn, bytesOut uint64
}

// removeConn folds a finished connection's bytes into the totals and
// removes it from the server's set, in one step under mu.
func (st *serverStats) removeConn(s *Server, c *conn) {
	st.mu.Lock()
	st.bytesIn += c.reg.bytesIn.Load()
	st.bytesOut += c.reg.bytesOut.Load()
	s.mu.Lock()
	delete(s.mu.conns, c)
	s.mu.Unlock()
	if c.reg.info.Load() != nil {
		st.connsClosed.Add(1)
	}
	st.mu.Unlock()
}

// exStats are a channel's publishes to one exchange.
type exStats struct {
	name string
	// Owned by the connection's reader.
	published, returned, dropped uint64
	dirty                        bool // in conn.dirtyStats, to be flushed
	// Copies of the above for readers, stored once per read batch.
	pub, ret, drop atomic.Uint64
	// Guarded by confirmTracker.mu.
	confirmed uint64
}

// qStats are a channel's deliveries from one queue, guarded by
// channel.dmu.
type qStats struct {
	q                            *queue.Queue
	deliveredAck, deliveredNoAck uint64
	redelivered, acked           uint64
	getAck, getNoAck, getEmpty   uint64
}

// exchangeStats returns the channel's counters for publishes to the
// exchange name, creating them on its first publish there. The reader
// calls it for every publish: the last exchange is remembered, so a
// channel publishing to one exchange does no map lookup.
func (ch *channel) exchangeStats(name string) *exStats {
	if s := ch.lastEx; s != nil && s.name == name {
		return s
	}
	s := ch.exByName[name]
	if s == nil {
		if ch.exByName == nil {
			ch.exByName = map[string]*exStats{}
		}
		s = &exStats{name: name}
		ch.exByName[name] = s
		ch.dmu.Lock()
		ch.dmu.exchanges = append(ch.dmu.exchanges, s)
		ch.dmu.Unlock()
	}
	ch.lastEx = s
	return s
}

// countPublish counts a publish to s (reader only); the figures reach
// readers at the next flush.
func (c *conn) countPublish(s *exStats, routed, mandatory bool) {
	s.published++
	if !routed {
		if mandatory {
			s.returned++
		} else {
			s.dropped++
		}
	}
	if !s.dirty {
		s.dirty = true
		c.dirtyStats = append(c.dirtyStats, s)
	}
}

// flushStats publishes the reader's counts for readers: a few atomic
// stores per exchange published to since the last flush.
func (c *conn) flushStats() {
	for i, s := range c.dirtyStats {
		s.pub.Store(s.published)
		s.ret.Store(s.returned)
		s.drop.Store(s.dropped)
		s.dirty = false
		c.dirtyStats[i] = nil
	}
	c.dirtyStats = c.dirtyStats[:0]
}

// queueStatsLocked returns the channel's counters for deliveries from q.
// Only the reader calls it. Past a number of queues (64, then twice what
// the last prune kept), the reader prunes the deleted queues' counters
// when it is next about to block: a channel consuming from one temporary
// queue after another keeps no queue alive and grows no map.
func (ch *channel) queueStatsLocked(q *queue.Queue) *qStats {
	s := ch.dmu.queues[q]
	if s == nil {
		if ch.dmu.queues == nil {
			ch.dmu.queues = map[*queue.Queue]*qStats{}
		}
		s = &qStats{q: q}
		ch.dmu.queues[q] = s
		if len(ch.dmu.queues) > max(ch.dmu.pruneAt, 64) && !ch.pruneQueued {
			ch.pruneQueued = true
			ch.c.pruneStats = append(ch.c.pruneStats, ch)
		}
	}
	return s
}

// pruneQueueStats folds the counters of deleted queues into each listed
// channel's goneQ and drops them (reader only, no lock held: a queue's
// Deleted takes its lock, which comes before channel.dmu). A delivery
// from a deleted queue acknowledged after that is not counted.
func (c *conn) pruneQueueStats() {
	for i, ch := range c.pruneStats {
		ch.pruneQueued = false
		c.pruneStats[i] = nil
		ch.dmu.Lock()
		qs := make([]*queue.Queue, 0, len(ch.dmu.queues))
		for q := range ch.dmu.queues {
			qs = append(qs, q)
		}
		ch.dmu.Unlock()
		gone := qs[:0]
		for _, q := range qs {
			if q.Deleted() {
				gone = append(gone, q)
			}
		}
		ch.dmu.Lock()
		for _, q := range gone {
			if s := ch.dmu.queues[q]; s != nil {
				ch.dmu.goneQ.add(s)
				delete(ch.dmu.queues, q)
			}
		}
		ch.dmu.pruneAt = 2 * len(ch.dmu.queues)
		ch.dmu.Unlock()
	}
	c.pruneStats = c.pruneStats[:0]
}

func (s *qStats) add(o *qStats) {
	s.deliveredAck += o.deliveredAck
	s.deliveredNoAck += o.deliveredNoAck
	s.redelivered += o.redelivered
	s.acked += o.acked
	s.getAck += o.getAck
	s.getNoAck += o.getNoAck
	s.getEmpty += o.getEmpty
}

// countDeliveryLocked counts a delivery or get of a message to s.
func countDeliveryLocked(s *qStats, redelivered, noAck, get bool) {
	switch {
	case get && noAck:
		s.getNoAck++
	case get:
		s.getAck++
	case noAck:
		s.deliveredNoAck++
	default:
		s.deliveredAck++
	}
	if redelivered {
		s.redelivered++
	}
}

// counters reads the channel's counters, each per exchange and per queue
// (sorted by name) when detail is set. Anyone may call it.
func (ch *channel) counters(detail bool) (ChannelCounters, []ChannelExchangeCounters, []ChannelQueueCounters) {
	var t ChannelCounters
	var exs []ChannelExchangeCounters
	var qs []ChannelQueueCounters
	ch.dmu.Lock()
	xs := ch.dmu.exchanges
	g := &ch.dmu.goneQ
	t.DeliveredAck, t.DeliveredNoAck, t.Redelivered, t.Acked = g.deliveredAck, g.deliveredNoAck, g.redelivered, g.acked
	t.GetAck, t.GetNoAck, t.GetEmpty = g.getAck, g.getNoAck, g.getEmpty
	for _, s := range ch.dmu.queues {
		t.DeliveredAck += s.deliveredAck
		t.DeliveredNoAck += s.deliveredNoAck
		t.Redelivered += s.redelivered
		t.Acked += s.acked
		t.GetAck += s.getAck
		t.GetNoAck += s.getNoAck
		t.GetEmpty += s.getEmpty
		if detail {
			qs = append(qs, ChannelQueueCounters{Queue: s.q.Name, DeliveredAck: s.deliveredAck, DeliveredNoAck: s.deliveredNoAck,
				Redelivered: s.redelivered, Acked: s.acked, GetAck: s.getAck, GetNoAck: s.getNoAck, GetEmpty: s.getEmpty})
		}
	}
	ch.dmu.Unlock()
	var confirmed []uint64
	// ch.conf is set before the mode is stored: the load orders the read.
	if ch.mode.Load() == modeConfirm && len(xs) > 0 {
		tr := ch.conf
		confirmed = make([]uint64, len(xs))
		tr.mu.Lock()
		for i, s := range xs {
			confirmed[i] = s.confirmed
		}
		tr.mu.Unlock()
	}
	for i, s := range xs {
		e := ChannelExchangeCounters{Exchange: s.name, Published: s.pub.Load(), UnroutableReturned: s.ret.Load(), UnroutableDropped: s.drop.Load()}
		if confirmed != nil {
			e.Confirmed = confirmed[i]
		}
		t.Published += e.Published
		t.Confirmed += e.Confirmed
		t.UnroutableReturned += e.UnroutableReturned
		t.UnroutableDropped += e.UnroutableDropped
		if detail {
			exs = append(exs, e)
		}
	}
	if detail {
		sortBy(exs, func(e ChannelExchangeCounters) string { return e.Exchange })
		sortBy(qs, func(q ChannelQueueCounters) string { return q.Queue })
	}
	return t, exs, qs
}

// closeStats folds a closing channel's counts into the server's closed
// totals and unregisters it from the listings, in one step under
// stats.mu, so Totals counts it exactly once. The reader calls it, with no
// lock held, after the channel's release.
func (c *conn) closeStats(ch *channel) {
	c.flushStats()
	t, _, _ := ch.counters(false)
	st := &c.srv.stats
	st.mu.Lock()
	st.closed.Add(t)
	c.unregisterChannel(ch)
	st.mu.Unlock()
	st.chansClosed.Add(1)
}

// Totals returns the server's totals. Lock order: Server.stats.mu, then
// Server.mu, conn.reg.mu and channel.dmu one after another, and
// confirmTracker.mu.
func (s *Server) Totals() Totals {
	st := &s.stats
	t := Totals{
		ConnectionsOpened: st.connsOpened.Load(),
		ConnectionsClosed: st.connsClosed.Load(),
		ChannelsOpened:    st.chansOpened.Load(),
		ChannelsClosed:    st.chansClosed.Load(),
		QueuesDeclared:    st.queuesDeclared.Load(),
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	t.Channel = st.closed
	t.BytesIn, t.BytesOut = st.bytesIn, st.bytesOut
	for _, c := range s.conns() {
		t.BytesIn += c.reg.bytesIn.Load()
		t.BytesOut += c.reg.bytesOut.Load()
		for _, ch := range c.registered() {
			ct, _, _ := ch.counters(false)
			t.Channel.Add(ct)
		}
	}
	return t
}

// sortBy sorts xs by the key of each.
func sortBy[T any](xs []T, key func(T) string) {
	slices.SortFunc(xs, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
}
