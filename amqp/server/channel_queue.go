package server

import (
	"strings"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
)

// queueName resolves the empty name to the channel's last declared queue
// (spec 0-9-1 queue-name: "the client MAY use an empty queue name to refer
// to the last queue declared on the channel").
func (ch *channel) queueName(name string) (string, error) {
	if name != "" {
		return name, nil
	}
	if ch.lastQueue == "" {
		return "", amqp.Errorf(amqp.NotFound, "no previously declared queue")
	}
	return ch.lastQueue, nil
}

// ownedQueue looks a queue up and checks exclusive ownership.
func (ch *channel) ownedQueue(name string) (*queue.Queue, error) {
	name, err := ch.queueName(name)
	if err != nil {
		return nil, err
	}
	return ch.lookupOwned(name)
}

// readableQueue is ownedQueue for a method that reads from the queue
// (basic.get, basic.consume, queue.purge): the user needs read access.
func (ch *channel) readableQueue(name string) (*queue.Queue, error) {
	name, err := ch.queueName(name)
	if err != nil {
		return nil, err
	}
	if err := ch.permitted(broker.ResourceQueue, name, broker.Read); err != nil {
		return nil, err
	}
	return ch.lookupOwned(name)
}

// lookupOwned is ownedQueue without the empty-name substitution.
func (ch *channel) lookupOwned(name string) (*queue.Queue, error) {
	v := ch.c.vhost
	q := v.queue(name)
	if q == nil {
		return nil, v.errNoQueue(name)
	}
	if q.Exclusive && q.Owner != ch.c.id {
		return nil, broker.ErrLocked(name, v.name)
	}
	return q, nil
}

func (ch *channel) queueDeclare(m *amqp.QueueDeclare) error {
	if strings.HasPrefix(m.Queue, replyToQueue) {
		return ch.declareReplyTo(m)
	}
	v := ch.c.vhost
	name := m.Queue
	var q *queue.Queue
	if m.Passive {
		// rabbitmq: a passive declare of "" looks up the queue named "".
		var err error
		if q, err = ch.lookupOwned(name); err != nil {
			return err
		}
	} else {
		if name == "" && m.Arguments["x-queue-type"] == "stream" {
			// rabbitmq: a stream is never server-named.
			return amqp.Errorf(amqp.PreconditionFailed, "Cannot declare a server-named queue for type rabbit_stream_queue")
		}
		if name == "" {
			name = broker.GenName("amq.gen-")
		} else if broker.ReservedName(name) {
			return amqp.Errorf(amqp.AccessRefused, "queue name '%s' contains reserved prefix 'amq.*'", name)
		}
		if err := ch.permitted(broker.ResourceQueue, name, broker.Configure); err != nil {
			return err
		}
		if dlx, ok := m.Arguments["x-dead-letter-exchange"].(string); ok {
			// rabbitmq: dead-lettering writes to the DLX what is read from the queue.
			if err := ch.permittedAll(onExchange(dlx, broker.Write), onQueue(name, broker.Read)); err != nil {
				return err
			}
		}
		// The core checks the arguments (broker/queue_args.go).
		var err error
		q, err = v.declareQueue(queue.Config{
			Name: name, Durable: m.Durable, Exclusive: m.Exclusive, AutoDelete: m.AutoDelete,
			Args: m.Arguments, Owner: ch.c.id,
		})
		if err != nil {
			return err
		}
		if q.Exclusive {
			ch.c.exclusive[q] = struct{}{}
		}
	}
	ch.lastQueue = q.Name
	ch.c.srv.stats.queuesDeclared.Add(1)
	q.Touch()
	if !m.NoWait {
		msgs, consumers := q.Counts()
		ch.send(&amqp.QueueDeclareOk{Queue: q.Name, MessageCount: uint32(msgs), ConsumerCount: uint32(consumers)})
	}
	return nil
}

// bindPermitted is the queue a queue.bind or queue.unbind names (the
// channel's last queue for ""), once the user may write to it and read
// from the exchange.
func (ch *channel) bindPermitted(queue, xname string) (string, error) {
	name, err := ch.queueName(queue)
	if err != nil {
		return "", err
	}
	if err := ch.permittedAll(onQueue(name, broker.Write), onExchange(xname, broker.Read)); err != nil {
		return "", err
	}
	return name, nil
}

func (ch *channel) queueBind(m *amqp.QueueBind) error {
	name, err := ch.bindPermitted(m.Queue, m.Exchange)
	if err != nil {
		return err
	}
	q, err := ch.lookupOwned(name)
	if err != nil {
		return err
	}
	key := m.RoutingKey
	if m.Queue == "" && key == "" {
		key = q.Name // spec 0-9-1 queue.bind: empty queue and key bind by the queue's name
	}
	if x := ch.c.vhost.exchange(m.Exchange); x != nil && x.Kind == exchange.Topic {
		if err := ch.topicPermitted(m.Exchange, key, broker.Read); err != nil {
			return err
		}
	}
	if err := ch.c.vhost.bind(m.Exchange, exchange.Destination{Name: q.Name}, key, m.Arguments); err != nil {
		return err
	}
	if !m.NoWait {
		ch.send(&amqp.QueueBindOk{})
	}
	return nil
}

func (ch *channel) queueUnbind(m *amqp.QueueUnbind) error {
	name, err := ch.bindPermitted(m.Queue, m.Exchange)
	if err != nil {
		return err
	}
	q, err := ch.lookupOwned(name)
	if err != nil {
		if err.(*amqp.Error).Code == amqp.NotFound {
			ch.send(&amqp.QueueUnbindOk{}) // rabbitmq: unbinding a missing queue succeeds
			return nil
		}
		return err
	}
	if err := ch.c.vhost.unbind(m.Exchange, exchange.Destination{Name: q.Name}, m.RoutingKey, m.Arguments); err != nil {
		return err
	}
	ch.send(&amqp.QueueUnbindOk{})
	return nil
}

func (ch *channel) queuePurge(m *amqp.QueuePurge) error {
	q, err := ch.readableQueue(m.Queue)
	if err != nil {
		return err
	}
	// The purge is on disk before purge-ok, as a delete is.
	n, err := ch.c.vhost.core.Purge(q)
	if err != nil {
		return err
	}
	if !m.NoWait {
		ch.send(&amqp.QueuePurgeOk{MessageCount: uint32(n)})
	}
	return nil
}

func (ch *channel) queueDelete(m *amqp.QueueDelete) error {
	name, err := ch.queueName(m.Queue)
	if err != nil {
		return err
	}
	if err := ch.permitted(broker.ResourceQueue, name, broker.Configure); err != nil {
		return err
	}
	v := ch.c.vhost
	q := v.queue(name)
	n := 0
	if q != nil {
		if q.Exclusive && q.Owner != ch.c.id {
			return broker.ErrLocked(name, v.name)
		}
		if n, err = v.deleteQueue(q, m.IfUnused, m.IfEmpty); err != nil {
			return err
		}
		delete(ch.c.exclusive, q)
	} else if n, err = v.deleteMissingQueue(name, m.IfUnused, m.IfEmpty); err != nil {
		return err
	}
	// rabbitmq: deleting a missing queue succeeds with a count of 0.
	if !m.NoWait {
		ch.send(&amqp.QueueDeleteOk{MessageCount: uint32(n)})
	}
	return nil
}
