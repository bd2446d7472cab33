package server

import (
	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
)

// vhost is the front end's handle on one of the broker core's vhosts
// (amqp/broker owns the exchanges, queues, bindings and messages). Each
// method is one core call.
type vhost struct {
	core *broker.Vhost
	name string
}

func newVhost(core *broker.Vhost) *vhost {
	return &vhost{core: core, name: core.Name()}
}

// vhost returns the front end's handle on the core's vhost called name,
// or nil: the one made in New, or a new handle on a vhost added since
// (the management API's PUT /api/vhosts).
func (s *Server) vhost(name string) *vhost {
	cv := s.core.Vhost(name)
	if cv == nil {
		return nil
	}
	if v := s.vhosts[name]; v != nil && v.core == cv {
		return v
	}
	return newVhost(cv)
}

func (v *vhost) errNoQueue(name string) *amqp.Error    { return v.core.ErrNoQueue(name) }
func (v *vhost) errNoExchange(name string) *amqp.Error { return v.core.ErrNoExchange(name) }

func (v *vhost) exchange(name string) *exchange.Exchange { return v.core.Exchange(name) }
func (v *vhost) queue(name string) *queue.Queue          { return v.core.Queue(name) }

// route resolves the queues a message published to x with the routing key
// reaches (broker.Vhost.Route); a delayed-message exchange routes at once.
func (v *vhost) route(x *exchange.Exchange, key string, headers func() map[string]any, out []*queue.Queue) []*queue.Queue {
	return v.core.Route(x, key, headers, out, nil)
}

// routeExt is route for a publish: it also routes by cc, the keys of the
// CC and BCC headers (broker.Vhost.RouteKeys), and records in ext the
// destinations that are no queue (direct reply-to, delayed exchanges).
func (v *vhost) routeExt(x *exchange.Exchange, key string, cc []string, headers func() map[string]any, out []*queue.Queue, ext *broker.Extra) []*queue.Queue {
	return v.core.RouteKeys(x, key, cc, headers, out, ext)
}

// declareExchange creates the exchange or checks that it is equivalent.
func (v *vhost) declareExchange(name string, kind exchange.Kind, durable, autoDelete, internal bool, args map[string]any) error {
	_, err := v.core.Apply(broker.DeclareExchange{Name: name, Kind: kind, Durable: durable, AutoDelete: autoDelete, Internal: internal, Args: args})
	return err
}

func (v *vhost) deleteExchange(name string, ifUnused bool) error {
	_, err := v.core.Apply(broker.DeleteExchange{Name: name, IfUnused: ifUnused})
	return err
}

// bind adds a binding from the exchange src to dest.
func (v *vhost) bind(src string, dest exchange.Destination, key string, args map[string]any) error {
	_, err := v.core.Apply(broker.Bind{Source: src, Destination: dest, Key: key, Args: args})
	return err
}

func (v *vhost) unbind(src string, dest exchange.Destination, key string, args map[string]any) error {
	_, err := v.core.Apply(broker.Unbind{Source: src, Destination: dest, Key: key, Args: args})
	return err
}

// declareQueue returns the existing queue or creates one from cfg's name,
// flags, arguments and owner.
func (v *vhost) declareQueue(cfg queue.Config) (*queue.Queue, error) {
	r, err := v.core.Apply(broker.DeclareQueue{Name: cfg.Name, Durable: cfg.Durable, Exclusive: cfg.Exclusive,
		AutoDelete: cfg.AutoDelete, Args: cfg.Args, Owner: cfg.Owner})
	return r.Queue, err
}

// deleteMissingQueue deletes the queue name this node does not know:
// through the core all the same, so that on a cluster node, whose view may
// lag behind the log, the delete is ordered after a declaration committed
// but not applied here yet (it deletes that queue, everywhere) instead of
// answering delete-ok from a stale view. Missing at the apply too, it
// succeeds with a count of 0.
func (v *vhost) deleteMissingQueue(name string, ifUnused, ifEmpty bool) (int, error) {
	r, err := v.core.Apply(broker.DeleteQueue{Name: name, IfUnused: ifUnused, IfEmpty: ifEmpty})
	return r.Messages, err
}

// deleteQueue deletes q, its bindings and its consumers (the core tells
// them: consumer.Cancelled), and returns how many ready messages it had.
func (v *vhost) deleteQueue(q *queue.Queue, ifUnused, ifEmpty bool) (int, error) {
	r, err := v.core.Apply(broker.DeleteQueue{Name: q.Name, Queue: q, IfUnused: ifUnused, IfEmpty: ifEmpty})
	return r.Messages, err
}
