package management

import (
	"net/http"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
)

// Queues: /api/queues[/{v}[/{q}]] (GET, PUT, DELETE ?if-empty ?if-unused),
// /contents (DELETE: purge), /bindings; /get is in message.go.

func queueType(q *broker.QueueInfo) string {
	if t, ok := q.Args["x-queue-type"].(string); ok && t == "quorum" {
		return "quorum"
	}
	return "classic"
}

func (s *Server) queueJSON(q *broker.QueueInfo, smp *samples) map[string]any {
	val := queueVec(q)
	rs := smp.queue(q.Vhost, q.Name)
	policy := map[string]any{}
	for k, v := range q.EffectivePolicy {
		policy[k] = valueToJSON(v)
	}
	m := map[string]any{
		"name":                         q.Name,
		"vhost":                        q.Vhost,
		"durable":                      q.Durable,
		"auto_delete":                  q.AutoDelete,
		"exclusive":                    q.Exclusive,
		"arguments":                    tableToJSON(q.Args),
		"node":                         s.cfg.NodeName,
		"type":                         queueType(q),
		"state":                        q.State,
		"consumers":                    q.Consumers,
		"policy":                       nil,
		"operator_policy":              nil,
		"effective_policy_definition":  policy,
		"exclusive_consumer_tag":       nil,
		"single_active_consumer_tag":   nil,
		"head_message_timestamp":       nil,
		"messages_ram":                 int64(q.Ready-q.Paged) + q.Unacked,
		"messages_ready_ram":           q.Ready - q.Paged,
		"messages_unacknowledged_ram":  q.Unacked,
		"messages_paged_out":           q.Paged,
		"message_bytes":                q.ReadyBytes + q.UnackedBytes,
		"message_bytes_ready":          q.ReadyBytes,
		"message_bytes_unacknowledged": q.UnackedBytes,
		"message_stats":                messageStats(queueStats(), &val, &rs.rate),
	}
	putGauges(m, &val, &rs.rate)
	return m
}

func (s *Server) getQueues(w http.ResponseWriter, r *http.Request) {
	vs, ok := s.vhostsFor(w, r)
	if !ok {
		return
	}
	var qs []broker.QueueInfo
	for _, v := range vs {
		qs = append(qs, v.Queues()...)
	}
	smp := s.stats.current()
	list(w, r, qs, func(q *broker.QueueInfo) string { return q.Name },
		func(q *broker.QueueInfo) map[string]any { return s.queueJSON(q, smp) })
}

func (s *Server) getQueue(w http.ResponseWriter, r *http.Request) {
	name := vhostParam(r)
	if !s.vhostAccess(w, r, name) {
		return
	}
	v := s.b.Vhost(name)
	q, ok := v.QueueInfo(pathValue(r, "name"))
	if !ok {
		notFound(w)
		return
	}
	m := s.queueJSON(&q, s.stats.current())
	details := []map[string]any{}
	conns := s.connsByID()
	for _, c := range v.Consumers() {
		if c.Queue == q.Name {
			details = append(details, s.consumerJSON(&c, conns))
		}
	}
	m["consumer_details"], m["deliveries"], m["incoming"] = details, []any{}, []any{}
	one(w, r, m)
}

type queueBody struct {
	Durable    bool           `json:"durable"`
	AutoDelete bool           `json:"auto_delete"`
	Arguments  map[string]any `json:"arguments"`
	Node       string         `json:"node"`
}

func (s *Server) putQueue(w http.ResponseWriter, r *http.Request) {
	name := vhostParam(r)
	if !s.vhostAccess(w, r, name) {
		return
	}
	var body queueBody
	if !decodeBody(w, r, &body) {
		return
	}
	args, err := tableFromJSON(body.Arguments)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	v := s.b.Vhost(name)
	qname := pathValue(r, "name")
	exists := v.Queue(qname) != nil
	if !exists && broker.ReservedName(qname) {
		// rabbitmq: a new queue may not use the amq. prefix (the AMQP
		// front end refuses it before the core, as here).
		writeAMQPError(w, amqp.Errorf(amqp.AccessRefused, "queue name '%s' contains reserved prefix 'amq.*'", qname))
		return
	}
	if _, err := v.Apply(broker.DeclareQueue{Name: qname, Durable: body.Durable, AutoDelete: body.AutoDelete, Args: args}); err != nil {
		writeAMQPError(w, err)
		return
	}
	noContent(w, !exists)
}

func (s *Server) deleteQueue(w http.ResponseWriter, r *http.Request) {
	name := vhostParam(r)
	if !s.vhostAccess(w, r, name) {
		return
	}
	v := s.b.Vhost(name)
	q := v.Queue(pathValue(r, "name"))
	if q == nil {
		notFound(w)
		return
	}
	if _, err := v.Apply(broker.DeleteQueue{Name: q.Name, Queue: q, IfEmpty: queryBool(r, "if-empty"),
		IfUnused: queryBool(r, "if-unused")}); err != nil {
		writeAMQPError(w, err)
		return
	}
	noContent(w, false)
}

func (s *Server) purgeQueue(w http.ResponseWriter, r *http.Request) {
	name := vhostParam(r)
	if !s.vhostAccess(w, r, name) {
		return
	}
	v := s.b.Vhost(name)
	q := v.Queue(pathValue(r, "name"))
	if q == nil {
		notFound(w)
		return
	}
	if _, err := v.Purge(q); err != nil {
		writeAMQPError(w, err)
		return
	}
	noContent(w, false)
}
