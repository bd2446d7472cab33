package management

import (
	"context"
	"net"
	"net/http"
	"slices"

	"go.uber.org/zap"
)

// Authentication and the tags that gate endpoints, as RabbitMQ's
// management plugin gates them (rabbitmq docs, "Management Plugin",
// permissions):
//
//	(none)         no access to the API: 401 "Not management user"
//	management     the vhosts the user may use: their exchanges, queues,
//	               bindings, consumers; the user's own connections and
//	               channels; the overview restricted to those vhosts
//	policymaker    management, and policies and parameters (not here yet)
//	monitoring     management, and every connection and channel, the
//	               nodes, every vhost's figures
//	administrator  everything: vhosts, users, permissions; closing any
//	               connection

// Tag levels, each including the ones before it for the gates here.
type level int

const (
	levelManagement level = iota + 1
	levelPolicymaker
	levelMonitoring
	levelAdministrator
)

// refusal is RabbitMQ's reason for a user below the gate l.
func refusal(l level) string {
	switch l {
	case levelAdministrator:
		return "Not administrator user"
	case levelMonitoring:
		return "Not monitor user"
	case levelPolicymaker:
		return "Not policymaker user"
	}
	return "Not management user"
}

// levelOf is the highest level u's tags give (0: none).
func levelOf(u *User) level {
	var l level
	for _, t := range u.Tags {
		switch t {
		case "administrator":
			l = max(l, levelAdministrator)
		case "monitoring":
			l = max(l, levelMonitoring)
		case "policymaker":
			l = max(l, levelPolicymaker)
		case "management":
			l = max(l, levelManagement)
		}
	}
	return l
}

// mayUse reports whether u may see and change vhost's objects.
func (u *User) mayUse(vhost string) bool {
	return u.Vhosts == nil || slices.Contains(u.Vhosts, vhost)
}

// monitors reports whether u sees every vhost and connection.
func (u *User) monitors() bool { return levelOf(u) >= levelMonitoring }

type userKey struct{}

func userOf(r *http.Request) *User { return r.Context().Value(userKey{}).(*User) }

// authed wraps h: HTTP basic authentication, then the tag gate need.
func (s *Server) authed(need level, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, pass, ok := r.BasicAuth()
		if !ok {
			// rabbitmq: no credentials, an empty 401 with the challenge.
			w.Header().Set("WWW-Authenticate", `Basic realm="RabbitMQ Management"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		u, err := s.cfg.Auth.Authenticate(name, pass, remoteAddr(r))
		if err != nil {
			s.log.Info("management: login refused", zap.String("user", name), zap.String("remote", r.RemoteAddr), zap.Error(err))
			w.Header().Set("WWW-Authenticate", `Basic realm="RabbitMQ Management"`)
			writeError(w, http.StatusUnauthorized, "not_authorized", "Login failed")
			return
		}
		if u.Name == "" {
			u.Name = name
		}
		l := levelOf(&u)
		if l == 0 {
			w.Header().Set("WWW-Authenticate", `Basic realm="RabbitMQ Management"`)
			writeError(w, http.StatusUnauthorized, "not_authorised", "Not management user")
			return
		}
		if l < need {
			w.Header().Set("WWW-Authenticate", `Basic realm="RabbitMQ Management"`)
			writeError(w, http.StatusUnauthorized, "not_authorised", refusal(need))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), userKey{}, &u)))
	}
}

// vhostAccess answers 401 as RabbitMQ does when u may not use vhost, and
// 404 when it does not exist; it reports whether to go on.
func (s *Server) vhostAccess(w http.ResponseWriter, r *http.Request, vhost string) bool {
	if s.b.Vhost(vhost) == nil {
		if r.Method == http.MethodGet {
			notFound(w) // rabbitmq: a read of a missing vhost's object
		} else {
			writeError(w, http.StatusNotFound, "not_found", "vhost_not_found")
		}
		return false
	}
	if !userOf(r).mayUse(vhost) {
		writeError(w, http.StatusUnauthorized, "not_authorised", vhostRefused)
		return false
	}
	return true
}

// vhostRefused is RabbitMQ's reason for a vhost the user has no
// permissions in.
const vhostRefused = "User not authorised to access virtual host"

func remoteAddr(r *http.Request) net.Addr {
	a, err := net.ResolveTCPAddr("tcp", r.RemoteAddr)
	if err != nil {
		return &net.TCPAddr{}
	}
	return a
}
