package exchange

import (
	"cmp"
	"slices"

	"github.com/warrenmq/warren/binding"
)

// Destination is where a binding leads: a queue, or for an
// exchange-to-exchange binding, an exchange. Names are resolved by the
// caller.
type Destination struct {
	Exchange bool
	Name     string
}

// String returns "queue 'name'" or "exchange 'name'", as RabbitMQ's error
// texts name resources.
func (d Destination) String() string {
	if d.Exchange {
		return "exchange '" + d.Name + "'"
	}
	return "queue '" + d.Name + "'"
}

func compareDestinations(a, b Destination) int {
	if a.Exchange != b.Exchange {
		if a.Exchange {
			return 1
		}
		return -1
	}
	return cmp.Compare(a.Name, b.Name)
}

// Binding is one binding of an exchange (its Source) to a destination.
//
// rabbitmq: two bindings that differ only in Args are different bindings;
// Args are compared deeply and with their field types.
type Binding struct {
	Source      string
	Destination Destination
	Key         string
	Args        map[string]any
}

// Exchange is an exchange and its bindings.
//
// The exported fields describe the exchange; set them before the first
// Bind and do not change Kind afterwards (nor, for a Delayed exchange, its
// x-delayed-type argument). The zero value of the unexported
// routing state is empty and ready, so an Exchange is made with a
// composite literal:
//
//	x := &exchange.Exchange{Name: "orders", Kind: exchange.Topic, Durable: true}
//
// See the package documentation for the concurrency contract.
type Exchange struct {
	Name       string
	Kind       Kind
	Durable    bool
	AutoDelete bool
	Internal   bool
	Args       map[string]any

	Stats Stats // message counters (stats.go), kept by the vhost's routing

	r routes
}

// routes is the binding state of an exchange: every binding, indexed by
// destination, and the matcher of the exchange's kind.
type routes struct {
	byDest map[Destination]map[ident]Binding
	n      int

	// refs counts the bindings that share a (key, destination) pair but
	// differ in arguments: the matcher holds the pair once, while the
	// count is above zero. Fanout counts under the empty key.
	refs   map[route]int
	direct binding.Direct[Destination] // direct, and fanout under key ""
	topic  binding.Topic[Destination]

	// headers bindings, grouped by destination so that Route appends a
	// destination once without deduplicating.
	headers []headerRoute
	hidx    map[Destination]int // index in headers
}

// ident tells apart the bindings of one exchange to one destination.
type ident struct {
	key  string
	args string // argsKey(Args)
}

type route struct {
	key  string
	dest Destination
}

type headerRoute struct {
	dest Destination
	args []headerArgs
}

type headerArgs struct {
	id    ident
	match binding.Headers
}

// ValidateBinding reports whether b is acceptable to this exchange's kind.
// rabbitmq: only headers exchanges check bindings (the x-match argument);
// the error wraps binding.ErrInvalidXMatch and its text is RabbitMQ's 406
// PRECONDITION_FAILED reply text.
func (x *Exchange) ValidateBinding(b Binding) error {
	if x.RoutingKind() == Headers {
		return binding.ValidateHeaders(b.Args)
	}
	return nil
}

// Bind adds b and reports false if an identical binding (same destination,
// key and arguments) exists. b.Source is set to the exchange's name. The
// exchange keeps b.Args: the caller must not modify the map afterwards.
// Bind does not validate: call ValidateBinding first.
func (x *Exchange) Bind(b Binding) bool {
	b.Source = x.Name
	id := ident{key: b.Key, args: argsKey(b.Args)}
	r := &x.r
	m := r.byDest[b.Destination]
	if _, dup := m[id]; dup {
		return false
	}
	if m == nil {
		if r.byDest == nil {
			r.byDest = make(map[Destination]map[ident]Binding)
		}
		m = make(map[ident]Binding, 1)
		r.byDest[b.Destination] = m
	}
	m[id] = b
	r.n++
	x.addRoute(b, id)
	return true
}

// Unbind removes the binding identical to b (same destination, key and
// arguments; b.Source is not looked at) and reports whether there was one.
func (x *Exchange) Unbind(b Binding) bool {
	id := ident{key: b.Key, args: argsKey(b.Args)}
	m := x.r.byDest[b.Destination]
	if _, ok := m[id]; !ok {
		return false
	}
	x.remove(b.Destination, id, m)
	return true
}

// RemoveDestination drops every binding to d, as when the queue or
// exchange d is deleted, and returns how many there were.
func (x *Exchange) RemoveDestination(d Destination) int {
	m := x.r.byDest[d]
	n := len(m)
	for id := range m {
		x.remove(d, id, m)
	}
	return n
}

