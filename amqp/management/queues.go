package management

import (
	"net/http"
	"slices"
	"time"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
)

// Queues: /api/queues[/{v}[/{q}]] (GET, PUT, DELETE ?if-empty ?if-unused),
// /contents (DELETE: purge), /bindings; /get is in message.go.

func queueType(q *broker.QueueInfo) string {
	if t, ok := q.Args["x-queue-type"].(string); ok && (t == "quorum" || t == "stream") {
		return t
	}
	return "classic"
}

// rateJSON is a "<name>_details" object.
type rateJSON struct {
	Rate float64 `json:"rate"`
}

// queueStatsJSON is a queue's message_stats (render.go's queueStats).
type queueStatsJSON struct {
	Ack                 uint64   `json:"ack"`
	AckDetails          rateJSON `json:"ack_details"`
	Deliver             uint64   `json:"deliver"`
	DeliverDetails      rateJSON `json:"deliver_details"`
	DeliverGet          uint64   `json:"deliver_get"`
	DeliverGetDetails   rateJSON `json:"deliver_get_details"`
	DeliverNoAck        uint64   `json:"deliver_no_ack"`
	DeliverNoAckDetails rateJSON `json:"deliver_no_ack_details"`
	Get                 uint64   `json:"get"`
	GetDetails          rateJSON `json:"get_details"`
	GetEmpty            uint64   `json:"get_empty"`
	GetEmptyDetails     rateJSON `json:"get_empty_details"`
	GetNoAck            uint64   `json:"get_no_ack"`
	GetNoAckDetails     rateJSON `json:"get_no_ack_details"`
	Publish             uint64   `json:"publish"`
	PublishDetails      rateJSON `json:"publish_details"`
	Redeliver           uint64   `json:"redeliver"`
	RedeliverDetails    rateJSON `json:"redeliver_details"`
}

// queueJSON is a queue as /api/queues lists it: a struct, not a map, as
// a listing of 10,000 queues is encoded four times faster so.
type queueJSON struct {
	Arguments                     map[string]any `json:"arguments"`
	AutoDelete                    bool           `json:"auto_delete"`
	Consumers                     int            `json:"consumers"`
	Durable                       bool           `json:"durable"`
	EffectivePolicyDefinition     map[string]any `json:"effective_policy_definition"`
	Exclusive                     bool           `json:"exclusive"`
	ExclusiveConsumerTag          *string        `json:"exclusive_consumer_tag"`
	HeadMessageTimestamp          *int64         `json:"head_message_timestamp"`
	MessageBytes                  int64          `json:"message_bytes"`
	MessageBytesReady             int64          `json:"message_bytes_ready"`
	MessageBytesUnacknowledged    int64          `json:"message_bytes_unacknowledged"`
	MessageStats                  queueStatsJSON `json:"message_stats"`
	Messages                      int64          `json:"messages"`
	MessagesDetails               rateJSON       `json:"messages_details"`
	MessagesPagedOut              int            `json:"messages_paged_out"`
	MessagesRAM                   int64          `json:"messages_ram"`
	MessagesReady                 int64          `json:"messages_ready"`
	MessagesReadyDetails          rateJSON       `json:"messages_ready_details"`
	MessagesReadyRAM              int64          `json:"messages_ready_ram"`
	MessagesUnacknowledged        int64          `json:"messages_unacknowledged"`
	MessagesUnacknowledgedDetails rateJSON       `json:"messages_unacknowledged_details"`
	MessagesUnacknowledgedRAM     int64          `json:"messages_unacknowledged_ram"`
	Name                          string         `json:"name"`
	Node                          string         `json:"node"`
	// A quorum queue's replicas, as RabbitMQ shows them.
	Leader                  string   `json:"leader,omitempty"`
	Members                 []string `json:"members,omitempty"`
	Online                  []string `json:"online,omitempty"`
	OperatorPolicy          *string  `json:"operator_policy"`
	Policy                  *string  `json:"policy"`
	SingleActiveConsumerTag *string  `json:"single_active_consumer_tag"`
	State                   string   `json:"state"`
	Type                    string   `json:"type"`
	Vhost                   string   `json:"vhost"`
}

