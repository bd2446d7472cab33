package management

import (
	"net/http"
	"strings"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/exchange"
)

// Object operations check the user's permissions in the vhost as AMQP
// does (broker.CheckAccess; rabbitmq rabbit_mgmt_util runs them as the
// user): declaring or deleting a queue or exchange needs configure on
// it, purging and getting read on the queue, publishing write on the
// exchange, binding write on the destination and read on the source.
// Reads of listings need only the vhost.

// access reports whether the request's user may access the queue or
// exchange as a says; if not, it answers RabbitMQ's 401 "Access refused.".
func (s *Server) access(w http.ResponseWriter, r *http.Request, vhost, kind, name string, a broker.Access) bool {
	if err := s.b.CheckAccess(vhost, userOf(r).Name, kind, name, a); err != nil {
		writeError(w, http.StatusUnauthorized, "not_authorised", "Access refused.")
		return false
	}
	return true
}

// accessText is like access, with the refusal's text as RabbitMQ answers
// it for /get (401 "ACCESS_REFUSED - ...") and /publish (400 "403
// ACCESS_REFUSED - ...").
func (s *Server) accessText(w http.ResponseWriter, r *http.Request, vhost, kind, name string, a broker.Access) bool {
	err := s.b.CheckAccess(vhost, userOf(r).Name, kind, name, a)
	if err == nil {
		return true
	}
	text := err.Error()
	if i := strings.Index(text, "ACCESS_REFUSED"); i >= 0 {
		text = text[i:]
	}
	if kind == broker.ResourceExchange {
		badRequest(w, "403 "+text)
	} else {
		writeError(w, http.StatusUnauthorized, "not_authorised", text)
	}
	return false
}

// bindAccess checks a binding's (or unbinding's) permissions: write on
// the destination, read on the source (spec 0-9-1 queue.bind, as RabbitMQ
// checks it).
func (s *Server) bindAccess(w http.ResponseWriter, r *http.Request, vhost, source string, dest exchange.Destination) bool {
	kind := broker.ResourceQueue
	if dest.Exchange {
		kind = broker.ResourceExchange
	}
	return s.access(w, r, vhost, kind, dest.Name, broker.Write) &&
		s.access(w, r, vhost, broker.ResourceExchange, source, broker.Read)
}
