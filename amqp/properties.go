package amqp

import (
	"fmt"
	"time"
)

// Property flag bits of the basic class content header, most significant
// first. Bit 0 (FlagContinuation) says another flag word follows.
const (
	FlagContentType     = 0x8000
	FlagContentEncoding = 0x4000
	FlagHeaders         = 0x2000
	FlagDeliveryMode    = 0x1000
	FlagPriority        = 0x0800
	FlagCorrelationID   = 0x0400
	FlagReplyTo         = 0x0200
	FlagExpiration      = 0x0100
	FlagMessageID       = 0x0080
	FlagTimestamp       = 0x0040
	FlagType            = 0x0020
	FlagUserID          = 0x0010
	FlagAppID           = 0x0008
	FlagClusterID       = 0x0004
	FlagContinuation    = 0x0001
)

// Properties are the 14 basic class content properties. Flags records which
// were present on the wire; on encoding a property is written when its flag
// is set or its value is not the zero value, so a decoded header re-encodes
// byte for byte and a literal one needs no flags.
type Properties struct {
	Flags           uint16
	ContentType     string
	ContentEncoding string
	Headers         Table
	DeliveryMode    uint8 // 1 transient, 2 persistent
	Priority        uint8
	CorrelationID   string
	ReplyTo         string
	Expiration      string
	MessageID       string
	Timestamp       time.Time
	Type            string
	UserID          string
	AppID           string
	ClusterID       string
}

// ContentHeader is the payload of a content header frame.
type ContentHeader struct {
	ClassID  uint16
	Weight   uint16 // always 0
	BodySize uint64
	Properties
}

// presentFlags returns the flag word that encoding p writes.
func (p *Properties) presentFlags() uint16 {
	f := p.Flags &^ FlagContinuation
	set := func(bit uint16, present bool) {
		if present {
			f |= bit
		}
	}
	set(FlagContentType, p.ContentType != "")
	set(FlagContentEncoding, p.ContentEncoding != "")
	set(FlagHeaders, p.Headers != nil)
	set(FlagDeliveryMode, p.DeliveryMode != 0)
	set(FlagPriority, p.Priority != 0)
	set(FlagCorrelationID, p.CorrelationID != "")
	set(FlagReplyTo, p.ReplyTo != "")
	set(FlagExpiration, p.Expiration != "")
	set(FlagMessageID, p.MessageID != "")
	set(FlagTimestamp, !p.Timestamp.IsZero())
	set(FlagType, p.Type != "")
	set(FlagUserID, p.UserID != "")
	set(FlagAppID, p.AppID != "")
	set(FlagClusterID, p.ClusterID != "")
	return f
}

// AppendProperties appends the flag word and the present properties.
func AppendProperties(b []byte, p *Properties) ([]byte, error) {
	start := len(b)
	f := p.presentFlags()
	b = appendUint16(b, f)
	str := func(bit uint16, name, v string) error {
		if f&bit == 0 {
			return nil
		}
		if len(v) > 255 {
			return errShortStr(name, len(v))
		}
		b = appendShortStr(b, v)
		return nil
	}
	if err := str(FlagContentType, "content-type", p.ContentType); err != nil {
		return b[:start], err
	}
	if err := str(FlagContentEncoding, "content-encoding", p.ContentEncoding); err != nil {
		return b[:start], err
	}
	if f&FlagHeaders != 0 {
		var err error
		if b, err = AppendTable(b, p.Headers); err != nil {
			return b[:start], fmt.Errorf("headers: %w", err)
		}
	}
	if f&FlagDeliveryMode != 0 {
		b = append(b, p.DeliveryMode)
	}
	if f&FlagPriority != 0 {
		b = append(b, p.Priority)
	}
	for _, s := range [...]struct {
		bit  uint16
		name string
		v    string
	}{
		{FlagCorrelationID, "correlation-id", p.CorrelationID},
		{FlagReplyTo, "reply-to", p.ReplyTo},
		{FlagExpiration, "expiration", p.Expiration},
		{FlagMessageID, "message-id", p.MessageID},
	} {
		if err := str(s.bit, s.name, s.v); err != nil {
			return b[:start], err
		}
	}
	if f&FlagTimestamp != 0 {
		b = appendUint64(b, uint64(p.Timestamp.Unix()))
	}
	for _, s := range [...]struct {
		bit  uint16
		name string
		v    string
	}{
		{FlagType, "type", p.Type},
		{FlagUserID, "user-id", p.UserID},
		{FlagAppID, "app-id", p.AppID},
		{FlagClusterID, "cluster-id", p.ClusterID},
	} {
		if err := str(s.bit, s.name, s.v); err != nil {
			return b[:start], err
		}
	}
	return b, nil
}

