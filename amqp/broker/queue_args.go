package broker

import (
	"fmt"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
)

// checkNewQueue validates a queue declaration's arguments and flags as
// RabbitMQ does, before the queue is looked up: a redeclaration with bad
// arguments fails as a new declaration would.
func (v *Vhost) checkNewQueue(c DeclareQueue) error {
	name := c.Name
	limits, err := queue.ParseArgs(c.Args)
	if err != nil {
		ae := err.(*queue.ArgError)
		if ae.BadType != "" {
			return amqp.Errorf(amqp.PreconditionFailed, "invalid type '%s' for arg '%s' in queue '%s' in vhost '%s'", ae.BadType, ae.Arg, name, v.name)
		}
		return amqp.Errorf(amqp.PreconditionFailed, "invalid arg '%s' for queue '%s' in vhost '%s': %s", ae.Arg, name, v.name, ae.Reason)
	}
	if reason, ok := checkConsumerTimeoutArg(c.Args); !ok {
		return amqp.Errorf(amqp.PreconditionFailed, "invalid arg 'x-consumer-timeout' for queue '%s' in vhost '%s': %s", name, v.name, reason)
	}
	if c.Args["x-queue-type"] == "stream" {
		return v.checkNewStream(c)
	}
	if limits.Quorum {
		// rabbitmq: quorum queues are durable, shared and not auto-deleted,
		// checked in this order.
		switch {
		case c.AutoDelete:
			return amqp.Errorf(amqp.PreconditionFailed, "invalid property 'auto-delete' for queue '%s' in vhost '%s'", name, v.name)
		case c.Exclusive:
			return amqp.Errorf(amqp.PreconditionFailed, "invalid property 'exclusive-owner' for queue '%s' in vhost '%s'", name, v.name)
		case !c.Durable:
			return amqp.Errorf(amqp.PreconditionFailed, "invalid property 'non-durable' for queue '%s' in vhost '%s'", name, v.name)
		}
		for _, arg := range []string{"x-max-priority", "x-queue-mode"} {
			if _, ok := c.Args[arg]; ok {
				return amqp.Errorf(amqp.PreconditionFailed, "invalid arg '%s' for queue '%s' in vhost '%s' of queue type rabbit_quorum_queue", arg, name, v.name)
			}
		}
	}
	return nil
}

// checkConsumerTimeoutArg validates x-consumer-timeout as RabbitMQ
// validates its integer queue arguments.
func checkConsumerTimeoutArg(args map[string]any) (reason string, ok bool) {
	v, present := args["x-consumer-timeout"]
	if !present {
		return "", true
	}
	n, isInt := amqp.IntValue(v)
	switch {
	case !isInt:
		return fmt.Sprintf("{unacceptable_type,%s}", amqp.FieldTypeName(v)), false
	case n < 0:
		return fmt.Sprintf("{value_negative,%d}", n), false
	}
	return "", true
}
