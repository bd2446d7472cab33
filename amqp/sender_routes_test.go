package amqp

import (
	"slices"
	"testing"
)

func TestScanSenderRoutes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers Table
		keys    []string
		bcc     bool
		err     string
	}{
		{"no headers", Table{}, nil, false, ""},
		{"unrelated", Table{"x-foo": "bar", "ACC": []any{"n"}}, nil, false, ""},
		{"cc", Table{"CC": []any{"a", "b"}}, []string{"a", "b"}, false, ""},
		{"bcc", Table{"BCC": []any{"c"}, "z": int32(1)}, []string{"c"}, true, ""},
		{"both, CC first", Table{"BCC": []any{"c"}, "CC": []any{"a"}}, []string{"a", "c"}, true, ""},
		{"non-longstr elements", Table{"CC": []any{int32(1), []byte("x"), "a", Table{}}}, []string{"a"}, false, ""},
		{"empty array", Table{"BCC": []any{}}, nil, true, ""},
		{"cc longstr", Table{"CC": "a"}, nil, false, `PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"CC",longstr}`},
		{"bcc void", Table{"BCC": nil}, nil, false, `PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"BCC",void}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Properties{Headers: tc.headers, DeliveryMode: 2, UserID: "guest"}
			raw, err := AppendProperties(nil, &p)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := ScanProperties(raw)
			if err != nil {
				t.Fatal(err)
			}
			r, err := ScanSenderRoutes(sum.Headers)
			if tc.err != "" {
				if e, ok := err.(*Error); !ok || e.Text != tc.err {
					t.Fatalf("err %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Keys, tc.keys) {
				t.Fatalf("keys %q, want %q", r.Keys, tc.keys)
			}
			if (r.BCCEnd != 0) != tc.bcc {
				t.Fatalf("BCC span %d..%d, want present=%v", r.BCCStart, r.BCCEnd, tc.bcc)
			}
			if !tc.bcc {
				return
			}
			stripped := DeleteTableField(raw, sum.HeadersAt, r.BCCStart, r.BCCEnd)
			got, err := DecodeProperties(stripped)
			if err != nil {
				t.Fatal(err)
			}
			want := Table{}
			for k, v := range tc.headers {
				if k != "BCC" {
					want[k] = v
				}
			}
			if len(got.Headers) != len(want) || got.DeliveryMode != 2 || got.UserID != "guest" {
				t.Fatalf("after deleting BCC: %+v, want headers %v", got, want)
			}
			for k := range want {
				if _, ok := got.Headers[k]; !ok {
					t.Fatalf("after deleting BCC: header %q lost: %v", k, got.Headers)
				}
			}
		})
	}
}

func FuzzScanSenderRoutes(f *testing.F) {
	for _, h := range []Table{{"CC": []any{"a"}}, {"BCC": []any{"b", int32(1)}, "x": "CC"}} {
		b, _ := AppendTable(nil, h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := decoder{b: b}
		d.skipTable()
		if d.err != nil || d.off != len(b) {
			return // ScanProperties would have refused it
		}
		r, err := ScanSenderRoutes(b)
		if err != nil || r.BCCEnd == 0 {
			return
		}
		props := append([]byte{0x20, 0}, b...)
		stripped := DeleteTableField(props, 2, r.BCCStart, r.BCCEnd)
		if _, err := ScanProperties(stripped); err != nil {
			t.Fatalf("after deleting BCC: %v", err)
		}
	})
}

// BenchmarkScanSenderRoutes: a header table without CC or BCC is ruled
// out by one bytes.Index.
func BenchmarkScanSenderRoutes(b *testing.B) {
	for _, tc := range []struct {
		name string
		h    Table
	}{
		{"none", Table{"x-trace-id": "0af7651916cd43dd8448eb211c80319c", "x-retries": int32(3), "content-kind": "order"}},
		{"cc", Table{"x-trace-id": "0af7651916cd43dd8448eb211c80319c", "CC": []any{"a", "b"}}},
	} {
		raw, _ := AppendTable(nil, tc.h)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ScanSenderRoutes(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
