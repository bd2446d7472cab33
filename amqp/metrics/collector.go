package metrics

import (
	"cmp"
	"math"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/warrenmq/warren/alarm"
	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/amqp/server"
)

// The three outputs, as rabbitmq_prometheus names its endpoints.
type mode int

const (
	aggregated mode = iota // /metrics: node totals, no per-object labels
	perObject              // /metrics/per-object: a series per queue, channel, connection
	detailed               // /metrics/detailed: the families asked for
)

// Label sets.
type labels int

const (
	lNone labels = iota
	lQueue
	lChannel // a channel or a connection: RabbitMQ labels both "channel"
	lChannelExchange
	lChannelQueue
	lExchange
	lVhost
	lBuild
	lIdentity
	lProtocol
	lProtocolQueueType
)

var labelNames = [...][]string{
	lNone:              nil,
	lQueue:             {"vhost", "queue"},
	lChannel:           {"channel"},
	lChannelExchange:   {"channel", "vhost", "exchange"},
	lChannelQueue:      {"channel", "vhost", "queue"},
	lExchange:          {"vhost", "exchange", "type"},
	lVhost:             {"vhost"},
	lBuild:             {"rabbitmq_version", "prometheus_plugin_version", "prometheus_client_version", "erlang_version", "product"},
	lIdentity:          {"rabbitmq_node", "rabbitmq_cluster"},
	lProtocol:          {"protocol"},
	lProtocolQueueType: {"protocol", "queue_type"},
}

// descs caches the descriptors of a Handler, by full name and label set.
type descs struct {
	mu sync.Mutex
	m  map[descKey]*prometheus.Desc
}

type descKey struct {
	name   string
	labels labels
}

func (d *descs) get(name, help string, l labels) *prometheus.Desc {
	k := descKey{name, l}
	d.mu.Lock()
	defer d.mu.Unlock()
	if x := d.m[k]; x != nil {
		return x
	}
	if d.m == nil {
		d.m = map[descKey]*prometheus.Desc{}
	}
	x := prometheus.NewDesc(name, help, labelNames[l], nil)
	d.m[k] = x
	return x
}

// emitter sends one scrape's samples, looking descriptors up in a cache
// of its own first (Collect may run for several scrapes at once).
type emitter struct {
	ch     chan<- prometheus.Metric
	prefix string // "rabbitmq_" or "rabbitmq_detailed_"
	shared *descs
	local  map[descKey]*prometheus.Desc
}

func (e *emitter) emit(m metric, l labels, v float64, values ...string) {
	e.emitNamed(e.prefix+m.name, m, l, v, values...)
}

func (e *emitter) emitNamed(name string, m metric, l labels, v float64, values ...string) {
	e.send(name, m, l, v, pairs(l, values...))
}

// emitP sends a sample with label pairs made by pairs: an object's
// samples share one set.
func (e *emitter) emitP(m metric, l labels, v float64, ps []*dto.LabelPair) {
	e.send(e.prefix+m.name, m, l, v, ps)
}

func (e *emitter) send(name string, m metric, l labels, v float64, ps []*dto.LabelPair) {
	k := descKey{name, l}
	d := e.local[k]
	if d == nil {
		d = e.shared.get(name, m.help, l)
		e.local[k] = d
	}
	e.ch <- &sample{desc: d, typ: m.typ, v: v, labels: ps}
}

// sample is a prometheus.Metric like a const metric's, but with label
// pairs that the samples of one object share: a queue's ten samples make
// one set of pairs, not ten (the per-object output of 10,000 queues sends
// some 100,000 samples).
type sample struct {
	desc   *prometheus.Desc
	typ    prometheus.ValueType
	v      float64
	labels []*dto.LabelPair // sorted by name; shared, never modified
}

func (s *sample) Desc() *prometheus.Desc { return s.desc }

func (s *sample) Write(m *dto.Metric) error {
	m.Label = s.labels
	switch s.typ {
	case counter:
		m.Counter = &dto.Counter{Value: &s.v}
	case gauge:
		m.Gauge = &dto.Gauge{Value: &s.v}
	default:
		m.Untyped = &dto.Untyped{Value: &s.v}
	}
	return nil
}

