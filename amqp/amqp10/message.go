package amqp10

import "time"

// Section descriptors (smallulong codes).
const (
	descHeader      = 0x70
	descDeliveryAnn = 0x71
	descMessageAnn  = 0x72
	descProperties  = 0x73
	descAppProps    = 0x74
	descData        = 0x75
	descSequence    = 0x76
	descValue       = 0x77
	descFooter      = 0x78
)

// Header is the header section. Set records which fields were present.
type Header struct {
	Durable  bool
	Priority uint8
	TTL      uint32 // ms
	Set      uint8  // bit 0 durable, 1 priority, 2 ttl
}

// Header fields present.
const (
	HasDurable  = 1 << 0
	HasPriority = 1 << 1
	HasTTL      = 1 << 2
)

// Properties is the properties section; a zero field is absent (a
// message-id or correlation-id of nil).
type Properties struct {
	MessageID       any // string, uint64, UUID or []byte
	UserID          []byte
	To              string
	Subject         string
	ReplyTo         string
	CorrelationID   any
	ContentType     string // a symbol on the wire
	ContentEncoding string // a symbol on the wire
	AbsoluteExpiry  time.Time
	CreationTime    time.Time
	GroupID         string
}

// Message is an AMQP 1.0 bare message with its header and message
// annotations.
type Message struct {
	Header      *Header
	Annotations map[string]any // message annotations (symbol keys)
	Properties  *Properties
	AppProps    map[string]any // application properties
	Data        [][]byte       // data sections
	Value       any            // an amqp-value body, if HasValue
	HasValue    bool
}

// Body is the message's payload: its data sections joined, or a string
// or binary amqp-value.
func (m *Message) Body() []byte {
	if len(m.Data) == 1 {
		return m.Data[0]
	}
	if len(m.Data) > 1 {
		var b []byte
		for _, d := range m.Data {
			b = append(b, d...)
		}
		return b
	}
	switch v := m.Value.(type) {
	case string:
		return []byte(v)
	case []byte:
		return v
	}
	return nil
}

func section(b []byte, desc byte) []byte { return append(b, 0x00, 0x53, desc) }

func optString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func optSymbol(s string) any {
	if s == "" {
		return nil
	}
	return Symbol(s)
}

func optTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// trimNil drops the trailing nulls of a list (the spec's absent fields).
func trimNil(l []any) []any {
	for len(l) > 0 && l[len(l)-1] == nil {
		l = l[:len(l)-1]
	}
	return l
}

// Marshal appends m's encoding to b.
func (m *Message) Marshal(b []byte) []byte {
	if h := m.Header; h != nil {
		l := make([]any, 3)
		if h.Set&HasDurable != 0 {
			l[0] = h.Durable
		}
		if h.Set&HasPriority != 0 {
			l[1] = h.Priority
		}
		if h.Set&HasTTL != 0 {
			l[2] = h.TTL
		}
		b = appendList(section(b, descHeader), trimNil(l))
	}
	if len(m.Annotations) > 0 {
		ann := make(map[Symbol]any, len(m.Annotations))
		for k, v := range m.Annotations {
			ann[Symbol(k)] = v
		}
		b = Append(section(b, descMessageAnn), ann)
	}
	if p := m.Properties; p != nil {
		var uid any
		if p.UserID != nil {
			uid = p.UserID
		}
		l := []any{p.MessageID, uid, optString(p.To), optString(p.Subject), optString(p.ReplyTo), p.CorrelationID,
			optSymbol(p.ContentType), optSymbol(p.ContentEncoding), optTime(p.AbsoluteExpiry), optTime(p.CreationTime), optString(p.GroupID)}
		b = appendList(section(b, descProperties), trimNil(l))
	}
	if len(m.AppProps) > 0 {
		b = Append(section(b, descAppProps), m.AppProps)
	}
	for _, d := range m.Data {
		b = Append(section(b, descData), d)
	}
	if m.HasValue {
		b = Append(section(b, descValue), m.Value)
	}
	return b
}

// Unmarshal decodes a message; unknown sections (delivery annotations,
// footer, amqp-sequence) are skipped.
func Unmarshal(b []byte) (*Message, error) {
	d := &decoder{b: b}
	m := &Message{}
	for len(d.b) > 0 && d.err == nil {
		if d.u8() != 0x00 {
			return nil, ErrMalformed
		}
		var code uint64
		switch desc := d.value().(type) {
		case uint64:
			code = desc
		case Symbol:
			code = 0 // a symbolic descriptor: skipped below
		default:
			return nil, ErrMalformed
		}
		v := d.value()
		if d.err != nil {
			break
		}
		switch code {
		case descHeader:
			l, _ := v.([]any)
			h := &Header{}
			if len(l) > 0 && l[0] != nil {
				h.Durable, _ = l[0].(bool)
				h.Set |= HasDurable
			}
			if len(l) > 1 && l[1] != nil {
				h.Priority, _ = l[1].(uint8)
				h.Set |= HasPriority
			}
			if len(l) > 2 && l[2] != nil {
				h.TTL, _ = l[2].(uint32)
				h.Set |= HasTTL
			}
			m.Header = h
		case descMessageAnn:
			m.Annotations, _ = v.(map[string]any)
		case descProperties:
			l, _ := v.([]any)
			p := &Properties{}
			at := func(i int) any {
				if i < len(l) {
					return l[i]
				}
				return nil
			}
			p.MessageID = at(0)
			p.UserID, _ = at(1).([]byte)
			p.To, _ = at(2).(string)
			p.Subject, _ = at(3).(string)
			p.ReplyTo, _ = at(4).(string)
			p.CorrelationID = at(5)
			ct, _ := at(6).(Symbol)
			ce, _ := at(7).(Symbol)
			p.ContentType, p.ContentEncoding = string(ct), string(ce)
			p.AbsoluteExpiry, _ = at(8).(time.Time)
			p.CreationTime, _ = at(9).(time.Time)
			p.GroupID, _ = at(10).(string)
			m.Properties = p
		case descAppProps:
			m.AppProps, _ = v.(map[string]any)
		case descData:
			bin, ok := v.([]byte)
			if !ok {
				return nil, ErrMalformed
			}
			m.Data = append(m.Data, bin)
		case descValue:
			m.Value, m.HasValue = v, true
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return m, nil
}
