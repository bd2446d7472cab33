package broker

import (
	"fmt"

	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
)

// Command is a change to definitions: one of the structs below. Every
// change, whoever asks for it (an AMQP method today; the HTTP API,
// definitions import and the Raft log later), is a Command applied by
// Broker.Apply or Vhost.Apply.
type Command interface{ command() }

// AddVhost creates a vhost with its standard exchanges; adding one that
// exists updates its metadata (a zero Meta leaves it as it is).
type AddVhost struct {
	Name string
	Meta VhostMeta
}

// DeleteVhost deletes a vhost with its queues and exchanges.
type DeleteVhost struct{ Name string }

// DeclareExchange creates an exchange or checks that the one there is
// equivalent (spec 0-9-1 exchange.declare, not passive).
type DeclareExchange struct {
	Name                          string
	Kind                          exchange.Kind
	Durable, AutoDelete, Internal bool
	Args                          map[string]any
}

// DeleteExchange deletes an exchange and the bindings to and from it;
// deleting a missing exchange succeeds.
type DeleteExchange struct {
	Name     string
	IfUnused bool
}

// DeclareQueue creates a queue or checks that the one there is
// equivalent, after checking the arguments as RabbitMQ does (queue_args.go);
// Result.Queue is the queue. Owner is the connection of an
// exclusive queue. A durable queue that is not exclusive is stored
// (rabbitmq: an exclusive queue never outlives its connection, so it is
// never durable in effect).
type DeclareQueue struct {
	Name                           string
	Durable, Exclusive, AutoDelete bool
	Args                           map[string]any
	Owner                          uint64
	// ID is the store's number for the queue when Recover replays its
	// stored declaration; 0 (always, from a front end) allocates one.
	ID uint64
}

// DeleteQueue deletes a queue, its bindings and its consumers;
// Result.Messages is how many ready messages it had and Result.Consumers
// the consumers it had, each told through Cancelled if its Sink has it. Queue, if set, is the
// instance meant: a newer queue of the same name is left alone. Deleting a
// missing queue succeeds with a count of 0.
type DeleteQueue struct {
	Name              string
	IfUnused, IfEmpty bool
	Queue             *queue.Queue
}

// Bind adds a binding from the exchange Source to Destination.
type Bind struct {
	Source      string
	Destination exchange.Destination
	Key         string
	Args        map[string]any
}

// Unbind removes a binding; removing a missing one succeeds.
type Unbind struct {
	Source      string
	Destination exchange.Destination
	Key         string
	Args        map[string]any
}

func (AddVhost) command()        {}
func (DeleteVhost) command()     {}
func (DeclareExchange) command() {}
func (DeleteExchange) command()  {}
func (DeclareQueue) command()    {}
func (DeleteQueue) command()     {}
func (Bind) command()            {}
func (Unbind) command()          {}

// Result is what applying a command gives back besides an error.
type Result struct {
	Queue     *queue.Queue      // DeclareQueue: the queue
	Messages  int               // DeleteQueue: the ready messages it had
	Consumers []*queue.Consumer // DeleteQueue, DeleteVhost: the consumers cancelled
}

// Apply applies cmd to the vhost called vhost (ignored for AddVhost and
// DeleteVhost). With a Config.Replicator, it is proposed to the cluster
// and applied on every node (replicate.go).
func (b *Broker) Apply(vhost string, cmd Command) (Result, error) {
	if b.repl != nil && b.replicated(vhost, cmd) {
		return b.propose(vhost, cmd)
	}
	return b.ApplyLocal(vhost, cmd)
}

// ApplyLocal applies cmd on this node only: Apply without a Replicator,
// and the cluster's apply of a committed command.
func (b *Broker) ApplyLocal(vhost string, cmd Command) (Result, error) {
	switch c := cmd.(type) {
	case AddVhost:
		return Result{}, b.addVhost(c)
	case DeleteVhost:
		return b.deleteVhost(c.Name)
	case PutUser:
		return Result{}, b.putUser(c)
	case DeleteUser:
		return Result{}, b.deleteUser(c)
	case SetPermissions:
		return Result{}, b.setPermissions(c)
	case ClearPermissions:
		return Result{}, b.clearPermissions(c)
	case SetTopicPermissions:
		return Result{}, b.setTopicPermissions(c)
	case ClearTopicPermissions:
		return Result{}, b.clearTopicPermissions(c)
	case SetGlobalParameter:
		return Result{}, b.setGlobalParameter(c)
	case ClearGlobalParameter:
		return Result{}, b.clearGlobalParameter(c)
	}
	v := b.Vhost(vhost)
	if v == nil {
		return Result{}, ErrNoVhost(vhost)
	}
	return v.applyLocal(cmd)
}

