package stream

import (
	"errors"
	"time"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/amqp10"
	"github.com/warrenmq/warren/queue"
)

var errBadRecord = errors.New("stream: bad record")

// A record is an AMQP 1.0 message (amqp/amqp10), as RabbitMQ stores stream
// messages, so that one stream is read and written by both protocols. An
// AMQP 0-9-1 message maps to it as RabbitMQ 3.13 maps it (mc_amqpl):
//
//	0-9-1                     AMQP 1.0
//	delivery-mode             header durable (2: true, 1: false)
//	priority                  header priority
//	exchange, routing key     message annotations x-exchange, x-routing-key
//	type, app-id, expiration  message annotations x-basic-type,
//	cluster-id                x-basic-app-id, x-basic-expiration,
//	                          x-basic-cluster-id
//	message-id, correlation-id, reply-to   properties, strings
//	user-id                   properties user-id (binary)
//	content-type, -encoding   properties, symbols
//	timestamp (s)             properties creation-time (ms)
//	headers                   application properties (tables and arrays
//	                          as AMQP 1.0 maps and lists)
//	body                      one data section
//
// and back: application properties become headers, an absent header
// section leaves delivery-mode unset (transient), a body in several data
// sections is joined, a string or binary amqp-value is the body.

// encodeRecord is m as one log record. filter is the message's
// x-stream-filter-value, which its headers already carry.
func encodeRecord(m *queue.Message, filter string) []byte {
	_ = filter
	out := amqp10.Message{Annotations: map[string]any{"x-exchange": m.Exchange, "x-routing-key": m.RoutingKey}}
	var p amqp.Properties
	if len(m.Props) > 0 {
		if dp, err := amqp.DecodeProperties(m.Props); err == nil {
			p = dp
		}
	}
	if p.Flags&amqp.FlagDeliveryMode != 0 || p.DeliveryMode != 0 || m.Persistent {
		out.Header = &amqp10.Header{Durable: p.DeliveryMode == 2 || m.Persistent, Set: amqp10.HasDurable}
	}
	if p.Flags&amqp.FlagPriority != 0 {
		if out.Header == nil {
			out.Header = &amqp10.Header{}
		}
		out.Header.Priority, out.Header.Set = p.Priority, out.Header.Set|amqp10.HasPriority
	}
	for _, a := range []struct{ key, v string }{{"x-basic-type", p.Type}, {"x-basic-app-id", p.AppID}, {"x-basic-expiration", p.Expiration}, {"x-basic-cluster-id", p.ClusterID}} {
		if a.v != "" {
			out.Annotations[a.key] = a.v
		}
	}
	if p.MessageID != "" || p.CorrelationID != "" || p.ReplyTo != "" || p.UserID != "" || p.ContentType != "" || p.ContentEncoding != "" || !p.Timestamp.IsZero() {
		pp := &amqp10.Properties{ReplyTo: p.ReplyTo, ContentType: p.ContentType, ContentEncoding: p.ContentEncoding}
		if p.MessageID != "" {
			pp.MessageID = p.MessageID
		}
		if p.CorrelationID != "" {
			pp.CorrelationID = p.CorrelationID
		}
		if p.UserID != "" {
			pp.UserID = []byte(p.UserID)
		}
		if !p.Timestamp.IsZero() {
			pp.CreationTime = p.Timestamp
		}
		out.Properties = pp
	}
	if len(p.Headers) > 0 {
		out.AppProps = make(map[string]any, len(p.Headers))
		for k, v := range p.Headers {
			out.AppProps[k] = to10(v)
		}
	}
	out.Data = [][]byte{m.Body}
	return out.Marshal(make([]byte, 0, 64+len(m.Props)+len(m.Body)))
}

// to10 is a 0-9-1 field value as an AMQP 1.0 value.
func to10(v any) any {
	switch x := v.(type) {
	case amqp.Table:
		return to10(map[string]any(x))
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = to10(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = to10(e)
		}
		return l
	case amqp.Decimal:
		return nil // rabbitmq: decimals have no AMQP 1.0 counterpart here
	}
	return v
}

// from10 is an AMQP 1.0 value as a 0-9-1 field value.
func from10(v any) any {
	switch x := v.(type) {
	case amqp10.Symbol:
		return string(x)
	case uint64:
		return int64(x)
	case amqp10.UUID:
		return x[:]
	case rune:
		return int32(x)
	case map[string]any:
		t := make(amqp.Table, len(x))
		for k, e := range x {
			t[k] = from10(e)
		}
		return t
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = from10(e)
		}
		return l
	case amqp10.Described:
		return from10(x.Value)
	}
	return v
}

// idString is a message-id or correlation-id as a 0-9-1 shortstr.
func idString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case uint64:
		return uitoa(x)
	case amqp10.UUID:
		const hex = "0123456789abcdef"
		b := make([]byte, 0, 36)
		for i, c := range x {
			if i == 4 || i == 6 || i == 8 || i == 10 {
				b = append(b, '-')
			}
			b = append(b, hex[c>>4], hex[c&15])
		}
		return string(b)
	}
	return ""
}

func uitoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// decodeRecord reads a record back as a 0-9-1 message, with its
// x-stream-filter-value; the body points into rec.
func decodeRecord(rec []byte) (m *queue.Message, filter string, err error) {
	in, err := amqp10.Unmarshal(rec)
	if err != nil {
		return nil, "", errBadRecord
	}
	m = &queue.Message{Body: in.Body()}
	var p amqp.Properties
	if h := in.Header; h != nil {
		if h.Set&amqp10.HasDurable != 0 {
			p.DeliveryMode = 1
			if h.Durable {
				p.DeliveryMode = 2
			}
			p.Flags |= amqp.FlagDeliveryMode
		}
		if h.Set&amqp10.HasPriority != 0 {
			p.Priority = h.Priority
			p.Flags |= amqp.FlagPriority
			m.Priority = h.Priority
		}
	}
	m.Persistent = p.DeliveryMode == 2
	m.Exchange, _ = in.Annotations["x-exchange"].(string)
	m.RoutingKey, _ = in.Annotations["x-routing-key"].(string)
	p.Type, _ = in.Annotations["x-basic-type"].(string)
	p.AppID, _ = in.Annotations["x-basic-app-id"].(string)
	p.Expiration, _ = in.Annotations["x-basic-expiration"].(string)
	p.ClusterID, _ = in.Annotations["x-basic-cluster-id"].(string)
	if pp := in.Properties; pp != nil {
		p.MessageID = idString(pp.MessageID)
		p.CorrelationID = idString(pp.CorrelationID)
		p.ReplyTo = pp.ReplyTo
		p.UserID = string(pp.UserID)
		p.ContentType = pp.ContentType
		p.ContentEncoding = pp.ContentEncoding
		if !pp.CreationTime.IsZero() {
			p.Timestamp = pp.CreationTime.Truncate(time.Second)
		}
	}
	if len(in.AppProps) > 0 {
		p.Headers = make(amqp.Table, len(in.AppProps))
		for k, v := range in.AppProps {
			p.Headers[k] = from10(v)
		}
		filter, _ = in.AppProps["x-stream-filter-value"].(string)
	}
	props, err := amqp.AppendProperties(nil, &p)
	if err != nil {
		return nil, "", errBadRecord
	}
	m.Props = props
	return m, filter, nil
}
