package exchange

import (
	"errors"
	"strconv"
)

// Kind is an exchange type: how an exchange picks the destinations of a
// message from its bindings.
type Kind uint8

// The exchange kinds. The zero Kind is not a kind: ParseKind never returns
// it and an exchange of that kind routes nothing.
const (
	Direct  Kind = iota + 1 // exact routing key
	Fanout                  // every binding, key ignored
	Topic                   // AMQP topic patterns with * and #
	Headers                 // message headers against binding arguments
	// Delayed is the x-delayed-message kind of RabbitMQ's delayed-message
	// plugin: it routes as the kind its x-delayed-type argument names (see
	// DelayedType), after the delay a message's x-delay header asks for.
	Delayed
)

var kindNames = [...]string{
	Direct:  "direct",
	Fanout:  "fanout",
	Topic:   "topic",
	Headers: "headers",
	Delayed: "x-delayed-message",
}

// String returns the kind's name as it appears on the wire ("direct", ...).
func (k Kind) String() string {
	if k >= Direct && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// ErrUnknownKind is the sentinel for an exchange type name that is not one
// of the kinds. The errors ParseKind returns wrap it.
//
// rabbitmq: exchange.declare with an unknown type closes the connection
// with 503 COMMAND_INVALID - invalid exchange type 'foo'.
var ErrUnknownKind = errors.New("unknown exchange kind")

type unknownKindError struct{ name string }

func (e *unknownKindError) Error() string {
	return "invalid exchange type '" + e.name + "'"
}

func (e *unknownKindError) Unwrap() error { return ErrUnknownKind }

// ParseKind returns the kind named s. For any other name it returns an
// error that wraps ErrUnknownKind and whose text is RabbitMQ's reply text
// without the reply-code prefix: invalid exchange type 'foo'.
func ParseKind(s string) (Kind, error) {
	switch s {
	case "direct":
		return Direct, nil
	case "fanout":
		return Fanout, nil
	case "topic":
		return Topic, nil
	case "headers":
		return Headers, nil
	case "x-delayed-message":
		return Delayed, nil
	}
	return 0, &unknownKindError{name: s}
}