func (s *Server) queueJSON(q *broker.QueueInfo, smp *samples) *queueJSON {
	val := queueVec(q)
	rs := smp.queue(q.Vhost, q.Name)
	rt := &rs.rate
	c := func(st stat) uint64 { return uint64(val[st]) }
	d := func(st stat) rateJSON { return rateJSON{rt[st]} }
	policy := map[string]any{}
	for k, v := range q.EffectivePolicy {
		policy[k] = broker.ValueToJSON(v)
	}
	var pol, opPol *string
	if q.Policy != "" {
		pol = &q.Policy
	}
	if q.OperatorPolicy != "" {
		opPol = &q.OperatorPolicy
	}
	out := &queueJSON{
		OperatorPolicy:             opPol,
		Policy:                     pol,
		Arguments:                  tableToJSON(q.Args),
		AutoDelete:                 q.AutoDelete,
		Consumers:                  q.Consumers,
		Durable:                    q.Durable,
		EffectivePolicyDefinition:  policy,
		Exclusive:                  q.Exclusive,
		MessageBytes:               q.ReadyBytes + q.UnackedBytes,
		MessageBytesReady:          q.ReadyBytes,
		MessageBytesUnacknowledged: q.UnackedBytes,
		MessageStats: queueStatsJSON{
			Ack: c(statAck), AckDetails: d(statAck),
			Deliver: c(statDeliver), DeliverDetails: d(statDeliver),
			DeliverGet: c(statDeliverGet), DeliverGetDetails: d(statDeliverGet),
			DeliverNoAck: c(statDeliverNoAck), DeliverNoAckDetails: d(statDeliverNoAck),
			Get: c(statGet), GetDetails: d(statGet),
			GetEmpty: c(statGetEmpty), GetEmptyDetails: d(statGetEmpty),
			GetNoAck: c(statGetNoAck), GetNoAckDetails: d(statGetNoAck),
			Publish: c(statPublish), PublishDetails: d(statPublish),
			Redeliver: c(statRedeliver), RedeliverDetails: d(statRedeliver),
		},
		Messages:                      int64(q.Ready) + q.Unacked,
		MessagesDetails:               d(statMessages),
		MessagesPagedOut:              q.Paged,
		MessagesRAM:                   int64(q.Ready-q.Paged) + q.Unacked,
		MessagesReady:                 int64(q.Ready),
		MessagesReadyDetails:          d(statReady),
		MessagesReadyRAM:              int64(q.Ready - q.Paged),
		MessagesUnacknowledged:        q.Unacked,
		MessagesUnacknowledgedDetails: d(statUnacked),
		MessagesUnacknowledgedRAM:     q.Unacked,
		Name:                          q.Name,
		Node:                          s.cfg.NodeName,
		State:                         q.State,
		Type:                          queueType(q),
		Vhost:                         q.Vhost,
	}
	if out.Type == "quorum" {
		out.Leader, out.Members, out.Online = s.quorumReplicas(q.Vhost, q.Name)
	}
	return out
}

// quorumReplicas are a quorum queue's leader, members and online members:
// its Raft group's in a cluster; this node alone on a single node (as
// RabbitMQ shows a quorum queue of one node).
func (s *Server) quorumReplicas(vhost, name string) (leader string, members, online []string) {
	if s.cfg.Cluster != nil {
		if l, m, o, ok := s.cfg.Cluster.QueueReplicas(vhost, name); ok {
			return l, m, o
		}
	}
	one := []string{s.cfg.NodeName}
	return s.cfg.NodeName, one, one
}

// queueRef names a queue for a listing; its figures are read only if it
// is rendered (a page of 100 out of 10,000 reads 100 queues).
type queueRef struct {
	v    *broker.Vhost
	name string
}

