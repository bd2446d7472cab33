package amqp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// errTruncated is the decoder's error for input that ends too early.
var errTruncated = errors.New("truncated")

// decoder reads wire values from a byte slice bounded by the frame. Its error
// is sticky: after the first failure every read returns a zero value, so the
// generated decoders need no error check per field.
type decoder struct {
	b     []byte
	off   int
	err   error
	depth int // table/array nesting
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// take returns the next n bytes, or nil after recording errTruncated.
func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.off {
		d.fail(errTruncated)
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

func (d *decoder) octet() uint8 {
	if p := d.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) short() uint16 {
	if p := d.take(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (d *decoder) long() uint32 {
	if p := d.take(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) longlong() uint64 {
	if p := d.take(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

func (d *decoder) shortstr() string {
	n := int(d.octet())
	return string(d.take(n))
}

// shortstrAs reads a short string and returns prev when it has the same
// bytes, allocating nothing.
func (d *decoder) shortstrAs(prev string) string {
	n := int(d.octet())
	b := d.take(n)
	if string(b) == prev {
		return prev
	}
	return string(b)
}

// longbytes reads a long-string's bytes without copying them.
func (d *decoder) longbytes() []byte {
	n := d.long()
	if d.err == nil && uint64(n) > uint64(len(d.b)-d.off) {
		d.fail(fmt.Errorf("long string of %d bytes exceeds the %d remaining", n, len(d.b)-d.off))
		return nil
	}
	return d.take(int(n))
}

func (d *decoder) longstr() string { return string(d.longbytes()) }

func (d *decoder) timestamp() time.Time {
	return time.Unix(int64(d.longlong()), 0).UTC()
}

func appendUint16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func appendUint32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func appendUint64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// appendShortStr appends a short string; callers check len(s) <= 255 first.
func appendShortStr(b []byte, s string) []byte {
	b = append(b, byte(len(s)))
	return append(b, s...)
}

func appendLongStr(b []byte, s string) []byte {
	b = appendUint32(b, uint32(len(s)))
	return append(b, s...)
}
