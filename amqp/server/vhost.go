package server

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"sync"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
)

// vhost is one virtual host: its exchanges, queues and bindings. Lookups and
// routing take mu for reading; declarations and deletions for writing.
type vhost struct {
	srv  *Server
	name string

	mu struct {
		sync.RWMutex
		exchanges map[string]*exchange.Exchange
		queues    map[string]*queue.Queue
	}
}

func newVhost(srv *Server, name string) *vhost {
	v := &vhost{srv: srv, name: name}
	v.mu.exchanges = map[string]*exchange.Exchange{}
	v.mu.queues = map[string]*queue.Queue{}
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

func (v *vhost) errNoQueue(name string) *amqp.Error {
	return amqp.Errorf(amqp.NotFound, "no queue '%s' in vhost '%s'", name, v.name)
}

func (v *vhost) errNoExchange(name string) *amqp.Error {
	return amqp.Errorf(amqp.NotFound, "no exchange '%s' in vhost '%s'", name, v.name)
}

func (v *vhost) exchange(name string) *exchange.Exchange {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.mu.exchanges[name]
}

func (v *vhost) queue(name string) *queue.Queue {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.mu.queues[name]
}

// route resolves the queues a message published to x with the routing key
// reaches, following exchange-to-exchange bindings and alternate
// exchanges. Each queue appears once; cycles between exchanges are
// visited once. A delayed-message exchange routes at once here (see
// routeExt).
//
// rabbitmq rabbit_exchange:route: an exchange whose own bindings route a
// message nowhere (not even to another exchange) hands it to its
// alternate exchange, which may in turn use its own; every exchange is
// visited once, so cycles end. An alternate exchange that does not exist
// routes nothing.
func (v *vhost) route(x *exchange.Exchange, key string, headers func() map[string]any, out []*queue.Queue) []*queue.Queue {
	return v.routeExt(x, key, headers, out, nil)
}

// routeExt is route for a publish: with ext non-nil it also records the
// destinations that are no queue (see routeExtra).
func (v *vhost) routeExt(x *exchange.Exchange, key string, headers func() map[string]any, out []*queue.Queue, ext *routeExtra) []*queue.Queue {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if x.Name == "" {
		if ext != nil && isReplyKey(key) {
			// rabbitmq: a direct reply-to name is no queue; the reply
			// goes to its consumer.
			ext.reply = key
			return out
		}
		// spec 0-9-1 default exchange: every queue is bound by its own name.
		if q := v.mu.queues[key]; q != nil {
			out = append(out, q)
		}
		return out
	}
	var dests [8]exchange.Destination
	ds := v.routeOneLocked(x, key, headers, dests[:0], ext)
	if !hasExchangeDest(ds) {
		for _, d := range ds {
			if q := v.mu.queues[d.Name]; q != nil {
				out = appendUniqueQueue(out, q)
			}
		}
		return out
	}
	visited := map[string]bool{x.Name: true}
	return v.routeLocked(ds, key, headers, visited, out, ext)
}

// routeOneLocked routes through one exchange's own bindings, or to its
// alternate exchange when they lead nowhere. With ext, a delayed-message
// exchange asked for a delay keeps the message (ext records it) and routes
// nothing now; that is no reason to use its alternate exchange.
func (v *vhost) routeOneLocked(x *exchange.Exchange, key string, headers func() map[string]any, out []exchange.Destination, ext *routeExtra) []exchange.Destination {
	if x.Kind == exchange.Delayed && ext != nil && ext.delays(headers) {
		ext.delayed = append(ext.delayed, x)
		return out
	}
	var hdrs map[string]any
	if x.RoutingKind() == exchange.Headers {
		hdrs = headers()
	}
	ds := x.Route(key, hdrs, out)
	if len(ds) == 0 {
		if ae := x.Alternate(); ae != "" {
			ds = append(ds, exchange.Destination{Exchange: true, Name: ae})
		}
	}
	return ds
}

func hasExchangeDest(ds []exchange.Destination) bool {
	for _, d := range ds {
		if d.Exchange {
			return true
		}
	}
	return false
}

func (v *vhost) routeLocked(ds []exchange.Destination, key string, headers func() map[string]any, visited map[string]bool, out []*queue.Queue, ext *routeExtra) []*queue.Queue {
	for _, d := range ds {
		if !d.Exchange {
			if q := v.mu.queues[d.Name]; q != nil {
				out = appendUniqueQueue(out, q)
			}
			continue
		}
		if visited[d.Name] {
			continue
		}
		visited[d.Name] = true
		next := v.mu.exchanges[d.Name]
		if next == nil {
			continue
		}
		out = v.routeLocked(v.routeOneLocked(next, key, headers, nil, ext), key, headers, visited, out, ext)
	}
	return out
}

func appendUniqueQueue(out []*queue.Queue, q *queue.Queue) []*queue.Queue {
	for _, x := range out {
		if x == q {
			return out
		}
	}
	return append(out, q)
}

// genName returns a server-generated name such as amq.gen-<random>.
func genName(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// reservedName reports whether a name uses the reserved amq. prefix.
func reservedName(name string) bool { return strings.HasPrefix(name, "amq.") }