func (s *Server) getQueues(w http.ResponseWriter, r *http.Request) {
	vs, ok := s.vhostsFor(w, r)
	if !ok {
		return
	}
	p, ok := parseList(w, r)
	if !ok {
		return
	}
	// The name filter is applied to the names, before any ref is made:
	// a keystroke of the console's filter over 10,000 queues.
	var refs []queueRef
	total := 0
	for _, v := range vs {
		names := v.QueueNames()
		total += len(names)
		refs = slices.Grow(refs, len(names)) // one allocation, no copies as it grows
		for _, n := range names {
			if p.filter == nil || p.filter(n) {
				refs = append(refs, queueRef{v, n})
			}
		}
	}
	if !p.paged && p.sort == nil && !p.reverse && namesAndVhosts(p.columns) {
		// The console's filter index: every name, no queue read.
		out := make([]queueName, len(refs))
		for i, q := range refs {
			out[i] = queueName{q.name, q.v.Name()}
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	smp := s.stats.current()
	listFiltered(w, p, total, refs, func(q *queueRef) string { return q.name }, func(q *queueRef) any {
		info, ok := q.v.QueueInfo(q.name)
		if !ok {
			return nil // deleted meanwhile
		}
		return s.queueView(&info, smp)
	})
}

// queueName is a listing's item with the columns name and vhost: what
// picking them from the whole view gives, keys in the same order.
type queueName struct {
	Name  string `json:"name"`
	Vhost string `json:"vhost"`
}

// namesAndVhosts says whether columns are name and vhost, in any order.
func namesAndVhosts(columns [][]string) bool {
	if len(columns) != 2 {
		return false
	}
	var name, vhost bool
	for _, c := range columns {
		if len(c) != 1 {
			return false
		}
		name, vhost = name || c[0] == "name", vhost || c[0] == "vhost"
	}
	return name && vhost
}

func (s *Server) getQueue(w http.ResponseWriter, r *http.Request) {
	name := vhostParam(r)
	if !s.vhostAccess(w, r, name) {
		return
	}
	lengths, rates, ok := historyRanges(w, r)
	if !ok {
		return
	}
	v := s.b.Vhost(name)
	q, ok := v.QueueInfo(pathValue(r, "name"))
	if !ok {
		notFound(w)
		return
	}
	m := toMap(s.queueView(&q, s.stats.current()))
	if lengths.incr > 0 || rates.incr > 0 {
		wq := s.stats.hist.watchQueue(time.Now(), &q)
		series := func(st stat, rg historyRange) []point { return s.stats.hist.queueSeries(wq, queueFigure(st), rg) }
		addSamples(m, gaugeStats[:], lengths, series)
		ms, _ := m["message_stats"].(map[string]any)
		addSamples(ms, queueStats(), rates, series)
	}
	details := []map[string]any{}
	conns := s.connsByID()
	sc := s.newStreamConsumers()
	for _, c := range v.Consumers() {
		if c.Queue == q.Name {
			cm := s.consumerJSON(&c, conns)
			sc.add(cm, &c)
			details = append(details, cm)
		}
	}
	m["consumer_details"], m["deliveries"], m["incoming"] = details, []any{}, []any{}
	one(w, r, m)
}

type queueBody struct {
	Durable    flexBool       `json:"durable"`
	AutoDelete flexBool       `json:"auto_delete"`
	Arguments  map[string]any `json:"arguments"`
	Node       string         `json:"node"`
}

func (s *Server) putQueue(w http.ResponseWriter, r *http.Request) {
	name := vhostParam(r)
	if !s.vhostAccess(w, r, name) {
		return
	}
	var body queueBody
	args, ok := decodeArgs(w, r, &body, &body.Arguments)
	if !ok {
		return
	}
	v := s.b.Vhost(name)
	qname := pathValue(r, "name")
	if !s.access(w, r, name, broker.ResourceQueue, qname, broker.Configure) {
		return
	}
	exists := v.Queue(qname) != nil
	if !exists && broker.ReservedName(qname) {
		// rabbitmq: a new queue may not use the amq. prefix (the AMQP
		// front end refuses it before the core, as here).
		writeAMQPError(w, amqp.Errorf(amqp.AccessRefused, "queue name '%s' contains reserved prefix 'amq.*'", qname))
		return
	}
	applied(w, v, broker.DeclareQueue{Name: qname, Durable: bool(body.Durable), AutoDelete: bool(body.AutoDelete), Args: args}, !exists)
}

func (s *Server) deleteQueue(w http.ResponseWriter, r *http.Request) {
	v, q, ok := s.pathQueue(w, r, broker.Configure, s.access)
	if !ok {
		return
	}
	applied(w, v, broker.DeleteQueue{Name: q.Name, Queue: q, IfEmpty: queryBool(r, "if-empty"),
		IfUnused: queryBool(r, "if-unused")}, false)
}

func (s *Server) purgeQueue(w http.ResponseWriter, r *http.Request) {
	v, q, ok := s.pathQueue(w, r, broker.Read, s.access)
	if !ok {
		return
	}
	if _, err := v.Purge(q); err != nil {
		writeAMQPError(w, err)
		return
	}
	noContent(w, false)
}