// pairs makes the label pairs of a label set's values (in labelNames
// order), sorted by name as Prometheus's registry wants them. A value
// that is not UTF-8 (AMQP names are bytes) has its bad bytes replaced,
// so that no object can spoil a scrape.
func pairs(l labels, values ...string) []*dto.LabelPair {
	names := labelNames[l]
	if len(names) == 0 {
		return nil
	}
	ps := make([]*dto.LabelPair, len(names))
	backing := make([]dto.LabelPair, len(names))
	for i := range names {
		v := values[i]
		if !utf8.ValidString(v) {
			v = strings.ToValidUTF8(v, "\uFFFD")
		}
		backing[i] = dto.LabelPair{Name: &names[i], Value: &v}
		ps[i] = &backing[i]
	}
	slices.SortFunc(ps, func(a, b *dto.LabelPair) int { return cmp.Compare(a.GetName(), b.GetName()) })
	return ps
}

// collector is a prometheus.Collector reading the broker at scrape time:
// one pass over the queues (each under its own lock for a moment), one
// over the connections and channels. It keeps nothing between scrapes
// and starts no goroutine. Describe sends nothing: it is an unchecked
// collector, as its series come and go with the broker's objects.
type collector struct {
	h        *Handler
	mode     mode
	families map[string]bool // detailed: the families asked for
	vhosts   map[string]bool // detailed: nil means every vhost
}

func (c *collector) Describe(chan<- *prometheus.Desc) {}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	e := &emitter{ch: ch, prefix: "rabbitmq_", shared: &c.h.descs, local: map[descKey]*prometheus.Desc{}}
	if c.mode == detailed {
		c.collectDetailed(e)
		return
	}
	t := c.h.cfg.Server.Totals()
	c.collectNode(e, t)
	c.collectObjects(e, c.mode == perObject, t)
	c.collectIdentity(e)
}

// collectIdentity sends build_info and identity_info, the series every
// RabbitMQ dashboard joins its queries on.
func (c *collector) collectIdentity(e *emitter) {
	h := c.h
	e.emitNamed("rabbitmq_build_info", mBuildInfo, lBuild, 1, h.cfg.Version, h.cfg.Version, clientVersion, goVersion(), "Warren")
	e.emitNamed("rabbitmq_identity_info", mIdentityInfo, lIdentity, 1, h.cfg.NodeName, h.cfg.ClusterName)
}

// collectNode sends the node-wide figures: process, disk, memory, alarms,
// uptime and the server's totals of connections, channels and queues.
func (c *collector) collectNode(e *emitter, t server.Totals) {
	h := c.h
	n := readNode()
	created, deleted := h.cfg.Server.Broker().QueueTotals()
	opened, closed := t.ConnectionsOpened, t.ConnectionsClosed
	if st := h.cfg.Streams; st != nil {
		so, sc := st.Totals()
		opened, closed = opened+so, closed+sc
	}
	e.emit(mConnectionsOpened, lNone, float64(opened))
	e.emit(mConnectionsClosed, lNone, float64(closed))
	e.emit(mChannelsOpened, lNone, float64(t.ChannelsOpened))
	e.emit(mChannelsClosed, lNone, float64(t.ChannelsClosed))
	e.emit(mQueuesDeclared, lNone, float64(t.QueuesDeclared))
	e.emit(mQueuesCreated, lNone, float64(created))
	e.emit(mQueuesDeleted, lNone, float64(deleted))

	e.emit(mOpenFDs, lNone, float64(n.openFDs))
	e.emit(mMaxFDs, lNone, float64(n.maxFDs))
	// Every socket is a descriptor: Warren has no lower socket limit.
	e.emit(mMaxTCPSockets, lNone, float64(n.maxFDs))
	e.emit(mResidentMemory, lNone, float64(n.residentBytes))
	e.emit(mMemoryLimit, lNone, float64(h.memoryLimit(n)))
	free, limit, short := h.disk()
	e.emit(mDiskAvailable, lNone, float64(free))
	e.emit(mDiskLimit, lNone, float64(limit))
	e.emit(mUptime, lNone, time.Since(h.start).Seconds())
	e.emit(mAlarmFDs, lNone, b2f(n.maxFDs > 0 && n.openFDs >= n.maxFDs))
	e.emit(mAlarmDisk, lNone, b2f(short))
	memAlarm := false
	if m := h.cfg.Server.Alarms(); m != nil {
		memAlarm = m.Alarms().Has(alarm.Memory)
	}
	e.emit(mAlarmMemory, lNone, b2f(memAlarm))
}

