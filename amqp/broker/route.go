package broker

import (
	"strings"

	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
)

// Direct reply-to names (rabbitmq): a routing key of the default exchange
// with ReplyToPrefix names a consumer, not a queue.
const (
	ReplyToQueue  = "amq.rabbitmq.reply-to"
	ReplyToPrefix = ReplyToQueue + "."
)

// IsReplyKey reports whether a routing key of the default exchange names
// a direct reply-to consumer.
func IsReplyKey(key string) bool { return strings.HasPrefix(key, ReplyToPrefix) }

// Extra is what a publish reaches besides queues: Vhost.Publish hands the
// message to these (publishExtra).
type Extra struct {
	// Reply is the amq.rabbitmq.reply-to.<token> name a message to the
	// default exchange is addressed to ("": none).
	Reply string
	// Delayed are the delayed-message exchanges that hold the message
	// back for Delay milliseconds.
	Delayed []*exchange.Exchange
	Delay   int64
	// delayState caches the x-delay decision: 0 not read yet, 1 delay,
	// 2 no delay.
	delayState uint8
}

// Any reports whether e has a destination.
func (e *Extra) Any() bool { return e != nil && (e.Reply != "" || len(e.Delayed) > 0) }

// delays reports whether the message's x-delay header asks for a delay,
// reading the headers once.
func (e *Extra) delays(headers func() map[string]any) bool {
	if e.delayState == 0 {
		e.delayState = 2
		if ms, ok := exchange.DelayOf(headers()); ok {
			e.Delay, e.delayState = ms, 1
		}
	}
	return e.delayState == 1
}

// Route resolves the queues a message published to x with the routing key
// reaches, appended to out, following exchange-to-exchange bindings and
// alternate exchanges. Each queue appears once; cycles between exchanges
// are visited once. With ext nil a delayed-message exchange routes at once
// and a reply-to key routes nowhere; with ext non-nil (a publish) they are
// recorded in ext instead.
//
// rabbitmq rabbit_exchange:route: an exchange whose own bindings route a
// message nowhere (not even to another exchange) hands it to its
// alternate exchange, which may in turn use its own; every exchange is
// visited once, so cycles end. An alternate exchange that does not exist
// routes nothing.
func (v *Vhost) Route(x *exchange.Exchange, key string, headers func() map[string]any, out []*queue.Queue, ext *Extra) []*queue.Queue {
	return v.RouteKeys(x, key, nil, headers, out, ext)
}

// RouteKeys is Route for a message with more routing keys than its own:
// cc, the keys of its CC and BCC headers (amqp.ScanSenderRoutes).
//
// rabbitmq sender-selected distribution: every exchange on the way, the
// default exchange, exchange-to-exchange destinations and alternate
// exchanges included, routes the message by all its keys at once; direct
// and topic match each key, fanout and headers ignore them. The union of
// the queues gets the message once, and an exchange uses its alternate
// only when no key routes anywhere.
func (v *Vhost) RouteKeys(x *exchange.Exchange, key string, cc []string, headers func() map[string]any, out []*queue.Queue, ext *Extra) []*queue.Queue {
	n := len(out)
	out = v.routeAll(x, key, cc, headers, out, ext)
	countRoute(x, len(out)-n, ext) // stats.go
	return out
}

// routeAll is RouteKeys but for the counters.
func (v *Vhost) routeAll(x *exchange.Exchange, key string, cc []string, headers func() map[string]any, out []*queue.Queue, ext *Extra) []*queue.Queue {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if x.Name == "" {
		out = v.routeDefaultLocked(key, out, ext)
		for _, k := range cc {
			out = v.routeDefaultLocked(k, out, ext)
		}
		return out
	}
	var dests [8]exchange.Destination
	ds := v.routeOneLocked(x, key, cc, headers, dests[:0], ext)
	if !hasExchangeDest(ds) {
		for _, d := range ds {
			if q := v.mu.queues[d.Name]; q != nil {
				out = appendUniqueQueue(out, q)
			}
		}
		return out
	}
	visited := map[string]bool{x.Name: true}
	return v.routeLocked(ds, key, cc, headers, visited, out, ext)
}

// routeDefaultLocked routes one key through the default exchange.
func (v *Vhost) routeDefaultLocked(key string, out []*queue.Queue, ext *Extra) []*queue.Queue {
	if ext != nil && IsReplyKey(key) {
		// rabbitmq: a direct reply-to name is no queue; the reply
		// goes to its consumer.
		if ext.Reply == "" {
			ext.Reply = key
		}
		return out
	}
	// spec 0-9-1 default exchange: every queue is bound by its own name.
	if q := v.mu.queues[key]; q != nil {
		out = appendUniqueQueue(out, q)
	}
	return out
}

// routeOneLocked routes through one exchange's own bindings, or to its
// alternate exchange when they lead nowhere. With ext, a delayed-message
// exchange asked for a delay keeps the message (ext records it) and routes
// nothing now; that is no reason to use its alternate exchange.
func (v *Vhost) routeOneLocked(x *exchange.Exchange, key string, cc []string, headers func() map[string]any, out []exchange.Destination, ext *Extra) []exchange.Destination {
	if x.Kind == exchange.Delayed && ext != nil && ext.delays(headers) {
		ext.Delayed = append(ext.Delayed, x)
		return out
	}
	var hdrs map[string]any
	kind := x.RoutingKind()
	if kind == exchange.Headers {
		hdrs = headers()
	}
	ds := x.Route(key, hdrs, out)
	if kind == exchange.Direct || kind == exchange.Topic {
		// rabbitmq: only the kinds that route by key use CC and BCC.
		for _, k := range cc {
			ds = x.Route(k, nil, ds)
		}
	}
	if len(ds) == 0 {
		ae := x.Alternate()
		if ae == "" {
			ae = v.policyAlternateLocked(x.Name)
		}
		if ae != "" {
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

func (v *Vhost) routeLocked(ds []exchange.Destination, key string, cc []string, headers func() map[string]any, visited map[string]bool, out []*queue.Queue, ext *Extra) []*queue.Queue {
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
		out = v.routeLocked(v.routeOneLocked(next, key, cc, headers, nil, ext), key, cc, headers, visited, out, ext)
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
