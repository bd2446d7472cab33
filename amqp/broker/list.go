package broker

import (
	"cmp"
	"maps"
	"slices"

	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
)

// The read side: snapshots and listings for operations (the management
// API, Prometheus, the CLI). None stops the world: a listing copies the
// vhost's map (pointers only) under its read lock, releases it, then
// reads each object on its own, a queue under its own lock for a moment,
// never two at once, and counters with no lock at all. Routing, which
// takes the same read lock, never waits for a listing; a declare waits
// for one map copy at most. Figures of different objects are from
// different instants, as RabbitMQ's are.

// VhostInfo is a vhost with totals over its queues and exchanges, summed
// at read time.
type VhostInfo struct {
	Name         string
	Exchanges    int
	Queues       int
	Consumers    int
	Ready        int64 // ready messages, in memory and paged out
	ReadyBytes   int64
	Unacked      int64
	UnackedBytes int64
	Counters     queue.Counters    // the queues' counters, summed
	Exchange     exchange.Counters // the exchanges' counters, summed
}

// ExchangeInfo is one exchange.
type ExchangeInfo struct {
	Vhost      string
	Name       string // "" is the default exchange
	Kind       string // "direct", "fanout", "topic", "headers", "x-delayed-message"
	Durable    bool
	AutoDelete bool
	Internal   bool
	Args       map[string]any // shared: read only
	Counters   exchange.Counters
	// Policy is what policies apply to the exchange, nil if none.
	Policy *AppliedPolicy
}

// QueueInfo is one queue.
type QueueInfo struct {
	Vhost      string
	Name       string
	Durable    bool
	Exclusive  bool
	AutoDelete bool
	Args       map[string]any // shared: read only
	Owner      uint64         // the connection owning an exclusive queue

	Ready        int   // ready messages, in memory and paged out
	Paged        int   // of Ready, those on disk only
	ReadyBytes   int64 // their bodies
	Unacked      int64 // delivered or got, not settled yet
	UnackedBytes int64
	Consumers    int
	// State is "running", or "flow" while the queue holds its publishers
	// back (queue/flow.go), as RabbitMQ names it.
	State    string
	Counters queue.Counters
	// Policy and OperatorPolicy name what applies to the queue (rabbitmq
	// `policy`, `operator_policy`; empty: none) and EffectivePolicy is
	// their merged definition (`effective_policy_definition`; shared,
	// read only; nil: none).
	Policy, OperatorPolicy string
	EffectivePolicy        map[string]any
}

// BindingInfo is one binding. The default exchange's implicit bindings
// (each queue by its own name) are listed too, with Source "", as
// RabbitMQ lists them.
type BindingInfo struct {
	Vhost           string
	Source          string
	Destination     string
	DestinationType string // "queue" or "exchange"
	Key             string
	Args            map[string]any // shared: read only
}

// ConsumerInfo is one consumer.
type ConsumerInfo struct {
	Vhost     string
	Queue     string
	Tag       string
	NoAck     bool // false: deliveries wait for an ack (ack_required)
	Exclusive bool
	Priority  int
	Conn      uint64 // the consumer's connection id (0: none)
	// Channel and Prefetch (0: unlimited) are known when the consumer's
	// Sink implements ConsumerDetails.
	Channel  uint16
	Prefetch int
	// Active: with single active consumer, only one consumer of a queue is.
	Active bool
}

// ConsumerDetails is implemented by a queue.Sink that can say where its
// consumer lives, for listings.
type ConsumerDetails interface {
	ConsumerChannel() (channel uint16, prefetch int)
}

// queuesSorted copies the vhost's queues, by name, under its read lock.
func (v *Vhost) queuesSorted() []*queue.Queue {
	v.mu.RLock()
	qs := slices.Collect(maps.Values(v.mu.queues))
	v.mu.RUnlock()
	slices.SortFunc(qs, func(a, b *queue.Queue) int { return cmp.Compare(a.Name, b.Name) })
	return qs
}