// memoryLimit is resident_memory_limit_bytes: Config.MemoryLimit, else
// the memory high watermark in bytes (as RabbitMQ reports it) if the
// server has an alarm.Monitor, else the Go runtime's soft memory limit if
// one is set (GOMEMLIMIT), else the machine's memory.
func (h *Handler) memoryLimit(n nodeReading) int64 {
	if h.cfg.MemoryLimit > 0 {
		return h.cfg.MemoryLimit
	}
	if m := h.cfg.Server.Alarms(); m != nil {
		if l := m.Status().MemLimit; l > 0 {
			return l
		}
	}
	if l := debug.SetMemoryLimit(-1); l > 0 && l < math.MaxInt64 {
		return l
	}
	return n.memTotal
}

// disk reads the store's view of its disk, or the data directory's.
func (h *Handler) disk() (free, limit int64, short bool) {
	if s := h.cfg.Store; s != nil {
		free, limit = s.DiskFree(), max(s.MinFreeBytes(), 0)
		return free, limit, s.Admit() != nil
	}
	return diskFree(h.cfg.DataDir), 0, false
}

// sums are the aggregated output's totals over queues, connections and
// channels.
type sums struct {
	queues                                       int
	ready, unacked, readyRAM, paged, consumers   int64
	readyBytes, unackedBytes                     int64
	published                                    uint64
	chConsumers, chUnacked, chUnconfirmed        int64
	chConsumerPrefetch, chPrefetch, connChannels int64
}

// collectObjects sends the queue, connection and channel metrics: per
// object with labels, or summed without.
func (c *collector) collectObjects(e *emitter, each bool, t server.Totals) {
	srv := c.h.cfg.Server
	var s sums
	for _, v := range vhostsSorted(srv.Broker()) {
		for _, q := range v.Queues() {
			st, isStream := asStream(v, &q)
			s.addQueue(q)
			if each {
				set := c.queueMetrics(true)
				set.rest = set.rest && !isStream // rabbitmq: no byte/RAM series for a stream
				emitQueue(e, q, set, true)
				if isStream {
					emitStream(e, &q, &st)
				}
			}
		}
	}
	conns := srv.Connections()
	for _, cn := range conns {
		s.connChannels += int64(cn.Channels)
		if each {
			e.emit(mConnectionBytes, lChannel, float64(cn.BytesIn), cn.Name)
			e.emit(mConnectionOut, lChannel, float64(cn.BytesOut), cn.Name)
			e.emit(mConnChannels, lChannel, float64(cn.Channels), cn.Name)
		}
	}
	chans := srv.Channels()
	for i := range chans {
		ci := &chans[i]
		s.chConsumers += int64(ci.Consumers)
		s.chUnacked += int64(ci.Unacked)
		s.chUnconfirmed += int64(ci.Unconfirmed)
		s.chConsumerPrefetch += int64(ci.ConsumerPrefetch)
		s.chPrefetch += int64(ci.GlobalPrefetch)
		if each {
			emitChannel(e, ci)
			emitChannelExchanges(e, ci)
			emitChannelQueues(e, ci)
		}
	}
	if !each {
		emitSums(e, &s, t)
	}
	nconns := len(conns)
	if st := c.h.cfg.Streams; st != nil {
		nconns += st.ConnectionCount()
	}
	e.emit(mConnections, lNone, float64(nconns))
	e.emit(mChannels, lNone, float64(len(chans)))
	e.emit(mConsumers, lNone, float64(s.consumers))
	e.emit(mQueues, lNone, float64(s.queues))
	e.emit(mOpenTCPSockets, lNone, float64(nconns))
	c.collectGlobal(e, t, s.consumers)
}

func (s *sums) addQueue(q broker.QueueInfo) {
	s.queues++
	s.ready += int64(q.Ready)
	s.paged += int64(q.Paged)
	s.readyRAM += int64(q.Ready - q.Paged)
	s.unacked += q.Unacked
	s.consumers += int64(q.Consumers)
	s.readyBytes += q.ReadyBytes
	s.unackedBytes += q.UnackedBytes
	s.published += q.Counters.Published
}

