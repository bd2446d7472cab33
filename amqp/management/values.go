package management

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/warrenmq/warren/amqp"
)

// Conversions between JSON values and AMQP field-table values, as
// RabbitMQ's management plugin makes them: a JSON integer is a long
// (int64), a fraction a double, a string a longstr, an object a table, an
// array an array; back out, every AMQP value becomes its JSON nearest
// (timestamps as Unix seconds, byte arrays as strings, decimals as numbers).

// tableFromJSON converts a decoded JSON object (numbers as json.Number)
// to a field table. nil stays nil.
func tableFromJSON(m map[string]any) (amqp.Table, error) {
	if m == nil {
		return nil, nil
	}
	t := make(amqp.Table, len(m))
	for k, v := range m {
		cv, err := valueFromJSON(v)
		if err != nil {
			return nil, fmt.Errorf("argument '%s': %w", k, err)
		}
		t[k] = cv
	}
	return t, nil
}

func valueFromJSON(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return n, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("bad number %s", x)
		}
		return f, nil
	case float64:
		if x == float64(int64(x)) {
			return int64(x), nil
		}
		return x, nil
	case map[string]any:
		return tableFromJSON(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			cv, err := valueFromJSON(e)
			if err != nil {
				return nil, err
			}
			out[i] = cv
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported value %v", v)
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
