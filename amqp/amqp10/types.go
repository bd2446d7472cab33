package amqp10

import (
	"encoding/binary"
	"errors"
	"math"
	"sort"
	"time"
)

// Symbol is an AMQP 1.0 symbol (ASCII), distinct from a string.
type Symbol string

// UUID is an AMQP 1.0 uuid.
type UUID [16]byte

// Described is a described value other than a section.
type Described struct {
	Descriptor any
	Value      any
}

// ErrMalformed is a message that does not decode.
var ErrMalformed = errors.New("amqp10: malformed message")

// Append appends v in its AMQP 1.0 encoding. Supported: nil, bool, the
// signed and unsigned integers, float32, float64, string, Symbol, []byte,
// time.Time (timestamp), UUID, []any (list), map[string]any (map with
// string keys, sorted), map[Symbol]any, Described. Other types encode as
// null.
func Append(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 0x40)
	case bool:
		if x {
			return append(b, 0x41)
		}
		return append(b, 0x42)
	case uint8:
		return append(b, 0x50, x)
	case uint16:
		return binary.BigEndian.AppendUint16(append(b, 0x60), x)
	case uint32:
		if x == 0 {
			return append(b, 0x43)
		}
		if x < 256 {
			return append(b, 0x52, byte(x))
		}
		return binary.BigEndian.AppendUint32(append(b, 0x70), x)
	case uint64:
		if x == 0 {
			return append(b, 0x44)
		}
		if x < 256 {
			return append(b, 0x53, byte(x))
		}
		return binary.BigEndian.AppendUint64(append(b, 0x80), x)
	case int8:
		return append(b, 0x51, byte(x))
	case int16:
		return binary.BigEndian.AppendUint16(append(b, 0x61), uint16(x))
	case int32:
		if x >= -128 && x <= 127 {
			return append(b, 0x54, byte(int8(x)))
		}
		return binary.BigEndian.AppendUint32(append(b, 0x71), uint32(x))
	case int:
		return Append(b, int64(x))
	case int64:
		if x >= -128 && x <= 127 {
			return append(b, 0x55, byte(int8(x)))
		}
		return binary.BigEndian.AppendUint64(append(b, 0x81), uint64(x))
	case float32:
		return binary.BigEndian.AppendUint32(append(b, 0x72), math.Float32bits(x))
	case float64:
		return binary.BigEndian.AppendUint64(append(b, 0x82), math.Float64bits(x))
	case time.Time:
		return binary.BigEndian.AppendUint64(append(b, 0x83), uint64(x.UnixMilli()))
	case UUID:
		return append(append(b, 0x98), x[:]...)
	case string:
		return appendVar(b, 0xa1, 0xb1, x)
	case Symbol:
		return appendVar(b, 0xa3, 0xb3, string(x))
	case []byte:
		return appendVar(b, 0xa0, 0xb0, string(x))
	case []any:
		return appendList(b, x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		kv := make([]any, 0, 2*len(x))
		for _, k := range keys {
			kv = append(kv, k, x[k])
		}
		return appendMap(b, kv)
	case map[Symbol]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, string(k))
		}
		sort.Strings(keys)
		kv := make([]any, 0, 2*len(x))
		for _, k := range keys {
			kv = append(kv, Symbol(k), x[Symbol(k)])
		}
		return appendMap(b, kv)
	case Described:
		return Append(Append(append(b, 0x00), x.Descriptor), x.Value)
	}
	return append(b, 0x40)
}

func appendVar(b []byte, small, large byte, s string) []byte {
	if len(s) < 256 {
		b = append(b, small, byte(len(s)))
	} else {
		b = binary.BigEndian.AppendUint32(append(b, large), uint32(len(s)))
	}
	return append(b, s...)
}

// appendCompound writes a list (code8 0xc0, code32 0xd0) or map (0xc1,
// 0xd1) of the encoded items.
func appendCompound(b []byte, code8, code32 byte, items []any) []byte {
	var body []byte
	for _, it := range items {
		body = Append(body, it)
	}
	if len(body) < 255 && len(items) < 256 {
		b = append(b, code8, byte(len(body)+1), byte(len(items)))
	} else {
		b = append(b, code32)
		b = binary.BigEndian.AppendUint32(b, uint32(len(body)+4))
		b = binary.BigEndian.AppendUint32(b, uint32(len(items)))
	}
	return append(b, body...)
}

func appendList(b []byte, items []any) []byte {
	if len(items) == 0 {
		return append(b, 0x45)
	}
	return appendCompound(b, 0xc0, 0xd0, items)
}

