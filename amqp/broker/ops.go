package broker

import (
	"fmt"
	"reflect"
	"time"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
)

// equivalentQueueArgs are the queue arguments a redeclaration must repeat
// exactly (rabbitmq: the arguments its queue types interpret).
var equivalentQueueArgs = []string{
	"x-expires", "x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-routing-key",
	"x-max-length", "x-max-length-bytes", "x-max-priority", "x-overflow", "x-queue-mode",
	"x-queue-type", "x-single-active-consumer", "x-delivery-limit",
	"x-max-in-memory-length", "x-max-in-memory-bytes", "x-consumer-timeout",
}

// equivalentExchangeArgs likewise, for exchanges.
var equivalentExchangeArgs = []string{"alternate-exchange"}

func inequivalent(kind, name, vhost, arg string, received, current any) *amqp.Error {
	// rabbitmq: with both values present it shows them bare, otherwise the
	// present one with its type and the missing one as none.
	r, c := describeArg(received), describeArg(current)
	if received != nil && current != nil {
		r, c = "'"+argValueString(received)+"'", "'"+argValueString(current)+"'"
	}
	return amqp.Errorf(amqp.PreconditionFailed, "inequivalent arg '%s' for %s '%s' in vhost '%s': received %s but current is %s",
		arg, kind, name, vhost, r, c)
}

func inequivalentFlag(kind, name, vhost, arg string, received, current bool) *amqp.Error {
	return amqp.Errorf(amqp.PreconditionFailed, "inequivalent arg '%s' for %s '%s' in vhost '%s': received '%t' but current is '%t'",
		arg, kind, name, vhost, received, current)
}

// describeArg writes an argument value as RabbitMQ does in its
// inequivalence messages: "none" or "the value 'V' of type 'T'".
func describeArg(v any) string {
	if v == nil {
		return "none"
	}
	return fmt.Sprintf("the value '%s' of type '%s'", argValueString(v), amqp.FieldTypeName(v))
}

func argValueString(v any) string {
	switch v := v.(type) {
	case []byte:
		return string(v)
	case time.Time:
		return fmt.Sprint(v.Unix())
	}
	return fmt.Sprint(v)
}

func argsEquivalent(names []string, a, b map[string]any) (string, bool) {
	for _, n := range names {
		av, aok := a[n]
		bv, bok := b[n]
		if aok != bok || !reflect.DeepEqual(av, bv) {
			return n, false
		}
	}
	return "", true
}

func (v *Vhost) declareExchange(c DeclareExchange) error {
	d := v.defs()
	v.mu.Lock()
	if err := v.declareExchangeLocked(d, c); err != nil {
		v.mu.Unlock()
		return err
	}
	d.submit()
	v.mu.Unlock()
	return d.wait()
}

func (v *Vhost) declareExchangeLocked(d *defBatch, c DeclareExchange) error {
	name := c.Name
	if x := v.mu.exchanges[name]; x != nil {
		switch {
		case x.Kind != c.Kind:
			return amqp.Errorf(amqp.PreconditionFailed, "inequivalent arg 'type' for exchange '%s' in vhost '%s': received '%s' but current is '%s'", name, v.name, c.Kind, x.Kind)
		case x.Durable != c.Durable:
			return inequivalentFlag("exchange", name, v.name, "durable", c.Durable, x.Durable)
		case x.AutoDelete != c.AutoDelete:
			return inequivalentFlag("exchange", name, v.name, "auto_delete", c.AutoDelete, x.AutoDelete)
		case x.Internal != c.Internal:
			return inequivalentFlag("exchange", name, v.name, "internal", c.Internal, x.Internal)
		}
		if arg, ok := argsEquivalent(equivalentExchangeArgs, c.Args, x.Args); !ok {
			return inequivalent("exchange", name, v.name, arg, c.Args[arg], x.Args[arg])
		}
		return nil
	}
	if ReservedName(name) {
		return amqp.Errorf(amqp.AccessRefused, "exchange name '%s' contains reserved prefix 'amq.*'", name)
	}
	if err := v.checkNewExchangeArgs(name, c.Kind, c.Args); err != nil {
		return err
	}
	if c.Durable {
		if err := v.b.admitDefinition("exchange", name, v.name); err != nil {
			return err
		}
	}
	v.mu.exchanges[name] = &exchange.Exchange{Name: name, Kind: c.Kind, Durable: c.Durable, AutoDelete: c.AutoDelete, Internal: c.Internal, Args: c.Args}
	v.exchangePolicyLocked(name)
	if c.Durable {
		d.put(defExchange, defKey(v.name, name), exchangeDef{Vhost: v.name, Name: name, Kind: c.Kind.String(), AutoDelete: c.AutoDelete, Internal: c.Internal, Args: encodeArgs(c.Args)})
	}
	return nil
}

func (v *Vhost) deleteExchange(c DeleteExchange) error {
	d := v.defs()
	v.mu.Lock()
	x := v.mu.exchanges[c.Name]
	if x == nil {
		v.mu.Unlock()
		return nil // rabbitmq: deleting a missing exchange succeeds
	}
	if c.IfUnused && x.HasBindings() {
		v.mu.Unlock()
		return amqp.Errorf(amqp.PreconditionFailed, "exchange '%s' in vhost '%s' in use", c.Name, v.name)
	}
	v.deleteExchangeLocked(d, x)
	d.submit()
	v.mu.Unlock()
	return d.wait()
}

