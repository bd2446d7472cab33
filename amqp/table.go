package amqp

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Table is an AMQP field table in RabbitMQ's dialect. Values are:
//
//	t bool        b int8     B uint8    s int16    u uint16
//	I int32       i uint32   l int64    f float32  d float64
//	D Decimal     S string   x []byte   T time.Time
//	F Table       A []any    V nil
//
// A map does not keep the order of the wire: AppendTable writes keys in
// sorted order, so encoding is deterministic.
type Table map[string]any

// Decimal is the AMQP decimal value: Value / 10^Scale.
type Decimal struct {
	Scale uint8
	Value int32
}

// MaxTableDepth bounds the nesting of tables and arrays a decoder accepts,
// so that hostile input cannot exhaust the stack.
const MaxTableDepth = 64

var errTooDeep = fmt.Errorf("tables nested deeper than %d", MaxTableDepth)

// DecodeTable decodes a field table given as its length-prefixed wire form.
func DecodeTable(b []byte) (Table, error) {
	d := decoder{b: b}
	t := d.table()
	if d.err == nil && d.off != len(b) {
		d.err = fmt.Errorf("%d trailing bytes after table", len(b)-d.off)
	}
	return t, d.err
}

func (d *decoder) table() Table {
	body := d.longbytes()
	if d.err != nil {
		return nil
	}
	if d.depth >= MaxTableDepth {
		d.fail(errTooDeep)
		return nil
	}
	inner := decoder{b: body, depth: d.depth + 1}
	t := Table{}
	for inner.err == nil && inner.off < len(inner.b) {
		key := inner.shortstr()
		v := inner.value()
		if inner.err == nil {
			t[key] = v
		}
	}
	d.fail(inner.err)
	return t
}

func (d *decoder) array() []any {
	body := d.longbytes()
	if d.err != nil {
		return nil
	}
	if d.depth >= MaxTableDepth {
		d.fail(errTooDeep)
		return nil
	}
	inner := decoder{b: body, depth: d.depth + 1}
	a := []any{}
	for inner.err == nil && inner.off < len(inner.b) {
		v := inner.value()
		if inner.err == nil {
			a = append(a, v)
		}
	}
	d.fail(inner.err)
	return a
}

func (d *decoder) value() any {
	typ := d.octet()
	if d.err != nil {
		return nil
	}
	switch typ {
	case 't':
		return d.octet() != 0
	case 'b':
		return int8(d.octet())
	case 'B':
		return d.octet()
	case 's':
		return int16(d.short())
	case 'u':
		return d.short()
	case 'I':
		return int32(d.long())
	case 'i':
		return d.long()
	case 'l':
		return int64(d.longlong())
	case 'f':
		return math.Float32frombits(d.long())
	case 'd':
		return math.Float64frombits(d.longlong())
	case 'D':
		return Decimal{Scale: d.octet(), Value: int32(d.long())}
	case 'S':
		return d.longstr()
	case 'x':
		return slices.Clone(d.longbytes())
	case 'T':
		return d.timestamp()
	case 'F':
		return d.table()
	case 'A':
		return d.array()
	case 'V':
		return nil
	}
	d.fail(fmt.Errorf("unknown field value type %q", typ))
	return nil
}

// AppendTable appends t in wire form (a 32-bit length, then the fields in
// key order). A value of a type not listed on Table is an error.
func AppendTable(b []byte, t Table) ([]byte, error) {
	return appendTableDepth(b, t, 0)
}

func appendTableDepth(b []byte, t Table, depth int) ([]byte, error) {
	if depth >= MaxTableDepth {
		return b, errTooDeep
	}
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	if len(t) > 0 {
		var small [16]string
		keys := small[:0]
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var err error
		for _, k := range keys {
			if len(k) > 255 {
				return b[:start], errShortStr("table key", len(k))
			}
			b = appendShortStr(b, k)
			if b, err = appendValue(b, t[k], depth); err != nil {
				return b[:start], fmt.Errorf("table key %q: %w", k, err)
			}
		}
	}
	patchLen(b, start)
	return b, nil
}

