package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	wamqp "github.com/warrenmq/warren/amqp"
)

// run is one execution of a Config: the topology it declared, its workers
// and what they counted.
type run struct {
	cfg Config
	id  string // makes queue names unique to this run

	setup    *brokerConn // declares and deletes the topology; hosts exclusive consumers
	setupCh  *amqp.Channel
	exchange string   // where producers publish
	ownsExch bool     // declared here, so deleted at the end
	queues   []string // declared here, deleted at the end
	keys     []string // routing keys producers cycle through; nil: cfg.RoutingKey
	headers  amqp.Table
	copies   int // deliveries each published message makes

	producers []*producer
	consumers []*consumer
	conns     []*brokerConn // worker connections (not setup)

	stopOnce sync.Once
	stopCh   chan struct{} // closed to stop every worker

	mu struct {
		sync.Mutex
		errs []error
	}
}

func newRun(cfg Config) *run {
	return &run{cfg: cfg, id: fmt.Sprintf("%06x", rand.Uint32()>>8), stopCh: make(chan struct{})}
}

func (r *run) stop() { r.stopOnce.Do(func() { close(r.stopCh) }) }

func (r *run) stopping() bool {
	select {
	case <-r.stopCh:
		return true
	default:
		return false
	}
}

// fail records a worker error and stops the run. Errors that only say the
// connection was closed after the stop are not errors.
func (r *run) fail(err error) {
	if err == nil || (r.stopping() && isClosedErr(err)) {
		return
	}
	r.mu.Lock()
	r.mu.errs = append(r.mu.errs, err)
	r.mu.Unlock()
	r.stop()
}

func (r *run) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(r.mu.errs...)
}

// declare opens the setup connection and declares the exchange, queues and
// bindings.
func (r *run) declare() error {
	c := &r.cfg
	var err error
	if r.setup, err = dial(c.URL, c.Coalesce); err != nil {
		return err
	}
	if r.setupCh, err = r.setup.Channel(); err != nil {
		return err
	}
	ch := r.setupCh
	if c.Exchange != "" {
		r.exchange = c.Exchange
		if strings.HasPrefix(c.Exchange, "amq.") {
			err = ch.ExchangeDeclarePassive(c.Exchange, c.ExchangeType, true, false, false, false, nil)
		} else {
			err = ch.ExchangeDeclare(c.Exchange, c.ExchangeType, c.Durable, false, false, false, nil)
			r.ownsExch = err == nil
		}
		if err != nil {
			return fmt.Errorf("exchange.declare %q: %w", c.Exchange, err)
		}
	}
	for i := range c.Queues {
		name := ""
		if c.QueuePrefix != "" {
			name = fmt.Sprintf("%s-%s-%d", c.QueuePrefix, r.id, i)
		}
		var qargs amqp.Table
		if c.QueueType != "" {
			qargs = amqp.Table{"x-queue-type": c.QueueType}
		}
		q, err := ch.QueueDeclare(name, c.Durable, c.AutoDelete, c.Exclusive, false, qargs)
		if err != nil {
			return fmt.Errorf("queue.declare %q: %w", name, err)
		}
		r.queues = append(r.queues, q.Name)
	}
	return r.bind()
}

// bind binds the queues and works out the routing keys and how many
// deliveries one message makes.
func (r *run) bind() error {
	c := &r.cfg
	ch := r.setupCh
	nq := len(r.queues)
	defer func() {
		if c.QueueType == "stream" && nq > 0 {
			// A stream's consumers each read every message.
			r.copies *= max(1, c.Consumers/nq)
		}
	}()
	switch {
	case c.Exchange == "":
		r.copies = 1 // each message goes to one queue by name
		return nil
	case c.Bindings > 0:
		// Topic routing across many bindings: queue i%nq gets k.<i>.*, and
		// key k.<i>.x hits that binding only. The binds are pipelined
		// (no-wait) and fenced by one synchronous call.
		r.keys = make([]string, c.Bindings)
		for i := range c.Bindings {
			if err := ch.QueueBind(r.queues[i%nq], fmt.Sprintf("k.%d.*", i), c.Exchange, true, nil); err != nil {
				return fmt.Errorf("queue.bind: %w", err)
			}
			r.keys[i] = fmt.Sprintf("k.%d.x", i)
		}
		if _, err := ch.QueueDeclarePassive(r.queues[0], c.Durable, c.AutoDelete, c.Exclusive, false, nil); err != nil {
			return fmt.Errorf("after %d queue.bind: %w", c.Bindings, err)
		}
		r.copies = 1
		return nil
	}
	var args amqp.Table
	if c.ExchangeType == "headers" {
		args = amqp.Table{"x-match": "all", "warren-perf": "1"}
		r.headers = amqp.Table{"warren-perf": "1"}
	}
	for _, q := range r.queues {
		if err := ch.QueueBind(q, c.BindingKey, c.Exchange, false, args); err != nil {
			return fmt.Errorf("queue.bind %q to %q: %w", q, c.Exchange, err)
		}
	}
	r.copies = routeCopies(c.ExchangeType, c.BindingKey, c.RoutingKey, nq)
	return nil
}

