package stream

import (
	"bytes"
	"testing"
	"time"

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
	m := &queue.Message{Exchange: "x", RoutingKey: "a.b", Props: []byte{0x10, 0, 2}, Body: []byte("hello"), Persistent: true}
	got, fv, err := decodeRecord(encodeRecord(m, "eu"))
	if err != nil || fv != "eu" || got.Exchange != "x" || got.RoutingKey != "a.b" || !bytes.Equal(got.Props, m.Props) || string(got.Body) != "hello" || !got.Persistent {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, f := range []string{"", "eu"} {
		rec := encodeRecord(m, f)
		for n := range len(rec) - len(m.Body) {
			if _, _, err := decodeRecord(rec[:n]); err == nil {
				t.Errorf("a record (filter %q) cut to %d bytes decoded", f, n)
			}
		}
		if _, got, _ := decodeRecord(rec); got != f {
			t.Errorf("filter %q read back as %q", f, got)
		}
	}
}
