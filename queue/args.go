package queue

import (
	"fmt"

	"github.com/warrenmq/warren/amqp"
)

// Overflow is what a full queue does with a new message.
type Overflow uint8

const (
	DropHead         Overflow = iota // drop (or dead-letter) the oldest ready message
	RejectPublish                    // refuse the new one: the publisher gets a nack
	RejectPublishDLX                 // refuse and dead-letter the new one
)

// Limits are the queue arguments the core enforces, with the policies
// that apply (SetLimits). The fields are ordered to pack: a queue holds
// one Limits on the heap.
type Limits struct {
	MaxLength       int64 // ready messages; -1: none
	MaxLengthBytes  int64 // ready body bytes; -1: none
	MessageTTL      int64 // x-message-ttl in ms; -1: none
	DeliveryLimit   int64 // x-delivery-limit; -1: none
	Expires         int64 // x-expires in ms; -1: none
	ConsumerTimeout int64 // x-consumer-timeout in ms; -1: the server's
	// DeadLetterExchange and DeadLetterRoutingKey (when HasDeadLetterKey)
	// are where dead letters go.
	DeadLetterExchange   string
	DeadLetterRoutingKey string
	// Source is what the queue's owner derived these limits from (the
	// broker's policies); the queue never reads it.
	Source           any
	Overflow         Overflow
	MaxPriority      uint8 // x-max-priority; 0: not a priority queue
	DLX              bool  // x-dead-letter-exchange is set
	HasDeadLetterKey bool
	SingleActive     bool // x-single-active-consumer
	Quorum           bool // x-queue-type quorum
}

// ArgError is an invalid queue argument. Reason is written as RabbitMQ
// writes the Erlang term, e.g. {value_negative,-1}.
type ArgError struct {
	Arg    string
	Reason string
	// BadType, when set, is the field type of a value that is not a string
	// where one is required: rabbitmq words that error differently.
	BadType string
}

func (e *ArgError) Error() string { return fmt.Sprintf("invalid arg '%s': %s", e.Arg, e.Reason) }

// ParseArgs validates a queue's x- arguments as RabbitMQ does and returns
// the limits they set. Unknown arguments are kept but not interpreted.
func ParseArgs(args map[string]any) (Limits, error) {
	l := Limits{MaxLength: -1, MaxLengthBytes: -1, MessageTTL: -1, DeliveryLimit: -1, Expires: -1, ConsumerTimeout: -1}
	for _, name := range argOrder {
		v, ok := args[name]
		if !ok {
			continue
		}
		if err := argCheckers[name](v); err != nil {
			ae := &ArgError{Arg: name, Reason: err.Error()}
			if bt, ok := err.(badType); ok {
				ae.BadType = string(bt)
			}
			return l, ae
		}
	}
	if _, ok := args["x-dead-letter-routing-key"]; ok {
		if _, ok := args["x-dead-letter-exchange"]; !ok {
			return l, &ArgError{Arg: "x-dead-letter-routing-key", Reason: "routing_key_but_no_dlx_defined"}
		}
	}
	if v, ok := integer(args["x-max-length"]); ok {
		l.MaxLength = v
	}
	if v, ok := integer(args["x-max-length-bytes"]); ok {
		l.MaxLengthBytes = v
	}
	if v, ok := integer(args["x-max-priority"]); ok {
		l.MaxPriority = uint8(v)
	}
	if v, ok := integer(args["x-message-ttl"]); ok {
		l.MessageTTL = v
	}
	if v, ok := integer(args["x-delivery-limit"]); ok {
		l.DeliveryLimit = v
	}
	if v, ok := integer(args["x-expires"]); ok {
		l.Expires = v
	}
	l.DeadLetterExchange, l.DLX = args["x-dead-letter-exchange"].(string)
	l.DeadLetterRoutingKey, l.HasDeadLetterKey = args["x-dead-letter-routing-key"].(string)
	if v, ok := integer(args["x-consumer-timeout"]); ok && v >= 0 {
		l.ConsumerTimeout = v
	}
	l.SingleActive, _ = args["x-single-active-consumer"].(bool)
	if args["x-queue-type"] == "quorum" {
		l.Quorum = true
		if l.DeliveryLimit < 0 {
			l.DeliveryLimit = 20 // rabbitmq 4: quorum queues default to 20
		}
	}
	switch args["x-overflow"] {
	case "reject-publish":
		l.Overflow = RejectPublish
	case "reject-publish-dlx":
		l.Overflow = RejectPublishDLX
	}
	return l, nil
}

