package stream

import (
	"fmt"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/storage/streamlog"
)

// Stream filtering as RabbitMQ 3.13 defines it over AMQP 0-9-1: a
// publisher sets the x-stream-filter-value header; a consumer with
// x-stream-filter (a string or an array of strings) gets the messages
// with one of those values, and, with x-stream-match-unfiltered, those
// without a value too. Warren filters exactly, message by message (RabbitMQ
// filters chunks with a Bloom filter and leaves the rest to the client),
// and skips unread the chunks whose filter lists no wanted value.

// Filter is a consumer's filter.
type Filter struct {
	Values          []string
	MatchUnfiltered bool
}

// ParseFilter reads a consumer's x-stream-filter and
// x-stream-match-unfiltered arguments (nil: no filter).
func ParseFilter(args map[string]any) (*Filter, error) {
	v, ok := args["x-stream-filter"]
	if !ok || v == nil {
		return nil, nil
	}
	f := &Filter{}
	switch v := v.(type) {
	case string:
		f.Values = []string{v}
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("invalid x-stream-filter: an array of %s, expected strings", amqp.FieldTypeName(e))
			}
			f.Values = append(f.Values, s)
		}
	default:
		return nil, fmt.Errorf("invalid x-stream-filter of type %s: expected a string or an array of strings", amqp.FieldTypeName(v))
	}
	if u, ok := args["x-stream-match-unfiltered"]; ok {
		b, isBool := u.(bool)
		if !isBool {
			return nil, fmt.Errorf("invalid x-stream-match-unfiltered of type %s: expected a boolean", amqp.FieldTypeName(u))
		}
		f.MatchUnfiltered = b
	}
	return f, nil
}

// match reports whether a message with filter value v ("": none) passes.
func (f *Filter) match(v string) bool {
	if v == "" {
		return f.MatchUnfiltered
	}
	for _, w := range f.Values {
		if w == v {
			return true
		}
	}
	return false
}

// matchChunk reports whether a chunk with filter cf may hold a message
// that passes.
func (f *Filter) matchChunk(cf streamlog.Filter) bool {
	if cf.Any || cf.Unfiltered && f.MatchUnfiltered {
		return true
	}
	for _, v := range cf.Values {
		if f.match(v) {
			return true
		}
	}
	return false
}

// filterValue is the x-stream-filter-value header of encoded properties
// ("" if none, or not a string, or longer than 255 bytes).
func filterValue(props []byte) string {
	// The headers flag (0x2000) of the first flag word: most messages have
	// no headers and cost no decoding.
	if len(props) < 2 || props[0]&0x20 == 0 {
		return ""
	}
	p, err := amqp.DecodeProperties(props)
	if err != nil {
		return ""
	}
	s, _ := p.Headers["x-stream-filter-value"].(string)
	if len(s) > 255 {
		return ""
	}
	return s
}
