package amqp

import (
	"errors"
	"reflect"
	"testing"
)

// DecodeBasicPublish and DecodeBasicAck, the publish and ack paths' own
// decoders, agree with DecodeMethod on every payload, reuse a name equal
// to the previous one without allocating, and reject what it rejects.
func TestHotPathDecodersAgreeWithDecodeMethod(t *testing.T) {
	pubs := []BasicPublish{
		{RoutingKey: "orders"},
		{RoutingKey: "orders"}, // the same name again: reused
		{Exchange: "amq.topic", RoutingKey: "a.b", Mandatory: true},
		{Exchange: "amq.topic", RoutingKey: "a.c", Immediate: true},
		{}, // back to the empty names
		{Exchange: "x", RoutingKey: "orders", Mandatory: true, Immediate: true},
	}
	var scratch BasicPublish
	for i, want := range pubs {
		p := mustAppend(t, &want)
		m, err := DecodeMethod(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := DecodeBasicPublish(p, &scratch); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if !reflect.DeepEqual(&scratch, m) {
			t.Errorf("publish %d: DecodeBasicPublish gave %+v, DecodeMethod %+v", i, scratch, m)
		}
	}
	var ack BasicAck
	for _, want := range []BasicAck{{DeliveryTag: 1}, {DeliveryTag: 1 << 40, Multiple: true}, {}} {
		p := mustAppend(t, &want)
		if err := DecodeBasicAck(p, &ack); err != nil {
			t.Fatal(err)
		}
		if ack != want {
			t.Errorf("DecodeBasicAck gave %+v, want %+v", ack, want)
		}
	}

	// Bad input: the same errors as DecodeMethod's.
	pub := mustAppend(t, &BasicPublish{RoutingKey: "orders"})
	ackp := mustAppend(t, &BasicAck{DeliveryTag: 7})
	for _, c := range []struct {
		name    string
		payload []byte
		code    ReplyCode
		decode  func([]byte) error
	}{
		{"publish truncated", pub[:len(pub)-3], SyntaxError, func(b []byte) error { return DecodeBasicPublish(b, &scratch) }},
		{"publish trailing", append(append([]byte{}, pub...), 0), SyntaxError, func(b []byte) error { return DecodeBasicPublish(b, &scratch) }},
		{"not a publish", ackp, CommandInvalid, func(b []byte) error { return DecodeBasicPublish(b, &scratch) }},
		{"ack truncated", ackp[:len(ackp)-1], SyntaxError, func(b []byte) error { return DecodeBasicAck(b, &ack) }},
		{"ack trailing", append(append([]byte{}, ackp...), 0), SyntaxError, func(b []byte) error { return DecodeBasicAck(b, &ack) }},
		{"not an ack", pub, CommandInvalid, func(b []byte) error { return DecodeBasicAck(b, &ack) }},
		{"too short", []byte{0, 60}, FrameError, func(b []byte) error { return DecodeBasicAck(b, &ack) }},
	} {
		var ae *Error
		if err := c.decode(c.payload); !errors.As(err, &ae) || ae.Code != c.code {
			t.Errorf("%s: got %v, want code %d", c.name, err, c.code)
		}
	}

	// A publish to the name of the one before allocates nothing.
	if err := DecodeBasicPublish(pub, &scratch); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { DecodeBasicPublish(pub, &scratch) }); n != 0 {
		t.Errorf("DecodeBasicPublish of the same names: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { DecodeBasicAck(ackp, &ack) }); n != 0 {
		t.Errorf("DecodeBasicAck: %v allocations, want 0", n)
	}
}

func mustAppend(t *testing.T, m Method) []byte {
	t.Helper()
	b, err := AppendMethod(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
