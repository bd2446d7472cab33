package management

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/queue"
)

// Publishing and getting messages over HTTP (rabbitmq: for testing and
// inspection, not for production traffic).
//
//	POST /api/exchanges/{v}/{x}/publish
//	  {"properties":{...},"routing_key":"k","payload":"...","payload_encoding":"string"|"base64"}
//	  -> {"routed":bool}
//	POST /api/queues/{v}/{q}/get
//	  {"count":n,"ackmode":"ack_requeue_true"|"ack_requeue_false"|"reject_requeue_true"|"reject_requeue_false",
//	   "encoding":"auto"|"base64","truncate":bytes}
//	  -> [{"payload_bytes","redelivered","exchange","routing_key","message_count","properties","payload","payload_encoding"}]

type publishBody struct {
	Properties      map[string]any `json:"properties"`
	RoutingKey      *string        `json:"routing_key"`
	Payload         *string        `json:"payload"`
	PayloadEncoding *string        `json:"payload_encoding"`
}

func (s *Server) publish(w http.ResponseWriter, r *http.Request) {
	name := vhostParam(r)
	if !s.vhostAccess(w, r, name) {
		return
	}
	v := s.b.Vhost(name)
	x := v.Exchange(exchangeParam(r, "name"))
	if x == nil {
		notFound(w)
		return
	}
	if !s.accessText(w, r, name, broker.ResourceExchange, exchangeParam(r, "name"), broker.Write) {
		return
	}
	var body publishBody
	if !decodeBody(w, r, &body) {
		return
	}
	var missing []string
	if body.RoutingKey == nil {
		missing = append(missing, "{key_missing,routing_key}")
	}
	if body.Properties == nil {
		missing = append(missing, "{key_missing,properties}")
	}
	if body.Payload == nil {
		missing = append(missing, "{key_missing,payload}")
	}
	if body.PayloadEncoding == nil {
		missing = append(missing, "{key_missing,payload_encoding}")
	}
	if missing != nil {
		badRequest(w, erlangList(missing))
		return
	}
	if len(*body.RoutingKey) > 255 {
		// spec 0-9-1: a routing key is a shortstr.
		badRequest(w, fmt.Sprintf("routing key of %d bytes is longer than 255", len(*body.RoutingKey)))
		return
	}
	var payload []byte
	switch *body.PayloadEncoding {
	case "string":
		payload = []byte(*body.Payload)
	case "base64":
		var err error
		if payload, err = base64.StdEncoding.DecodeString(*body.Payload); err != nil {
			badRequest(w, "payload is not valid base64")
			return
		}
	default:
		badRequest(w, fmt.Sprintf("payload_encoding '%s' is not string or base64", *body.PayloadEncoding))
		return
	}
	props, err := propsFromJSON(body.Properties)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	if props.UserID != "" && props.UserID != userOf(r).Name {
		// rabbitmq: a user_id property must name the authenticated user.
		badRequest(w, fmt.Sprintf("user_id property set to '%s' but authenticated user was '%s'", props.UserID, userOf(r).Name))
		return
	}
	raw, err := amqp.AppendProperties(nil, &props)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	msg := &queue.Message{Exchange: x.Name, RoutingKey: *body.RoutingKey, Props: raw, Body: payload,
		Persistent: props.DeliveryMode == 2, Priority: props.Priority}
	if props.Expiration != "" {
		ttl, err := strconv.ParseInt(props.Expiration, 10, 64)
		if err != nil || ttl < 0 {
			badRequest(w, fmt.Sprintf("invalid expiration '%s'", props.Expiration))
			return
		}
		msg.TTL, msg.HasTTL = ttl, true
	}
	headers := func() map[string]any { return props.Headers }
	var ext broker.Extra
	qs := v.Route(x, msg.RoutingKey, headers, nil, &ext)
	routed, _, err := v.Publish(&broker.Publish{Msg: msg, Queues: qs, Extra: ext})
	if err != nil {
		writeAMQPError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"routed": routed})
}

// propsFromJSON reads the basic properties of a publish.
func propsFromJSON(m map[string]any) (amqp.Properties, error) {
	var p amqp.Properties
	str := func(k string) (string, error) {
		v, ok := m[k]
		if !ok || v == nil {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("property '%s' must be a string", k)
		}
		return s, nil
	}
	num := func(k string, max int64) (int64, error) {
		v, ok := m[k]
		if !ok || v == nil {
			return 0, nil
		}
		var n int64
		var err error
		switch x := v.(type) {
		case json.Number:
			n, err = x.Int64()
		case string:
			n, err = strconv.ParseInt(x, 10, 64)
		default:
			err = fmt.Errorf("not a number")
		}
		if err != nil || n < 0 || n > max {
			return 0, fmt.Errorf("property '%s' must be an integer from 0 to %d", k, max)
		}
		return n, nil
	}
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"content_type", &p.ContentType}, {"content_encoding", &p.ContentEncoding},
		{"correlation_id", &p.CorrelationID}, {"reply_to", &p.ReplyTo}, {"expiration", &p.Expiration},
		{"message_id", &p.MessageID}, {"type", &p.Type}, {"user_id", &p.UserID}, {"app_id", &p.AppID},
		{"cluster_id", &p.ClusterID},
	} {
		s, err := str(f.key)
		if err != nil {
			return p, err
		}
		*f.dst = s
	}
	dm, err := num("delivery_mode", 2)
	if err != nil {
		return p, err
	}
	prio, err := num("priority", 255)
	if err != nil {
		return p, err
	}
	ts, err := num("timestamp", 1<<62)
	if err != nil {
		return p, err
	}
	p.DeliveryMode, p.Priority = uint8(dm), uint8(prio)
	if ts != 0 {
		p.Timestamp = time.Unix(ts, 0)
	}
	if h, ok := m["headers"]; ok && h != nil {
		hm, ok := h.(map[string]any)
		if !ok {
			return p, fmt.Errorf("property 'headers' must be an object")
		}
		if p.Headers, err = tableFromJSON(hm); err != nil {
			return p, err
		}
	}
	return p, nil
}

