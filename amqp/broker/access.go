package broker

import (
	"strings"

	"github.com/warrenmq/warren/amqp"
)

// Access is what an operation does to a resource, as RabbitMQ's access
// control names it: configure (create, delete, change), write (put
// messages in), read (take messages out).
type Access uint8

const (
	Configure Access = iota
	Write
	Read
)

func (a Access) String() string {
	switch a {
	case Configure:
		return "configure"
	case Write:
		return "write"
	}
	return "read"
}

// Resource kinds for CheckAccess.
const (
	ResourceQueue    = "queue"
	ResourceExchange = "exchange"
)

// CheckAccess reports whether user may access the queue or exchange
// called name in vhost as a says, by the user's permissions there
// (rabbitmq rabbit_access_control:check_resource_access: the regular
// expression matches anywhere in the name; the empty one matches nothing;
// the default exchange is matched as "amq.default"). A refusal is RabbitMQ's
// 403 ACCESS_REFUSED, "access to queue 'q' in vhost '/' refused for user
// 'u'".
func (b *Broker) CheckAccess(vhost, user, kind, name string, a Access) error {
	if kind == ResourceExchange && name == "" {
		name = "amq.default"
	}
	b.bd.mu.RLock()
	p := b.bd.perms[[2]string{vhost, user}]
	b.bd.mu.RUnlock()
	if p != nil {
		re := p.read
		switch a {
		case Configure:
			re = p.configure
		case Write:
			re = p.write
		}
		if matchPattern(re, name) {
			return nil
		}
	}
	return amqp.Errorf(amqp.AccessRefused, "access to %s '%s' in vhost '%s' refused for user '%s'", kind, name, vhost, user)
}

// CheckTopicAccess reports whether user may publish (Write) or bind to
// consume (Read) with routingKey on the topic exchange called exchange,
// by the user's topic permissions on it; with none, everything is
// allowed (rabbitmq). The patterns may use {username} and {vhost}.
func (b *Broker) CheckTopicAccess(vhost, user, exchange, routingKey string, a Access) error {
	b.bd.mu.RLock()
	p := b.bd.topic[[3]string{vhost, user, exchange}]
	b.bd.mu.RUnlock()
	if p == nil {
		return nil
	}
	re, expr := p.read, p.Read
	if a == Write {
		re, expr = p.write, p.Write
	}
	if strings.Contains(expr, "{") {
		// rabbitmq: the variables are replaced before the match.
		r := strings.NewReplacer("{username}", user, "{vhost}", vhost)
		var err error
		if re, err = compilePattern("topic", r.Replace(expr)); err != nil {
			re = nil
		}
	}
	if matchPattern(re, routingKey) {
		return nil
	}
	return amqp.Errorf(amqp.AccessRefused, "access to topic '%s' in exchange '%s' in vhost '%s' refused for user '%s'", routingKey, exchange, vhost, user)
}