func (v *Vhost) deleteExchangeLocked(d *defBatch, x *exchange.Exchange) {
	delete(v.mu.exchanges, x.Name)
	delete(v.mu.xpolicy, x.Name)
	if x.Durable {
		d.del(defExchange, defKey(v.name, x.Name))
		for _, b := range x.Bindings() {
			v.forgetBindingLocked(d, b)
		}
	}
	v.removeDestinationLocked(d, exchange.Destination{Exchange: true, Name: x.Name})
}

// removeDestinationLocked drops every binding to dest, auto-deleting the
// exchanges that lose their last binding.
func (v *Vhost) removeDestinationLocked(d *defBatch, dest exchange.Destination) {
	for _, src := range v.mu.exchanges {
		if src.Durable && v.durableDestLocked(dest, true) {
			for _, b := range src.Bindings() {
				if b.Destination == dest {
					v.forgetBindingLocked(d, b)
				}
			}
		}
		if src.RemoveDestination(dest) > 0 && src.AutoDelete && !src.HasBindings() {
			v.deleteExchangeLocked(d, src)
		}
	}
}

// durableDestLocked reports whether a binding to dest is stored: dest is a
// durable exchange or a durable, non-exclusive queue. gone accepts a
// destination already removed from the maps (it was durable if stored).
func (v *Vhost) durableDestLocked(dest exchange.Destination, gone bool) bool {
	if dest.Exchange {
		x := v.mu.exchanges[dest.Name]
		return x == nil && gone || x != nil && x.Durable
	}
	q := v.mu.queues[dest.Name]
	return q == nil && gone || q != nil && q.Persist
}

func (v *Vhost) storeBindingLocked(d *defBatch, x *exchange.Exchange, b exchange.Binding) {
	if x.Durable && v.durableDestLocked(b.Destination, false) {
		d.put(defBinding, bindingKey(v.name, b), bindingDef{Vhost: v.name, Source: b.Source, Destination: b.Destination.Name,
			ToExchange: b.Destination.Exchange, Key: b.Key, Args: encodeArgs(b.Args)})
	}
}

func (v *Vhost) forgetBindingLocked(d *defBatch, b exchange.Binding) {
	d.del(defBinding, bindingKey(v.name, b))
}

func (v *Vhost) bind(c Bind) error {
	d := v.defs()
	v.mu.Lock()
	x, err := v.bindingEndsLocked(c.Source, c.Destination)
	if err != nil {
		v.mu.Unlock()
		return err
	}
	b := exchange.Binding{Source: c.Source, Destination: c.Destination, Key: c.Key, Args: c.Args}
	if err := x.ValidateBinding(b); err != nil {
		v.mu.Unlock()
		return amqp.Errorf(amqp.PreconditionFailed, "%v", err)
	}
	if x.Durable && v.durableDestLocked(c.Destination, false) {
		if err := v.b.admitDefinition("binding", c.Source, v.name); err != nil {
			v.mu.Unlock()
			return err
		}
	}
	if x.Bind(b) {
		v.storeBindingLocked(d, x, b)
	}
	d.submit()
	v.mu.Unlock()
	return d.wait()
}

func (v *Vhost) unbind(c Unbind) error {
	d := v.defs()
	v.mu.Lock()
	x, err := v.bindingEndsLocked(c.Source, c.Destination)
	if err != nil {
		v.mu.Unlock()
		if err.(*amqp.Error).Code == amqp.NotFound {
			return nil // rabbitmq: unbinding what does not exist succeeds
		}
		return err
	}
	b := exchange.Binding{Source: c.Source, Destination: c.Destination, Key: c.Key, Args: c.Args}
	if x.Unbind(b) {
		if x.Durable {
			v.forgetBindingLocked(d, b)
		}
		if x.AutoDelete && !x.HasBindings() {
			v.deleteExchangeLocked(d, x)
		}
	}
	d.submit()
	v.mu.Unlock()
	return d.wait()
}

func (v *Vhost) bindingEndsLocked(src string, d exchange.Destination) (*exchange.Exchange, error) {
	if src == "" {
		return nil, amqp.Errorf(amqp.AccessRefused, "operation not permitted on the default exchange")
	}
	if d.Exchange {
		if d.Name == "" {
			return nil, amqp.Errorf(amqp.AccessRefused, "operation not permitted on the default exchange")
		}
		if v.mu.exchanges[d.Name] == nil {
			return nil, v.ErrNoExchange(d.Name)
		}
	} else if v.mu.queues[d.Name] == nil {
		return nil, v.ErrNoQueue(d.Name)
	}
	x := v.mu.exchanges[src]
	if x == nil {
		return nil, v.ErrNoExchange(src)
	}
	return x, nil
}

