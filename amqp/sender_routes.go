package amqp

import (
	"bytes"
	"fmt"
)

// Sender-selected distribution (rabbitmq): the CC and BCC headers of a
// published message, arrays of longstr routing keys, add their keys to the
// publish's routing key; BCC is removed from the message before it is
// routed, stored or delivered.
const (
	HeaderCC  = "CC"
	HeaderBCC = "BCC"
)

// SenderRoutes is what a header table's CC and BCC fields add to a
// publish.
type SenderRoutes struct {
	// Keys are CC's longstr elements, then BCC's, in order; other
	// element types are ignored (rabbitmq header_routes).
	Keys []string
	// BCCStart and BCCEnd delimit the BCC field (key and value) in the
	// table's wire form, length prefix included; BCCEnd is 0 without one.
	BCCStart, BCCEnd int
}

// fieldTypeNames are RabbitMQ's names of the field value types by their
// wire tag, as its error texts print them.
var fieldTypeNames = [256]string{
	't': "bool", 'b': "byte", 'B': "unsignedbyte", 's': "short", 'u': "unsignedshort",
	'I': "signedint", 'i': "unsignedint", 'l': "long", 'f': "float", 'd': "double",
	'D': "decimal", 'S': "longstr", 'x': "binary", 'T': "timestamp", 'F': "table",
	'A': "array", 'V': "void",
}

// ScanSenderRoutes reads the CC and BCC fields of a header table given in
// its wire form, length prefix included, as ScanProperties returns it
// (already checked to be well formed). A table that does not contain the
// bytes "CC" anywhere is ruled out by one bytes.Index, without a walk.
//
// rabbitmq rabbit_basic:header_routes: a CC or BCC that is not an array
// fails the publish with PRECONDITION_FAILED - invalid message:
// {unacceptable_type_in_header,"CC",longstr}. The first field of each name
// counts, as lists:keyfind finds it.
func ScanSenderRoutes(table []byte) (SenderRoutes, error) {
	var r SenderRoutes
	if bytes.Index(table, []byte(HeaderCC)) < 0 {
		return r, nil
	}
	d := decoder{b: table}
	body := d.longbytes()
	if d.err != nil {
		return r, d.err
	}
	in := decoder{b: body, depth: 1}
	var seenCC, seenBCC bool
	var bcc []string
	for in.err == nil && in.off < len(in.b) {
		start := in.off
		key := in.take(int(in.octet()))
		isCC := !seenCC && string(key) == HeaderCC
		isBCC := !seenBCC && string(key) == HeaderBCC
		if !isCC && !isBCC {
			in.skipValue()
			continue
		}
		if in.off >= len(in.b) {
			in.fail(errShortTable)
			break
		}
		if typ := in.b[in.off]; typ != 'A' {
			return SenderRoutes{}, Errorf(PreconditionFailed, "invalid message: {unacceptable_type_in_header,\"%s\",%s}", key, fieldTypeNames[typ])
		}
		in.off++
		keys := in.longstrArray()
		if isCC {
			seenCC = true
			r.Keys = append(r.Keys, keys...)
		} else {
			seenBCC = true
			bcc = keys
			r.BCCStart, r.BCCEnd = 4+start, 4+in.off
		}
	}
	if in.err != nil {
		return SenderRoutes{}, in.err
	}
	r.Keys = append(r.Keys, bcc...)
	return r, nil
}

var errShortTable = fmt.Errorf("table field without a value")

// longstrArray reads an array's wire form and returns its longstr
// elements, skipping the others.
func (d *decoder) longstrArray() []string {
	body := d.longbytes()
	if d.err != nil {
		return nil
	}
	in := decoder{b: body, depth: d.depth + 1}
	var keys []string
	for in.err == nil && in.off < len(in.b) {
		if in.b[in.off] == 'S' {
			in.off++
			keys = append(keys, string(in.longbytes()))
			continue
		}
		in.skipValue()
	}
	d.fail(in.err)
	return keys
}

// DeleteTableField removes bytes [start, end) of the header table at
// props[at:] (a field, as ScanSenderRoutes delimits BCC) in place, fixes
// the table's length and returns the shortened properties.
func DeleteTableField(props []byte, at, start, end int) []byte {
	t := props[at:]
	n := uint32(t[0])<<24 | uint32(t[1])<<16 | uint32(t[2])<<8 | uint32(t[3])
	n -= uint32(end - start)
	t[0], t[1], t[2], t[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	copy(props[at+start:], props[at+end:])
	return props[:len(props)-(end-start)]
}
