package binding

import (
	"errors"
	"testing"
	"time"
)

type table = map[string]any

// decimal stands for the codec's Decimal, a type this package does not know.
type decimal struct {
	Scale uint8
	Value int32
}

// namedTable stands for the codec's `type Table map[string]any`.
type namedTable map[string]any

func TestMatchHeaders(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	tests := []struct {
		name    string
		args    table
		headers table
		want    bool
	}{
		// x-match all, the default
		{"all: every arg matches", table{"a": "1", "b": int32(2)}, table{"a": "1", "b": int32(2), "c": "x"}, true},
		{"all: one arg differs", table{"a": "1", "b": int32(2)}, table{"a": "1", "b": int32(3)}, false},
		{"all: one arg missing", table{"a": "1", "b": int32(2)}, table{"a": "1"}, false},
		{"all explicit", table{"x-match": "all", "a": "1"}, table{"a": "1"}, true},
		{"all: no args matches everything", table{}, table{"a": "1"}, true},
		{"all: nil args match nil headers", nil, nil, true},
		{"all: only x-match", table{"x-match": "all"}, nil, true},
		{"all: args but nil headers", table{"a": "1"}, nil, false},
		{"all: x- args are ignored", table{"a": "1", "x-foo": "bar"}, table{"a": "1"}, true},
		{"all: x- headers are compared normally", table{"x-foo": "bar"}, table{}, true},
		// x-match any
		{"any: one of two", table{"x-match": "any", "a": "1", "b": "2"}, table{"b": "2"}, true},
		{"any: none", table{"x-match": "any", "a": "1", "b": "2"}, table{"a": "2", "c": "1"}, false},
		{"any: no args matches nothing", table{"x-match": "any"}, table{"a": "1"}, false},
		{"any: only x- args matches nothing", table{"x-match": "any", "x-a": "1"}, table{"x-a": "1"}, false},
		{"any: nil headers", table{"x-match": "any", "a": "1"}, nil, false},
		// with-x modes consider x- arguments, but never x-match itself
		{"all-with-x: x- arg matches", table{"x-match": "all-with-x", "x-a": "1", "b": "2"}, table{"x-a": "1", "b": "2"}, true},
		{"all-with-x: x- arg missing", table{"x-match": "all-with-x", "x-a": "1", "b": "2"}, table{"b": "2"}, false},
		{"all-with-x: x-match not compared", table{"x-match": "all-with-x"}, table{}, true},
		{"any-with-x: x- arg matches", table{"x-match": "any-with-x", "x-a": "1", "b": "2"}, table{"x-a": "1"}, true},
		{"any-with-x: x- arg differs", table{"x-match": "any-with-x", "x-a": "1"}, table{"x-a": "2"}, false},
		{"any-with-x: x-match not compared", table{"x-match": "any-with-x"}, table{"x-match": "any-with-x"}, false},
		{"any: x-match in headers is just a header", table{"x-match": "any", "a": "1"}, table{"x-match": "any"}, false},
		// an invalid or non-string x-match routes as all
		{"unknown x-match is all", table{"x-match": "some", "a": "1", "b": "2"}, table{"a": "1"}, false},
		{"binary x-match is all", table{"x-match": []byte("any"), "a": "1", "b": "2"}, table{"a": "1"}, false},
		// void argument: presence only
		{"void: present with any value", table{"a": nil}, table{"a": int64(7)}, true},
		{"void: present as void", table{"a": nil}, table{"a": nil}, true},
		{"void: absent", table{"a": nil}, table{"b": "x"}, false},
		{"void header does not equal a value", table{"a": "1"}, table{"a": nil}, false},
		// numbers compare by value across types
		{"signedint == long", table{"n": int32(5)}, table{"n": int64(5)}, true},
		{"unsignedbyte == short", table{"n": uint8(5)}, table{"n": int16(5)}, true},
		{"long == int", table{"n": int64(-3)}, table{"n": -3}, true},
		{"long == double", table{"n": int64(1)}, table{"n": 1.0}, true},
		{"long != double 1.5", table{"n": int64(1)}, table{"n": 1.5}, false},
		{"float == double when exact", table{"n": float32(0.5)}, table{"n": 0.5}, true},
		{"float 0.1 != double 0.1", table{"n": float32(0.1)}, table{"n": 0.1}, false},
		{"0.0 == -0.0", table{"n": 0.0}, table{"n": negZero()}, true},
		{"timestamp == long seconds", table{"t": ts}, table{"t": int64(1700000000)}, true},
		{"timestamp == timestamp", table{"t": ts}, table{"t": time.Unix(1700000000, 999)}, true},
		{"timestamp != other second", table{"t": ts}, table{"t": ts.Add(time.Second)}, false},
		{"uint64 beyond int64", table{"n": uint64(1 << 63)}, table{"n": float64(1 << 63)}, true},
		{"uint64 beyond int64 != long", table{"n": uint64(1 << 63)}, table{"n": int64(-1 << 63)}, false},
		// strings and bytes are both binaries
		{"longstr == binary", table{"s": "abc"}, table{"s": []byte("abc")}, true},
		{"longstr != longstr", table{"s": "abc"}, table{"s": "abd"}, false},
		{"longstr != number", table{"s": "1"}, table{"s": int32(1)}, false},
		{"empty string == empty bytes", table{"s": ""}, table{"s": []byte{}}, true},
		// bool is bool only
		{"bool == bool", table{"b": true}, table{"b": true}, true},
		{"bool != bool", table{"b": true}, table{"b": false}, false},
		{"bool != 1", table{"b": true}, table{"b": int8(1)}, false},
		// tables and arrays: empty ones are the empty list, others keep types
		{"empty table == empty array", table{"l": table{}}, table{"l": []any{}}, true},
		{"table == table", table{"l": table{"a": int32(1), "b": "x"}}, table{"l": table{"b": "x", "a": int32(1)}}, true},
		{"nested types matter", table{"l": table{"a": int32(1)}}, table{"l": table{"a": int64(1)}}, false},
		{"nested longstr != binary", table{"l": []any{"a"}}, table{"l": []any{[]byte("a")}}, false},
		{"array == array", table{"l": []any{int32(1), "x", nil}}, table{"l": []any{int32(1), "x", nil}}, true},
		{"array order matters", table{"l": []any{"x", "y"}}, table{"l": []any{"y", "x"}}, false},
		{"array != table", table{"l": []any{"x"}}, table{"l": table{"0": "x"}}, false},
		{"named table type", table{"l": namedTable{"a": "b"}}, table{"l": table{"a": "b"}}, true},
		// types this package does not know compare with ==
		{"decimal == decimal", table{"d": decimal{2, 150}}, table{"d": decimal{2, 150}}, true},
		{"decimal != decimal", table{"d": decimal{2, 150}}, table{"d": decimal{1, 15}}, false},
		{"decimal != number", table{"d": decimal{0, 1}}, table{"d": int32(1)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MatchHeaders(tt.args, tt.headers); got != tt.want {
				t.Fatalf("MatchHeaders(%v, %v) = %v, want %v", tt.args, tt.headers, got, tt.want)
			}
			h := CompileHeaders(tt.args)
			if got := h.Match(tt.headers); got != tt.want {
				t.Fatalf("CompileHeaders(%v).Match(%v) = %v, want %v", tt.args, tt.headers, got, tt.want)
			}
		})
	}
}