// exchangesSorted copies the vhost's exchanges, by name, under its read
// lock.
func (v *Vhost) exchangesSorted() []*exchange.Exchange {
	v.mu.RLock()
	xs := slices.Collect(maps.Values(v.mu.exchanges))
	v.mu.RUnlock()
	slices.SortFunc(xs, func(a, b *exchange.Exchange) int { return cmp.Compare(a.Name, b.Name) })
	return xs
}

// Queues lists the vhost's queues, by name. Each queue's figures are read
// under its own lock, one queue at a time; a queue deleted meanwhile is
// left out.
func (v *Vhost) Queues() []QueueInfo {
	qs := v.queuesSorted()
	out := make([]QueueInfo, 0, len(qs))
	for i, q := range qs {
		if v.listHook != nil {
			v.listHook(i)
		}
		if info, ok := v.queueInfo(q); ok {
			out = append(out, info)
		}
	}
	return out
}

// QueueInfo returns the queue called name, if there is one.
func (v *Vhost) QueueInfo(name string) (QueueInfo, bool) {
	q := v.Queue(name)
	if q == nil {
		return QueueInfo{}, false
	}
	return v.queueInfo(q)
}

func (v *Vhost) queueInfo(q *queue.Queue) (QueueInfo, bool) {
	s := q.Snapshot()
	if s.Deleted {
		return QueueInfo{}, false
	}
	state := "running"
	if s.Backlogged {
		state = "flow"
	}
	info := QueueInfo{
		Vhost: v.name, Name: q.Name, Durable: q.Durable, Exclusive: q.Exclusive, AutoDelete: q.AutoDelete,
		Args: q.Args, Owner: q.Owner,
		Ready: s.Ready, Paged: s.Paged, ReadyBytes: s.ReadyBytes, Unacked: s.Unacked, UnackedBytes: s.UnackedBytes,
		Consumers: s.Consumers, State: state, Counters: s.Counters,
	}
	if a := v.QueuePolicy(q); a != nil {
		info.Policy, info.OperatorPolicy, info.EffectivePolicy = a.Policy, a.OperatorPolicy, a.Definition
	}
	return info, true
}

// Exchanges lists the vhost's exchanges, by name (the default exchange,
// "", first). Their descriptions do not change once declared.
func (v *Vhost) Exchanges() []ExchangeInfo {
	xs := v.exchangesSorted()
	out := make([]ExchangeInfo, len(xs))
	v.mu.RLock()
	for i, x := range xs {
		out[i] = ExchangeInfo{Vhost: v.name, Name: x.Name, Kind: x.Kind.String(), Durable: x.Durable,
			AutoDelete: x.AutoDelete, Internal: x.Internal, Args: x.Args, Counters: x.Stats.Counters()}
		if p := v.mu.xpolicy[x.Name]; p != nil {
			out[i].Policy = p.applied
		}
	}
	v.mu.RUnlock()
	return out
}

// Bindings lists the vhost's bindings: the default exchange's implicit
// ones first, then the declared ones (declaredBindings).
func (v *Vhost) Bindings() []BindingInfo {
	var out []BindingInfo
	for _, q := range v.queuesSorted() {
		out = append(out, BindingInfo{Vhost: v.name, Destination: q.Name, DestinationType: "queue", Key: q.Name})
	}
	return v.appendDeclaredBindings(out)
}

// appendDeclaredBindings appends the vhost's declared bindings to out, by
// source exchange, destination, key and arguments. Each exchange's
// bindings are copied under the vhost's read lock, taken once per
// exchange.
func (v *Vhost) appendDeclaredBindings(out []BindingInfo) []BindingInfo {
	for _, x := range v.exchangesSorted() {
		if x.Name == "" {
			continue
		}
		v.mu.RLock()
		bs := x.Bindings()
		v.mu.RUnlock()
		for _, b := range bs {
			kind := "queue"
			if b.Destination.Exchange {
				kind = "exchange"
			}
			out = append(out, BindingInfo{Vhost: v.name, Source: x.Name, Destination: b.Destination.Name,
				DestinationType: kind, Key: b.Key, Args: b.Args})
		}
	}
	return out
}