// emitSums sends the aggregated output's queue, connection and channel
// figures. The channel and connection counters are the server's totals,
// closed channels and connections included, so they never go down.
func emitSums(e *emitter, s *sums, t server.Totals) {
	e.emit(mQueueReady, lNone, float64(s.ready))
	e.emit(mQueueUnacked, lNone, float64(s.unacked))
	e.emit(mQueueMessages, lNone, float64(s.ready+s.unacked))
	e.emit(mQueueConsumers, lNone, float64(s.consumers))
	e.emit(mQueueReadyRAM, lNone, float64(s.readyRAM))
	e.emit(mQueueBytes, lNone, float64(s.readyBytes+s.unackedBytes))
	e.emit(mQueueReadyBytes, lNone, float64(s.readyBytes))
	e.emit(mQueueUnackedBytes, lNone, float64(s.unackedBytes))
	e.emit(mQueuePagedOut, lNone, float64(s.paged))
	e.emit(mQueuePublished, lNone, float64(s.published))

	e.emit(mChannelConsumers, lNone, float64(s.chConsumers))
	e.emit(mChannelUnacked, lNone, float64(s.chUnacked))
	e.emit(mChannelUnconfirmed, lNone, float64(s.chUnconfirmed))
	e.emit(mConsumerPrefetch, lNone, float64(s.chConsumerPrefetch))
	e.emit(mChannelPrefetch, lNone, float64(s.chPrefetch))

	ct := t.Channel
	e.emit(mPublished, lNone, float64(ct.Published))
	e.emit(mConfirmed, lNone, float64(ct.Confirmed))
	e.emit(mReturned, lNone, float64(ct.UnroutableReturned))
	e.emit(mDropped, lNone, float64(ct.UnroutableDropped))
	e.emit(mGetAck, lNone, float64(ct.GetAck))
	e.emit(mGetNoAck, lNone, float64(ct.GetNoAck))
	e.emit(mDeliveredAck, lNone, float64(ct.DeliveredAck))
	e.emit(mDelivered, lNone, float64(ct.DeliveredNoAck))
	e.emit(mRedelivered, lNone, float64(ct.Redelivered))
	e.emit(mAcked, lNone, float64(ct.Acked))
	e.emit(mGetEmpty, lNone, float64(ct.GetEmpty))

	e.emit(mConnectionBytes, lNone, float64(t.BytesIn))
	e.emit(mConnectionOut, lNone, float64(t.BytesOut))
	e.emit(mConnChannels, lNone, float64(s.connChannels))
}

// collectGlobal sends RabbitMQ's global counters (rabbitmq_global_*) for
// AMQP 0-9-1 and classic queues, Warren's only protocol and queue type.
func (c *collector) collectGlobal(e *emitter, t server.Totals, consumers int64) {
	const proto, qt = "amqp091", "rabbit_classic_queue"
	g := func(m metric, v uint64) {
		e.emitNamed("rabbitmq_global_"+m.name, m, lProtocol, float64(v), proto)
	}
	gq := func(m metric, v uint64) {
		e.emitNamed("rabbitmq_global_"+m.name, m, lProtocolQueueType, float64(v), proto, qt)
	}
	ct := t.Channel
	g(gReceived, ct.Published)
	g(gRouted, ct.Published-min(ct.Published, ct.UnroutableReturned+ct.UnroutableDropped))
	g(gConfirmed, ct.Confirmed)
	g(gReturned, ct.UnroutableReturned)
	g(gDropped, ct.UnroutableDropped)
	gq(gDelivered, ct.DeliveredAck+ct.DeliveredNoAck+ct.GetAck+ct.GetNoAck)
	gq(gConsumeManualAck, ct.DeliveredAck)
	gq(gConsumeAutoAck, ct.DeliveredNoAck)
	gq(gGetManualAck, ct.GetAck)
	gq(gGetAutoAck, ct.GetNoAck)
	gq(gGetEmpty, ct.GetEmpty)
	gq(gRedelivered, ct.Redelivered)
	gq(gAcknowledged, ct.Acked)
	g(gGlobalConsumers, uint64(max(consumers, 0)))
}