// DecodeProperties decodes a flag word and the properties it announces.
func DecodeProperties(b []byte) (Properties, error) {
	d := decoder{b: b}
	var p Properties
	d.properties(&p)
	if d.err == nil && d.off != len(b) {
		d.err = fmt.Errorf("%d trailing bytes after properties", len(b)-d.off)
	}
	return p, d.err
}

func (d *decoder) properties(p *Properties) {
	f := d.short()
	p.Flags = f &^ FlagContinuation
	// spec 0-9-1 content header: bit 0 set means another flag word follows.
	// The basic class defines 14 properties, so later words must be empty.
	for w := f; w&FlagContinuation != 0 && d.err == nil; {
		w = d.short()
		if w&^FlagContinuation != 0 {
			d.fail(fmt.Errorf("unknown property flags %#04x in a continuation word", w))
		}
	}
	if f&0x0002 != 0 {
		d.fail(fmt.Errorf("unknown property flag bit 1"))
	}
	if f&FlagContentType != 0 {
		p.ContentType = d.shortstr()
	}
	if f&FlagContentEncoding != 0 {
		p.ContentEncoding = d.shortstr()
	}
	if f&FlagHeaders != 0 {
		p.Headers = d.table()
	}
	if f&FlagDeliveryMode != 0 {
		p.DeliveryMode = d.octet()
	}
	if f&FlagPriority != 0 {
		p.Priority = d.octet()
	}
	if f&FlagCorrelationID != 0 {
		p.CorrelationID = d.shortstr()
	}
	if f&FlagReplyTo != 0 {
		p.ReplyTo = d.shortstr()
	}
	if f&FlagExpiration != 0 {
		p.Expiration = d.shortstr()
	}
	if f&FlagMessageID != 0 {
		p.MessageID = d.shortstr()
	}
	if f&FlagTimestamp != 0 {
		p.Timestamp = d.timestamp()
	}
	if f&FlagType != 0 {
		p.Type = d.shortstr()
	}
	if f&FlagUserID != 0 {
		p.UserID = d.shortstr()
	}
	if f&FlagAppID != 0 {
		p.AppID = d.shortstr()
	}
	if f&FlagClusterID != 0 {
		p.ClusterID = d.shortstr()
	}
}

// DecodeContentHeader decodes a content header frame's payload.
func DecodeContentHeader(payload []byte) (ContentHeader, error) {
	d := decoder{b: payload}
	var h ContentHeader
	h.ClassID = d.short()
	h.Weight = d.short()
	h.BodySize = d.longlong()
	// spec 0-9-1 content header: the weight field is unused and must be zero.
	if d.err == nil && h.Weight != 0 {
		d.fail(fmt.Errorf("weight %d, must be 0", h.Weight))
	}
	d.properties(&h.Properties)
	if d.err == nil && d.off != len(payload) {
		d.err = fmt.Errorf("%d trailing bytes after properties", len(payload)-d.off)
	}
	if d.err != nil {
		return h, &Error{Code: FrameError, Text: fmt.Sprintf("FRAME_ERROR - cannot decode content header: %v", d.err)}
	}
	return h, nil
}

// SplitContentHeader returns the class id, body size and the raw property
// bytes (flag words included) of a content header payload without decoding
// the properties, for relaying them unchanged. It checks the length and the
// weight only: DecodeProperties(rawProps) validates the properties.
func SplitContentHeader(payload []byte) (classID uint16, bodySize uint64, rawProps []byte, err error) {
	if len(payload) < 14 {
		return 0, 0, nil, &Error{Code: FrameError, Text: fmt.Sprintf("FRAME_ERROR - content header of %d bytes is too short", len(payload))}
	}
	classID = uint16(payload[0])<<8 | uint16(payload[1])
	if w := uint16(payload[2])<<8 | uint16(payload[3]); w != 0 {
		return 0, 0, nil, &Error{Code: FrameError, Text: fmt.Sprintf("FRAME_ERROR - content header weight %d, must be 0", w)}
	}
	bodySize = uint64(payload[4])<<56 | uint64(payload[5])<<48 | uint64(payload[6])<<40 | uint64(payload[7])<<32 |
		uint64(payload[8])<<24 | uint64(payload[9])<<16 | uint64(payload[10])<<8 | uint64(payload[11])
	return classID, bodySize, payload[12:], nil
}
