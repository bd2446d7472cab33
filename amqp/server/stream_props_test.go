package server

import (
	"reflect"
	"testing"

	"github.com/warrenmq/warren/amqp"
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
