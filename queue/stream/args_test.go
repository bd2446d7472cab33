package stream

import (
	"testing"
	"time"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/amqp10"
	"github.com/warrenmq/warren/queue"
)

func TestParseOffset(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	ts := time.Unix(999_000, 0)
	for _, c := range []struct {
		in   any
		want Start
		bad  bool
	}{
		{nil, Start{Kind: StartNext}, false},
		{"first", Start{Kind: StartFirst}, false},
		{"last", Start{Kind: StartLast}, false},
		{"next", Start{Kind: StartNext}, false},
		{int64(42), Start{Kind: StartOffset, Offset: 42}, false},
		{int8(3), Start{Kind: StartOffset, Offset: 3}, false},
		{int32(-5), Start{Kind: StartFirst}, false},
		{ts, Start{Kind: StartTime, Time: ts}, false},
		{"1h", Start{Kind: StartTime, Time: now.Add(-time.Hour)}, false},
		{"7D", Start{Kind: StartTime, Time: now.Add(-7 * 24 * time.Hour)}, false},
		{"30m", Start{Kind: StartTime, Time: now.Add(-30 * time.Minute)}, false},
		{"foo", Start{}, true},
		{"0s", Start{}, true},
		{"-1h", Start{}, true},
		{1.5, Start{}, true},
		{true, Start{}, true},
	} {
		got, err := ParseOffset(c.in, now)
		if (err != nil) != c.bad || !c.bad && (got.Kind != c.want.Kind || got.Offset != c.want.Offset || !got.Time.Equal(c.want.Time)) {
			t.Errorf("ParseOffset(%#v) = %+v, %v; want %+v (error %v)", c.in, got, err, c.want, c.bad)
		}
	}
}

func TestParseRetention(t *testing.T) {
	r, err := ParseRetention(map[string]any{"x-max-age": "12h", "x-max-length-bytes": int64(1000), "x-stream-max-segment-size-bytes": int32(500)})
	if err != nil || r.MaxAge != 12*time.Hour || r.MaxBytes != 1000 || r.MaxSegmentBytes != 500 {
		t.Fatalf("got %+v, %v", r, err)
	}
	for _, c := range []struct {
		args        map[string]any
		arg, reason string
	}{
		{map[string]any{"x-max-age": "10x"}, "x-max-age", "invalid_max_age"},
		{map[string]any{"x-max-age": int32(10)}, "x-max-age", "invalid_max_age"},
		{map[string]any{"x-max-length-bytes": "big"}, "x-max-length-bytes", "{unacceptable_type,longstr}"},
		{map[string]any{"x-stream-max-segment-size-bytes": int64(-1)}, "x-stream-max-segment-size-bytes", "{value_negative,-1}"},
	} {
		_, err := ParseRetention(c.args)
		ae, ok := err.(*ArgError)
		if !ok || ae.Arg != c.arg || ae.Reason != c.reason {
			t.Errorf("ParseRetention(%v) = %v, want %s: %s", c.args, err, c.arg, c.reason)
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	ts := time.Unix(1_700_000_000, 0)
	p := amqp.Properties{ContentType: "text/plain", ContentEncoding: "utf-8", DeliveryMode: 2, Priority: 3,
		CorrelationID: "c1", ReplyTo: "rq", Expiration: "60000", MessageID: "m1", Timestamp: ts, Type: "t", UserID: "guest", AppID: "app",
		Headers: amqp.Table{"x-stream-filter-value": "eu", "n": int64(7), "s": "v", "b": true, "t": amqp.Table{"k": int32(1)}, "l": []any{"a"}}}
	props, err := amqp.AppendProperties(nil, &p)
	if err != nil {
		t.Fatal(err)
	}
	m := &queue.Message{Exchange: "x", RoutingKey: "a.b", Props: props, Body: []byte("hello"), Persistent: true}
	rec := encodeRecord(m, "eu")
	got, fv, err := decodeRecord(rec)
	if err != nil || fv != "eu" || got.Exchange != "x" || got.RoutingKey != "a.b" || string(got.Body) != "hello" || !got.Persistent {
		t.Fatalf("round trip: %+v, %q, %v", got, fv, err)
	}
	gp, err := amqp.DecodeProperties(got.Props)
	if err != nil {
		t.Fatal(err)
	}
	if gp.ContentType != p.ContentType || gp.ContentEncoding != p.ContentEncoding || gp.DeliveryMode != 2 || gp.Priority != 3 ||
		gp.CorrelationID != "c1" || gp.ReplyTo != "rq" || gp.Expiration != "60000" || gp.MessageID != "m1" || !gp.Timestamp.Equal(ts) ||
		gp.Type != "t" || gp.UserID != "guest" || gp.AppID != "app" {
		t.Errorf("properties: %+v", gp)
	}
	if gp.Headers["n"] != int64(7) || gp.Headers["s"] != "v" || gp.Headers["b"] != true {
		t.Errorf("headers: %v", gp.Headers)
	}
	if tb, ok := gp.Headers["t"].(amqp.Table); !ok || tb["k"] != int32(1) {
		t.Errorf("nested table: %#v", gp.Headers["t"])
	}
	// The record is an AMQP 1.0 message as a stream client reads it.
	am, err := amqp10.Unmarshal(rec)
	if err != nil || string(am.Body()) != "hello" || am.Properties.MessageID != "m1" || am.AppProps["s"] != "v" || !am.Header.Durable {
		t.Errorf("as AMQP 1.0: %+v, %v", am, err)
	}
	// A transient message without properties: no header section.
	plain, _, err := decodeRecord(encodeRecord(&queue.Message{Body: []byte("b")}, ""))
	if err != nil || plain.Persistent || string(plain.Body) != "b" {
		t.Errorf("plain: %+v, %v", plain, err)
	}
	for n := range len(rec) {
		decodeRecord(rec[:n]) // never panics
	}
}
