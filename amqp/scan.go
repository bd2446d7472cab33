package amqp

import "fmt"

// PropertySummary is what a broker needs of a message's properties on the
// publish path, read without decoding the header table. The byte slices
// alias the scanned input.
type PropertySummary struct {
	DeliveryMode uint8
	Priority     uint8
	HasPriority  bool
	Expiration   []byte // nil if absent
	UserID       []byte // nil if absent
	Headers      []byte // the header table in wire form, length included; nil if absent
	HeadersAt    int    // the offset of Headers in the scanned input
}

// ScanProperties checks that raw (flag words and properties, as returned by
// SplitContentHeader) is well formed and returns the summary.
func ScanProperties(raw []byte) (PropertySummary, error) {
	var s PropertySummary
	d := decoder{b: raw}
	f := d.short()
	for w := f; w&FlagContinuation != 0 && d.err == nil; {
		w = d.short()
		if w&^FlagContinuation != 0 {
			d.fail(fmt.Errorf("unknown property flags %#04x in a continuation word", w))
		}
	}
	if f&0x0002 != 0 {
		d.fail(fmt.Errorf("unknown property flag bit 1"))
	}
	skipStr := func() []byte {
		n := int(d.octet())
		p := d.take(n)
		if p == nil && d.err == nil {
			p = []byte{}
		}
		return p
	}
	if f&FlagContentType != 0 {
		skipStr()
	}
	if f&FlagContentEncoding != 0 {
		skipStr()
	}
	if f&FlagHeaders != 0 {
		start := d.off
		d.skipTable()
		if d.err == nil {
			s.Headers, s.HeadersAt = d.b[start:d.off], start
		}
	}
	if f&FlagDeliveryMode != 0 {
		s.DeliveryMode = d.octet()
	}
	if f&FlagPriority != 0 {
		s.Priority = d.octet()
		s.HasPriority = true
	}
	if f&FlagCorrelationID != 0 {
		skipStr()
	}
	if f&FlagReplyTo != 0 {
		skipStr()
	}
	if f&FlagExpiration != 0 {
		s.Expiration = skipStr()
	}
	if f&FlagMessageID != 0 {
		skipStr()
	}
	if f&FlagTimestamp != 0 {
		d.longlong()
	}
	if f&FlagType != 0 {
		skipStr()
	}
	if f&FlagUserID != 0 {
		s.UserID = skipStr()
	}
	if f&FlagAppID != 0 {
		skipStr()
	}
	if f&FlagClusterID != 0 {
		skipStr()
	}
	if d.err == nil && d.off != len(raw) {
		d.err = fmt.Errorf("%d trailing bytes after properties", len(raw)-d.off)
	}
	if d.err != nil {
		return s, &Error{Code: FrameError, Text: fmt.Sprintf("FRAME_ERROR - cannot decode content properties: %v", d.err)}
	}
	return s, nil
}
