package management

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/exchange"
)

// Exchanges: /api/exchanges[/{v}[/{x}]] (GET, PUT, DELETE ?if-unused=true);
// publish is in message.go, bindings in bindings.go. The default
// exchange is "amq.default" in paths and "" in answers.

// vhostsFor are the vhosts a listing covers: the path's ({vhost}), after
// its checks, or every vhost u may use. ok is false once it has answered.
func (s *Server) vhostsFor(w http.ResponseWriter, r *http.Request) (vs []*broker.Vhost, ok bool) {
	if r.PathValue("vhost") != "" {
		name := vhostParam(r)
		if !s.vhostAccess(w, r, name) {
			return nil, false
		}
		return []*broker.Vhost{s.b.Vhost(name)}, true
	}
	u := userOf(r)
	vs = slices.DeleteFunc(s.b.Vhosts(), func(v *broker.Vhost) bool { return !u.mayUse(v.Name()) })
	slices.SortFunc(vs, func(a, b *broker.Vhost) int { return cmp.Compare(a.Name(), b.Name()) })
	return vs, true
}

func exchangeJSON(x *broker.ExchangeInfo, smp *samples) map[string]any {
	val := exchangeVec(x)
	rs := smp.exchange(x.Vhost, x.Name)
	m := map[string]any{
		"name":                      x.Name,
		"vhost":                     x.Vhost,
		"type":                      x.Kind,
		"durable":                   x.Durable,
		"auto_delete":               x.AutoDelete,
		"internal":                  x.Internal,
		"arguments":                 tableToJSON(x.Args),
		"user_who_performed_action": "",
		"message_stats":             messageStats(exchangeStats(), &val, &rs.rate),
	}
	if x.Policy != nil && x.Policy.Policy != "" {
		m["policy"] = x.Policy.Policy // rabbitmq: present only when one applies
	}
	return m
}

func (s *Server) getExchanges(w http.ResponseWriter, r *http.Request) {
	xs, ok := fromVhosts(s, w, r, (*broker.Vhost).Exchanges)
	if !ok {
		return
	}
	smp := s.stats.current()
	list(w, r, xs, func(x *broker.ExchangeInfo) string { return x.Name },
		func(x *broker.ExchangeInfo) map[string]any { return exchangeJSON(x, smp) })
}

func (s *Server) getExchange(w http.ResponseWriter, r *http.Request) {
	name := vhostParam(r)
	if !s.vhostAccess(w, r, name) {
		return
	}
	xname := exchangeParam(r, "name")
	for _, x := range s.b.Vhost(name).Exchanges() {
		if x.Name == xname {
			m := exchangeJSON(&x, s.stats.current())
			m["incoming"], m["outgoing"] = []any{}, []any{}
			one(w, r, m)
			return
		}
	}
	notFound(w)
}

type exchangeBody struct {
	Type       *string        `json:"type"`
	Durable    flexBool       `json:"durable"`
	AutoDelete flexBool       `json:"auto_delete"`
	Internal   flexBool       `json:"internal"`
	Arguments  map[string]any `json:"arguments"`
}

func (s *Server) putExchange(w http.ResponseWriter, r *http.Request) {
	name := vhostParam(r)
	if !s.vhostAccess(w, r, name) {
		return
	}
	var body exchangeBody
	if !decodeBody(w, r, &body) {
		return
	}
	xname := pathValue(r, "name")
	if xname == "amq.default" || xname == "" {
		writeError(w, http.StatusUnauthorized, "not_authorised", "Access refused.")
		return
	}
	if !s.access(w, r, name, broker.ResourceExchange, xname, broker.Configure) {
		return
	}
	kindName := "direct" // rabbitmq: the type defaults to direct
	if body.Type != nil {
		kindName = *body.Type
	}
	kind, err := exchange.ParseKind(kindName)
	if err != nil {
		if errors.Is(err, exchange.ErrUnknownKind) {
			badRequest(w, fmt.Sprintf("invalid exchange type '%s'", kindName)) // rabbitmq 3.10's text
			return
		}
		badRequest(w, err.Error())
		return
	}
	args, err := tableFromJSON(body.Arguments)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	v := s.b.Vhost(name)
	exists := v.Exchange(xname) != nil
	applied(w, v, broker.DeclareExchange{Name: xname, Kind: kind, Durable: bool(body.Durable),
		AutoDelete: bool(body.AutoDelete), Internal: bool(body.Internal), Args: args}, !exists)
}

func (s *Server) deleteExchange(w http.ResponseWriter, r *http.Request) {
	name := vhostParam(r)
	if !s.vhostAccess(w, r, name) {
		return
	}
	xname := pathValue(r, "name")
	if xname == "amq.default" {
		writeError(w, http.StatusUnauthorized, "not_authorised", "Access refused.")
		return
	}
	v := s.b.Vhost(name)
	if v.Exchange(xname) == nil {
		notFound(w)
		return
	}
	if !s.access(w, r, name, broker.ResourceExchange, xname, broker.Configure) {
		return
	}
	applied(w, v, broker.DeleteExchange{Name: xname, IfUnused: queryBool(r, "if-unused")}, false)
}