// Apply applies a command to v. The change is made under v's lock, its
// store writes submitted before the lock is released (so they reach the
// store in the order the changes happened) and waited for after it. With
// a Config.Replicator it is proposed to the cluster as Broker.Apply does.
func (v *Vhost) Apply(cmd Command) (Result, error) {
	if v.b.repl != nil && v.b.replicated(v.name, cmd) {
		return v.b.propose(v.name, cmd)
	}
	return v.applyLocal(cmd)
}

func (v *Vhost) applyLocal(cmd Command) (Result, error) {
	switch c := cmd.(type) {
	case DeclareExchange:
		return Result{}, v.declareExchange(c)
	case DeleteExchange:
		return Result{}, v.deleteExchange(c)
	case DeclareQueue:
		q, err := v.declareQueue(c)
		return Result{Queue: q}, err
	case DeleteQueue:
		return v.deleteQueue(c)
	case Bind:
		return Result{}, v.bind(c)
	case Unbind:
		return Result{}, v.unbind(c)
	case SetPolicy:
		return Result{}, v.setPolicy(c)
	case ClearPolicy:
		return Result{}, v.clearPolicy(c)
	case SetParameter:
		return Result{}, v.setParameter(c)
	case ClearParameter:
		return Result{}, v.clearParameter(c)
	case SetVhostLimit:
		return Result{}, v.setVhostLimit(c)
	case ClearVhostLimit:
		return Result{}, v.clearVhostLimit(c)
	}
	return Result{}, fmt.Errorf("broker: %T is not a vhost command", cmd)
}

func (b *Broker) addVhost(c AddVhost) error {
	if c.Name == "" {
		return invalid("a vhost needs a name")
	}
	d := b.defs()
	b.mu.Lock()
	v := b.mu.vhosts[c.Name]
	if v == nil {
		v = newVhost(b, c.Name)
		b.mu.vhosts[c.Name] = v
	}
	b.mu.Unlock() // Vhost.mu is taken before Broker.mu (newQueueID)
	v.mu.Lock()
	if c.Meta.Description != "" || c.Meta.Tags != nil || c.Meta.DefaultQueueType != "" {
		v.mu.meta = c.Meta
	}
	m := v.mu.meta
	d.put(defVhost, c.Name, vhostJSON{Name: c.Name, Description: m.Description, Tags: m.Tags, DefaultQueueType: m.DefaultQueueType})
	d.submit()
	v.mu.Unlock()
	return d.wait()
}

func (b *Broker) deleteVhost(name string) (Result, error) {
	b.mu.Lock()
	v := b.mu.vhosts[name]
	delete(b.mu.vhosts, name)
	b.mu.Unlock()
	var res Result
	if v == nil {
		return res, nil
	}
	// Its permissions, then its own definitions, go with it.
	d := b.defs()
	b.bd.mu.Lock()
	b.forgetVhostLocked(d, name)
	d.del(defVhost, name)
	v.mu.Lock()
	for n := range v.mu.policies {
		d.del(defPolicy, defKey(name, n))
	}
	for n := range v.mu.opPolicies {
		d.del(defOpPolicy, defKey(name, n))
	}
	for k := range v.mu.params {
		d.del(defParameter, defKey(name, k[0], k[1]))
	}
	v.mu.Unlock()
	d.submit()
	b.bd.mu.Unlock()
	if err := d.wait(); err != nil {
		return res, err
	}
	v.mu.RLock()
	qs := make([]string, 0, len(v.mu.queues))
	for n := range v.mu.queues {
		qs = append(qs, n)
	}
	xs := make([]string, 0, len(v.mu.exchanges))
	for n := range v.mu.exchanges {
		if n != "" && !ReservedName(n) {
			xs = append(xs, n)
		}
	}
	v.mu.RUnlock()
	for _, n := range qs {
		r, err := v.deleteQueue(DeleteQueue{Name: n})
		if err != nil {
			return res, err
		}
		res.Consumers = append(res.Consumers, r.Consumers...)
	}
	for _, n := range xs {
		if err := v.deleteExchange(DeleteExchange{Name: n}); err != nil {
			return res, err
		}
	}
	return res, nil
}