// routeCopies is how many of n queues, all bound with bindingKey, a message
// published with routingKey reaches.
func routeCopies(kind, bindingKey, routingKey string, n int) int {
	switch kind {
	case "fanout", "headers":
		return n
	case "direct":
		if bindingKey == routingKey {
			return n
		}
	case "topic":
		if topicMatch(bindingKey, routingKey) {
			return n
		}
	}
	return 0
}

// topicMatch reports whether a topic binding pattern matches a routing key:
// words are separated by '.', '*' matches one word and '#' zero or more.
// rabbitmq: the empty key has no words, so '*' does not match it.
func topicMatch(pattern, key string) bool {
	return matchWords(topicWords(pattern), topicWords(key))
}

func topicWords(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ".")
}

func matchWords(p, k []string) bool {
	if len(p) == 0 {
		return len(k) == 0
	}
	if p[0] == "#" {
		for i := 0; i <= len(k); i++ {
			if matchWords(p[1:], k[i:]) {
				return true
			}
		}
		return false
	}
	if len(k) == 0 || (p[0] != "*" && p[0] != k[0]) {
		return false
	}
	return matchWords(p[1:], k[1:])
}

// cleanup closes the workers' connections and deletes what the run
// declared. Every step is bounded in time.
func (r *run) cleanup() error {
	for _, c := range r.conns {
		c.close(3 * time.Second)
	}
	if r.setup == nil {
		return nil
	}
	defer r.setup.close(3 * time.Second)
	conn := r.setup
	if conn.IsClosed() {
		var err error
		if conn, err = dial(r.cfg.URL, false); err != nil {
			return fmt.Errorf("cleanup: %w", err)
		}
		defer conn.close(3 * time.Second)
	}
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	// A broker that stops answering gets its socket closed after 30 s.
	watchdog := time.AfterFunc(30*time.Second, func() { conn.raw.Close() })
	defer watchdog.Stop()
	var errs []error
	for _, q := range r.queues {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			errs = append(errs, fmt.Errorf("queue.delete %q: %w", q, err))
			if ch, err = conn.Channel(); err != nil {
				break
			}
		}
	}
	if r.ownsExch {
		if err := ch.ExchangeDelete(r.exchange, false, false); err != nil {
			errs = append(errs, fmt.Errorf("exchange.delete %q: %w", r.exchange, err))
		}
	}
	return errors.Join(errs...)
}

// producer publishes on its own connection and channel.
type producer struct {
	r    *run
	idx  int
	conn *brokerConn
	ch   *amqp.Channel

	sent      atomic.Int64
	confirmed atomic.Int64
	nacked    atomic.Int64
	confirms  chan amqp.Confirmation
	window    chan struct{}  // one token per outstanding confirm
	sendTimes []atomic.Int64 // publish time by delivery tag % window
	lat       recorder       // confirm latency
	finished  time.Time      // when the last publish returned
	ackWait   sync.WaitGroup // the confirm listener
}

func (r *run) newProducer(idx int) (*producer, error) {
	conn, err := dial(r.cfg.URL, r.cfg.Coalesce)
	if err != nil {
		return nil, err
	}
	r.conns = append(r.conns, conn)
	p := &producer{r: r, idx: idx, conn: conn}
	if p.ch, err = conn.Channel(); err != nil {
		return nil, err
	}
	if w := r.cfg.Confirm; w > 0 {
		if err := p.ch.Confirm(false); err != nil {
			return nil, fmt.Errorf("confirm.select: %w", err)
		}
		p.window = make(chan struct{}, w)
		p.sendTimes = make([]atomic.Int64, w)
		p.confirms = p.ch.NotifyPublish(make(chan amqp.Confirmation, w))
		p.ackWait.Add(1)
		go p.listenConfirms()
	}
	return p, nil
}

