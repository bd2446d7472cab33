package server

import "github.com/warrenmq/warren/amqp/broker"

// Permission checks on AMQP methods, as RabbitMQ's access control table
// says (the broker core holds the permissions: broker.CheckAccess):
//
//	method                    configure     write              read
//	exchange.declare          exchange      alternate exch.*   exchange*
//	exchange.delete           exchange
//	queue.declare             queue         dead-letter exch.* queue*
//	queue.delete              queue
//	exchange.bind, unbind                   destination        source
//	queue.bind, unbind                      queue              exchange
//	basic.publish                           exchange
//	basic.get, basic.consume, queue.purge                      queue
//	(* only with that argument; passive declares need nothing)
//
// plus topic permissions on the routing key of topic exchanges (publish:
// write; queue.bind: read). What a channel was allowed is cached for its
// life, as RabbitMQ's channels cache it: a permission changed later
// applies to new channels.

type permKey struct {
	kind, name string
	access     broker.Access
}

// permitted checks the connection's user's access to a resource of the
// vhost.
func (ch *channel) permitted(kind, name string, a broker.Access) error {
	k := permKey{kind, name, a}
	if _, ok := ch.allowed[k]; ok {
		return nil
	}
	c := ch.c
	if err := c.srv.core.CheckAccess(c.vhost.name, c.user, kind, name, a); err != nil {
		return err
	}
	if ch.allowed == nil {
		ch.allowed = map[permKey]struct{}{}
	}
	if len(ch.allowed) < 256 {
		ch.allowed[k] = struct{}{}
	}
	return nil
}

// permittedAll checks several accesses in order, stopping at the first
// refusal.
func (ch *channel) permittedAll(checks ...permKey) error {
	for _, k := range checks {
		if err := ch.permitted(k.kind, k.name, k.access); err != nil {
			return err
		}
	}
	return nil
}

func onQueue(name string, a broker.Access) permKey { return permKey{broker.ResourceQueue, name, a} }
func onExchange(name string, a broker.Access) permKey {
	return permKey{broker.ResourceExchange, name, a}
}

// topicPermitted checks the topic permissions of a routing key on a topic
// exchange.
func (ch *channel) topicPermitted(exchange, key string, a broker.Access) error {
	c := ch.c
	return c.srv.core.CheckTopicAccess(c.vhost.name, c.user, exchange, key, a)
}
