package amqp10

import (
	"bytes"
	"testing"
	"time"
)

func TestMessageRoundTrip(t *testing.T) {
	ts := time.UnixMilli(1_700_000_000_123)
	m := &Message{
		Header:      &Header{Durable: true, Priority: 7, Set: HasDurable | HasPriority},
		Annotations: map[string]any{"x-exchange": "orders", "x-routing-key": "eu.new"},
		Properties:  &Properties{MessageID: "m-1", UserID: []byte("guest"), ReplyTo: "r", CorrelationID: "c-9", ContentType: "application/json", ContentEncoding: "gzip", CreationTime: ts},
		AppProps:    map[string]any{"n": int64(-3), "s": "v", "b": true, "big": int64(1 << 40), "l": []any{"a", int32(2)}},
		Data:        [][]byte{bytes.Repeat([]byte("x"), 300)},
	}
	got, err := Unmarshal(m.Marshal(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Header.Durable || got.Header.Priority != 7 || got.Header.Set != HasDurable|HasPriority {
		t.Errorf("header %+v", got.Header)
	}
	if got.Annotations["x-exchange"] != "orders" || got.Annotations["x-routing-key"] != "eu.new" {
		t.Errorf("annotations %v", got.Annotations)
	}
	p := got.Properties
	if p.MessageID != "m-1" || string(p.UserID) != "guest" || p.ReplyTo != "r" || p.CorrelationID != "c-9" || p.ContentType != "application/json" || p.ContentEncoding != "gzip" || !p.CreationTime.Equal(ts) {
		t.Errorf("properties %+v", p)
	}
	if got.AppProps["n"] != int64(-3) || got.AppProps["s"] != "v" || got.AppProps["b"] != true || got.AppProps["big"] != int64(1<<40) {
		t.Errorf("application properties %v", got.AppProps)
	}
	if l, ok := got.AppProps["l"].([]any); !ok || len(l) != 2 || l[0] != "a" || l[1] != int32(2) {
		t.Errorf("list %#v", got.AppProps["l"])
	}
	if !bytes.Equal(got.Body(), m.Data[0]) {
		t.Errorf("body %d bytes", len(got.Body()))
	}
}

func TestUnmarshalTruncated(t *testing.T) {
	m := &Message{Properties: &Properties{MessageID: "id"}, AppProps: map[string]any{"k": "v"}, Data: [][]byte{[]byte("hello")}}
	b := m.Marshal(nil)
	for n := 1; n < len(b); n++ {
		if _, err := Unmarshal(b[:n]); err == nil {
			// A cut between sections is a shorter valid message.
			continue
		}
	}
	if _, err := Unmarshal([]byte{0x00, 0x53, 0x75, 0xb0, 0xff, 0xff, 0xff, 0xff}); err == nil {
		t.Error("a data section longer than the message decoded")
	}
	if _, err := Unmarshal([]byte{0x01}); err == nil {
		t.Error("a non-described section decoded")
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add((&Message{Properties: &Properties{MessageID: "id"}, AppProps: map[string]any{"k": "v"}, Data: [][]byte{[]byte("hello")}}).Marshal(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		Unmarshal(b) // never panics
	})
}