// propsToJSON renders the properties that are present.
func propsToJSON(raw []byte) map[string]any {
	m := map[string]any{}
	p, err := amqp.DecodeProperties(raw)
	if err != nil {
		return m
	}
	for k, v := range map[string]string{
		"content_type": p.ContentType, "content_encoding": p.ContentEncoding, "correlation_id": p.CorrelationID,
		"reply_to": p.ReplyTo, "expiration": p.Expiration, "message_id": p.MessageID, "type": p.Type,
		"user_id": p.UserID, "app_id": p.AppID, "cluster_id": p.ClusterID,
	} {
		if v != "" {
			m[k] = v
		}
	}
	if p.DeliveryMode != 0 {
		m["delivery_mode"] = p.DeliveryMode
	}
	if p.Priority != 0 {
		m["priority"] = p.Priority
	}
	if !p.Timestamp.IsZero() {
		m["timestamp"] = p.Timestamp.Unix()
	}
	if p.Headers != nil {
		m["headers"] = tableToJSON(p.Headers)
	}
	return m
}

type getBody struct {
	Count    *json.Number `json:"count"`
	AckMode  *string      `json:"ackmode"`
	Encoding *string      `json:"encoding"`
	Truncate *json.Number `json:"truncate"`
}

func (s *Server) getMessages(w http.ResponseWriter, r *http.Request) {
	_, q, ok := s.pathQueue(w, r, broker.Read, s.accessText)
	if !ok {
		return
	}
	var body getBody
	if !decodeBody(w, r, &body) {
		return
	}
	var missing []string
	if body.AckMode == nil {
		missing = append(missing, "{key_missing,ackmode}")
	}
	if body.Count == nil {
		missing = append(missing, "{key_missing,count}")
	}
	if body.Encoding == nil {
		missing = append(missing, "{key_missing,encoding}")
	}
	if missing != nil {
		badRequest(w, erlangList(missing))
		return
	}
	count, err := body.Count.Int64()
	if err != nil || count < 0 {
		badRequest(w, "count must be a non-negative integer")
		return
	}
	var ack, requeue bool
	switch *body.AckMode {
	case "ack_requeue_true":
		ack, requeue = true, true
	case "ack_requeue_false":
		ack = true
	case "reject_requeue_true":
		requeue = true
	case "reject_requeue_false":
	default:
		badRequest(w, fmt.Sprintf("ackmode '%s' is not ack_requeue_true, ack_requeue_false, reject_requeue_true or reject_requeue_false", *body.AckMode))
		return
	}
	if *body.Encoding != "auto" && *body.Encoding != "base64" {
		badRequest(w, fmt.Sprintf("encoding '%s' is not auto or base64", *body.Encoding))
		return
	}
	truncate := int64(-1)
	if body.Truncate != nil {
		if truncate, err = body.Truncate.Int64(); err != nil || truncate < 0 {
			badRequest(w, "truncate must be a non-negative integer")
			return
		}
	}
	if q.Exclusive {
		// rabbitmq: the API's own connection may not use another's
		// exclusive queue.
		writeAMQPError(w, broker.ErrLocked(q.Name, vhostParam(r)))
		return
	}
	// All the gets first, then the settles: a requeued message is not
	// got twice (rabbitmq does the same).
	out := []map[string]any{}
	var kept []queue.Entry
	for range count {
		e, k, remaining, ok := q.Get(false)
		if !ok {
			break
		}
		kept = append(kept, k)
		payload := e.Msg.Body
		if truncate >= 0 && int64(len(payload)) > truncate {
			payload = payload[:truncate]
		}
		m := map[string]any{
			"payload_bytes": len(e.Msg.Body), "redelivered": e.Redelivered,
			"exchange": e.Msg.Exchange, "routing_key": e.Msg.RoutingKey, "message_count": remaining,
			"properties": propsToJSON(e.Msg.Props),
		}
		if *body.Encoding == "auto" && utf8.Valid(payload) {
			m["payload"], m["payload_encoding"] = string(payload), "string"
		} else {
			m["payload"], m["payload_encoding"] = base64.StdEncoding.EncodeToString(payload), "base64"
		}
		out = append(out, m)
	}
	switch {
	case len(kept) == 0:
	case requeue:
		q.Requeue(kept)
	case ack:
		q.Ack(kept)
	default:
		q.Reject(kept)
	}
	if len(kept) > 0 {
		q.Dispatch()
	}
	writeJSON(w, http.StatusOK, out)
}

// erlangList writes terms as RabbitMQ's reasons print an Erlang list
// (~p): on one line when short, else one element a line.
func erlangList(terms []string) string {
	if one := "[" + strings.Join(terms, ",") + "]"; len(one) < 60 {
		return one
	}
	return "[" + strings.Join(terms, ",\n ") + "]"
}

// emptyProps are encoded properties with none present.
func emptyProps() []byte {
	b, _ := amqp.AppendProperties(nil, &amqp.Properties{})
	return b
}