// newQueue makes a queue from cfg: with a store, its journal and the
// memory budget; dead-lettering and x-expires; then the hooks.
func (v *Vhost) newQueue(cfg queue.Config) *queue.Queue {
	if j := v.b.journal; j != nil {
		cfg.Journal = j
		cfg.Budget = v.b.budget
	}
	v.queueConfig(&cfg)
	if v.b.hooks != nil {
		v.b.hooks(v, &cfg)
	}
	if qr, ok := v.b.repl.(QueueReplicator); ok {
		qr.QueueConfig(v.name, &cfg)
	}
	return queue.New(cfg)
}

func (v *Vhost) declareQueue(c DeclareQueue) (q *queue.Queue, err error) {
	if err := v.checkNewQueue(c); err != nil {
		return nil, err
	}
	cfg := queue.Config{Name: c.Name, Durable: c.Durable, Exclusive: c.Exclusive, AutoDelete: c.AutoDelete, Args: c.Args, Owner: c.Owner}
	d := v.defs()
	v.mu.Lock()
	if q := v.mu.queues[cfg.Name]; q != nil {
		defer v.mu.Unlock()
		if q.Exclusive && q.Owner != cfg.Owner || q.Exclusive != cfg.Exclusive {
			return nil, ErrLocked(q.Name, v.name)
		}
		switch {
		case q.Durable != cfg.Durable:
			return nil, inequivalentFlag("queue", q.Name, v.name, "durable", cfg.Durable, q.Durable)
		case q.AutoDelete != cfg.AutoDelete:
			return nil, inequivalentFlag("queue", q.Name, v.name, "auto_delete", cfg.AutoDelete, q.AutoDelete)
		}
		if arg, ok := argsEquivalent(equivalentQueueArgs, cfg.Args, q.Args); !ok {
			return nil, inequivalent("queue", q.Name, v.name, arg, cfg.Args[arg], q.Args[arg])
		}
		return q, nil
	}
	if err := v.checkQueueLimitLocked(cfg.Name); err != nil {
		v.mu.Unlock()
		return nil, err
	}
	if v.b.store != nil {
		cfg.ID = c.ID
		if cfg.ID == 0 {
			cfg.ID = v.b.newQueueID()
		}
		cfg.Persist = cfg.Durable && !cfg.Exclusive
	}
	if cfg.Persist {
		if err := v.b.admitDefinition("queue", cfg.Name, v.name); err != nil {
			v.mu.Unlock()
			return nil, err
		}
		d.put(defQueue, defKey(v.name, cfg.Name), queueDef{Vhost: v.name, Name: cfg.Name, ID: cfg.ID, AutoDelete: cfg.AutoDelete, Args: encodeArgs(cfg.Args)})
	}
	if err := v.b.streams.open(&cfg, c.Args, v.b.newQueueID, !v.b.replaying); err != nil {
		v.mu.Unlock()
		return nil, err
	}
	q = v.newQueue(cfg)
	if a := v.appliedLocked(cfg.Name, false); a != nil {
		q.SetLimits(queueLimits(cfg.Args, a)) // not published yet: nothing to trim
		applyStreamPolicy(q)
	}
	v.mu.queues[cfg.Name] = q
	v.mu.queueGen++
	if !v.b.replaying {
		v.b.queuesCreated.Add(1)
	}
	d.submit()
	v.mu.Unlock()
	return q, d.wait()
}

func (v *Vhost) deleteQueue(c DeleteQueue) (Result, error) {
	q := c.Queue
	if q == nil {
		if q = v.Queue(c.Name); q == nil {
			return Result{}, nil
		}
	}
	n, consumers, err := q.Delete(c.IfUnused, c.IfEmpty)
	switch err {
	case nil:
	case queue.ErrDeleted:
		return Result{}, nil
	case queue.ErrInUse:
		return Result{}, amqp.Errorf(amqp.PreconditionFailed, "queue '%s' in vhost '%s' in use", q.Name, v.name)
	case queue.ErrNotEmpty:
		return Result{}, amqp.Errorf(amqp.PreconditionFailed, "queue '%s' in vhost '%s' not empty", q.Name, v.name)
	default:
		return Result{}, err
	}
	d := v.defs()
	v.mu.Lock()
	if v.mu.queues[q.Name] == q {
		dest := exchange.Destination{Name: q.Name}
		v.removeDestinationLocked(d, dest)
		delete(v.mu.queues, q.Name)
		v.mu.queueGen++
		v.b.queuesDeleted.Add(1)
		if q.Persist {
			d.del(defQueue, defKey(v.name, q.Name))
		}
	}
	d.submit()
	v.mu.Unlock()
	err = d.wait()
	v.b.streams.remove(q)
	cancelConsumers(consumers)
	return Result{Messages: n, Consumers: consumers}, err
}

// Cancelled is implemented by a queue.Sink that is to hear that its queue
// was deleted under it (an AMQP front end sends basic.cancel, rabbitmq's
// consumer_cancel_notify). The core calls it with no lock held, from the
// goroutine that deleted the queue.
type Cancelled interface{ Cancelled() }

func cancelConsumers(cs []*queue.Consumer) {
	for _, c := range cs {
		if s, ok := c.Sink.(Cancelled); ok {
			s.Cancelled()
		}
	}
}
