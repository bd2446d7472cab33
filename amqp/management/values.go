package management

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
)

// Conversions between JSON values and AMQP field-table values, as
// RabbitMQ's management plugin makes them: a JSON integer is a long
// (int64), a fraction a double, a string a longstr, an object a table, an
// array an array; back out, every AMQP value becomes its JSON nearest
// (timestamps as Unix seconds, byte arrays as strings, decimals as numbers).

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

// tableToJSON converts a field table for a JSON answer; nil is {}.
func tableToJSON(t map[string]any) map[string]any {
	out := make(map[string]any, len(t))
	for k, v := range t {
		out[k] = valueToJSON(v)
	}
	return out
}

func valueToJSON(v any) any {
	switch x := v.(type) {
	case amqp.Table:
		return tableToJSON(x)
	case map[string]any:
		return tableToJSON(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = valueToJSON(e)
		}
		return out
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case time.Time:
		return x.Unix()
	case amqp.Decimal:
		f := float64(x.Value)
		for range x.Scale {
			f /= 10
		}
		return f
	case float32:
		return float64(x)
	}
	return v
}

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
