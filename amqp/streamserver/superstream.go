package streamserver

import (
	"sort"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/exchange"
)

// Super streams, as RabbitMQ lays them out: a durable direct exchange
// named after the super stream (argument x-super-stream: true) and one
// stream per partition, bound to it with the partition's binding key and
// the argument x-stream-partition-order (0, 1, ...). AMQP 0-9-1 clients
// see and use the same exchange and streams.

const partitionOrderArg = "x-stream-partition-order"

// partitionsOf is a super stream's partitions in partition order (nil:
// no such super stream).
func (c *conn) partitionsOf(super string) []string {
	return partitionsIn(c.vhost, super)
}

func partitionsIn(v *broker.Vhost, super string) []string {
	if v.Exchange(super) == nil {
		return nil
	}
	type part struct {
		name  string
		order int64
	}
	var parts []part
	for _, b := range v.Bindings() {
		if b.Source != super || b.DestinationType != "queue" {
			continue
		}
		order, _ := amqp.IntValue(b.Args[partitionOrderArg])
		parts = append(parts, part{b.Destination, order})
	}
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].order < parts[j].order })
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if len(out) == 0 || out[len(out)-1] != p.name {
			out = append(out, p.name)
		}
	}
	return out
}

func (c *conn) partitions(d *decoder) {
	corr, super := d.u32(), d.str()
	if d.err != nil {
		return
	}
	code := uint16(codeOK)
	var parts []string
	if c.vhost.Exchange(super) == nil {
		code = codeStreamDoesNotExist
	} else {
		parts = c.partitionsOf(super)
	}
	f := response(keyPartitions, corr, code)
	f.u32(uint32(len(parts)))
	for _, p := range parts {
		f.str(p)
	}
	c.send(f.done())
}

// route answers the partitions bound with the routing key.
func (c *conn) route(d *decoder) {
	corr, key, super := d.u32(), d.str(), d.str()
	if d.err != nil {
		return
	}
	code := uint16(codeOK)
	var out []string
	if c.vhost.Exchange(super) == nil {
		code = codeStreamDoesNotExist
	} else {
		for _, b := range c.vhost.Bindings() {
			if b.Source == super && b.DestinationType == "queue" && b.Key == key {
				out = append(out, b.Destination)
			}
		}
	}
	f := response(keyRoute, corr, code)
	f.u32(uint32(len(out)))
	for _, p := range out {
		f.str(p)
	}
	c.send(f.done())
}

func (c *conn) createSuperStream(d *decoder) {
	corr, super := d.u32(), d.str()
	parts, keys := d.strings(), d.strings()
	args := d.strMap()
	if d.err != nil {
		return
	}
	c.send(response(keyCreateSuperStream, corr, c.declareSuperStream(super, parts, keys, args)).done())
}

func (c *conn) declareSuperStream(super string, parts, keys []string, args map[string]string) uint16 {
	v := c.vhost
	switch {
	case super == "" || len(parts) == 0 || len(parts) != len(keys):
		return codePreconditionFailed
	case c.s.cfg.Broker.CheckAccess(v.Name(), c.user.Name, broker.ResourceExchange, super, broker.Configure) != nil:
		return codeAccessRefused
	case v.Exchange(super) != nil:
		return codeStreamAlreadyExists
	}
	if _, ok := streamArgs(args); !ok {
		return codePreconditionFailed
	}
	for _, p := range parts {
		if v.Queue(p) != nil {
			return codeStreamAlreadyExists
		}
		if !c.permitted(p, broker.Configure) {
			return codeAccessRefused
		}
	}
	if _, err := v.Apply(broker.DeclareExchange{Name: super, Kind: exchange.Direct, Durable: true, Args: map[string]any{"x-super-stream": true}}); err != nil {
		return c.errorCode("create super stream", super, err)
	}
	for i, p := range parts {
		if code := c.declareStream(p, args); code != codeOK {
			return code
		}
		bind := broker.Bind{Source: super, Destination: exchange.Destination{Name: p}, Key: keys[i], Args: map[string]any{partitionOrderArg: int64(i)}}
		if _, err := v.Apply(bind); err != nil {
			return c.errorCode("create super stream", super, err)
		}
	}
	return codeOK
}

func (c *conn) deleteSuperStream(d *decoder) {
	corr, super := d.u32(), d.str()
	if d.err != nil {
		return
	}
	v := c.vhost
	code := uint16(codeOK)
	switch {
	case v.Exchange(super) == nil:
		code = codeStreamDoesNotExist
	case c.s.cfg.Broker.CheckAccess(v.Name(), c.user.Name, broker.ResourceExchange, super, broker.Configure) != nil:
		code = codeAccessRefused
	default:
		for _, p := range c.partitionsOf(super) {
			if rc := c.removeStream(p); rc != codeOK && rc != codeStreamDoesNotExist {
				code = rc
			}
		}
		if _, err := v.Apply(broker.DeleteExchange{Name: super}); err != nil {
			code = c.errorCode("delete super stream", super, err)
		}
	}
	c.send(response(keyDeleteSuperStream, corr, code).done())
}