// listenConfirms records the latency of each confirm and frees its window
// slot. amqp091-go delivers the confirms one per tag, in order.
func (p *producer) listenConfirms() {
	defer p.ackWait.Done()
	w := uint64(len(p.sendTimes))
	for c := range p.confirms {
		sent := p.sendTimes[c.DeliveryTag%w].Load()
		p.lat.Record(time.Duration(time.Now().UnixNano() - sent))
		if c.Ack {
			p.confirmed.Add(1)
		} else {
			p.nacked.Add(1)
		}
		select {
		case <-p.window:
		default:
		}
	}
}

// publish sends messages until the run stops, the deadline passes or count
// messages are out (count 0: no limit). One body buffer is reused: amqp091-go
// has copied it into its buffered writer when Publish returns.
func (p *producer) publish(deadline time.Time, count int) {
	c := &p.r.cfg
	body := make([]byte, c.Size)
	msg := amqp.Publishing{Body: body, Headers: p.r.headers, DeliveryMode: amqp.Transient}
	if c.Persistent {
		msg.DeliveryMode = amqp.Persistent
	}
	var pace *time.Timer // paced runs only: see pacer
	var batch int64      // messages due and not yet out; paced runs only
	if c.Rate > 0 {
		pace = time.NewTimer(time.Hour)
		defer pace.Stop()
	}
	queues, keys := p.r.queues, p.r.keys
	ctx := context.Background()
	pc := pacer{rate: c.Rate, start: time.Now()}
	var n int64
	defer func() { p.finished = time.Now() }()
	for count == 0 || n < int64(count) {
		if p.r.stopping() {
			return
		}
		for pace != nil && batch == 0 {
			var wait time.Duration
			if batch, wait = pc.next(time.Now(), n); wait > 0 {
				pace.Reset(wait)
				select {
				case <-pace.C:
				case <-p.r.stopCh:
					return
				}
			}
		}
		if pace != nil {
			batch--
		}
		if p.window != nil {
			select {
			case p.window <- struct{}{}:
			case <-p.r.stopCh:
				return
			}
		}
		now := time.Now()
		if now.After(deadline) {
			return
		}
		ns := now.UnixNano()
		if len(body) >= 8 {
			binary.BigEndian.PutUint64(body, uint64(ns))
		}
		if p.sendTimes != nil {
			p.sendTimes[uint64(n+1)%uint64(len(p.sendTimes))].Store(ns) // delivery tags start at 1
		}
		key := c.RoutingKey
		switch {
		case p.r.exchange == "":
			key = queues[(p.idx+int(n))%len(queues)]
		case keys != nil:
			key = keys[(p.idx+int(n))%len(keys)]
		}
		if err := p.ch.PublishWithContext(ctx, p.r.exchange, key, false, false, msg); err != nil {
			p.r.fail(fmt.Errorf("producer %d: publish: %w", p.idx, err))
			return
		}
		n++
		p.sent.Store(n)
	}
}

// awaitConfirms waits until every publish is confirmed, the run stops or
// the time is up.
func (p *producer) awaitConfirms(until time.Time) {
	if p.window == nil {
		return
	}
	for len(p.window) > 0 && !p.r.stopping() && time.Now().Before(until) {
		time.Sleep(time.Millisecond) // polling a counter the listener lowers
	}
}

// consumer is one channel consuming one queue.
type consumer struct {
	r        *run
	idx      int
	ch       *amqp.Channel
	queue    string
	received atomic.Int64
	last     atomic.Int64 // UnixNano of the latest delivery
	lat      recorder     // end-to-end latency
	done     sync.WaitGroup
}

