package exchange

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"time"
)

// argsKey encodes binding arguments canonically, so that two argument
// tables get the same key exactly when they are equal, types included.
//
// rabbitmq: bindings with the same source, destination and key but
// different arguments are different bindings, and arguments are compared
// with their field types: {"a": signedint 1} and {"a": long 1} are two
// bindings. nil and the empty table are the same (no arguments).
//
// The encoding is a byte string: for each entry in key order, the key's
// length and bytes, then a one-byte field type (the AMQP table type letter)
// and the value:
//
//	+--------+-----+------+---------------------------+
//	| uvarint| key | type | value                     |  ... next entry
//	| keylen |     | 'S'  | uvarint len + bytes       |
//	+--------+-----+------+---------------------------+
//
// Numbers are fixed-width big-endian (floats as their IEEE bits),
// timestamps as Unix seconds, tables recursively with a leading entry
// count, arrays as a count then type+value per element.
func argsKey(args map[string]any) string {
	if len(args) == 0 {
		return ""
	}
	return string(appendTable(nil, args))
}

func appendTable(b []byte, t map[string]any) []byte {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendValue(b, t[k])
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var (
	tableType = reflect.TypeFor[map[string]any]()
	arrayType = reflect.TypeFor[[]any]()
	bytesType = reflect.TypeFor[[]byte]()
)

func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 'V')
	case bool:
		if x {
			return append(b, 't', 1)
		}
		return append(b, 't', 0)
	case int8:
		return append(b, 'b', byte(x))
	case uint8:
		return append(b, 'B', x)
	case int16:
		return binary.BigEndian.AppendUint16(append(b, 's'), uint16(x))
	case uint16:
		return binary.BigEndian.AppendUint16(append(b, 'u'), x)
	case int32:
		return binary.BigEndian.AppendUint32(append(b, 'I'), uint32(x))
	case uint32:
		return binary.BigEndian.AppendUint32(append(b, 'i'), x)
	case int64:
		return binary.BigEndian.AppendUint64(append(b, 'l'), uint64(x))
	case int: // Go code's integers are longs
		return binary.BigEndian.AppendUint64(append(b, 'l'), uint64(x))
	case uint64:
		return binary.BigEndian.AppendUint64(append(b, 'L'), x)
	case float32:
		return binary.BigEndian.AppendUint32(append(b, 'f'), math.Float32bits(x))
	case float64:
		return binary.BigEndian.AppendUint64(append(b, 'd'), math.Float64bits(x))
	case string:
		return appendString(append(b, 'S'), x)
	case []byte:
		return appendString(append(b, 'x'), string(x))
	case time.Time:
		return binary.BigEndian.AppendUint64(append(b, 'T'), uint64(x.Unix()))
	case map[string]any:
		return appendTable(append(b, 'F'), x)
	case []any:
		b = binary.AppendUvarint(append(b, 'A'), uint64(len(x)))
		for _, e := range x {
			b = appendValue(b, e)
		}
		return b
	}
	// Named types such as the codec's Table, and types this package does
	// not know (the codec's Decimal): by their converted value, or by their
	// Go type and value.
	rv := reflect.ValueOf(v)
	switch {
	case rv.Kind() == reflect.Map && rv.Type().ConvertibleTo(tableType):
		return appendValue(b, rv.Convert(tableType).Interface())
	case rv.Kind() == reflect.Slice && rv.Type().ConvertibleTo(arrayType):
		return appendValue(b, rv.Convert(arrayType).Interface())
	case rv.Kind() == reflect.Slice && rv.Type().ConvertibleTo(bytesType):
		return appendValue(b, rv.Convert(bytesType).Interface())
	case rv.Kind() == reflect.String:
		return appendValue(b, rv.String())
	}
	return appendString(append(b, '?'), fmt.Sprintf("%T:%#v", v, v))
}
