package management

import (
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/queue"
)

// Health checks (rabbitmq /api/health/checks/*): 200 {"status":"ok"},
// or 503 {"status":"failed","reason":...}; and the aliveness test.

func (s *Server) healthFailed(w http.ResponseWriter, reason string, extra map[string]any) {
	m := map[string]any{"status": "failed", "reason": reason}
	for k, v := range extra {
		m[k] = v
	}
	writeJSON(w, http.StatusServiceUnavailable, m)
}

func (s *Server) healthAlarms(w http.ResponseWriter, r *http.Request) {
	raised := s.raisedAlarms() // alarms.go
	if st := s.b.Store(); st != nil && st.Admit() != nil && !slices.Contains(raised, "disk") {
		raised = append(raised, "disk")
	}
	if len(raised) > 0 {
		var alarms []map[string]any
		for _, r := range raised {
			alarms = append(alarms, map[string]any{"node": s.cfg.NodeName, "resource": r})
		}
		s.healthFailed(w, "There are alarms in effect in the cluster", map[string]any{"alarms": alarms})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}

// healthVhosts: every vhost is up (they have no processes of their own
// here that could be down).
func (s *Server) healthVhosts(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}

func (s *Server) healthQuorumCritical(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "reason": "single node cluster"})
}

func listenerPort(l Listener) int {
	if ta, ok := l.Addr.(*net.TCPAddr); ok {
		return ta.Port
	}
	return 0
}

func (s *Server) healthPort(w http.ResponseWriter, r *http.Request) {
	port, err := strconv.Atoi(pathValue(r, "port"))
	if err != nil {
		badRequest(w, "Invalid port")
		return
	}
	var ports []int
	for _, l := range s.listeners() {
		if listenerPort(l) == port {
			writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "port": port})
			return
		}
		ports = append(ports, listenerPort(l))
	}
	s.healthFailed(w, "No active listener", map[string]any{"missing": port, "ports": ports})
}

// normalProtocol maps the names RabbitMQ accepts for a protocol to its
// listener's name (amqp091, amqp0-9-1: amqp).
func normalProtocol(p string) string {
	p = strings.ToLower(p)
	switch p {
	case "amqp091", "amqp0-9-1", "amqp0.9.1", "amqp09", "amqp0_9_1":
		return "amqp"
	case "https":
		return "http"
	}
	return p
}

func (s *Server) healthProtocol(w http.ResponseWriter, r *http.Request) {
	proto := pathValue(r, "proto")
	want := normalProtocol(proto)
	var protos []string
	for _, l := range s.listeners() {
		if l.Protocol == want {
			writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "protocol": want})
			return
		}
		if !slices.Contains(protos, l.Protocol) {
			protos = append(protos, l.Protocol)
		}
	}
	s.healthFailed(w, "No active listener", map[string]any{"missing": proto, "protocols": protos})
}

// aliveness declares the queue aliveness-test in the vhost, publishes a
// message to it and gets it back (rabbitmq: the queue stays).
func (s *Server) aliveness(w http.ResponseWriter, r *http.Request) {
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
	const qname = "aliveness-test"
	// rabbitmq: the test runs as the user: configure and read on the
	// queue, write on the default exchange.
	for _, c := range []struct {
		kind, name string
		a          broker.Access
	}{{broker.ResourceQueue, qname, broker.Configure}, {broker.ResourceExchange, "amq.default", broker.Write}, {broker.ResourceQueue, qname, broker.Read}} {
		if err := s.b.CheckAccess(name, userOf(r).Name, c.kind, c.name, c.a); err != nil {
			text := err.Error()
			if i := strings.Index(text, "ACCESS_REFUSED"); i >= 0 {
				text = text[i:]
			}
			writeError(w, http.StatusUnauthorized, "not_authorised", text)
			return
		}
	}
	res, err := v.Apply(broker.DeclareQueue{Name: qname})
	if err != nil {
		s.healthFailed(w, err.Error(), nil)
		return
	}
	q := res.Queue
	msg := &queue.Message{RoutingKey: qname, Props: emptyProps(), Body: []byte("test_message")}
	if _, _, err := v.Publish(&broker.Publish{Msg: msg, Queues: []*queue.Queue{q}}); err != nil {
		s.healthFailed(w, err.Error(), nil)
		return
	}
	if e, _, _, ok := q.Get(true); !ok || string(e.Msg.Body) != "test_message" {
		s.healthFailed(w, "aliveness-test message not received", nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}