// queueMetrics says which per-queue metrics to send: the coarse ones
// (queue_coarse_metrics), the rest (queue_metrics), or both.
type queueSet struct{ coarse, rest, consumers bool }

func (c *collector) queueMetrics(all bool) queueSet {
	if all {
		return queueSet{coarse: true, rest: true, consumers: true}
	}
	return queueSet{coarse: c.families["queue_coarse_metrics"], rest: c.families["queue_metrics"],
		consumers: c.families["queue_metrics"] || c.families["queue_consumer_count"]}
}

func emitQueue(e *emitter, q broker.QueueInfo, set queueSet, published bool) {
	ps := pairs(lQueue, q.Vhost, q.Name)
	if set.coarse {
		e.emitP(mQueueReady, lQueue, float64(q.Ready), ps)
		e.emitP(mQueueUnacked, lQueue, float64(q.Unacked), ps)
		e.emitP(mQueueMessages, lQueue, float64(int64(q.Ready)+q.Unacked), ps)
	}
	if set.consumers {
		e.emitP(mQueueConsumers, lQueue, float64(q.Consumers), ps)
	}
	if set.rest {
		e.emitP(mQueueReadyRAM, lQueue, float64(q.Ready-q.Paged), ps)
		e.emitP(mQueueBytes, lQueue, float64(q.ReadyBytes+q.UnackedBytes), ps)
		e.emitP(mQueueReadyBytes, lQueue, float64(q.ReadyBytes), ps)
		e.emitP(mQueueUnackedBytes, lQueue, float64(q.UnackedBytes), ps)
		e.emitP(mQueuePagedOut, lQueue, float64(q.Paged), ps)
	}
	if published {
		e.emitP(mQueuePublished, lQueue, float64(q.Counters.Published), ps)
	}
}

func emitChannel(e *emitter, ci *server.ChannelInfo) {
	ps := pairs(lChannel, ci.Name)
	e.emitP(mChannelConsumers, lChannel, float64(ci.Consumers), ps)
	e.emitP(mChannelUnacked, lChannel, float64(ci.Unacked), ps)
	e.emitP(mChannelUnconfirmed, lChannel, float64(ci.Unconfirmed), ps)
	e.emitP(mConsumerPrefetch, lChannel, float64(ci.ConsumerPrefetch), ps)
	e.emitP(mChannelPrefetch, lChannel, float64(ci.GlobalPrefetch), ps)
}

func emitChannelExchanges(e *emitter, ci *server.ChannelInfo) {
	for _, x := range ci.Exchanges {
		ps := pairs(lChannelExchange, ci.Name, ci.Vhost, x.Exchange)
		e.emitP(mPublished, lChannelExchange, float64(x.Published), ps)
		e.emitP(mConfirmed, lChannelExchange, float64(x.Confirmed), ps)
		e.emitP(mReturned, lChannelExchange, float64(x.UnroutableReturned), ps)
		e.emitP(mDropped, lChannelExchange, float64(x.UnroutableDropped), ps)
	}
}

func emitChannelQueues(e *emitter, ci *server.ChannelInfo) {
	for _, q := range ci.Queues {
		ps := pairs(lChannelQueue, ci.Name, ci.Vhost, q.Queue)
		e.emitP(mGetAck, lChannelQueue, float64(q.GetAck), ps)
		e.emitP(mGetNoAck, lChannelQueue, float64(q.GetNoAck), ps)
		e.emitP(mDeliveredAck, lChannelQueue, float64(q.DeliveredAck), ps)
		e.emitP(mDelivered, lChannelQueue, float64(q.DeliveredNoAck), ps)
		e.emitP(mRedelivered, lChannelQueue, float64(q.Redelivered), ps)
		e.emitP(mAcked, lChannelQueue, float64(q.Acked), ps)
		e.emitP(mGetEmpty, lChannelQueue, float64(q.GetEmpty), ps)
	}
}

func vhostsSorted(b *broker.Broker) []*broker.Vhost {
	vs := b.Vhosts()
	slices.SortFunc(vs, func(a, b *broker.Vhost) int { return cmp.Compare(a.Name(), b.Name()) })
	return vs
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