func (x *Exchange) remove(d Destination, id ident, m map[ident]Binding) {
	r := &x.r
	delete(m, id)
	if len(m) == 0 {
		delete(r.byDest, d)
	}
	r.n--
	x.dropRoute(d, id)
}

// HasBindings reports whether the exchange has at least one binding as a
// source; an auto-delete exchange is deleted when its last one goes.
func (x *Exchange) HasBindings() bool { return x.r.n > 0 }

// Bindings returns a copy of the exchange's bindings, ordered by
// destination (queues first), key and arguments. The Args maps are shared
// with the exchange: treat them as read-only.
func (x *Exchange) Bindings() []Binding {
	type keyed struct {
		id ident
		b  Binding
	}
	all := make([]keyed, 0, x.r.n)
	for _, m := range x.r.byDest {
		for id, b := range m {
			all = append(all, keyed{id, b})
		}
	}
	slices.SortFunc(all, func(a, b keyed) int {
		return cmp.Or(
			compareDestinations(a.b.Destination, b.b.Destination),
			cmp.Compare(a.id.key, b.id.key),
			cmp.Compare(a.id.args, b.id.args),
		)
	})
	out := make([]Binding, len(all))
	for i, k := range all {
		out[i] = k.b
	}
	return out
}

// Route appends to out the destinations a message with routingKey and
// headers goes to, each once, and returns the extended slice. Destinations
// already in out are not looked at: the caller, which follows
// exchange-to-exchange bindings, deduplicates across exchanges.
//
// Route only reads the exchange and allocates nothing beyond growing out.
//
// rabbitmq: fanout ignores the key and headers; direct matches the key
// exactly; topic matches the key against patterns; headers matches the
// headers against each binding's arguments and ignores the key.
func (x *Exchange) Route(routingKey string, headers map[string]any, out []Destination) []Destination {
	r := &x.r
	switch x.RoutingKind() {
	case Fanout:
		return r.direct.Match("", out)
	case Direct:
		return r.direct.Match(routingKey, out)
	case Topic:
		return r.topic.Match(routingKey, out)
	case Headers:
		for i := range r.headers {
			h := &r.headers[i]
			for j := range h.args {
				if h.args[j].match.Match(headers) {
					out = append(out, h.dest)
					break
				}
			}
		}
	}
	return out
}

// addRoute puts a new binding into the matcher of the exchange's kind.
func (x *Exchange) addRoute(b Binding, id ident) {
	r := &x.r
	k := x.RoutingKind()
	switch k {
	case Fanout, Direct, Topic:
		rt := route{key: b.Key, dest: b.Destination}
		if k == Fanout {
			rt.key = ""
		}
		if r.refs == nil {
			r.refs = make(map[route]int)
		}
		r.refs[rt]++
		if r.refs[rt] > 1 {
			return
		}
		if k == Topic {
			r.topic.Add(rt.key, rt.dest)
		} else {
			r.direct.Add(rt.key, rt.dest)
		}
	case Headers:
		i, ok := r.hidx[b.Destination]
		if !ok {
			if r.hidx == nil {
				r.hidx = make(map[Destination]int)
			}
			i = len(r.headers)
			r.hidx[b.Destination] = i
			r.headers = append(r.headers, headerRoute{dest: b.Destination})
		}
		h := &r.headers[i]
		h.args = append(h.args, headerArgs{id: id, match: binding.CompileHeaders(b.Args)})
	}
}

// dropRoute takes a removed binding out of the matcher.
func (x *Exchange) dropRoute(d Destination, id ident) {
	r := &x.r
	k := x.RoutingKind()
	switch k {
	case Fanout, Direct, Topic:
		rt := route{key: id.key, dest: d}
		if k == Fanout {
			rt.key = ""
		}
		r.refs[rt]--
		if r.refs[rt] > 0 {
			return
		}
		delete(r.refs, rt)
		if k == Topic {
			r.topic.Remove(rt.key, rt.dest)
		} else {
			r.direct.Remove(rt.key, rt.dest)
		}
	case Headers:
		i, ok := r.hidx[d]
		if !ok {
			return
		}
		h := &r.headers[i]
		h.args = slices.DeleteFunc(h.args, func(a headerArgs) bool { return a.id == id })
		if len(h.args) > 0 {
			return
		}
		// Move the last destination into the hole.
		last := len(r.headers) - 1
		if i != last {
			r.headers[i] = r.headers[last]
			r.hidx[r.headers[i].dest] = i
		}
		r.headers[last] = headerRoute{}
		r.headers = r.headers[:last]
		delete(r.hidx, d)
	}
}