func appendMap(b []byte, kv []any) []byte { return appendCompound(b, 0xc1, 0xd1, kv) }

// decoder reads values from b; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() { d.err, d.b = ErrMalformed, nil }

func (d *decoder) take(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() byte {
	v := d.take(1)
	if v == nil {
		return 0
	}
	return v[0]
}

func (d *decoder) u32() uint32 {
	v := d.take(4)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

// value decodes one value; maps decode to map[string]any (string and
// symbol keys; others are dropped), lists and arrays to []any.
func (d *decoder) value() any {
	code := d.u8()
	if d.err != nil {
		return nil
	}
	return d.valueOf(code)
}

func (d *decoder) valueOf(code byte) any {
	switch code {
	case 0x00:
		desc := d.value()
		return Described{Descriptor: desc, Value: d.value()}
	case 0x40:
		return nil
	case 0x41:
		return true
	case 0x42:
		return false
	case 0x56:
		return d.u8() != 0
	case 0x50:
		return d.u8()
	case 0x60:
		v := d.take(2)
		if v == nil {
			return nil
		}
		return binary.BigEndian.Uint16(v)
	case 0x70:
		return d.u32()
	case 0x52:
		return uint32(d.u8())
	case 0x43:
		return uint32(0)
	case 0x80:
		v := d.take(8)
		if v == nil {
			return nil
		}
		return binary.BigEndian.Uint64(v)
	case 0x53:
		return uint64(d.u8())
	case 0x44:
		return uint64(0)
	case 0x51:
		return int8(d.u8())
	case 0x61:
		v := d.take(2)
		if v == nil {
			return nil
		}
		return int16(binary.BigEndian.Uint16(v))
	case 0x71:
		return int32(d.u32())
	case 0x54:
		return int32(int8(d.u8()))
	case 0x81:
		v := d.take(8)
		if v == nil {
			return nil
		}
		return int64(binary.BigEndian.Uint64(v))
	case 0x55:
		return int64(int8(d.u8()))
	case 0x72:
		return math.Float32frombits(d.u32())
	case 0x82:
		v := d.take(8)
		if v == nil {
			return nil
		}
		return math.Float64frombits(binary.BigEndian.Uint64(v))
	case 0x73:
		return rune(d.u32())
	case 0x83:
		v := d.take(8)
		if v == nil {
			return nil
		}
		return time.UnixMilli(int64(binary.BigEndian.Uint64(v)))
	case 0x98:
		var u UUID
		copy(u[:], d.take(16))
		return u
	case 0xa0:
		return append([]byte(nil), d.take(int(d.u8()))...)
	case 0xb0:
		return append([]byte(nil), d.take(int(d.u32()))...)
	case 0xa1:
		return string(d.take(int(d.u8())))
	case 0xb1:
		return string(d.take(int(d.u32())))
	case 0xa3:
		return Symbol(d.take(int(d.u8())))
	case 0xb3:
		return Symbol(d.take(int(d.u32())))
	case 0x45:
		return []any{}
	case 0xc0, 0xd0, 0xc1, 0xd1:
		var n int
		sub := &decoder{}
		if code == 0xc0 || code == 0xc1 {
			size := int(d.u8())
			sub.b = d.take(size)
			n = int(sub.u8())
		} else {
			size := int(d.u32())
			sub.b = d.take(size)
			n = int(sub.u32())
		}
		if d.err != nil || sub.err != nil || n > len(sub.b) {
			d.fail()
			return nil
		}
		items := make([]any, 0, n)
		for range n {
			items = append(items, sub.value())
		}
		if sub.err != nil {
			d.fail()
			return nil
		}
		if code == 0xc0 || code == 0xd0 {
			return items
		}
		if n%2 != 0 {
			d.fail()
			return nil
		}
		m := make(map[string]any, n/2)
		for i := 0; i < n; i += 2 {
			switch k := items[i].(type) {
			case string:
				m[k] = items[i+1]
			case Symbol:
				m[string(k)] = items[i+1]
			}
		}
		return m
	case 0xe0, 0xf0:
		sub := &decoder{}
		var n int
		if code == 0xe0 {
			sub.b = d.take(int(d.u8()))
			n = int(sub.u8())
		} else {
			sub.b = d.take(int(d.u32()))
			n = int(sub.u32())
		}
		elem := sub.u8()
		if d.err != nil || sub.err != nil || n > len(sub.b)+1 {
			d.fail()
			return nil
		}
		items := make([]any, 0, n)
		for range n {
			items = append(items, sub.valueOf(elem))
		}
		if sub.err != nil {
			d.fail()
			return nil
		}
		return items
	}
	d.fail()
	return nil
}