// Consumers lists the consumers of the vhost's queues, by queue name, then
// in each queue's delivery order.
func (v *Vhost) Consumers() []ConsumerInfo {
	var out []ConsumerInfo
	var cs []*queue.Consumer
	for _, q := range v.queuesSorted() {
		cs = q.ConsumerList(cs[:0])
		single := q.SingleActive()
		for i, c := range cs {
			info := ConsumerInfo{Vhost: v.name, Queue: q.Name, Tag: c.Tag, NoAck: c.NoAck, Exclusive: c.Exclusive,
				Priority: c.Priority, Conn: c.Conn, Active: !single || i == 0}
			if d, ok := c.Sink.(ConsumerDetails); ok {
				info.Channel, info.Prefetch = d.ConsumerChannel()
			}
			out = append(out, info)
		}
	}
	return out
}

// Info returns the vhost with its totals, summed over its queues (each
// read as Queues reads it) and exchanges.
func (v *Vhost) Info() VhostInfo {
	info := VhostInfo{Name: v.name}
	for _, x := range v.exchangesSorted() {
		info.Exchanges++
		info.Exchange.Add(x.Stats.Counters())
	}
	for _, q := range v.queuesSorted() {
		qi, ok := v.queueInfo(q)
		if !ok {
			continue
		}
		info.Queues++
		info.Consumers += qi.Consumers
		info.Ready += int64(qi.Ready)
		info.ReadyBytes += qi.ReadyBytes
		info.Unacked += qi.Unacked
		info.UnackedBytes += qi.UnackedBytes
		info.Counters.Add(qi.Counters)
	}
	return info
}

// VhostInfos returns every vhost with its totals, by name.
func (b *Broker) VhostInfos() []VhostInfo {
	vs := b.Vhosts()
	slices.SortFunc(vs, func(a, b *Vhost) int { return cmp.Compare(a.name, b.name) })
	out := make([]VhostInfo, len(vs))
	for i, v := range vs {
		out[i] = v.Info()
	}
	return out
}

// Totals sums every vhost's totals: the broker's (Name is "").
func (b *Broker) Totals() VhostInfo {
	var t VhostInfo
	for _, v := range b.VhostInfos() {
		t.Exchanges += v.Exchanges
		t.Queues += v.Queues
		t.Consumers += v.Consumers
		t.Ready += v.Ready
		t.ReadyBytes += v.ReadyBytes
		t.Unacked += v.Unacked
		t.UnackedBytes += v.UnackedBytes
		t.Counters.Add(v.Counters)
		t.Exchange.Add(v.Exchange)
	}
	return t
}

// QueueNames lists the names of the vhost's queues, sorted, reading no
// queue: a listing that shows one page of many queues reads only that
// page's (QueueInfo). The answer is shared, read only: it is sorted once and cached until a queue is added
// or removed (a console typing a filter over 10,000 queues asks for it at
// every keystroke, and the sort was a third of each answer's time).
func (v *Vhost) QueueNames() []string {
	v.mu.RLock()
	gen := v.mu.queueGen
	if c := v.names.Load(); c != nil && c.gen == gen {
		v.mu.RUnlock()
		return c.names
	}
	names := make([]string, 0, len(v.mu.queues))
	for n := range v.mu.queues {
		names = append(names, n)
	}
	v.mu.RUnlock()
	slices.Sort(names)
	// Racing callers may store older answers over newer ones: each is
	// stamped with its generation, so a stale one is only rebuilt.
	v.names.Store(&queueNames{gen: gen, names: names})
	return names
}

// queueNames is QueueNames' answer for one generation of the queues.
type queueNames struct {
	gen   uint64
	names []string
}

// sortedValues is f of each of m's values, sorted by order. The caller
// holds the lock that guards m.
func sortedValues[K comparable, V, T any](m map[K]V, f func(V) T, order func(a, b T) int) []T {
	out := make([]T, 0, len(m))
	for _, e := range m {
		out = append(out, f(e))
	}
	slices.SortFunc(out, order)
	return out
}
