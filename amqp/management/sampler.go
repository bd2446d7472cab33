package management

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/queue"
)

// The sampler turns counters into rates. Every interval (rabbitmq
// collect_statistics_interval, 5 s) it reads every queue's, exchange's
// and connection's counters in one pass (the core's listings: one queue
// lock at a time, counters with no lock) and publishes an immutable
// samples value through an atomic pointer: the rate of each figure that
// moved since the pass before, per second, and what it read, to compare
// with at the next pass. There is no goroutine per queue and nothing is
// added to queue.Queue; an idle queue costs the sampler its last figures
// (40 bytes) and its name's header (16).
//
// Handlers read the latest samples with no lock. Counts shown (messages,
// publish...) are read live at the request; rates come from the sampler,
// as old as one interval, as RabbitMQ's are.

// stat indexes a vec: the figures a rate is kept for.
type stat int

const (
	statPublish stat = iota
	statDeliver
	statDeliverNoAck
	statGet
	statGetNoAck
	statGetEmpty
	statRedeliver
	statAck
	statDeliverGet
	statPublishIn
	statPublishOut
	statDropUnroutable
	statMessages // gauges from here: their rates may be negative
	statReady
	statUnacked
	statRecvOct
	statSendOct
	nStat
)

// statName is RabbitMQ's field names.
func statName(s stat) string {
	switch s {
	case statPublish:
		return "publish"
	case statDeliver:
		return "deliver"
	case statDeliverNoAck:
		return "deliver_no_ack"
	case statGet:
		return "get"
	case statGetNoAck:
		return "get_no_ack"
	case statGetEmpty:
		return "get_empty"
	case statRedeliver:
		return "redeliver"
	case statAck:
		return "ack"
	case statDeliverGet:
		return "deliver_get"
	case statPublishIn:
		return "publish_in"
	case statPublishOut:
		return "publish_out"
	case statDropUnroutable:
		return "drop_unroutable"
	case statMessages:
		return "messages"
	case statReady:
		return "messages_ready"
	case statUnacked:
		return "messages_unacknowledged"
	case statRecvOct:
		return "recv_oct"
	case statSendOct:
		return "send_oct"
	}
	return ""
}

// vec is one figure per stat.
type vec [nStat]float64

func (v *vec) add(o *vec) {
	for i := range v {
		v[i] += o[i]
	}
}

// sample is an object's rates since the pass before (and, for the
// totals, its figures).
type sample struct {
	val, rate vec
}

// A queue's figures at the last pass, kept for every queue between
// passes: the counters the rates come from, as 32-bit values (a rate
// takes their difference, which wraps correctly as long as a queue
// counts fewer than 2^31 events an interval). This is all the sampler
// keeps per idle queue: 40 bytes and the header of its name (shared with
// the queue), so statistics add under a tenth to an idle queue's memory
// (BenchmarkIdleQueueMemory).
const (
	qPublish = iota
	qDeliver
	qDeliverNoAck
	qGet
	qGetNoAck
	qGetEmpty
	qRedeliver
	qAck
	qReady // gauges from here
	qUnacked
	nQ
)

// queueStat is the stat of each counted figure.
func queueStat(i int) stat {
	return [nQ]stat{statPublish, statDeliver, statDeliverNoAck, statGet, statGetNoAck, statGetEmpty,
		statRedeliver, statAck, statReady, statUnacked}[i]
}

type queueCounts [nQ]uint32

func queueCountsOf(qi *broker.QueueInfo) queueCounts {
	c := &qi.Counters
	return queueCounts{uint32(c.Published), uint32(c.Delivered), uint32(c.DeliveredNoAck), uint32(c.Get),
		uint32(c.GetNoAck), uint32(c.GetEmpty), uint32(c.Redelivered), uint32(c.Acked), uint32(qi.Ready), uint32(qi.Unacked)}
}

// vhostSamples is one vhost's part of a pass.
type vhostSamples struct {
	// Every queue's figures, in name order (the core lists queues so):
	// two slices, not a map, as a map's slots would double their cost.
	names     []string // shared with the queues' own names
	counts    []queueCounts
	queueRate map[string]*vec      // the rates of the queues that moved (none for idle ones)
	exchanges map[string][3]uint64 // publish_in, publish_out, unroutable
	xRate     map[string]*vec
	total     sample // the vhost's figures and rates
}

