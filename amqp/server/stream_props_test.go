package server

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
)

// The spliced x-stream-offset header decodes as the slow path's does, with
// every other property kept, whatever properties the message had.
func TestStreamPropsSplice(t *testing.T) {
	for _, p := range []amqp.Properties{
		{},
		{ContentType: "text/plain"},
		{ContentType: "a", ContentEncoding: "gzip", DeliveryMode: 2, Priority: 3},
		{ContentEncoding: "b", Headers: amqp.Table{"k": "v", "n": int32(7)}, MessageID: "id"},
		{Headers: amqp.Table{}, CorrelationID: "c", ReplyTo: "r", Expiration: "100", Type: "t", UserID: "u", AppID: "app"},
	} {
		raw, err := amqp.AppendProperties(nil, &p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := amqp.DecodeProperties(streamProps(raw, 1<<40+7))
		if err != nil {
			t.Fatalf("%+v: the spliced properties do not decode: %v", p, err)
		}
		want, _ := amqp.DecodeProperties(streamPropsSlow(raw, 1<<40+7))
		if got.Headers["x-stream-offset"] != int64(1<<40+7) {
			t.Fatalf("%+v: x-stream-offset %#v", p, got.Headers["x-stream-offset"])
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("spliced %+v, want %+v", got, want)
		}
	}
}

// appendStreamHeader writes, in place after what b holds, the very frame
// AppendRawHeaderFrame writes around streamProps: spliced properties and
// those the splice refuses (a truncated table takes the slow path, which
// keeps them as they are) alike, and allocates nothing on the fast path.
func TestAppendStreamHeader(t *testing.T) {
	good, _ := amqp.AppendProperties(nil, &amqp.Properties{ContentType: "a", Headers: amqp.Table{"k": "v"}, MessageID: "id"})
	bad := []byte{0x20, 0x00, 0, 0, 0, 9} // headers flag, a table longer than the bytes
	for _, raw := range [][]byte{good, {0, 0}, bad, nil} {
		msg := &queue.Message{Props: raw, Body: []byte("body")}
		prefix := []byte("earlier frames")
		got := appendStreamHeader(append([]byte(nil), prefix...), 3, msg, 42)
		want := amqp.AppendRawHeaderFrame(append([]byte(nil), prefix...), 3, amqp.ClassBasic, 4, streamProps(raw, 42))
		if !bytes.Equal(got, want) {
			t.Errorf("props % x:\n got % x\nwant % x", raw, got, want)
		}
	}
	buf := make([]byte, 0, 4096)
	msg := &queue.Message{Props: good, Body: []byte("body")}
	if n := testing.AllocsPerRun(100, func() { buf = appendStreamHeader(buf[:0], 1, msg, 7) }); n != 0 {
		t.Errorf("appendStreamHeader allocates %v times per call, want 0", n)
	}
}
