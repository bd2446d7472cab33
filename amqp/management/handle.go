package management

import (
	"net/http"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/queue"
)

// Steps that many handlers share: reading a body with arguments, finding
// the path's queue under the user's permission, and answering a change
// applied to the core. Each answers the request itself when it fails.

// decodeArgs decodes r's body into body and then reads *args, a field
// of body, as a field table; false once it has answered 400.
func decodeArgs(w http.ResponseWriter, r *http.Request, body any, args *map[string]any) (amqp.Table, bool) {
	if !decodeBody(w, r, body) {
		return nil, false
	}
	t, err := tableFromJSON(*args)
	if err != nil {
		badRequest(w, err.Error())
		return nil, false
	}
	return t, true
}

// accessCheck is s.access or s.accessText: it answers a refusal itself.
type accessCheck func(w http.ResponseWriter, r *http.Request, vhost, kind, name string, a broker.Access) bool

// pathQueue is the path's vhost and its queue {name}, once the user may
// use the vhost and check grants a on the queue; otherwise it has
// answered (404 for a queue that is not there).
func (s *Server) pathQueue(w http.ResponseWriter, r *http.Request, a broker.Access, check accessCheck) (*broker.Vhost, *queue.Queue, bool) {
	v, q, ok := s.vhostQueue(w, r)
	if !ok || !check(w, r, v.Name(), broker.ResourceQueue, q.Name, a) {
		return nil, nil, false
	}
	return v, q, true
}

// vhostQueue is the path's vhost and its queue {name}, once the user may
// use the vhost; otherwise it has answered (404 for a queue that is not
// there).
func (s *Server) vhostQueue(w http.ResponseWriter, r *http.Request) (*broker.Vhost, *queue.Queue, bool) {
	name := vhostParam(r)
	if !s.vhostAccess(w, r, name) {
		return nil, nil, false
	}
	v := s.b.Vhost(name)
	q := v.Queue(pathValue(r, "name"))
	if q == nil {
		notFound(w)
		return nil, nil, false
	}
	return v, q, true
}

// applied applies c in v and answers 204 (201 when created is true), or
// the core's error.
func applied(w http.ResponseWriter, v *broker.Vhost, c broker.Command, created bool) {
	if _, err := v.Apply(c); err != nil {
		writeAMQPError(w, err)
		return
	}
	noContent(w, created)
}

// fromVhosts gathers of(v) over the vhosts a listing covers (vhostsFor);
// false once it has answered.
func fromVhosts[T any](s *Server, w http.ResponseWriter, r *http.Request, of func(*broker.Vhost) []T) ([]T, bool) {
	vs, ok := s.vhostsFor(w, r)
	if !ok {
		return nil, false
	}
	var out []T
	for _, v := range vs {
		out = append(out, of(v)...)
	}
	return out, true
}
