package management

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/warrenmq/warren/amqp/broker"
)

// Permissions: /api/permissions[/{vhost}/{user}], /api/vhosts/{v}/permissions,
// and the same for topic permissions (/api/topic-permissions...).
// Administrators only; changes are the core's SetPermissions,
// ClearPermissions, SetTopicPermissions, ClearTopicPermissions.

// keyMissing is RabbitMQ's 400 reason for required body keys that are
// absent: "[{key_missing,write},{key_missing,read}]".
func keyMissing(keys ...string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = "{key_missing," + k + "}"
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// required answers 400 naming the keys of want that body lacks, and
// reports whether all are there.
func required(w http.ResponseWriter, body map[string]any, want ...string) bool {
	var missing []string
	for _, k := range want {
		if _, ok := body[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		badRequest(w, keyMissing(missing...))
		return false
	}
	return true
}

// stringField is body[k] as a string (JSON numbers and the like are
// refused).
func stringField(w http.ResponseWriter, body map[string]any, k string) (string, bool) {
	v, ok := body[k].(string)
	if !ok {
		badRequest(w, fmt.Sprintf("%s must be a string", k))
	}
	return v, ok
}

func (s *Server) getPermissions(w http.ResponseWriter, r *http.Request) {
	vhost := vhostParam(r)
	if vhost != "" && s.b.Vhost(vhost) == nil {
		notFound(w)
		return
	}
	out := []broker.Permission{}
	for _, p := range s.b.Permissions() {
		if vhost == "" || p.Vhost == vhost {
			out = append(out, p)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getPermission(w http.ResponseWriter, r *http.Request) {
	p, ok := s.b.Permission(vhostParam(r), pathValue(r, "user"))
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) putPermission(w http.ResponseWriter, r *http.Request) {
	vhost, user := vhostParam(r), pathValue(r, "user")
	var body map[string]any
	if !decodeBody(w, r, &body) || !required(w, body, "configure", "write", "read") {
		return
	}
	p := broker.Permission{Vhost: vhost, User: user}
	var ok bool
	for _, f := range []struct {
		k string
		p *string
	}{{"configure", &p.Configure}, {"write", &p.Write}, {"read", &p.Read}} {
		if *f.p, ok = stringField(w, body, f.k); !ok {
			return
		}
	}
	if !s.vhostAndUser(w, vhost, user) {
		return
	}
	_, existed := s.b.Permission(vhost, user)
	if _, err := s.b.Apply(vhost, broker.SetPermissions{Permission: p}); err != nil {
		writeAMQPError(w, err)
		return
	}
	noContent(w, !existed)
}

// vhostAndUser answers RabbitMQ's 400 when the vhost or the user of a
// permission does not exist.
func (s *Server) vhostAndUser(w http.ResponseWriter, vhost, user string) bool {
	_, ok := s.b.User(user)
	if !ok || s.b.Vhost(vhost) == nil {
		badRequest(w, "vhost_or_user_not_found")
		return false
	}
	return true
}

func (s *Server) deletePermission(w http.ResponseWriter, r *http.Request) {
	vhost, user := vhostParam(r), pathValue(r, "user")
	if _, ok := s.b.Permission(vhost, user); !ok {
		notFound(w)
		return
	}
	if _, err := s.b.Apply(vhost, broker.ClearPermissions{Vhost: vhost, User: user}); err != nil {
		writeAMQPError(w, err)
		return
	}
	noContent(w, false)
}

// topicPermissionsOf lists the topic permissions of vhost and user (""
// for any).
func (s *Server) topicPermissionsOf(vhost, user string) []broker.TopicPermission {
	out := []broker.TopicPermission{}
	for _, p := range s.b.TopicPermissions() {
		if (vhost == "" || p.Vhost == vhost) && (user == "" || p.User == user) {
			out = append(out, p)
		}
	}
	return out
}

func (s *Server) getTopicPermissions(w http.ResponseWriter, r *http.Request) {
	vhost := vhostParam(r)
	if vhost != "" && s.b.Vhost(vhost) == nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, s.topicPermissionsOf(vhost, ""))
}

func (s *Server) getTopicPermission(w http.ResponseWriter, r *http.Request) {
	ps := s.topicPermissionsOf(vhostParam(r), pathValue(r, "user"))
	if len(ps) == 0 {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, ps)
}

func (s *Server) putTopicPermission(w http.ResponseWriter, r *http.Request) {
	vhost, user := vhostParam(r), pathValue(r, "user")
	var body map[string]any
	if !decodeBody(w, r, &body) || !required(w, body, "exchange", "write", "read") {
		return
	}
	p := broker.TopicPermission{Vhost: vhost, User: user}
	var ok bool
	for _, f := range []struct {
		k string
		p *string
	}{{"exchange", &p.Exchange}, {"write", &p.Write}, {"read", &p.Read}} {
		if *f.p, ok = stringField(w, body, f.k); !ok {
			return
		}
	}
	if !s.vhostAndUser(w, vhost, user) {
		return
	}
	existed := false
	for _, q := range s.topicPermissionsOf(vhost, user) {
		existed = existed || q.Exchange == p.Exchange
	}
	if _, err := s.b.Apply(vhost, broker.SetTopicPermissions{Permission: p}); err != nil {
		writeAMQPError(w, err)
		return
	}
	noContent(w, !existed)
}

// deleteTopicPermission clears a user's topic permissions in a vhost (on
// every exchange; rabbitmq: ?exchange= is not read here either).
func (s *Server) deleteTopicPermission(w http.ResponseWriter, r *http.Request) {
	vhost, user := vhostParam(r), pathValue(r, "user")
	if len(s.topicPermissionsOf(vhost, user)) == 0 {
		notFound(w)
		return
	}
	if _, err := s.b.Apply(vhost, broker.ClearTopicPermissions{Vhost: vhost, User: user}); err != nil {
		writeAMQPError(w, err)
		return
	}
	noContent(w, false)
}
