package binding

// Direct matches routing keys exactly: a destination bound with key k
// receives the messages published with routing key k, and only those.
//
// rabbitmq: the key is compared byte for byte; the empty key is an ordinary
// key that matches only the empty routing key.
//
// The zero value is an empty Direct ready to use. Add and Remove must not
// run concurrently with each other or with Match; any number of Match calls
// may run concurrently with each other.
type Direct[D comparable] struct {
	keys map[string]*set[D]
	n    int
}

// Add binds d with key. It reports false if the pair was already there.
func (x *Direct[D]) Add(key string, d D) bool {
	s := x.keys[key]
	if s == nil {
		if x.keys == nil {
			x.keys = make(map[string]*set[D])
		}
		s = new(set[D])
		x.keys[key] = s
	}
	if !s.add(d) {
		return false
	}
	x.n++
	return true
}

// Remove unbinds d from key. It reports false if the pair was not there.
func (x *Direct[D]) Remove(key string, d D) bool {
	s := x.keys[key]
	if s == nil || !s.remove(d) {
		return false
	}
	x.n--
	if s.len() == 0 {
		delete(x.keys, key)
	}
	return true
}

// Len returns the number of (key, destination) pairs.
func (x *Direct[D]) Len() int { return x.n }

// Match appends to out each destination bound with routingKey, once each,
// and returns the extended slice. It allocates nothing beyond growing out.
func (x *Direct[D]) Match(routingKey string, out []D) []D {
	if s := x.keys[routingKey]; s != nil {
		out = append(out, s.items...)
	}
	return out
}