// samples is one pass, immutable once published.
type samples struct {
	at     time.Time
	vhosts map[string]*vhostSamples
	conns  map[uint64]*sample
	total  sample
}

func (s *samples) queue(vhost, name string) sample {
	if s != nil {
		if vs := s.vhosts[vhost]; vs != nil {
			if r := vs.queueRate[name]; r != nil {
				return sample{rate: *r}
			}
		}
	}
	return sample{}
}

func (s *samples) exchange(vhost, name string) sample {
	if s != nil {
		if vs := s.vhosts[vhost]; vs != nil {
			if r := vs.xRate[name]; r != nil {
				return sample{rate: *r}
			}
		}
	}
	return sample{}
}

func (s *samples) vhost(name string) sample {
	if s != nil {
		if vs := s.vhosts[name]; vs != nil {
			return vs.total
		}
	}
	return sample{}
}

func (s *samples) conn(id uint64) sample {
	if s != nil {
		if x := s.conns[id]; x != nil {
			return *x
		}
	}
	return sample{}
}

type sampler struct {
	b        *broker.Broker
	reg      Registry
	interval time.Duration
	latest   atomic.Pointer[samples]
	hist     *history   // the sampled history (history.go)
	passMu   sync.Mutex // one pass at a time
	stopOnce sync.Once
	stopc    chan struct{}
	done     chan struct{}
}

func newSampler(b *broker.Broker, reg Registry, interval time.Duration) *sampler {
	s := &sampler{b: b, reg: reg, interval: interval, hist: newHistory(interval), stopc: make(chan struct{}), done: make(chan struct{})}
	s.sample()
	go s.run()
	return s
}

func (s *sampler) run() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.stopc:
			return
		case <-t.C:
			s.sample()
		}
	}
}

func (s *sampler) stop() {
	s.stopOnce.Do(func() { close(s.stopc) })
	<-s.done
}

func (s *sampler) current() *samples { return s.latest.Load() }

// counterRate is a counter's rate from two 32-bit readings; a counter
// that went back (its queue was deleted and made anew) rates 0.
func counterRate(cur, old uint32, dt float64) float64 {
	d := cur - old
	if d > 1<<31 {
		return 0
	}
	return float64(d) / dt
}

// gaugeRate is a gauge's rate, which may be negative.
func gaugeRate(cur, old uint32, dt float64) float64 { return float64(int32(cur-old)) / dt }

// rateOf computes the rates of val against old (nil: not sampled before).
func rateOf(val vec, old *sample, dt float64) sample {
	x := sample{val: val}
	if old == nil || dt <= 0 {
		return x
	}
	for i := range val {
		d := val[i] - old.val[i]
		if stat(i) < statMessages && d < 0 {
			d = 0
		}
		x.rate[i] = d / dt
	}
	return x
}

// sample makes one pass over every vhost and connection.
func (s *sampler) sample() {
	s.passMu.Lock()
	defer s.passMu.Unlock()
	prev := s.latest.Load()
	now := time.Now()
	next := &samples{at: now, vhosts: map[string]*vhostSamples{}, conns: map[uint64]*sample{}}
	var dt float64
	if prev != nil {
		dt = now.Sub(prev.at).Seconds()
	}
	for _, v := range s.b.Vhosts() {
		name := v.Name()
		var old *vhostSamples
		if prev != nil {
			old = prev.vhosts[name]
		}
		vs := s.sampleVhost(v, old, dt, now)
		next.vhosts[name] = vs
	}
	octets := map[string]*vec{}
	for _, ci := range s.reg.Connections() {
		var val vec
		val[statRecvOct], val[statSendOct] = float64(ci.BytesIn), float64(ci.BytesOut)
		var old *sample
		if prev != nil {
			old = prev.conns[ci.ID]
		}
		x := rateOf(val, old, dt)
		next.conns[ci.ID] = &x
		o := octets[ci.Vhost]
		if o == nil {
			o = &vec{}
			octets[ci.Vhost] = o
		}
		o.add(&val)
	}
	var total vec
	for name, vs := range next.vhosts {
		if o := octets[name]; o != nil {
			vs.total.val[statRecvOct], vs.total.val[statSendOct] = o[statRecvOct], o[statSendOct]
		}
		var old *sample
		if prev != nil && prev.vhosts[name] != nil {
			old = &prev.vhosts[name].total
		}
		vs.total = rateOf(vs.total.val, old, dt)
		total.add(&vs.total.val)
	}
	s.hist.recordVhosts(now, next.vhosts)
	var oldTotal *sample
	if prev != nil {
		oldTotal = &prev.total
	}
	next.total = rateOf(total, oldTotal, dt)
	s.latest.Store(next)
}