// startConsumers opens cfg.Consumers connections and spreads the queues
// over them: consumer i takes queue i%Q when there are at least as many
// consumers as queues, else queues i, i+C, i+2C, ...; each queue a consumer
// takes gets its own channel. Exclusive queues are consumed on the setup
// connection, the only one that may.
func (r *run) startConsumers() error {
	c := &r.cfg
	nq := len(r.queues)
	for i := range c.Consumers {
		conn := r.setup
		if !c.Exclusive && !c.RawConsumer {
			var err error
			if conn, err = dial(c.URL, c.Coalesce); err != nil {
				return err
			}
			r.conns = append(r.conns, conn)
		}
		var mine []string
		if c.Consumers >= nq {
			mine = []string{r.queues[i%nq]}
		} else {
			for j := i; j < nq; j += c.Consumers {
				mine = append(mine, r.queues[j])
			}
		}
		for _, q := range mine {
			if c.RawConsumer && !c.Exclusive {
				if err := r.startRawConsumer(len(r.consumers), q, c.rawConsumeArgs(len(r.consumers))); err != nil {
					return err
				}
				continue
			}
			if err := r.startConsumer(conn, len(r.consumers), q); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *run) startConsumer(conn *brokerConn, idx int, queue string) error {
	c := &r.cfg
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	if !c.AutoAck && c.Prefetch > 0 {
		if err := ch.Qos(c.Prefetch, 0, false); err != nil {
			return fmt.Errorf("basic.qos: %w", err)
		}
	}
	var cargs amqp.Table
	if off, ok := c.streamOffsetArg(idx); ok {
		cargs = amqp.Table{"x-stream-offset": off}
	}
	deliveries, err := ch.Consume(queue, fmt.Sprintf("warren-perf-%d", idx), c.AutoAck, false, false, false, cargs)
	if err != nil {
		return fmt.Errorf("basic.consume %q: %w", queue, err)
	}
	cs := &consumer{r: r, idx: idx, ch: ch, queue: queue}
	r.consumers = append(r.consumers, cs)
	cs.done.Add(1)
	go cs.consume(deliveries)
	return nil
}

func (cs *consumer) consume(deliveries <-chan amqp.Delivery) {
	defer cs.done.Done()
	c := &cs.r.cfg
	every := c.MultipleAckEvery
	var n int64
	unacked := 0
	for {
		var d amqp.Delivery
		var ok bool
		select {
		case d, ok = <-deliveries:
		case <-cs.r.stopCh:
			return
		}
		if !ok {
			cs.r.fail(fmt.Errorf("consumer %d on %q: deliveries ended before the run did", cs.idx, cs.queue))
			return
		}
		now := time.Now().UnixNano()
		if len(d.Body) >= 8 {
			cs.lat.Record(time.Duration(now - int64(binary.BigEndian.Uint64(d.Body))))
		}
		n++
		cs.received.Store(n)
		cs.last.Store(now)
		if !c.AutoAck {
			if unacked++; unacked >= every {
				if err := cs.ch.Ack(d.DeliveryTag, every > 1); err != nil {
					cs.r.fail(fmt.Errorf("consumer %d: ack: %w", cs.idx, err))
					return
				}
				unacked = 0
			}
		}
	}
}

// totals sums the workers' counters.
func (r *run) totals() (sent, received int64) {
	for _, p := range r.producers {
		sent += p.sent.Load()
	}
	for _, cs := range r.consumers {
		received += cs.received.Load()
	}
	return sent, received
}

// drainLatency moves what the workers recorded since the last call into
// the end-to-end and confirm histograms.
func (r *run) drainLatency(e2e, confirm *Histogram) {
	for _, cs := range r.consumers {
		cs.lat.drainInto(e2e)
	}
	for _, p := range r.producers {
		p.lat.drainInto(confirm)
	}
}

// streamOffsetArg is consumer idx's x-stream-offset: a number, or a
// string (first, last, next...); ok false for none.
func (c *Config) streamOffsetArg(idx int) (any, bool) {
	if c.StreamSpread && c.Consumers > 0 {
		return c.spreadOffset(idx), true
	}
	if c.StreamOffset == "" {
		return nil, false
	}
	if n, err := strconv.ParseInt(c.StreamOffset, 10, 64); err == nil {
		return n, true
	}
	return c.StreamOffset, true
}

// spreadOffset is consumer idx's first offset with StreamSpread: the
// filled stream (Count per producer, offsets from 0) cut in Consumers
// equal parts.
func (c *Config) spreadOffset(idx int) int64 {
	return int64(idx) * int64(c.Count) * int64(c.Producers) / int64(c.Consumers)
}

// spreadDeliveries is what the consumers of a StreamSpread backlog receive
// in all: each reads from its offset to the end.
func (c *Config) spreadDeliveries() int64 {
	total := int64(c.Count) * int64(c.Producers)
	var n int64
	for i := range c.Consumers {
		n += total - c.spreadOffset(i)
	}
	return n
}

// rawConsumeArgs are raw consumer idx's basic.consume arguments.
func (c *Config) rawConsumeArgs(idx int) wamqp.Table {
	if off, ok := c.streamOffsetArg(idx); ok {
		return wamqp.Table{"x-stream-offset": off}
	}
	return nil
}
