package server

import (
	"bytes"
	"testing"
	"time"

	"github.com/warrenmq/warren/amqp"
)

func TestDirectReplyToRewritesOnlyReplyTo(t *testing.T) {
	enc := func(p amqp.Properties) []byte {
		t.Helper()
		b, err := amqp.AppendProperties(nil, &p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ch := &channel{reply: &replyConsumer{name: replyToPrefix + "tok"}}
	full := amqp.Properties{
		ContentType: "text/plain", Headers: amqp.Table{"h": "v"}, DeliveryMode: 2, Priority: 3,
		CorrelationID: "c", ReplyTo: replyToQueue, Expiration: "60000", MessageID: "m",
		Timestamp: time.Unix(1700000000, 0), Type: "t", UserID: "guest", AppID: "a",
	}
	out, err := ch.directReplyTo(enc(full))
	if err != nil {
		t.Fatal(err)
	}
	want := full
	want.ReplyTo = replyToPrefix + "tok"
	if !bytes.Equal(out, enc(want)) {
		got, _ := amqp.DecodeProperties(out)
		t.Fatalf("rewritten properties %+v, want %+v", got, want)
	}

	// Other reply_to values and messages without one pass untouched.
	for _, p := range []amqp.Properties{{ContentType: "x"}, {ReplyTo: "my-queue"}, {ReplyTo: replyToPrefix + "other"}, {}} {
		raw := enc(p)
		out, err := ch.directReplyTo(raw)
		if err != nil || !bytes.Equal(out, raw) {
			t.Errorf("directReplyTo(%+v) = %x, %v; want the input unchanged", p, out, err)
		}
	}

	// rabbitmq: no reply consumer on the channel.
	_, err = (&channel{}).directReplyTo(enc(amqp.Properties{ReplyTo: replyToQueue}))
	ae, ok := err.(*amqp.Error)
	if !ok || ae.Code != amqp.PreconditionFailed || ae.Text != "PRECONDITION_FAILED - fast reply consumer does not exist" {
		t.Fatalf("without a reply consumer: %v, want 406 fast reply consumer does not exist", err)
	}
}
