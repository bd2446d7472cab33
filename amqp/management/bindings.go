package management

import (
	"encoding/base64"
	"hash/fnv"
	"net/http"
	"net/url"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/exchange"
)

// Bindings: /api/bindings[/{v}], /api/bindings/{v}/e/{x}/q/{q}[/{props}]
// and /e/{x}/e/{y}[/{props}], /api/exchanges/{v}/{x}/bindings/source and
// /destination, /api/queues/{v}/{q}/bindings.
//
// A binding is named in paths by its properties key (rabbitmq
// pack_binding_props): the routing key form-encoded ("a b/c" is
// "a+b%2Fc"), and with arguments "~" and a hash of them (6 base64url
// characters; RabbitMQ hashes with Erlang's phash2, Warren with FNV-1a
// over the arguments' AMQP encoding, so keys differ between the two
// brokers: clients take them from a listing or a Location, never build
// them). No routing key and no arguments is "~".

func propertiesKey(key string, args map[string]any) string {
	if len(args) == 0 {
		if key == "" {
			return "~"
		}
		return url.QueryEscape(key)
	}
	return url.QueryEscape(key) + "~" + argsHash(args)
}

func argsHash(args map[string]any) string {
	raw, err := amqp.AppendTable(nil, amqp.Table(args)) // keys in sorted order
	if err != nil {
		return "invalid"
	}
	h := fnv.New32a()
	h.Write(raw)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

func bindingJSON(b *broker.BindingInfo) map[string]any {
	return map[string]any{
		"source":           b.Source,
		"vhost":            b.Vhost,
		"destination":      b.Destination,
		"destination_type": b.DestinationType,
		"routing_key":      b.Key,
		"arguments":        tableToJSON(b.Args),
		"properties_key":   propertiesKey(b.Key, b.Args),
	}
}

func listBindings(w http.ResponseWriter, r *http.Request, bs []broker.BindingInfo) {
	list(w, r, bs, func(b *broker.BindingInfo) string { return b.Source }, bindingJSON)
}

func (s *Server) getBindings(w http.ResponseWriter, r *http.Request) {
	bs, ok := fromVhosts(s, w, r, (*broker.Vhost).Bindings)
	if !ok {
		return
	}
	listBindings(w, r, bs)
}

// bindingsWhere lists the bindings of the path's vhost that keep says.
func (s *Server) bindingsWhere(v *broker.Vhost, keep func(*broker.BindingInfo) bool) []broker.BindingInfo {
	var out []broker.BindingInfo
	for _, b := range v.Bindings() {
		if keep(&b) {
			out = append(out, b)
		}
	}
	return out
}

func (s *Server) getExchangeBindings(source bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := vhostParam(r)
		if !s.vhostAccess(w, r, name) {
			return
		}
		v := s.b.Vhost(name)
		x := exchangeParam(r, "name")
		if v.Exchange(x) == nil {
			notFound(w)
			return
		}
		listBindings(w, r, s.bindingsWhere(v, func(b *broker.BindingInfo) bool {
			if source {
				return b.Source == x
			}
			return b.DestinationType == "exchange" && b.Destination == x
		}))
	}
}

func (s *Server) getQueueBindings(w http.ResponseWriter, r *http.Request) {
	v, q, ok := s.vhostQueue(w, r)
	if !ok {
		return
	}
	listBindings(w, r, s.bindingsWhere(v, func(b *broker.BindingInfo) bool {
		return b.DestinationType == "queue" && b.Destination == q.Name
	}))
}

// between resolves the path's vhost, source and destination of a
// binding route (kind "q" or "e"), answering 404 for any missing.
func (s *Server) between(w http.ResponseWriter, r *http.Request, kind string) (v *broker.Vhost, src string, dest exchange.Destination, ok bool) {
	name := vhostParam(r)
	if !s.vhostAccess(w, r, name) {
		return nil, "", dest, false
	}
	v = s.b.Vhost(name)
	src = exchangeParam(r, "source")
	dest = exchange.Destination{Name: pathValue(r, "dest"), Exchange: kind == "e"}
	if kind == "e" {
		dest.Name = exchangeParam(r, "dest")
	}
	if v.Exchange(src) == nil {
		notFound(w)
		return nil, "", dest, false
	}
	if (dest.Exchange && v.Exchange(dest.Name) == nil) || (!dest.Exchange && v.Queue(dest.Name) == nil) {
		notFound(w)
		return nil, "", dest, false
	}
	return v, src, dest, true
}

func matches(src string, dest exchange.Destination) func(*broker.BindingInfo) bool {
	kind := "queue"
	if dest.Exchange {
		kind = "exchange"
	}
	return func(b *broker.BindingInfo) bool {
		return b.Source == src && b.DestinationType == kind && b.Destination == dest.Name
	}
}

func (s *Server) getBindingsBetween(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, src, dest, ok := s.between(w, r, kind)
		if !ok {
			return
		}
		listBindings(w, r, s.bindingsWhere(v, matches(src, dest)))
	}
}

type bindingBody struct {
	RoutingKey string         `json:"routing_key"`
	Arguments  map[string]any `json:"arguments"`
}

func (s *Server) postBinding(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := vhostParam(r)
		if !s.vhostAccess(w, r, name) {
			return
		}
		var body bindingBody
		args, ok := decodeArgs(w, r, &body, &body.Arguments)
		if !ok {
			return
		}
		v := s.b.Vhost(name)
		dest := exchange.Destination{Name: pathValue(r, "dest"), Exchange: kind == "e"}
		if kind == "e" {
			dest.Name = exchangeParam(r, "dest")
		}
		if !s.bindAccess(w, r, name, exchangeParam(r, "source"), dest) {
			return
		}
		if _, err := v.Apply(broker.Bind{Source: exchangeParam(r, "source"), Destination: dest, Key: body.RoutingKey, Args: args}); err != nil {
			writeAMQPError(w, err)
			return
		}
		// rabbitmq: the Location is relative, the destination and the
		// properties key, each escaped once more.
		w.Header().Set("Location", url.PathEscape(dest.Name)+"/"+url.QueryEscape(propertiesKey(body.RoutingKey, args)))
		w.WriteHeader(http.StatusCreated)
	}
}

// theBinding finds the binding of the path's properties key.
func (s *Server) theBinding(w http.ResponseWriter, r *http.Request, kind string) (*broker.Vhost, *broker.BindingInfo, bool) {
	v, src, dest, ok := s.between(w, r, kind)
	if !ok {
		return nil, nil, false
	}
	props := pathValue(r, "props")
	for _, b := range s.bindingsWhere(v, matches(src, dest)) {
		if propertiesKey(b.Key, b.Args) == props {
			return v, &b, true
		}
	}
	notFound(w)
	return nil, nil, false
}

func (s *Server) getBinding(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, b, ok := s.theBinding(w, r, kind); ok {
			one(w, r, bindingJSON(b))
		}
	}
}

func (s *Server) deleteBinding(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, b, ok := s.theBinding(w, r, kind)
		if !ok {
			return
		}
		dest := exchange.Destination{Name: b.Destination, Exchange: b.DestinationType == "exchange"}
		if !s.bindAccess(w, r, vhostParam(r), b.Source, dest) {
			return
		}
		applied(w, v, broker.Unbind{Source: b.Source, Destination: dest, Key: b.Key, Args: b.Args}, false)
	}
}
