package exchange

import (
	"errors"
	"math"
	"strconv"
)

// ErrDelayedType is the sentinel for an x-delayed-message exchange whose
// x-delayed-type argument is missing, not a string, or names the delayed
// kind itself. Its text is the plugin's 406 PRECONDITION_FAILED reply text.
var ErrDelayedType = errors.New("Invalid argument, 'x-delayed-type' must be an existing exchange type")

// MaxDelay is the longest delay in milliseconds, Erlang's largest timer
// (rabbitmq delayed-message plugin: ?ERL_MAX_T). A longer x-delay is
// ignored: the message is routed at once.
const MaxDelay = math.MaxUint32

// RoutingKind is the kind that picks the destinations of a message: Kind,
// or for a Delayed exchange the kind its x-delayed-type argument names (0,
// which routes nothing, when the argument is invalid).
func (x *Exchange) RoutingKind() Kind {
	if x.Kind != Delayed {
		return x.Kind
	}
	k, _ := DelayedType(x.Args)
	return k
}

// DelayedType returns the routing kind that the x-delayed-type argument of
// an x-delayed-message exchange names.
//
// rabbitmq delayed-message plugin: a missing or non-string x-delayed-type
// is 406 PRECONDITION_FAILED (ErrDelayedType); a string that is no
// exchange type fails as exchange.declare does with that type (the error
// wraps ErrUnknownKind). The delayed kind cannot delay itself.
func DelayedType(args map[string]any) (Kind, error) {
	s, ok := args["x-delayed-type"].(string)
	if !ok {
		return 0, ErrDelayedType
	}
	k, err := ParseKind(s)
	if err != nil {
		return 0, err
	}
	if k == Delayed {
		return 0, ErrDelayedType
	}
	return k, nil
}

// DelayOf returns the delay in milliseconds that a message's headers ask
// an x-delayed-message exchange for, and whether the message is to be
// delayed at all.
//
// rabbitmq delayed-message plugin: the x-delay header counts when it is an
// integer, a float (truncated) or a string holding an integer;
// only a delay in 1..MaxDelay holds the message back, anything else (no
// header, zero, negative, too long, another type) routes it at once.
func DelayOf(headers map[string]any) (ms int64, delayed bool) {
	v, ok := headers["x-delay"]
	if !ok {
		return 0, false
	}
	var n int64
	switch v := v.(type) {
	case int8:
		n = int64(v)
	case uint8:
		n = int64(v)
	case int16:
		n = int64(v)
	case uint16:
		n = int64(v)
	case int32:
		n = int64(v)
	case uint32:
		n = int64(v)
	case int64:
		n = v
	case int:
		n = int64(v)
	case uint64:
		if v > math.MaxInt64 {
			return 0, false
		}
		n = int64(v)
	case float32:
		n, ok = truncate(float64(v))
	case float64:
		n, ok = truncate(v)
	case string:
		var err error
		n, err = strconv.ParseInt(v, 10, 64)
		ok = err == nil
	default:
		// A decimal crashes the plugin's channel; Warren routes at once.
		ok = false
	}
	if !ok || n <= 0 || n > MaxDelay {
		return 0, false
	}
	return n, true
}

func truncate(f float64) (int64, bool) {
	if math.IsNaN(f) || f >= math.MaxInt64 || f <= math.MinInt64 {
		return 0, false
	}
	return int64(f), true
}
