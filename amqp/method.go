package amqp

//go:generate go run ../tools/amqpgen -spec spec/amqp0-9-1.extended.xml -out spec_gen.go

import "fmt"

// Method is one AMQP method with its arguments. The concrete types are the
// generated structs in spec_gen.go, e.g. *BasicPublish.
type Method interface {
	// ID is the class id in the high 16 bits and the method id in the low 16.
	ID() uint32
	// Name is "class.method", e.g. "basic.publish".
	Name() string
	// Synchronous reports whether the method expects a response.
	Synchronous() bool
	// HasContent reports whether a content header and body follow.
	HasContent() bool
	// AppendArgs appends the arguments (without class and method ids). On
	// error (a shortstr over 255 bytes, a table value of an unsupported
	// type) b is returned as it was.
	AppendArgs(b []byte) ([]byte, error)
	String() string

	decodeArgs(d *decoder)
}

// MethodInfo is the specification's metadata for a method.
type MethodInfo struct {
	Name        string
	Synchronous bool
	Content     bool
	Responses   []uint32 // ids of the methods that answer it
}

// LookupMethod returns the metadata of the method with the given id.
func LookupMethod(id uint32) (MethodInfo, bool) {
	mi, ok := methodInfos[id]
	return mi, ok
}

// ClassOf returns the class id of a method id.
func ClassOf(id uint32) uint16 { return uint16(id >> 16) }

// MethodOf returns the method id (within its class) of a method id.
func MethodOf(id uint32) uint16 { return uint16(id) }

// MethodName names any class and method pair, known or not, for error texts.
func MethodName(classID, methodID uint16) string {
	if mi, ok := methodInfos[uint32(classID)<<16|uint32(methodID)]; ok {
		return mi.Name
	}
	if cn, ok := classNames[classID]; ok {
		return fmt.Sprintf("%s.%d", cn, methodID)
	}
	return fmt.Sprintf("%d.%d", classID, methodID)
}

// newMethod returns a zero method value for the id, or nil. A decoder that
// has already failed reads only zero values.
func newMethod(id uint32) Method {
	return decodeMethod(id, &decoder{err: errTruncated})
}

// DecodeMethod decodes a method frame's payload. The result does not alias
// payload. A truncated or over-long payload, or an unknown class or method,
// is a *Error.
func DecodeMethod(payload []byte) (Method, error) {
	if len(payload) < 4 {
		return nil, &Error{Code: FrameError, Text: fmt.Sprintf("FRAME_ERROR - method frame too short: %d bytes", len(payload))}
	}
	classID := uint16(payload[0])<<8 | uint16(payload[1])
	methodID := uint16(payload[2])<<8 | uint16(payload[3])
	d := decoder{b: payload, off: 4}
	m := decodeMethod(uint32(classID)<<16|uint32(methodID), &d)
	if m == nil {
		// rabbitmq: an unknown method is a connection error, 540 NOT_IMPLEMENTED
		// for a known class, 503 COMMAND_INVALID for an unknown one.
		if _, ok := classNames[classID]; ok {
			return nil, &Error{Code: NotImplemented, Text: fmt.Sprintf("NOT_IMPLEMENTED - unknown method %d in class %d (%s)", methodID, classID, classNames[classID]), ClassID: classID, MethodID: methodID}
		}
		return nil, &Error{Code: CommandInvalid, Text: fmt.Sprintf("COMMAND_INVALID - unknown class %d (method %d)", classID, methodID), ClassID: classID, MethodID: methodID}
	}
	if d.err == nil && d.off != len(d.b) {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b)-d.off)
	}
	if d.err != nil {
		return nil, &Error{Code: SyntaxError, Text: fmt.Sprintf("SYNTAX_ERROR - cannot decode %s: %v", m.Name(), d.err), ClassID: classID, MethodID: methodID}
	}
	return m, nil
}

// AppendMethod appends the class id, method id and arguments of m. On error
// b is returned as it was.
func AppendMethod(b []byte, m Method) ([]byte, error) {
	orig := len(b)
	b, err := m.AppendArgs(appendUint32(b, m.ID()))
	if err != nil {
		return b[:orig], err
	}
	return b, nil
}

// DecodeBasicAck decodes a basic.ack payload into m, which it overwrites,
// so that acking a message allocates no method. Errors are those of
// DecodeMethod.
func DecodeBasicAck(payload []byte, m *BasicAck) error {
	if MethodIDOf(payload) != BasicAckID {
		_, err := DecodeMethod(payload)
		if err == nil {
			err = &Error{Code: CommandInvalid, Text: "COMMAND_INVALID - not a basic.ack"}
		}
		return err
	}
	*m = BasicAck{}
	d := decoder{b: payload, off: 4}
	m.decodeArgs(&d)
	if d.err == nil && d.off != len(d.b) {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b)-d.off)
	}
	if d.err != nil {
		return &Error{Code: SyntaxError, Text: fmt.Sprintf("SYNTAX_ERROR - cannot decode basic.ack: %v", d.err), ClassID: ClassBasic, MethodID: MethodOf(BasicAckID)}
	}
	return nil
}

// MethodIDOf returns the method id a method frame's payload starts with,
// or 0 if the payload is too short.
func MethodIDOf(payload []byte) uint32 {
	if len(payload) < 4 {
		return 0
	}
	return uint32(payload[0])<<24 | uint32(payload[1])<<16 | uint32(payload[2])<<8 | uint32(payload[3])
}

// DecodeBasicPublish decodes a basic.publish payload into m, which it
// overwrites: the publish path reuses one struct per channel instead of
// allocating a method per message. Errors are those of DecodeMethod.
func DecodeBasicPublish(payload []byte, m *BasicPublish) error {
	if MethodIDOf(payload) != BasicPublishID {
		_, err := DecodeMethod(payload)
		if err == nil {
			err = &Error{Code: CommandInvalid, Text: "COMMAND_INVALID - not a basic.publish"}
		}
		return err
	}
	// The names a channel publishes to seldom change: a name equal to the
	// previous publish's is that string again, not a new allocation.
	prevEx, prevKey := m.Exchange, m.RoutingKey
	*m = BasicPublish{}
	d := decoder{b: payload, off: 4}
	_ = d.short() // reserved-1
	m.Exchange = d.shortstrAs(prevEx)
	m.RoutingKey = d.shortstrAs(prevKey)
	bits := d.octet()
	m.Mandatory = bits&(1<<0) != 0
	m.Immediate = bits&(1<<1) != 0
	if d.err == nil && d.off != len(d.b) {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b)-d.off)
	}
	if d.err != nil {
		return &Error{Code: SyntaxError, Text: fmt.Sprintf("SYNTAX_ERROR - cannot decode basic.publish: %v", d.err), ClassID: ClassBasic, MethodID: MethodOf(BasicPublishID)}
	}
	return nil
}
