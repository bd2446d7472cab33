package management

import (
	"fmt"
	"net/http"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/amqp/server"
)

// Vhosts: /api/vhosts[/{v}] (GET; PUT and DELETE for administrators,
// through broker.Apply(AddVhost/DeleteVhost)).

// vhostOctets sums the bytes of each vhost's connections, read live.
func (s *Server) vhostOctets() map[string]*vec {
	out := map[string]*vec{}
	for _, c := range s.reg.Connections() {
		v := out[c.Vhost]
		if v == nil {
			v = &vec{}
			out[c.Vhost] = v
		}
		v[statRecvOct] += float64(c.BytesIn)
		v[statSendOct] += float64(c.BytesOut)
	}
	return out
}

func (s *Server) vhostJSON(v *broker.VhostInfo, smp *samples, octets map[string]*vec) map[string]any {
	val := vhostVec(v)
	if o := octets[v.Name]; o != nil {
		val[statRecvOct], val[statSendOct] = o[statRecvOct], o[statSendOct]
	}
	rs := smp.vhost(v.Name)
	m := map[string]any{
		"name":               v.Name,
		"description":        "",
		"tags":               []string{},
		"metadata":           map[string]any{"description": "", "tags": []string{}},
		"default_queue_type": "classic",
		"tracing":            false,
		"cluster_state":      map[string]any{s.cfg.NodeName: "running"},
		"message_stats":      messageStats(vhostStats(), &val, &rs.rate),
	}
	putGauges(m, &val, &rs.rate)
	putOctets(m, &val, &rs.rate)
	return m
}

func (s *Server) getVhosts(w http.ResponseWriter, r *http.Request) {
	vs := s.visibleVhosts(userOf(r))
	smp, octets := s.stats.current(), s.vhostOctets()
	list(w, r, vs, func(v *broker.VhostInfo) string { return v.Name },
		func(v *broker.VhostInfo) map[string]any { return s.vhostJSON(v, smp, octets) })
}

func (s *Server) getVhost(w http.ResponseWriter, r *http.Request) {
	name := vhostParam(r)
	v := s.b.Vhost(name)
	if v == nil {
		notFound(w)
		return
	}
	if !userOf(r).mayUse(name) {
		writeError(w, http.StatusUnauthorized, "not_authorised", "Access refused.")
		return
	}
	info := v.Info()
	one(w, r, s.vhostJSON(&info, s.stats.current(), s.vhostOctets()))
}

// vhostBody is PUT /api/vhosts/{v}'s body. Description, tags and the
// default queue type are accepted and not kept yet (vhost metadata
// arrives with definitions, issue 15).
type vhostBody struct {
	Description      string   `json:"description"`
	Tags             any      `json:"tags"`
	DefaultQueueType string   `json:"default_queue_type"`
	Tracing          flexBool `json:"tracing"`
}

func (s *Server) putVhost(w http.ResponseWriter, r *http.Request) {
	name := vhostParam(r)
	var body vhostBody
	if !decodeBody(w, r, &body) {
		return
	}
	if name == "" {
		badRequest(w, "vhost name must not be empty")
		return
	}
	exists := s.b.Vhost(name) != nil
	if _, err := s.b.Apply(name, broker.AddVhost{Name: name}); err != nil {
		writeAMQPError(w, err)
		return
	}
	if !exists {
		// rabbitmq: the user who creates a vhost gets full permissions on it.
		p := broker.Permission{Vhost: name, User: userOf(r).Name, Configure: ".*", Write: ".*", Read: ".*"}
		if _, err := s.b.Apply(name, broker.SetPermissions{Permission: p}); err != nil {
			writeAMQPError(w, err)
			return
		}
	}
	noContent(w, !exists)
}

func (s *Server) deleteVhost(w http.ResponseWriter, r *http.Request) {
	name := vhostParam(r)
	if s.b.Vhost(name) == nil {
		notFound(w)
		return
	}
	if _, err := s.b.Apply(name, broker.DeleteVhost{Name: name}); err != nil {
		writeAMQPError(w, err)
		return
	}
	// rabbitmq: the vhost's connections are closed with it.
	for _, c := range s.reg.Connections() {
		if c.Vhost == name {
			_ = s.reg.CloseConnection(c.ID, fmt.Sprintf("vhost '%s' is deleted", name))
		}
	}
	for _, c := range s.streams.Connections() {
		if c.Vhost == name {
			_ = s.streams.CloseConnection(c.Name, fmt.Sprintf("vhost '%s' is deleted", name))
		}
	}
	noContent(w, false)
}

// seesConnection reports whether u sees a connection of user on vhost:
// a monitor sees all, others their own.
func (s *Server) seesConnection(u *User, user, vhost string) bool {
	return u.monitors() || (user == u.Name && u.mayUse(vhost))
}

// connectionsOf lists the connections u sees, of vhost ("" all).
func (s *Server) connectionsOf(u *User, vhost string) []server.ConnectionInfo {
	var out []server.ConnectionInfo
	for _, c := range s.reg.Connections() {
		if c.State == "starting" || !s.seesConnection(u, c.User, c.Vhost) {
			continue
		}
		if vhost == "" || c.Vhost == vhost {
			out = append(out, c)
		}
	}
	return out
}