// sampleVhost reads one vhost's queues and exchanges against the pass
// before (old, nil if none): their figures, the rates of those that
// moved, and the vhost's totals (rates left to the caller).
func (s *sampler) sampleVhost(v *broker.Vhost, old *vhostSamples, dt float64, now time.Time) *vhostSamples {
	qis := v.Queues() // by name
	s.hist.recordQueues(now, v.Name(), qis)
	vs := &vhostSamples{names: make([]string, len(qis)), counts: make([]queueCounts, len(qis)),
		queueRate: map[string]*vec{}, exchanges: map[string][3]uint64{}, xRate: map[string]*vec{}}
	t := &vs.total.val
	j := 0 // the merge's place in old.names
	for i := range qis {
		qi := &qis[i]
		cur := queueCountsOf(qi)
		vs.names[i], vs.counts[i] = qi.Name, cur
		val := queueVec(qi)
		t.add(&val)
		if old == nil || dt <= 0 {
			continue
		}
		for j < len(old.names) && old.names[j] < qi.Name {
			j++
		}
		if j == len(old.names) || old.names[j] != qi.Name || old.counts[j] == cur {
			continue // new, or idle: no rate to keep
		}
		was := old.counts[j]
		r := &vec{}
		for k := range nQ {
			if k < qReady {
				r[queueStat(k)] = counterRate(cur[k], was[k], dt)
			} else {
				r[queueStat(k)] = gaugeRate(cur[k], was[k], dt)
			}
		}
		r[statDeliverGet] = r[statDeliver] + r[statDeliverNoAck] + r[statGet] + r[statGetNoAck]
		r[statMessages] = r[statReady] + r[statUnacked]
		vs.queueRate[qi.Name] = r
	}
	t[statPublish] = 0 // a vhost's publishes are its exchanges'
	for _, xi := range v.Exchanges() {
		c := xi.Counters
		cur := [3]uint64{c.PublishIn, c.PublishOut, c.Unroutable}
		vs.exchanges[xi.Name] = cur
		t[statPublish] += float64(c.PublishIn)
		t[statDropUnroutable] += float64(c.Unroutable)
		if old == nil || dt <= 0 {
			continue
		}
		was, seen := old.exchanges[xi.Name]
		if !seen || was == cur {
			continue
		}
		r := &vec{}
		for j, st := range [3]stat{statPublishIn, statPublishOut, statDropUnroutable} {
			if cur[j] >= was[j] {
				r[st] = float64(cur[j]-was[j]) / dt
			}
		}
		vs.xRate[xi.Name] = r
	}
	return vs
}

// deliveryVec is the delivery side of queue counters (one queue's, or a
// vhost's sum): deliveries, gets, redeliveries, acks.
func deliveryVec(c *queue.Counters) vec {
	var v vec
	v[statDeliver] = float64(c.Delivered)
	v[statDeliverNoAck] = float64(c.DeliveredNoAck)
	v[statGet] = float64(c.Get)
	v[statGetNoAck] = float64(c.GetNoAck)
	v[statGetEmpty] = float64(c.GetEmpty)
	v[statRedeliver] = float64(c.Redelivered)
	v[statAck] = float64(c.Acked)
	v[statDeliverGet] = float64(c.Delivered + c.DeliveredNoAck + c.Get + c.GetNoAck)
	return v
}

// queueVec is a queue's figures.
func queueVec(qi *broker.QueueInfo) vec {
	v := deliveryVec(&qi.Counters)
	v[statPublish] = float64(qi.Counters.Published)
	v[statReady] = float64(qi.Ready)
	v[statUnacked] = float64(qi.Unacked)
	v[statMessages] = float64(int64(qi.Ready) + qi.Unacked)
	return v
}

// exchangeVec is an exchange's figures.
func exchangeVec(xi *broker.ExchangeInfo) vec {
	var v vec
	v[statPublishIn] = float64(xi.Counters.PublishIn)
	v[statPublishOut] = float64(xi.Counters.PublishOut)
	v[statDropUnroutable] = float64(xi.Counters.Unroutable)
	return v
}