func patchLen(b []byte, start int) {
	n := uint32(len(b) - start - 4)
	b[start], b[start+1], b[start+2], b[start+3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
}

var errUnsupported = errors.New("unsupported field value type")

func appendValue(b []byte, v any, depth int) ([]byte, error) {
	switch v := v.(type) {
	case bool:
		x := byte(0)
		if v {
			x = 1
		}
		return append(b, 't', x), nil
	case int8:
		return append(b, 'b', byte(v)), nil
	case uint8:
		return append(b, 'B', v), nil
	case int16:
		return appendUint16(append(b, 's'), uint16(v)), nil
	case uint16:
		return appendUint16(append(b, 'u'), v), nil
	case int32:
		return appendUint32(append(b, 'I'), uint32(v)), nil
	case uint32:
		return appendUint32(append(b, 'i'), v), nil
	case int64:
		return appendUint64(append(b, 'l'), uint64(v)), nil
	case int:
		return appendUint64(append(b, 'l'), uint64(v)), nil
	case float32:
		return appendUint32(append(b, 'f'), math.Float32bits(v)), nil
	case float64:
		return appendUint64(append(b, 'd'), math.Float64bits(v)), nil
	case Decimal:
		return appendUint32(append(b, 'D', v.Scale), uint32(v.Value)), nil
	case string:
		return appendLongStr(append(b, 'S'), v), nil
	case []byte:
		b = appendUint32(append(b, 'x'), uint32(len(v)))
		return append(b, v...), nil
	case time.Time:
		return appendUint64(append(b, 'T'), uint64(v.Unix())), nil
	case Table:
		return appendTableDepth(append(b, 'F'), v, depth+1)
	case map[string]any:
		return appendTableDepth(append(b, 'F'), Table(v), depth+1)
	case []any:
		if depth+1 >= MaxTableDepth {
			return b, errTooDeep
		}
		b = append(b, 'A')
		start := len(b)
		b = append(b, 0, 0, 0, 0)
		var err error
		for _, e := range v {
			if b, err = appendValue(b, e, depth+1); err != nil {
				return b, err
			}
		}
		patchLen(b, start)
		return b, nil
	case nil:
		return append(b, 'V'), nil
	}
	return b, fmt.Errorf("%w %T", errUnsupported, v)
}

// skipTable checks a table's wire form the way table() decodes it, without
// building the map: the publish path only needs to know it is well formed.
func (d *decoder) skipTable() { d.skipContainer(true) }

func (d *decoder) skipArray() { d.skipContainer(false) }

// skipContainer checks a table (keyed fields) or an array (bare values).
func (d *decoder) skipContainer(keyed bool) {
	body := d.longbytes()
	if d.err != nil {
		return
	}
	if d.depth >= MaxTableDepth {
		d.fail(errTooDeep)
		return
	}
	inner := decoder{b: body, depth: d.depth + 1}
	for inner.err == nil && inner.off < len(inner.b) {
		if keyed {
			inner.take(int(inner.octet())) // the key
		}
		inner.skipValue()
	}
	d.fail(inner.err)
}

func (d *decoder) skipValue() {
	typ := d.octet()
	if d.err != nil {
		return
	}
	switch typ {
	case 't', 'b', 'B':
		d.take(1)
	case 's', 'u':
		d.take(2)
	case 'I', 'i', 'f':
		d.take(4)
	case 'l', 'd', 'T':
		d.take(8)
	case 'D':
		d.take(5)
	case 'S', 'x':
		d.longbytes()
	case 'F':
		d.skipTable()
	case 'A':
		d.skipArray()
	case 'V':
	default:
		d.fail(fmt.Errorf("unknown field value type %q", typ))
	}
}

// FieldTypeName is RabbitMQ's name for the type of a field value, as it
// appears in its error texts (signedint, longstr, ...).
func FieldTypeName(v any) string {
	switch v.(type) {
	case bool:
		return "bool"
	case int8:
		return "byte"
	case uint8:
		return "unsignedbyte"
	case int16:
		return "short"
	case uint16:
		return "unsignedshort"
	case int32:
		return "signedint"
	case uint32:
		return "unsignedint"
	case int64, int:
		return "long"
	case float32:
		return "float"
	case float64:
		return "double"
	case Decimal:
		return "decimal"
	case string:
		return "longstr"
	case []byte:
		return "binary"
	case time.Time:
		return "timestamp"
	case Table, map[string]any:
		return "table"
	case []any:
		return "array"
	case nil:
		return "void"
	}
	return fmt.Sprintf("%T", v)
}

// IntValue reads a field value of any integer type as an int64.
func IntValue(v any) (int64, bool) {
	switch v := v.(type) {
	case int8:
		return int64(v), true
	case uint8:
		return int64(v), true
	case int16:
		return int64(v), true
	case uint16:
		return int64(v), true
	case int32:
		return int64(v), true
	case uint32:
		return int64(v), true
	case int64:
		return v, true
	case int:
		return int64(v), true
	}
	return 0, false
}
