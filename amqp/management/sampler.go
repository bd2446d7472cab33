package management

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/warrenmq/warren/amqp/broker"
)

// The sampler turns counters into rates. Every interval (rabbitmq
// collect_statistics_interval, 5 s) it reads every queue's, exchange's
// and connection's counters in one pass (the core's listings: one queue
// lock at a time, counters with no lock) and publishes an immutable
// samples value through an atomic pointer: per object the figures it
// read and the rate of each since the sample before, per second. There
// is no goroutine per queue and nothing is added to queue.Queue: the
// whole state is the two latest passes, in maps the sampler owns.
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

// sample is an object's figures at one pass and their rates since the
// pass before.
type sample struct {
	val, rate vec
}

type objKey struct{ vhost, name string }

// samples is one pass, immutable once published.
type samples struct {
	at        time.Time
	queues    map[objKey]*sample
	exchanges map[objKey]*sample
	vhosts    map[string]*sample
	conns     map[uint64]*sample
	total     sample
}

func (s *samples) queue(vhost, name string) sample {
	if s != nil {
		if x := s.queues[objKey{vhost, name}]; x != nil {
			return *x
		}
	}
	return sample{}
}

func (s *samples) exchange(vhost, name string) sample {
	if s != nil {
		if x := s.exchanges[objKey{vhost, name}]; x != nil {
			return *x
		}
	}
	return sample{}
}

func (s *samples) vhost(name string) sample {
	if s != nil {
		if x := s.vhosts[name]; x != nil {
			return *x
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
	passMu   sync.Mutex // one pass at a time
	stopOnce sync.Once
	stopc    chan struct{}
	done     chan struct{}
}

func newSampler(b *broker.Broker, reg Registry, interval time.Duration) *sampler {
	s := &sampler{b: b, reg: reg, interval: interval, stopc: make(chan struct{}), done: make(chan struct{})}
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

// sample makes one pass over every vhost and connection.
func (s *sampler) sample() {
	s.passMu.Lock()
	defer s.passMu.Unlock()
	prev := s.latest.Load()
	now := time.Now()
	next := &samples{at: now, queues: map[objKey]*sample{}, exchanges: map[objKey]*sample{},
		vhosts: map[string]*sample{}, conns: map[uint64]*sample{}}
	var dt float64
	if prev != nil {
		dt = now.Sub(prev.at).Seconds()
	}
	rated := func(old *sample, val vec) *sample {
		x := &sample{val: val}
		if old == nil || dt <= 0 {
			return x
		}
		for i := range val {
			d := val[i] - old.val[i]
			if stat(i) < statMessages && d < 0 {
				d = 0 // a counter restarted (the object was deleted and made anew)
			}
			x.rate[i] = d / dt
		}
		return x
	}
	for _, v := range s.b.Vhosts() {
		var vt vec
		name := v.Name()
		for _, qi := range v.Queues() {
			val := queueVec(&qi)
			vt.add(&val)
			k := objKey{name, qi.Name}
			var old *sample
			if prev != nil {
				old = prev.queues[k]
			}
			next.queues[k] = rated(old, val)
		}
		vt[statPublish] = 0 // a vhost's publishes are its exchanges'
		for _, xi := range v.Exchanges() {
			val := exchangeVec(&xi)
			vt[statPublish] += val[statPublishIn]
			vt[statDropUnroutable] += val[statDropUnroutable]
			k := objKey{name, xi.Name}
			var old *sample
			if prev != nil {
				old = prev.exchanges[k]
			}
			next.exchanges[k] = rated(old, val)
		}
		next.vhosts[name] = &sample{val: vt}
	}
	for _, ci := range s.reg.Connections() {
		var val vec
		val[statRecvOct], val[statSendOct] = float64(ci.BytesIn), float64(ci.BytesOut)
		var old *sample
		if prev != nil {
			old = prev.conns[ci.ID]
		}
		next.conns[ci.ID] = rated(old, val)
		if vs := next.vhosts[ci.Vhost]; vs != nil {
			vs.val[statRecvOct] += val[statRecvOct]
			vs.val[statSendOct] += val[statSendOct]
		}
	}
	var total vec
	for name, vs := range next.vhosts {
		total.add(&vs.val)
		var old *sample
		if prev != nil {
			old = prev.vhosts[name]
		}
		next.vhosts[name] = rated(old, vs.val)
	}
	var oldTotal *sample
	if prev != nil {
		oldTotal = &prev.total
	}
	next.total = *rated(oldTotal, total)
	s.latest.Store(next)
}

// queueVec is a queue's figures.
func queueVec(qi *broker.QueueInfo) vec {
	var v vec
	c := &qi.Counters
	v[statPublish] = float64(c.Published)
	v[statDeliver] = float64(c.Delivered)
	v[statDeliverNoAck] = float64(c.DeliveredNoAck)
	v[statGet] = float64(c.Get)
	v[statGetNoAck] = float64(c.GetNoAck)
	v[statGetEmpty] = float64(c.GetEmpty)
	v[statRedeliver] = float64(c.Redelivered)
	v[statAck] = float64(c.Acked)
	v[statDeliverGet] = float64(c.Delivered + c.DeliveredNoAck + c.Get + c.GetNoAck)
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
