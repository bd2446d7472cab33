package server

import (
	"fmt"
	"reflect"
	"time"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/storage"
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

// declareExchange creates the exchange or checks that it is equivalent.
func (v *vhost) declareExchange(name string, kind exchange.Kind, durable, autoDelete, internal bool, args map[string]any) error {
	d := v.defs()
	v.mu.Lock()
	if err := v.declareExchangeLocked(d, name, kind, durable, autoDelete, internal, args); err != nil {
		v.mu.Unlock()
		return err
	}
	d.submit()
	v.mu.Unlock()
	return d.wait()
}

func (v *vhost) declareExchangeLocked(d *defBatch, name string, kind exchange.Kind, durable, autoDelete, internal bool, args map[string]any) error {
	if x := v.mu.exchanges[name]; x != nil {
		switch {
		case x.Kind != kind:
			return amqp.Errorf(amqp.PreconditionFailed, "inequivalent arg 'type' for exchange '%s' in vhost '%s': received '%s' but current is '%s'", name, v.name, kind, x.Kind)
		case x.Durable != durable:
			return inequivalentFlag("exchange", name, v.name, "durable", durable, x.Durable)
		case x.AutoDelete != autoDelete:
			return inequivalentFlag("exchange", name, v.name, "auto_delete", autoDelete, x.AutoDelete)
		case x.Internal != internal:
			return inequivalentFlag("exchange", name, v.name, "internal", internal, x.Internal)
		}
		if arg, ok := argsEquivalent(equivalentExchangeArgs, args, x.Args); !ok {
			return inequivalent("exchange", name, v.name, arg, args[arg], x.Args[arg])
		}
		return nil
	}
	if reservedName(name) {
		return amqp.Errorf(amqp.AccessRefused, "exchange name '%s' contains reserved prefix 'amq.*'", name)
	}
	if err := v.checkNewExchangeArgs(name, kind, args); err != nil {
		return err
	}
	if durable {
		if err := v.srv.admitDefinition("exchange", name, v.name); err != nil {
			return err
		}
	}
	v.mu.exchanges[name] = &exchange.Exchange{Name: name, Kind: kind, Durable: durable, AutoDelete: autoDelete, Internal: internal, Args: args}
	if durable {
		d.put(defExchange, defKey(v.name, name), exchangeDef{Vhost: v.name, Name: name, Kind: kind.String(), AutoDelete: autoDelete, Internal: internal, Args: encodeArgs(args)})
	}
	return nil
}

func (v *vhost) deleteExchange(name string, ifUnused bool) error {
	d := v.defs()
	v.mu.Lock()
	x := v.mu.exchanges[name]
	if x == nil {
		v.mu.Unlock()
		return nil // rabbitmq: deleting a missing exchange succeeds
	}
	if ifUnused && x.HasBindings() {
		v.mu.Unlock()
		return amqp.Errorf(amqp.PreconditionFailed, "exchange '%s' in vhost '%s' in use", name, v.name)
	}
	v.deleteExchangeLocked(d, x)
	d.submit()
	v.mu.Unlock()
	return d.wait()
}

func (v *vhost) deleteExchangeLocked(d *defBatch, x *exchange.Exchange) {
	delete(v.mu.exchanges, x.Name)
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
func (v *vhost) removeDestinationLocked(d *defBatch, dest exchange.Destination) {
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
func (v *vhost) durableDestLocked(dest exchange.Destination, gone bool) bool {
	if dest.Exchange {
		x := v.mu.exchanges[dest.Name]
		return x == nil && gone || x != nil && x.Durable
	}
	q := v.mu.queues[dest.Name]
	return q == nil && gone || q != nil && q.Persist
}

func (v *vhost) storeBindingLocked(d *defBatch, x *exchange.Exchange, b exchange.Binding) {
	if x.Durable && v.durableDestLocked(b.Destination, false) {
		d.put(defBinding, bindingKey(v.name, b), bindingDef{Vhost: v.name, Source: b.Source, Destination: b.Destination.Name,
			ToExchange: b.Destination.Exchange, Key: b.Key, Args: encodeArgs(b.Args)})
	}
}

func (v *vhost) forgetBindingLocked(d *defBatch, b exchange.Binding) {
	d.del(defBinding, bindingKey(v.name, b))
}

// bind adds a binding from the exchange src to dest.
func (v *vhost) bind(src string, dest exchange.Destination, key string, args map[string]any) error {
	d := v.defs()
	v.mu.Lock()
	x, err := v.bindingEndsLocked(src, dest)
	if err != nil {
		v.mu.Unlock()
		return err
	}
	b := exchange.Binding{Source: src, Destination: dest, Key: key, Args: args}
	if err := x.ValidateBinding(b); err != nil {
		v.mu.Unlock()
		return amqp.Errorf(amqp.PreconditionFailed, "%v", err)
	}
	if x.Durable && v.durableDestLocked(dest, false) {
		if err := v.srv.admitDefinition("binding", src, v.name); err != nil {
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

func (v *vhost) unbind(src string, dest exchange.Destination, key string, args map[string]any) error {
	d := v.defs()
	v.mu.Lock()
	x, err := v.bindingEndsLocked(src, dest)
	if err != nil {
		v.mu.Unlock()
		if err.(*amqp.Error).Code == amqp.NotFound {
			return nil // rabbitmq: unbinding what does not exist succeeds
		}
		return err
	}
	b := exchange.Binding{Source: src, Destination: dest, Key: key, Args: args}
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

func (v *vhost) bindingEndsLocked(src string, d exchange.Destination) (*exchange.Exchange, error) {
	if src == "" {
		return nil, amqp.Errorf(amqp.AccessRefused, "operation not permitted on the default exchange")
	}
	if d.Exchange {
		if d.Name == "" {
			return nil, amqp.Errorf(amqp.AccessRefused, "operation not permitted on the default exchange")
		}
		if v.mu.exchanges[d.Name] == nil {
			return nil, v.errNoExchange(d.Name)
		}
	} else if v.mu.queues[d.Name] == nil {
		return nil, v.errNoQueue(d.Name)
	}
	x := v.mu.exchanges[src]
	if x == nil {
		return nil, v.errNoExchange(src)
	}
	return x, nil
}

// declareQueue returns the existing queue or creates one from cfg. A
// durable queue that is not exclusive is stored (rabbitmq: an exclusive
// queue never outlives its connection, so it is never durable in effect).
func (v *vhost) declareQueue(cfg queue.Config) (q *queue.Queue, err error) {
	d := v.defs()
	v.mu.Lock()
	if q := v.mu.queues[cfg.Name]; q != nil {
		defer v.mu.Unlock()
		if q.Exclusive && q.Owner != cfg.Owner || q.Exclusive != cfg.Exclusive {
			return nil, errLocked(q.Name, v.name)
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
	if v.srv.store != nil {
		cfg.ID = v.srv.newQueueID()
		cfg.Journal = v.srv.journal
		cfg.Budget = v.srv.budget
		cfg.Persist = cfg.Durable && !cfg.Exclusive
	}
	if cfg.Persist {
		if err := v.srv.admitDefinition("queue", cfg.Name, v.name); err != nil {
			v.mu.Unlock()
			return nil, err
		}
		d.put(defQueue, defKey(v.name, cfg.Name), queueDef{Vhost: v.name, Name: cfg.Name, ID: cfg.ID, AutoDelete: cfg.AutoDelete, Args: encodeArgs(cfg.Args)})
	}
	q = queue.New(v.queueConfig(cfg))
	v.mu.queues[cfg.Name] = q
	d.submit()
	v.mu.Unlock()
	return q, d.wait()
}

func errLocked(queue, vhost string) *amqp.Error {
	return amqp.Errorf(amqp.ResourceLocked, "cannot obtain exclusive access to locked queue '%s' in vhost '%s'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.", queue, vhost)
}

// deleteQueue deletes q, its bindings and its consumers, and returns how
// many ready messages it had.
func (v *vhost) deleteQueue(q *queue.Queue, ifUnused, ifEmpty bool) (int, error) {
	n, consumers, err := q.Delete(ifUnused, ifEmpty)
	switch err {
	case nil:
	case queue.ErrDeleted:
		return 0, nil
	case queue.ErrInUse:
		return 0, amqp.Errorf(amqp.PreconditionFailed, "queue '%s' in vhost '%s' in use", q.Name, v.name)
	case queue.ErrNotEmpty:
		return 0, amqp.Errorf(amqp.PreconditionFailed, "queue '%s' in vhost '%s' not empty", q.Name, v.name)
	default:
		return 0, err
	}
	d := v.defs()
	v.mu.Lock()
	if v.mu.queues[q.Name] == q {
		dest := exchange.Destination{Name: q.Name}
		v.removeDestinationLocked(d, dest)
		delete(v.mu.queues, q.Name)
		if q.Persist {
			d.del(defQueue, defKey(v.name, q.Name))
		}
	}
	d.submit()
	v.mu.Unlock()
	for _, c := range consumers {
		if cs, ok := c.Sink.(*consumer); ok {
			cs.serverCancel()
		}
	}
	return n, d.wait()
}

// admitDefinition refuses a new durable definition while the store is
// short of disk, on the channel (the store would refuse to write it).
func (s *Server) admitDefinition(kind, name, vhost string) error {
	if s.store == nil {
		return nil
	}
	if err := s.store.Admit(); err != nil {
		return amqp.Errorf(amqp.PreconditionFailed, "cannot declare durable %s '%s' in vhost '%s': %s", kind, name, vhost, diskShortText(s.store))
	}
	return nil
}

// diskShortText says why the store takes nothing new.
func diskShortText(st *storage.Store) string {
	return fmt.Sprintf("disk almost full (%d bytes free, below the disk free limit of %d)", st.DiskFree(), st.MinFreeBytes())
}