// argOrder fixes the order in which arguments are checked, so the same bad
// declaration always names the same argument.
var argOrder = []string{
	"x-expires", "x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-routing-key",
	"x-max-length", "x-max-length-bytes", "x-max-priority", "x-overflow", "x-queue-mode",
	"x-queue-type", "x-single-active-consumer", "x-delivery-limit",
}

type reason string

func (r reason) Error() string { return string(r) }

// badType is a non-string value where a string is required.
type badType string

func (t badType) Error() string { return fmt.Sprintf("{unacceptable_type,%s}", string(t)) }

var argCheckers = map[string]func(any) error{
	// rabbitmq: x-expires must be a positive integer.
	"x-expires": func(v any) error {
		n, err := intArg(v)
		switch {
		case err != nil:
			return err
		case n == 0:
			return reason(fmt.Sprintf("{value_zero,%d}", n))
		case n < 0:
			return reason(fmt.Sprintf("{value_negative,%d}", n))
		}
		return nil // rabbitmq 3.10 sets no upper bound
	},
	"x-message-ttl": func(v any) error {
		_, err := nonNegInt(v)
		return err
	},
	"x-dead-letter-exchange": stringArg,
	"x-dead-letter-routing-key": func(v any) error {
		if _, ok := v.(string); !ok {
			return reason(fmt.Sprintf("{unacceptable_type,%s}", amqp.FieldTypeName(v)))
		}
		return nil
	},
	"x-max-length":       func(v any) error { _, err := nonNegInt(v); return err },
	"x-max-length-bytes": func(v any) error { _, err := nonNegInt(v); return err },
	"x-delivery-limit":   func(v any) error { _, err := nonNegInt(v); return err },
	"x-max-priority": func(v any) error {
		n, err := nonNegInt(v)
		if err == nil && n > 255 {
			return reason(fmt.Sprintf("{max_value_exceeded,%d}", n))
		}
		return err
	},
	"x-overflow": func(v any) error {
		s, ok := v.(string)
		if !ok {
			return reason(fmt.Sprintf("{unacceptable_type,%s}", amqp.FieldTypeName(v)))
		}
		switch s {
		case "drop-head", "reject-publish", "reject-publish-dlx":
			return nil
		}
		return reason("invalid_overflow")
	},
	"x-queue-mode": func(v any) error {
		s, ok := v.(string)
		if !ok {
			return reason(fmt.Sprintf("{unacceptable_type,%s}", amqp.FieldTypeName(v)))
		}
		if s != "default" && s != "lazy" {
			return reason(fmt.Sprintf("{unsupported_queue_mode,<<%q>>}", s))
		}
		return nil
	},
	"x-queue-type": func(v any) error {
		s, ok := v.(string)
		if !ok {
			return reason(fmt.Sprintf("{unacceptable_type,%s}", amqp.FieldTypeName(v)))
		}
		if s != "classic" && s != "quorum" && s != "stream" {
			return reason(fmt.Sprintf("%q", "unsupported queue type '"+s+"'"))
		}
		return nil
	},
	"x-single-active-consumer": func(v any) error {
		if _, ok := v.(bool); !ok {
			return reason(fmt.Sprintf("{unacceptable_type,%s}", amqp.FieldTypeName(v)))
		}
		return nil
	},
}

func stringArg(v any) error {
	if _, ok := v.(string); !ok {
		return badType(amqp.FieldTypeName(v))
	}
	return nil
}

func intArg(v any) (int64, error) {
	n, ok := integer(v)
	if !ok {
		return 0, reason(fmt.Sprintf("%q", "expected integer, got "+amqp.FieldTypeName(v)))
	}
	return n, nil
}

func nonNegInt(v any) (int64, error) {
	n, err := intArg(v)
	if err == nil && n < 0 {
		return n, reason(fmt.Sprintf("{value_negative,%d}", n))
	}
	return n, err
}

// integer reads any AMQP integer field value.
func integer(v any) (int64, bool) { return amqp.IntValue(v) }
