package management

import (
	"net/http"
	"slices"

	"github.com/warrenmq/warren/amqp/broker"
)

// Policies: /api/policies[/{vhost}[/{name}]] (policymakers, in the vhosts
// they may use) and /api/operator-policies[/{vhost}[/{name}]]
// (administrators), GET, PUT {"pattern","definition","priority","apply-to"},
// DELETE; changes are the core's SetPolicy and ClearPolicy, which apply
// at once to the vhost's queues and exchanges.

// objectRefused is RabbitMQ's 401 for a user whose tags or vhosts do not
// let it at a policy, parameter or global parameter.
const objectRefused = "User not authorised to access object"

// isPolicymaker: the policymaker or administrator tag (rabbitmq:
// monitoring does not include policymaker).
func isPolicymaker(u *User) bool {
	return slices.Contains(u.Tags, "policymaker") || slices.Contains(u.Tags, "administrator")
}

func isAdmin(u *User) bool { return slices.Contains(u.Tags, "administrator") }

// gate wraps h: the user must pass ok, else RabbitMQ's 401 with
// objectRefused.
func gate(ok func(*User) bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !ok(userOf(r)) {
			w.Header().Set("WWW-Authenticate", `Basic realm="RabbitMQ Management"`)
			writeError(w, http.StatusUnauthorized, "not_authorised", objectRefused)
			return
		}
		h(w, r)
	}
}

// defVhost checks the path's vhost for the definition endpoints: 404 when
// it is missing (an object's read: Object Not Found; a change:
// vhost_not_found), 401 when the user may not use it (rabbitmq: "User not
// authorised to access virtual host" for a read, objectRefused for a
// change). It reports whether to go on.
func (s *Server) defVhost(w http.ResponseWriter, r *http.Request, vhost string) bool {
	read := r.Method == http.MethodGet
	if s.b.Vhost(vhost) == nil {
		if read {
			notFound(w)
		} else {
			writeError(w, http.StatusNotFound, "not_found", "vhost_not_found")
		}
		return false
	}
	if !userOf(r).mayUse(vhost) {
		reason := objectRefused
		if read {
			reason = "User not authorised to access virtual host"
		}
		writeError(w, http.StatusUnauthorized, "not_authorised", reason)
		return false
	}
	return true
}

// toPolicyJSON is p as RabbitMQ 3.10 shows it: the core's record, with
// {} for no definition.
func toPolicyJSON(p broker.Policy) broker.PolicyJSON {
	if p.Definition == nil {
		p.Definition = map[string]any{}
	}
	return broker.PolicyRecord(p)
}

// vhostsOrOne is the vhosts a listing covers: the path's {vhost} (after
// vhostAccess) or every vhost u may use.
func (s *Server) vhostsOrOne(w http.ResponseWriter, r *http.Request) ([]*broker.Vhost, bool) {
	if vh := vhostParam(r); vh != "" {
		if !s.defVhost(w, r, vh) {
			return nil, false
		}
		return []*broker.Vhost{s.b.Vhost(vh)}, true
	}
	var out []*broker.Vhost
	for _, vi := range s.visibleVhosts(userOf(r)) {
		if v := s.b.Vhost(vi.Name); v != nil {
			out = append(out, v)
		}
	}
	return out, true
}

func (s *Server) getPolicies(operator bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		vs, ok := s.vhostsOrOne(w, r)
		if !ok {
			return
		}
		out := []broker.PolicyJSON{}
		for _, v := range vs {
			for _, p := range v.Policies(operator) {
				out = append(out, toPolicyJSON(p))
			}
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// findPolicy is the vhost's policy called name.
func findPolicy(v *broker.Vhost, name string, operator bool) (broker.Policy, bool) {
	for _, p := range v.Policies(operator) {
		if p.Name == name {
			return p, true
		}
	}
	return broker.Policy{}, false
}

func (s *Server) getPolicy(operator bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		vh := vhostParam(r)
		if !s.defVhost(w, r, vh) {
			return
		}
		p, ok := findPolicy(s.b.Vhost(vh), pathValue(r, "name"), operator)
		if !ok {
			notFound(w)
			return
		}
		one(w, r, toMap(toPolicyJSON(p)))
	}
}

func (s *Server) putPolicy(operator bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		vh, name := vhostParam(r), pathValue(r, "name")
		var body map[string]any
		if !decodeBody(w, r, &body) {
			return
		}
		if !s.defVhost(w, r, vh) || !required(w, body, "pattern", "definition") {
			return
		}
		pattern, ok := stringField(w, body, "pattern")
		if !ok {
			return
		}
		def, ok := body["definition"].(map[string]any)
		if !ok {
			badRequest(w, "Validation failed\n\ndefinition must be a dictionary\n")
			return
		}
		prio, err := broker.ParsePriority(body["priority"])
		if err != nil {
			writeAMQPError(w, err)
			return
		}
		applyTo := "all"
		if a, ok := body["apply-to"]; ok && a != nil {
			if applyTo, ok = a.(string); !ok {
				badRequest(w, "Validation failed\n\napply-to must be a string\n")
				return
			}
		}
		v := s.b.Vhost(vh)
		_, existed := findPolicy(v, name, operator)
		p := broker.Policy{Vhost: vh, Name: name, Pattern: pattern, ApplyTo: applyTo, Priority: prio,
			Definition: broker.NormalizeJSON(def).(map[string]any), Operator: operator}
		applied(w, v, broker.SetPolicy{Policy: p}, !existed)
	}
}

func (s *Server) deletePolicy(operator bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		vh, name := vhostParam(r), pathValue(r, "name")
		if !s.defVhost(w, r, vh) {
			return
		}
		v := s.b.Vhost(vh)
		if _, ok := findPolicy(v, name, operator); !ok {
			notFound(w)
			return
		}
		applied(w, v, broker.ClearPolicy{Name: name, Operator: operator}, false)
	}
}