func negZero() float64 {
	z := 0.0
	return -z
}

func TestMatchHeadersDoesNotAllocate(t *testing.T) {
	args := table{"x-match": "all", "format": "pdf", "type": "report", "n": int32(3), "x-extra": "ignored"}
	headers := table{"format": "pdf", "type": "report", "n": int64(3), "size": int64(1000)}
	allocs := testing.AllocsPerRun(100, func() {
		if !MatchHeaders(args, headers) {
			t.Fatal("no match")
		}
	})
	if allocs != 0 {
		t.Fatalf("MatchHeaders allocates %v times per call", allocs)
	}
	h := CompileHeaders(args)
	allocs = testing.AllocsPerRun(100, func() {
		if !h.Match(headers) {
			t.Fatal("no match")
		}
	})
	if allocs != 0 {
		t.Fatalf("Headers.Match allocates %v times per call", allocs)
	}
}

func TestValidateHeaders(t *testing.T) {
	tests := []struct {
		args table
		want string // "" for valid
	}{
		{nil, ""},
		{table{"a": "b"}, ""},
		{table{"x-match": "all"}, ""},
		{table{"x-match": "any"}, ""},
		{table{"x-match": "all-with-x"}, ""},
		{table{"x-match": "any-with-x"}, ""},
		{table{"x-match": "some"}, `Invalid x-match field value <<"some">>; expected all, any, all-with-x, or any-with-x`},
		{table{"x-match": ""}, `Invalid x-match field value <<"">>; expected all, any, all-with-x, or any-with-x`},
		{table{"x-match": int32(1)}, `Invalid x-match field type signedint (value 1); expected longstr`},
		{table{"x-match": []byte("all")}, `Invalid x-match field type binary (value <<"all">>); expected longstr`},
		{table{"x-match": nil}, `Invalid x-match field type void (value undefined); expected longstr`},
	}
	for _, tt := range tests {
		err := ValidateHeaders(tt.args)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ValidateHeaders(%v) = %v, want nil", tt.args, err)
		case tt.want != "" && err == nil:
			t.Errorf("ValidateHeaders(%v) = nil, want %q", tt.args, tt.want)
		case tt.want != "" && (err.Error() != tt.want || !errors.Is(err, ErrInvalidXMatch)):
			t.Errorf("ValidateHeaders(%v) = %q (Is ErrInvalidXMatch: %v), want %q", tt.args, err, errors.Is(err, ErrInvalidXMatch), tt.want)
		}
	}
}
