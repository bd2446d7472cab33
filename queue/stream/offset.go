package stream

import (
	"fmt"
	"time"

	"github.com/warrenmq/warren/amqp"
)

// StartKind is where a reader starts.
type StartKind uint8

const (
	StartNext   StartKind = iota // only what is published from now (the default)
	StartFirst                   // the first message kept
	StartLast                    // the last chunk written
	StartOffset                  // Start.Offset
	StartTime                    // the first chunk written at or after Start.Time
)

// Start is a parsed x-stream-offset.
type Start struct {
	Kind   StartKind
	Offset uint64
	Time   time.Time
	Filter *Filter // x-stream-filter, if any (filter.go)
}

// ParseOffset reads a consumer's x-stream-offset argument (nil: absent,
// StartNext): "first", "last", "next", an integer offset (negative: the
// first), an AMQP timestamp, or an interval string such as "1h" or "7D"
// counted back from now.
func ParseOffset(v any, now time.Time) (Start, error) {
	switch v := v.(type) {
	case nil:
		return Start{Kind: StartNext}, nil
	case string:
		switch v {
		case "first":
			return Start{Kind: StartFirst}, nil
		case "last":
			return Start{Kind: StartLast}, nil
		case "next":
			return Start{Kind: StartNext}, nil
		}
		d, err := parseAge(v)
		if err != nil {
			return Start{}, fmt.Errorf("invalid x-stream-offset '%s': expected first, last, next, an offset, a timestamp or an interval such as 1h", v)
		}
		return Start{Kind: StartTime, Time: now.Add(-d)}, nil
	case time.Time:
		return Start{Kind: StartTime, Time: v}, nil
	}
	if n, ok := amqp.IntValue(v); ok {
		if n < 0 {
			return Start{Kind: StartFirst}, nil // rabbitmq accepts it: the first kept
		}
		return Start{Kind: StartOffset, Offset: uint64(n)}, nil
	}
	return Start{}, fmt.Errorf("invalid x-stream-offset of type %s: expected first, last, next, an offset, a timestamp or an interval such as 1h", amqp.FieldTypeName(v))
}
