package stream

import (
	"errors"
	"strconv"
	"time"

	"github.com/warrenmq/warren/amqp"
)

// ArgError is an invalid stream argument; Reason is RabbitMQ's word.
type ArgError struct{ Arg, Reason string }

func (e *ArgError) Error() string { return "invalid arg '" + e.Arg + "': " + e.Reason }

// Retention is a stream's retention settings from its arguments.
type Retention struct {
	MaxBytes        int64         // x-max-length-bytes; 0: none
	MaxAge          time.Duration // x-max-age; 0: none
	MaxSegmentBytes int64         // x-stream-max-segment-size-bytes; 0: default
}

// ParseRetention reads a stream's retention arguments, refusing bad ones
// with RabbitMQ's reasons.
func ParseRetention(args map[string]any) (Retention, error) {
	var r Retention
	if v, ok := args["x-max-age"]; ok {
		s, isStr := v.(string)
		d, err := parseAge(s)
		if !isStr || err != nil {
			// rabbitmq: rabbit_stream_queue answers invalid_max_age.
			return r, &ArgError{Arg: "x-max-age", Reason: "invalid_max_age"}
		}
		r.MaxAge = d
	}
	for _, a := range []struct {
		name string
		dst  *int64
	}{{"x-max-length-bytes", &r.MaxBytes}, {"x-stream-max-segment-size-bytes", &r.MaxSegmentBytes}} {
		v, ok := args[a.name]
		if !ok {
			continue
		}
		n, isInt := amqp.IntValue(v)
		if !isInt {
			return r, &ArgError{Arg: a.name, Reason: "{unacceptable_type," + amqp.FieldTypeName(v) + "}"}
		}
		if n < 0 {
			return r, &ArgError{Arg: a.name, Reason: "{value_negative," + strconv.FormatInt(n, 10) + "}"}
		}
		*a.dst = n
	}
	return r, nil
}

// ParseAge reads an x-max-age (or max-age policy) value.
func ParseAge(s string) (time.Duration, error) { return parseAge(s) }

// parseAge reads RabbitMQ's age strings: a positive integer and one of
// Y M D h m s ("7D", "12h", "30m", "10s").
func parseAge(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, errors.New("short")
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("not a positive integer")
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'Y':
		unit = 365 * 24 * time.Hour
	case 'M':
		unit = 30 * 24 * time.Hour
	case 'D':
		unit = 24 * time.Hour
	case 'h':
		unit = time.Hour
	case 'm':
		unit = time.Minute
	case 's':
		unit = time.Second
	default:
		return 0, errors.New("unit")
	}
	return time.Duration(n) * unit, nil
}
