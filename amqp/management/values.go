package management

import (
	"fmt"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
)

// Conversions between JSON values and AMQP field-table values, as
// RabbitMQ's management plugin makes them: a JSON integer is a long
// (int64), a fraction a double, a string a longstr, an object a table, an
// array an array; back out, broker.ArgsToJSON renders each AMQP value as
// RabbitMQ does.

// tableFromJSON converts a decoded JSON object (numbers as json.Number)
// to a field table as the core reads arguments (broker.ArgsFromJSON).
// nil stays nil; {} is an empty table.
func tableFromJSON(m map[string]any) (amqp.Table, error) {
	if m == nil {
		return nil, nil
	}
	t, err := broker.ArgsFromJSON(m)
	if err != nil {
		return nil, err
	}
	if t == nil {
		t = map[string]any{}
	}
	return t, nil
}

// tableToJSON converts a field table for a JSON answer as RabbitMQ
// renders it (broker.ArgsToJSON, the one renderer); nil is {}.
func tableToJSON(t map[string]any) map[string]any { return broker.ArgsToJSON(t) }

// flexBool is a JSON boolean that also takes "true" and "false" as
// strings, as RabbitMQ does (rabbitmqadmin sends them so).
type flexBool bool

func (b *flexBool) UnmarshalJSON(raw []byte) error {
	switch string(raw) {
	case "true", `"true"`:
		*b = true
	case "false", `"false"`, "null", `""`:
		*b = false
	default:
		return fmt.Errorf("not a boolean: %s", raw)
	}
	return nil
}
