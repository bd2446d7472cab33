package broker

import (
	"sync"
	"sync/atomic"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
)

// Vhost is one virtual host: its exchanges, queues and bindings. Lookups
// and routing take mu for reading; commands (Apply) for writing.
type Vhost struct {
	b    *Broker
	name string
	// listHook, set by tests, runs before each queue a listing reads.
	listHook func(i int)
	// policyMu orders policy changes with their application to the
	// queues, which happens after mu is released (policy_apply.go).
	// Taken before mu.
	policyMu sync.Mutex
	conns    atomic.Int64 // open connections, for max-connections
	// names caches QueueNames' sorted answer for mu.queueGen.
	names atomic.Pointer[queueNames]

	mu struct {
		sync.RWMutex
		exchanges map[string]*exchange.Exchange
		queues    map[string]*queue.Queue
		queueGen  uint64 // bumped when a queue is added or removed

		policies, opPolicies map[string]*policy         // by name
		xpolicy              map[string]*exchangePolicy // by exchange, those a policy matches
		params               map[[2]string]any          // runtime parameters by component, name
		limits               vhostLimits
		meta                 VhostMeta
	}
}

func newVhost(b *Broker, name string) *Vhost {
	v := &Vhost{b: b, name: name}
	v.mu.exchanges = map[string]*exchange.Exchange{}
	v.mu.queues = map[string]*queue.Queue{}
	v.mu.policies = map[string]*policy{}
	v.mu.opPolicies = map[string]*policy{}
	v.mu.xpolicy = map[string]*exchangePolicy{}
	v.mu.params = map[[2]string]any{}
	v.mu.limits = vhostLimits{-1, -1}
	// rabbitmq: every vhost has the default exchange and the amq.* exchanges.
	v.mu.exchanges[""] = &exchange.Exchange{Name: "", Kind: exchange.Direct, Durable: true}
	for _, x := range []struct {
		name string
		kind exchange.Kind
	}{
		{"amq.direct", exchange.Direct},
		{"amq.fanout", exchange.Fanout},
		{"amq.topic", exchange.Topic},
		{"amq.headers", exchange.Headers},
		{"amq.match", exchange.Headers},
	} {
		v.mu.exchanges[x.name] = &exchange.Exchange{Name: x.name, Kind: x.kind, Durable: true}
	}
	return v
}

// Name is the vhost's name.
func (v *Vhost) Name() string { return v.name }

// ErrNoQueue is RabbitMQ's 404 for a queue missing from v.
func (v *Vhost) ErrNoQueue(name string) *amqp.Error {
	return amqp.Errorf(amqp.NotFound, "no queue '%s' in vhost '%s'", name, v.name)
}

// ErrNoExchange is RabbitMQ's 404 for an exchange missing from v.
func (v *Vhost) ErrNoExchange(name string) *amqp.Error {
	return amqp.Errorf(amqp.NotFound, "no exchange '%s' in vhost '%s'", name, v.name)
}

// ErrLocked is RabbitMQ's 405 for an exclusive queue of another connection.
func ErrLocked(queue, vhost string) *amqp.Error {
	return amqp.Errorf(amqp.ResourceLocked, "cannot obtain exclusive access to locked queue '%s' in vhost '%s'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.", queue, vhost)
}

// Exchange returns the exchange called name, or nil.
func (v *Vhost) Exchange(name string) *exchange.Exchange {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.mu.exchanges[name]
}

// Queue returns the queue called name, or nil.
func (v *Vhost) Queue(name string) *queue.Queue {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.mu.queues[name]
}
